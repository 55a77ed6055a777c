// The oneM2M handshake step by step, proven on real handshakes over
// loopback sockets (issue 3, spec section 1):
//   step 4  the Master Key: a TLS 1.2 session's master secret equals
//           ONEM2M-MASTER over that handshake's randoms (or session hash);
//   step 1  compression: a ClientHello built by hand that offers DEFLATE
//           before null gets null;
//   6, 8    Finished over the whole conversation: a proxy flips one bit of
//           each handshake message or encrypted record in turn, and every
//           flip fails the handshake;
//   keys    "all other keys for this connection": the exporter gives both
//           ends the same application keys.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kdf_fetch.h"
#include "onem2m/err.h"
#include "onem2m/kdf.h"
#include "onem2m/psk.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

using Bytes = std::vector<unsigned char>;

// Root Key and KeyID of vectors.json's first cases.
const char kRootHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kKeyId[] = "dev-0001@sp.example.com";
const char kOtherRootHex[] =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

constexpr int kIoTimeoutMs = 3000;
constexpr auto kHandshakeDeadline = std::chrono::seconds(5);

std::string ProtocolTag(TlsProtocol p) {
  return p == TlsProtocol::kTls12 ? "Tls12" : "Tls13";
}

// ---------------------------------------------------------------------
// Two SSL objects of our own over one loopback TCP connection, driven from
// the test's thread with non-blocking sockets, so that a test can read
// both ends' secrets after the handshake.

void SetTimeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// ListenLoopback listens on 127.0.0.1 on a port the kernel picks.
int ListenLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(fd, 8) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    throw std::runtime_error("connect to 127.0.0.1 failed");
  }
  SetTimeouts(fd, kIoTimeoutMs);
  return fd;
}

struct EndpointConfig {
  TlsProtocol protocol = TlsProtocol::kTls12;
  std::string cipher = "PSK";  // TLS 1.2 suites
  unsigned server_versions = ONEM2M_VERSIONS_ALL;
  int pinned_version = -1;  // client
  bool extended_master_secret = true;
};

SslCtxPtr NewServerCtx(ONEM2M_KEYSTORE* ks, const EndpointConfig& c) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), ProtocolVersion(c.protocol));
  SSL_CTX_set_max_proto_version(ctx.get(), ProtocolVersion(c.protocol));
  if (!c.extended_master_secret) {
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
  }
  if (!SSL_CTX_set_cipher_list(ctx.get(), c.cipher.c_str()) ||
      !ONEM2M_PSK_attach_server(ctx.get(), ks) ||
      !ONEM2M_PSK_CTX_set_versions(ctx.get(), c.server_versions)) {
    throw std::runtime_error("server configuration failed");
  }
  return ctx;
}

SslCtxPtr NewClientCtx(ONEM2M_KEYSTORE* ks, const EndpointConfig& c) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), ProtocolVersion(c.protocol));
  SSL_CTX_set_max_proto_version(ctx.get(), ProtocolVersion(c.protocol));
  if (!c.extended_master_secret) {
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
  }
  if (!SSL_CTX_set_cipher_list(ctx.get(), c.cipher.c_str()) ||
      !ONEM2M_PSK_attach_client(ctx.get(), ks, kKeyId) ||
      !ONEM2M_PSK_CTX_set_versions(ctx.get(), ONEM2M_VERSIONS_ALL) ||
      (c.pinned_version >= 0 &&
       !ONEM2M_PSK_CTX_pin_version(ctx.get(), c.pinned_version))) {
    throw std::runtime_error("client configuration failed");
  }
  return ctx;
}

// LoopbackTls is an Originator and a Receiver connected over 127.0.0.1.
class LoopbackTls {
 public:
  LoopbackTls(SslCtxPtr client_ctx, SslCtxPtr server_ctx)
      : client_ctx_(std::move(client_ctx)), server_ctx_(std::move(server_ctx)) {
    int port = 0;
    int listen_fd = ListenLoopback(&port);
    client_fd_ = ConnectLoopback(port);
    server_fd_ = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    close(listen_fd);
    if (server_fd_ < 0) {
      close(client_fd_);
      throw std::runtime_error("accept on 127.0.0.1 failed");
    }
    for (int fd : {client_fd_, server_fd_}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    client_.reset(SSL_new(client_ctx_.get()));
    server_.reset(SSL_new(server_ctx_.get()));
    SSL_set_fd(client_.get(), client_fd_);
    SSL_set_fd(server_.get(), server_fd_);
    SSL_set_connect_state(client_.get());
    SSL_set_accept_state(server_.get());
  }

  ~LoopbackTls() {
    client_.reset();
    server_.reset();
    close(client_fd_);
    close(server_fd_);
  }

  LoopbackTls(const LoopbackTls&) = delete;
  LoopbackTls& operator=(const LoopbackTls&) = delete;

  // Handshake drives both ends until both finished (true) or one failed
  // or the deadline passed (false).
  bool Handshake() {
    bool client_done = false;
    bool server_done = false;
    auto deadline = std::chrono::steady_clock::now() + kHandshakeDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!client_done && !Step(client_.get(), &client_done)) {
        return false;
      }
      if (!server_done && !Step(server_.get(), &server_done)) {
        return false;
      }
      if (client_done && server_done) {
        return true;
      }
      pollfd fds[2] = {{client_fd_, POLLIN, 0}, {server_fd_, POLLIN, 0}};
      poll(fds, 2, 20);
    }
    return false;
  }

  SSL* client() { return client_.get(); }
  SSL* server() { return server_.get(); }

 private:
  static bool Step(SSL* ssl, bool* done) {
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
      *done = true;
      return true;
    }
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  }

  SslCtxPtr client_ctx_;
  SslCtxPtr server_ctx_;
  SslPtr client_;
  SslPtr server_;
  int client_fd_ = -1;
  int server_fd_ = -1;
};

// ---------------------------------------------------------------------
// Step 4, the Master Key (spec section 5).

struct MasterCase {
  unsigned version;
  std::string root_hex;
  std::string name;
};

std::vector<MasterCase> MasterCases() {
  return {
      {0, kRootHex, "KdfVersion0"},
      {0, "000102030405060708090a0b0c0d0e0f", "KdfVersion0WithA16OctetRootKey"},
      {0, std::string(kRootHex) + kRootHex, "KdfVersion0WithA64OctetRootKey"},
      {1, kRootHex, "KdfVersion1"},
      {2, kRootHex, "KdfVersion2"},
      {3, kRootHex, "KdfVersion3"},
  };
}

// The TLS 1.2 PSK suite whose PRF hash is the version's TLS hash.
std::string SuiteWithTheVersionsHash(unsigned version) {
  return version == 3 ? "PSK-AES256-GCM-SHA384" : "PSK-AES128-GCM-SHA256";
}

std::string SuiteWithAnotherHash(unsigned version) {
  return version == 3 ? "PSK-AES128-GCM-SHA256" : "PSK-AES256-GCM-SHA384";
}

// Onem2mMaster computes ONEM2M-MASTER through EVP_KDF, from the two
// randoms or, when |session_hash| is not empty, from the session hash.
Bytes Onem2mMaster(const std::string& root_hex, unsigned version,
                   const Bytes& originator_random, const Bytes& receiver_random,
                   const Bytes& session_hash = {}) {
  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_MASTER);
  if (!kdf) {
    throw std::runtime_error("cannot fetch ONEM2M-MASTER");
  }
  EvpKdfCtxPtr kctx(EVP_KDF_CTX_new(kdf.get()));
  Bytes root = FromHex(root_hex);
  std::string key_id = kKeyId;
  std::vector<OSSL_PARAM> params = {
      OSSL_PARAM_construct_octet_string(ONEM2M_KDF_PARAM_KEY, root.data(),
                                        root.size()),
      OSSL_PARAM_construct_utf8_string(ONEM2M_KDF_PARAM_KEY_ID, key_id.data(),
                                       0),
      OSSL_PARAM_construct_uint(ONEM2M_KDF_PARAM_VERSION, &version),
  };
  Bytes originator = originator_random;
  Bytes receiver = receiver_random;
  Bytes hash = session_hash;
  if (hash.empty()) {
    params.push_back(OSSL_PARAM_construct_octet_string(
        ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM, originator.data(),
        originator.size()));
    params.push_back(OSSL_PARAM_construct_octet_string(
        ONEM2M_KDF_PARAM_RECEIVER_RANDOM, receiver.data(), receiver.size()));
  } else {
    params.push_back(OSSL_PARAM_construct_octet_string(
        ONEM2M_KDF_PARAM_SESSION_HASH, hash.data(), hash.size()));
  }
  params.push_back(OSSL_PARAM_construct_end());
  Bytes master(48);
  if (EVP_KDF_derive(kctx.get(), master.data(), master.size(), params.data()) !=
      1) {
    throw std::runtime_error("ONEM2M-MASTER failed");
  }
  return master;
}

// What one end kept of a TLS 1.2 handshake.
struct Tls12Secrets {
  Bytes client_random;
  Bytes server_random;
  Bytes master_secret;
};

Tls12Secrets SecretsOf(SSL* ssl) {
  Tls12Secrets s;
  s.client_random.resize(SSL3_RANDOM_SIZE);
  s.server_random.resize(SSL3_RANDOM_SIZE);
  SSL_get_client_random(ssl, s.client_random.data(), s.client_random.size());
  SSL_get_server_random(ssl, s.server_random.data(), s.server_random.size());
  s.master_secret.resize(SSL_MAX_MASTER_KEY_LENGTH);
  size_t n = SSL_SESSION_get_master_key(
      SSL_get_session(ssl), s.master_secret.data(), s.master_secret.size());
  s.master_secret.resize(n);
  return s;
}

// The client's handshake messages, in order, as the message callback saw
// them (RFC 7627 section 3: the session hash covers ClientHello up to and
// including ClientKeyExchange).
struct Transcript {
  std::vector<Bytes> messages;
};

void RecordHandshakeMessage(int, int, int content_type, const void* buf,
                            size_t len, SSL*, void* arg) {
  if (content_type != SSL3_RT_HANDSHAKE || len < 4) {
    return;
  }
  auto* t = static_cast<Transcript*>(arg);
  const auto* p = static_cast<const unsigned char*>(buf);
  t->messages.emplace_back(p, p + len);
}

Bytes SessionHash(const Transcript& t, const EVP_MD* md) {
  UniquePtr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), md, nullptr);
  for (const Bytes& m : t.messages) {
    EVP_DigestUpdate(ctx.get(), m.data(), m.size());
    if (m[0] == SSL3_MT_CLIENT_KEY_EXCHANGE) {
      break;
    }
  }
  Bytes out(EVP_MD_size(md));
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &n);
  return out;
}

class MasterKeyTest : public ::testing::TestWithParam<MasterCase> {
 protected:
  // RunTls12 makes one TLS 1.2 handshake with kKeyId at the case's
  // version and |suite| on both ends.
  std::unique_ptr<LoopbackTls> RunTls12(const std::string& suite, bool ems,
                                        Transcript* transcript = nullptr) {
    const MasterCase& c = GetParam();
    ks_.reset(MemoryKeystore(kKeyId, c.root_hex));
    EndpointConfig config;
    config.protocol = TlsProtocol::kTls12;
    config.cipher = suite;
    config.pinned_version = static_cast<int>(c.version);
    config.extended_master_secret = ems;
    SslCtxPtr cctx = NewClientCtx(ks_.get(), config);
    if (transcript != nullptr) {
      SSL_CTX_set_msg_callback(cctx.get(), RecordHandshakeMessage);
      SSL_CTX_set_msg_callback_arg(cctx.get(), transcript);
    }
    auto tls = std::make_unique<LoopbackTls>(std::move(cctx),
                                             NewServerCtx(ks_.get(), config));
    EXPECT_TRUE(tls->Handshake());
    EXPECT_EQ(ONEM2M_PSK_get_version(tls->server()),
              static_cast<int>(c.version));
    EXPECT_EQ(SSL_get_extms_support(tls->client()), ems ? 1 : 0);
    return tls;
  }

  KeystorePtr ks_;
};

TEST_P(MasterKeyTest, TlsMasterSecretEqualsOnem2mMasterWithoutExtendedMS) {
  const MasterCase& c = GetParam();
  auto tls = RunTls12(SuiteWithTheVersionsHash(c.version), false);
  Tls12Secrets client = SecretsOf(tls->client());
  Tls12Secrets server = SecretsOf(tls->server());

  // Both ends agree on OriginatorRandom, ReceiverRandom and the Master Key.
  ASSERT_EQ(client.master_secret.size(), 48u);
  EXPECT_EQ(ToHex(client.client_random), ToHex(server.client_random));
  EXPECT_EQ(ToHex(client.server_random), ToHex(server.server_random));
  EXPECT_EQ(ToHex(client.master_secret), ToHex(server.master_secret));

  Bytes expected = Onem2mMaster(c.root_hex, c.version, client.client_random,
                                client.server_random);
  EXPECT_EQ(ToHex(client.master_secret), ToHex(expected));
}

TEST_P(MasterKeyTest, ExtendedMasterSecretDiffersFromTheRandomsForm) {
  const MasterCase& c = GetParam();
  auto tls = RunTls12(SuiteWithTheVersionsHash(c.version), true);
  Tls12Secrets client = SecretsOf(tls->client());
  Tls12Secrets server = SecretsOf(tls->server());

  ASSERT_EQ(client.master_secret.size(), 48u);
  EXPECT_EQ(ToHex(client.master_secret), ToHex(server.master_secret));
  Bytes randoms_form = Onem2mMaster(c.root_hex, c.version, client.client_random,
                                    client.server_random);
  EXPECT_NE(ToHex(client.master_secret), ToHex(randoms_form));
}

TEST_P(MasterKeyTest, ExtendedMasterSecretEqualsOnem2mMasterOverSessionHash) {
  // The session-hash form against known answers is provider_test's
  // MasterKdfOnEachVector.DerivesTheExtendedMasterKeyFromTheSessionHash;
  // here it meets a real handshake: hash the client's transcript up to
  // ClientKeyExchange with the suite's hash and derive.
  const MasterCase& c = GetParam();
  Transcript transcript;
  auto tls = RunTls12(SuiteWithTheVersionsHash(c.version), true, &transcript);
  Tls12Secrets client = SecretsOf(tls->client());

  const EVP_MD* md = c.version == 3 ? EVP_sha384() : EVP_sha256();
  Bytes session_hash = SessionHash(transcript, md);
  Bytes expected = Onem2mMaster(c.root_hex, c.version, {}, {}, session_hash);
  EXPECT_EQ(ToHex(client.master_secret), ToHex(expected));
}

TEST_P(MasterKeyTest, SuiteWithAnotherPrfHashGivesAnotherMasterSecret) {
  // TLS 1.2 lets any PSK suite carry any version (spec section 4), but the
  // Master Key of section 5 uses the version's hash: the two meet only
  // when the suite's PRF hash is that hash.
  const MasterCase& c = GetParam();
  auto tls = RunTls12(SuiteWithAnotherHash(c.version), false);
  Tls12Secrets client = SecretsOf(tls->client());
  Bytes onem2m = Onem2mMaster(c.root_hex, c.version, client.client_random,
                              client.server_random);
  ASSERT_EQ(client.master_secret.size(), 48u);
  EXPECT_NE(ToHex(client.master_secret), ToHex(onem2m));
}

TEST_P(MasterKeyTest, EcdhePskSuiteMixesTheEcdhSecretIntoTheMasterSecret) {
  // RFC 5489 section 2: with ECDHE_PSK the premaster holds the ECDH shared
  // secret where plain PSK has zeros, so the session's master secret is
  // not the section 5 Master Key (and gains forward secrecy). The CLI's
  // default TLS 1.2 suites put ECDHE-PSK first.
  const MasterCase& c = GetParam();
  std::string suite = c.version == 3 ? "ECDHE-PSK-AES256-CBC-SHA384"
                                     : "ECDHE-PSK-AES128-CBC-SHA256";
  auto tls = RunTls12(suite, false);
  Tls12Secrets client = SecretsOf(tls->client());
  Tls12Secrets server = SecretsOf(tls->server());
  ASSERT_EQ(client.master_secret.size(), 48u);
  EXPECT_EQ(ToHex(client.master_secret), ToHex(server.master_secret));
  Bytes onem2m = Onem2mMaster(c.root_hex, c.version, client.client_random,
                              client.server_random);
  EXPECT_NE(ToHex(client.master_secret), ToHex(onem2m));
}

INSTANTIATE_TEST_SUITE_P(Versions, MasterKeyTest,
                         ::testing::ValuesIn(MasterCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------
// Step 1, compression: ClientHellos built by hand.

void Put16(Bytes* out, size_t v) {
  out->push_back(static_cast<unsigned char>(v >> 8));
  out->push_back(static_cast<unsigned char>(v));
}

void Put24(Bytes* out, size_t v) {
  out->push_back(static_cast<unsigned char>(v >> 16));
  Put16(out, v & 0xffff);
}

void Append(Bytes* out, const Bytes& more) {
  out->insert(out->end(), more.begin(), more.end());
}

size_t Get16(const Bytes& b, size_t at) {
  return (static_cast<size_t>(b.at(at)) << 8) | b.at(at + 1);
}

size_t Get24(const Bytes& b, size_t at) {
  return (static_cast<size_t>(b.at(at)) << 16) | Get16(b, at + 1);
}

Bytes Extension(unsigned type, const Bytes& data) {
  Bytes out;
  Put16(&out, type);
  Put16(&out, data.size());
  Append(&out, data);
  return out;
}

// ClientHelloRecord builds one TLS record holding a ClientHello
// (RFC 5246 section 7.4.1.2, RFC 8446 section 4.1.2).
Bytes ClientHelloRecord(const std::vector<unsigned>& suites,
                        const Bytes& compression_methods,
                        const Bytes& extensions) {
  Bytes body;
  Put16(&body, 0x0303);  // client_version: TLS 1.2
  Bytes random(32);
  RAND_bytes(random.data(), static_cast<int>(random.size()));
  Append(&body, random);
  body.push_back(0);  // empty session_id
  Put16(&body, suites.size() * 2);
  for (unsigned s : suites) {
    Put16(&body, s);
  }
  body.push_back(static_cast<unsigned char>(compression_methods.size()));
  Append(&body, compression_methods);
  if (!extensions.empty()) {
    Put16(&body, extensions.size());
    Append(&body, extensions);
  }

  Bytes handshake = {SSL3_MT_CLIENT_HELLO};
  Put24(&handshake, body.size());
  Append(&handshake, body);

  Bytes record = {SSL3_RT_HANDSHAKE, 0x03, 0x01};
  Put16(&record, handshake.size());
  Append(&record, handshake);
  return record;
}

// ServerReply is what a server answered a ClientHello with.
struct ServerReply {
  bool server_hello = false;
  unsigned server_version = 0;  // ServerHello.server_version
  unsigned cipher_suite = 0;
  int compression_method = -1;
  int alert = -1;  // a fatal alert's description
};

// ReadRecord reads one whole TLS record; false on EOF or timeout.
bool ReadRecord(int fd, unsigned* type, Bytes* payload) {
  auto read_exactly = [fd](unsigned char* p, size_t n) {
    while (n > 0) {
      ssize_t r = read(fd, p, n);
      if (r <= 0) {
        return false;
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  };
  unsigned char header[5];
  if (!read_exactly(header, sizeof(header))) {
    return false;
  }
  *type = header[0];
  payload->resize((static_cast<size_t>(header[3]) << 8) | header[4]);
  return read_exactly(payload->data(), payload->size());
}

// SendClientHello sends |record| to 127.0.0.1:|port| and parses the first
// record of the answer: a ServerHello or an alert.
ServerReply SendClientHello(int port, const Bytes& record) {
  ServerReply reply;
  int fd = ConnectLoopback(port);
  if (write(fd, record.data(), record.size()) !=
      static_cast<ssize_t>(record.size())) {
    close(fd);
    return reply;
  }
  unsigned type = 0;
  Bytes payload;
  if (ReadRecord(fd, &type, &payload)) {
    if (type == SSL3_RT_ALERT && payload.size() == 2) {
      reply.alert = payload[1];
    } else if (type == SSL3_RT_HANDSHAKE && payload.size() >= 4 &&
               payload[0] == SSL3_MT_SERVER_HELLO) {
      // server_version(2) random(32) session_id<0..32> cipher_suite(2)
      // compression_method(1) (RFC 5246 section 7.4.1.3)
      size_t at = 4;
      reply.server_version = Get16(payload, at);
      at += 2 + 32;
      at += 1 + payload.at(at);
      reply.cipher_suite = Get16(payload, at);
      reply.compression_method = payload.at(at + 2);
      reply.server_hello = true;
    }
  }
  close(fd);
  return reply;
}

constexpr unsigned kPskWithAes128CbcSha256 = 0x00ae;  // RFC 5487
constexpr unsigned kEmptyRenegotiationInfoScsv = 0x00ff;
constexpr unsigned char kDeflate = 1;  // RFC 3749
constexpr unsigned char kNullCompression = 0;

// After a ClientHello by hand, the server still completes a real one.
void ExpectServerStillServes(OurServer* server, ONEM2M_KEYSTORE* ks,
                             TlsProtocol protocol, size_t index) {
  ClientOptions o;
  o.protocol = protocol;
  HandshakeResult cr = RunOurClient(server->port(), ks, kKeyId, o);
  EXPECT_TRUE(cr.ok) << cr.failure << " " << cr.openssl_error;
  EXPECT_TRUE(server->WaitForResult(index).ok);
}

TEST(CompressionTest, ClientHelloOfferingDeflateBeforeNullGetsNull) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls12, .cipher = "PSK"});
  Bytes hello =
      ClientHelloRecord({kPskWithAes128CbcSha256, kEmptyRenegotiationInfoScsv},
                        {kDeflate, kNullCompression}, {});
  ServerReply reply = SendClientHello(server.port(), hello);

  ASSERT_TRUE(reply.server_hello) << "alert " << reply.alert;
  EXPECT_EQ(reply.server_version, 0x0303u);
  EXPECT_EQ(reply.cipher_suite, kPskWithAes128CbcSha256);
  EXPECT_EQ(reply.compression_method, kNullCompression);
  EXPECT_FALSE(server.WaitForResult(0).ok);  // we hung up after it
  ExpectServerStillServes(&server, ks.get(), TlsProtocol::kTls12, 1);
}

TEST(CompressionTest, ClientHelloOfferingOnlyDeflateIsRefused) {
  // RFC 5246 section 7.4.1.2: null must be offered; without it there is
  // nothing the server may choose.
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls12, .cipher = "PSK"});
  Bytes hello = ClientHelloRecord({kPskWithAes128CbcSha256}, {kDeflate}, {});
  ServerReply reply = SendClientHello(server.port(), hello);

  EXPECT_FALSE(reply.server_hello);
  EXPECT_EQ(reply.alert, SSL_AD_DECODE_ERROR);
  EXPECT_FALSE(server.WaitForResult(0).ok);
  ExpectServerStillServes(&server, ks.get(), TlsProtocol::kTls12, 1);
}

// Tls13ClientHello is a TLS 1.3 ClientHello without a PSK, with what the
// server needs before it looks at the compression methods: the version, a
// group and an X25519 key share, signature algorithms, PSK modes.
Bytes Tls13ClientHello(const Bytes& compression_methods) {
  Bytes x25519_share(32);
  RAND_bytes(x25519_share.data(), static_cast<int>(x25519_share.size()));
  Bytes key_share = {0, 36, 0x00, 0x1d, 0, 32};
  Append(&key_share, x25519_share);
  Bytes extensions;
  Append(&extensions,
         Extension(TLSEXT_TYPE_supported_versions, {2, 0x03, 0x04}));
  Append(&extensions,
         Extension(TLSEXT_TYPE_supported_groups, {0, 2, 0x00, 0x1d}));
  Append(&extensions, Extension(TLSEXT_TYPE_key_share, key_share));
  Append(&extensions, Extension(TLSEXT_TYPE_signature_algorithms,
                                {0, 4, 0x08, 0x04, 0x04, 0x03}));
  Append(&extensions, Extension(TLSEXT_TYPE_psk_kex_modes, {1, 1}));
  return ClientHelloRecord({0x1301}, compression_methods, extensions);
}

TEST(CompressionTest, Tls13ClientHelloOfferingDeflateIsRefused) {
  // RFC 8446 section 4.1.2: a TLS 1.3 ClientHello carries exactly one
  // compression method, null; anything else is an illegal_parameter.
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls13});
  ServerReply reply = SendClientHello(
      server.port(), Tls13ClientHello({kDeflate, kNullCompression}));
  EXPECT_FALSE(reply.server_hello);
  EXPECT_EQ(reply.alert, SSL_AD_ILLEGAL_PARAMETER);
  EXPECT_FALSE(server.WaitForResult(0).ok);

  // The same ClientHello with null alone fails later, for want of a PSK
  // or a certificate: the compression methods made the difference.
  reply = SendClientHello(server.port(), Tls13ClientHello({kNullCompression}));
  EXPECT_EQ(reply.alert, SSL_AD_HANDSHAKE_FAILURE);
  EXPECT_FALSE(server.WaitForResult(1).ok);
  ExpectServerStillServes(&server, ks.get(), TlsProtocol::kTls13, 2);
}

// ---------------------------------------------------------------------
// Steps 6 and 8, Finished over the whole conversation: a proxy that
// flips one bit.

enum class Direction { kClientToServer, kServerToClient };

const char* DirectionName(Direction d) {
  return d == Direction::kClientToServer ? "client->server" : "server->client";
}

// A TLS record as the proxy saw it, before any flip.
struct SeenRecord {
  Direction direction;
  size_t index;  // among the records of its direction
  unsigned type;
  Bytes payload;
  bool encrypted;  // after the sender's ChangeCipherSpec, or TLS 1.3 data
};

// Flip names one bit of one record's payload.
struct Flip {
  Direction direction;
  size_t record;
  unsigned type;  // the record's content type, checked when flipping
  size_t offset;  // into the payload
  unsigned char mask;
  std::string what;
};

// TamperingProxy relays one connection from a client to 127.0.0.1:|server|
// record by record, flipping |flip| on the way when given.
class TamperingProxy {
 public:
  TamperingProxy(int server_port, std::optional<Flip> flip)
      : server_port_(server_port), flip_(std::move(flip)) {
    listen_fd_ = ListenLoopback(&port_);
    thread_ = std::thread([this] { Run(); });
  }

  ~TamperingProxy() {
    if (thread_.joinable()) {
      thread_.join();
    }
    close(listen_fd_);
  }

  int port() const { return port_; }

  // Finish waits until both ends closed (or the deadline) and returns the
  // records seen, in the order the proxy relayed them.
  std::vector<SeenRecord> Finish() {
    thread_.join();
    return records_;
  }

  bool flipped() const { return flipped_; }

 private:
  struct Side {
    int fd = -1;
    Bytes pending;  // bytes of an incomplete record
    bool eof = false;
    bool ccs_seen = false;
    size_t records = 0;
  };

  void Run() {
    pollfd p = {listen_fd_, POLLIN, 0};
    if (poll(&p, 1, kIoTimeoutMs) != 1) {
      return;
    }
    Side client, server;
    client.fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client.fd < 0) {
      return;
    }
    try {
      server.fd = ConnectLoopback(server_port_);
    } catch (const std::exception&) {
      close(client.fd);
      return;
    }
    Relay(&client, &server);
    close(client.fd);
    close(server.fd);
  }

  void Relay(Side* client, Side* server) {
    auto deadline = std::chrono::steady_clock::now() + kHandshakeDeadline;
    while (!(client->eof && server->eof) &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd fds[2] = {
          {client->fd, static_cast<short>(client->eof ? 0 : POLLIN), 0},
          {server->fd, static_cast<short>(server->eof ? 0 : POLLIN), 0}};
      if (poll(fds, 2, 100) <= 0) {
        continue;
      }
      if (fds[0].revents != 0) {
        Pump(client, server, Direction::kClientToServer);
      }
      if (fds[1].revents != 0) {
        Pump(server, client, Direction::kServerToClient);
      }
    }
  }

  // Pump reads what |from| sent and passes every whole record to |to|.
  void Pump(Side* from, Side* to, Direction direction) {
    unsigned char buf[16384];
    ssize_t n = read(from->fd, buf, sizeof(buf));
    if (n <= 0) {
      from->eof = true;
      shutdown(to->fd, SHUT_WR);
      return;
    }
    from->pending.insert(from->pending.end(), buf, buf + n);
    while (from->pending.size() >= 5) {
      size_t length = Get16(from->pending, 3);
      if (from->pending.size() < 5 + length) {
        break;
      }
      Bytes record(from->pending.begin(), from->pending.begin() + 5 + length);
      from->pending.erase(from->pending.begin(),
                          from->pending.begin() + 5 + length);
      Forward(from, to, direction, &record);
    }
  }

  void Forward(Side* from, Side* to, Direction direction, Bytes* record) {
    SeenRecord seen{direction, from->records++, (*record)[0],
                    Bytes(record->begin() + 5, record->end()),
                    (*record)[0] == SSL3_RT_APPLICATION_DATA ||
                        ((*record)[0] == SSL3_RT_HANDSHAKE && from->ccs_seen)};
    if (seen.type == SSL3_RT_CHANGE_CIPHER_SPEC) {
      from->ccs_seen = true;
    }
    if (flip_ && flip_->direction == direction && flip_->record == seen.index &&
        flip_->type == seen.type && flip_->offset < seen.payload.size()) {
      (*record)[5 + flip_->offset] ^= flip_->mask;
      flipped_ = true;
    }
    records_.push_back(std::move(seen));
    size_t done = 0;
    while (done < record->size()) {
      ssize_t w = write(to->fd, record->data() + done, record->size() - done);
      if (w <= 0) {
        return;
      }
      done += static_cast<size_t>(w);
    }
  }

  int server_port_;
  std::optional<Flip> flip_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<SeenRecord> records_;
  bool flipped_ = false;
};

// A handshake message inside a plaintext record.
struct Message {
  unsigned type;
  size_t body;  // offset of the body in the record's payload
  size_t length;
};

std::vector<Message> MessagesIn(const Bytes& payload) {
  std::vector<Message> out;
  size_t at = 0;
  while (at + 4 <= payload.size()) {
    size_t length = Get24(payload, at + 1);
    out.push_back({payload[at], at + 4, length});
    at += 4 + length;
  }
  return out;
}

// FindExtension returns the offset of extension |type|'s data in a
// ClientHello body starting at |body|, or nothing.
std::optional<size_t> FindClientHelloExtension(const Bytes& p, size_t body,
                                               unsigned type) {
  size_t at = body + 2 + 32;
  at += 1 + p.at(at);      // session_id
  at += 2 + Get16(p, at);  // cipher_suites
  at += 1 + p.at(at);      // compression_methods
  size_t end = at + 2 + Get16(p, at);
  at += 2;
  while (at + 4 <= end) {
    if (Get16(p, at) == type) {
      return at + 4;
    }
    at += 4 + Get16(p, at + 2);
  }
  return std::nullopt;
}

// FlightOf keeps the records of the handshake proper: in TLS 1.2 every
// handshake and ChangeCipherSpec record; in TLS 1.3 everything up to and
// including the client's first encrypted record (its Finished), after
// which the server only sends tickets and data.
std::vector<SeenRecord> FlightOf(const std::vector<SeenRecord>& records,
                                 TlsProtocol protocol) {
  std::vector<SeenRecord> out;
  for (const SeenRecord& r : records) {
    if (protocol == TlsProtocol::kTls12) {
      if (r.type == SSL3_RT_HANDSHAKE || r.type == SSL3_RT_CHANGE_CIPHER_SPEC) {
        out.push_back(r);
      }
      continue;
    }
    out.push_back(r);
    if (r.direction == Direction::kClientToServer && r.encrypted) {
      break;
    }
  }
  return out;
}

// FlipsFor names, for each record of the flight, the bits to flip: the
// fields that carry a oneM2M step where the record shows them, else one
// bit of each message or of the ciphertext.
std::vector<Flip> FlipsFor(const std::vector<SeenRecord>& flight) {
  std::vector<Flip> flips;
  for (const SeenRecord& r : flight) {
    auto add = [&](size_t offset, unsigned char mask, std::string what) {
      flips.push_back({r.direction, r.index, r.type, offset, mask,
                       std::string(DirectionName(r.direction)) + " record " +
                           std::to_string(r.index) + ": " + what});
    };
    if (r.encrypted) {
      add(r.payload.size() / 2, 0x01, "encrypted record");
      continue;
    }
    if (r.type == SSL3_RT_CHANGE_CIPHER_SPEC) {
      add(0, 0x01, "ChangeCipherSpec");
      continue;
    }
    for (const Message& m : MessagesIn(r.payload)) {
      switch (m.type) {
        case SSL3_MT_CLIENT_HELLO: {
          add(m.body + 2 + 16, 0x01, "ClientHello.random");
          auto psk =
              FindClientHelloExtension(r.payload, m.body, TLSEXT_TYPE_psk);
          if (psk) {
            // identities<..>: identity<..> "vN:KeyID", then the binders.
            size_t identities = Get16(r.payload, *psk);
            add(*psk + 4 + 1, 0x01, "ClientHello pre_shared_key identity vN");
            size_t binders = *psk + 2 + identities;
            add(binders + 2 + 1 + 5, 0x01, "ClientHello PSK binder");
          }
          break;
        }
        case SSL3_MT_SERVER_HELLO:
          add(m.body + 2 + 16, 0x01, "ServerHello.random");
          break;
        case SSL3_MT_SERVER_KEY_EXCHANGE: {
          // psk_identity_hint<0..2^16-1> "onem2m-versions=1,2,3": the
          // first version becomes 0, which the hint may list.
          std::string hint(
              r.payload.begin() + m.body + 2,
              r.payload.begin() + m.body + 2 + Get16(r.payload, m.body));
          size_t digit = hint.find('=') + 1;
          add(m.body + 2 + digit, 0x01, "ServerKeyExchange hint " + hint);
          break;
        }
        case SSL3_MT_CLIENT_KEY_EXCHANGE:
          // psk_identity<0..2^16-1> "vN:KeyID": N changes by one.
          add(m.body + 2 + 1, 0x01, "ClientKeyExchange identity vN");
          break;
        case SSL3_MT_SERVER_DONE:
          add(m.body - 4, 0x01, "ServerHelloDone type");  // no body
          break;
        default:
          add(m.body + m.length / 2, 0x01,
              "handshake message type " + std::to_string(m.type));
          break;
      }
    }
  }
  return flips;
}

struct FlipCase {
  TlsProtocol protocol;
  int version;
};

class FinishedTest : public ::testing::TestWithParam<FlipCase> {
 protected:
  FinishedTest()
      : ks_(MemoryKeystore(kKeyId, kRootHex)),
        server_(ks_.get(), {.protocol = GetParam().protocol,
                            .versions = ONEM2M_VERSIONS_DEFAULT}) {}

  ClientOptions Client() const {
    ClientOptions o;
    o.protocol = GetParam().protocol;
    o.pinned_version = GetParam().version;
    return o;
  }

  // Through runs one handshake of our client through a proxy.
  HandshakeResult Through(TamperingProxy* proxy) {
    return RunOurClient(proxy->port(), ks_.get(), kKeyId, Client());
  }

  KeystorePtr ks_;
  OurServer server_;
  size_t results_ = 0;  // server results so far
};

TEST_P(FinishedTest, EveryFlippedBitFailsTheHandshakeAndTheServerKeepsServing) {
  const TlsProtocol protocol = GetParam().protocol;

  // A clean run through the proxy shows it relays faithfully, and what
  // the flight looks like.
  std::vector<SeenRecord> records;
  {
    TamperingProxy proxy(server_.port(), std::nullopt);
    HandshakeResult cr = Through(&proxy);
    records = proxy.Finish();
    ASSERT_TRUE(cr.ok) << cr.failure << " " << cr.openssl_error;
    ASSERT_TRUE(server_.WaitForResult(results_++).ok);
    EXPECT_EQ(cr.version, GetParam().version);
  }
  std::vector<SeenRecord> flight = FlightOf(records, protocol);
  std::vector<Flip> flips = FlipsFor(flight);

  // The named fields are in the list, so that nothing passes by default.
  std::vector<std::string> must = {"ClientHello.random", "ServerHello.random",
                                   "encrypted record"};
  if (protocol == TlsProtocol::kTls12) {
    must.insert(must.end(), {"ServerKeyExchange hint onem2m-versions=1,2,3",
                             "ClientKeyExchange identity", "ChangeCipherSpec",
                             "ServerHelloDone"});
  } else {
    must.insert(must.end(), {"pre_shared_key identity", "PSK binder"});
  }
  for (const std::string& name : must) {
    bool found = false;
    for (const Flip& f : flips) {
      found = found || f.what.find(name) != std::string::npos;
    }
    EXPECT_TRUE(found) << "no flip of " << name;
  }

  for (const Flip& flip : flips) {
    SCOPED_TRACE(flip.what);
    TamperingProxy proxy(server_.port(), flip);
    HandshakeResult cr = Through(&proxy);
    proxy.Finish();
    HandshakeResult sr = server_.WaitForResult(results_++);
    ASSERT_TRUE(proxy.flipped()) << "the record was not where expected";

    // The end that received the flipped bit refuses the handshake, and
    // the client application never gets the server's data.
    const HandshakeResult& receiver =
        flip.direction == Direction::kClientToServer ? sr : cr;
    EXPECT_FALSE(receiver.ok);
    // Detected, not timed out: one end (not always the receiver: in
    // TLS 1.2 the server checks the first Finished) sent a fatal alert.
    EXPECT_TRUE(cr.alert_sent != -1 || sr.alert_sent != -1);
    EXPECT_FALSE(cr.ok && sr.ok);
    EXPECT_EQ(cr.greeting, "");

    // The server keeps serving: a clean handshake right after.
    HandshakeResult clean =
        RunOurClient(server_.port(), ks_.get(), kKeyId, Client());
    EXPECT_TRUE(clean.ok) << clean.failure;
    EXPECT_TRUE(server_.WaitForResult(results_++).ok);
  }
  RecordProperty("flips", static_cast<int>(flips.size()));
}

std::vector<FlipCase> FlipCases() {
  std::vector<FlipCase> out;
  for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    for (int v = 1; v <= 3; v++) {
      out.push_back({p, v});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Matrix, FinishedTest, ::testing::ValuesIn(FlipCases()),
                         [](const auto& info) {
                           return ProtocolTag(info.param.protocol) +
                                  "_KdfVersion" +
                                  std::to_string(info.param.version);
                         });

// ---------------------------------------------------------------------
// Application keys: the exporter.

const char kConnectionLabel[] = "EXPORTER-oneM2M-Connection";

struct ExportCase {
  TlsProtocol protocol;
  unsigned version;
};

class ExporterTest : public ::testing::TestWithParam<ExportCase> {
 protected:
  ExporterTest() : ks_(MemoryKeystore(kKeyId, kRootHex)) {}

  std::unique_ptr<LoopbackTls> Connect(ONEM2M_KEYSTORE* client_ks) {
    EndpointConfig config;
    config.protocol = GetParam().protocol;
    config.pinned_version = static_cast<int>(GetParam().version);
    return std::make_unique<LoopbackTls>(NewClientCtx(client_ks, config),
                                         NewServerCtx(ks_.get(), config));
  }

  KeystorePtr ks_;
};

// Export exports with |context|, or with no context when it is NULL. (An
// empty vector's data() may be NULL, which would mean "no context".)
Bytes Export(SSL* ssl, size_t len, const char* label, const Bytes* context) {
  static const unsigned char kNoOctets[1] = {0};
  Bytes out(len);
  const unsigned char* data = nullptr;
  if (context != nullptr) {
    data = context->empty() ? kNoOctets : context->data();
  }
  int ok = ONEM2M_PSK_export_keying_material(
      ssl, out.data(), out.size(), label, data,
      context != nullptr ? context->size() : 0);
  if (ok != 1) {
    throw std::runtime_error("export failed");
  }
  return out;
}

TEST_P(ExporterTest, BothEndsExportTheSameKeys) {
  auto tls = Connect(ks_.get());
  ASSERT_TRUE(tls->Handshake());
  Bytes context = {'r', 'e', 's', '-', '1'};
  for (size_t len : {16u, 32u, 64u, 255u}) {
    Bytes client = Export(tls->client(), len, kConnectionLabel, &context);
    Bytes server = Export(tls->server(), len, kConnectionLabel, &context);
    EXPECT_EQ(ToHex(client), ToHex(server)) << len;
    EXPECT_NE(ToHex(client), ToHex(Bytes(len, 0)));
  }
  // Exactly OpenSSL's exporter: the library adds checks, not another KDF.
  Bytes ours = Export(tls->client(), 32, kConnectionLabel, &context);
  Bytes openssl(32);
  ASSERT_EQ(SSL_export_keying_material(tls->client(), openssl.data(),
                                       openssl.size(), kConnectionLabel,
                                       std::strlen(kConnectionLabel),
                                       context.data(), context.size(), 1),
            1);
  EXPECT_EQ(ToHex(ours), ToHex(openssl));
}

TEST_P(ExporterTest, DifferentLabelsContextsOrConnectionsGiveDifferentKeys) {
  auto tls = Connect(ks_.get());
  ASSERT_TRUE(tls->Handshake());
  SSL* ssl = tls->client();
  Bytes a = {'a'};
  Bytes b = {'b'};
  Bytes empty;
  std::string base = ToHex(Export(ssl, 32, kConnectionLabel, &a));
  EXPECT_NE(base, ToHex(Export(ssl, 32, "EXPORTER-oneM2M-Resource", &a)));
  EXPECT_NE(base, ToHex(Export(ssl, 32, kConnectionLabel, &b)));
  EXPECT_NE(base, ToHex(Export(ssl, 32, kConnectionLabel, nullptr)));

  // RFC 5705 keeps "no context" apart from an empty one; RFC 8446 section
  // 7.5 makes them the same.
  std::string none = ToHex(Export(ssl, 32, kConnectionLabel, nullptr));
  std::string zero = ToHex(Export(ssl, 32, kConnectionLabel, &empty));
  if (GetParam().protocol == TlsProtocol::kTls12) {
    EXPECT_NE(none, zero);
  } else {
    EXPECT_EQ(none, zero);
  }

  // Another handshake with the same key exports another key.
  auto again = Connect(ks_.get());
  ASSERT_TRUE(again->Handshake());
  EXPECT_NE(base, ToHex(Export(again->client(), 32, kConnectionLabel, &a)));
}

TEST_P(ExporterTest, ExportIsRefusedBeforeTheHandshakeAndAfterAFailedOne) {
  KeystorePtr wrong(MemoryKeystore(kKeyId, kOtherRootHex));
  auto tls = Connect(wrong.get());
  Bytes out(32, 0xee);
  for (SSL* ssl : {tls->client(), tls->server()}) {
    ERR_clear_error();
    EXPECT_EQ(ONEM2M_PSK_export_keying_material(ssl, out.data(), out.size(),
                                                kConnectionLabel, nullptr, 0),
              0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_NOT_AUTHENTICATED);
    EXPECT_EQ(ToHex(out), ToHex(Bytes(32, 0)));  // zeroed
  }

  ASSERT_FALSE(tls->Handshake());
  for (SSL* ssl : {tls->client(), tls->server()}) {
    ERR_clear_error();
    EXPECT_EQ(ONEM2M_PSK_export_keying_material(ssl, out.data(), out.size(),
                                                kConnectionLabel, nullptr, 0),
              0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_NOT_AUTHENTICATED);
  }
}

TEST_P(ExporterTest, LabelsThatCollideWithTlsOwnLabelsAreRefused) {
  auto tls = Connect(ks_.get());
  ASSERT_TRUE(tls->Handshake());
  Bytes out(32, 0xee);
  for (const char* label :
       {"client finished", "server finished", "master secret", "key expansion",
        "extended master secret", "master secret for the app",
        "key expansion2"}) {
    ERR_clear_error();
    EXPECT_EQ(ONEM2M_PSK_export_keying_material(tls->client(), out.data(),
                                                out.size(), label, nullptr, 0),
              0)
        << label;
    unsigned long e = ERR_peek_error();
    EXPECT_EQ(ERR_GET_LIB(e), ONEM2M_get_error_library());
    EXPECT_EQ(ERR_GET_REASON(e), ONEM2M_R_INVALID_ARGUMENT) << label;
    EXPECT_EQ(ToHex(out), ToHex(Bytes(32, 0)));
  }
  // Close to them but not the same: fine.
  Bytes context;
  EXPECT_NO_THROW(Export(tls->client(), 32, "Client finished", &context));
  EXPECT_NO_THROW(
      Export(tls->client(), 32, "EXPERIMENTAL master secret", &context));
}

INSTANTIATE_TEST_SUITE_P(
    Matrix, ExporterTest, ::testing::ValuesIn([] {
      std::vector<ExportCase> out;
      for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
        for (unsigned v = 0; v <= 3; v++) {
          out.push_back({p, v});
        }
      }
      return out;
    }()),
    [](const auto& info) {
      return ProtocolTag(info.param.protocol) + "_KdfVersion" +
             std::to_string(info.param.version);
    });

TEST(ExporterArgumentsTest, BadArgumentsAreRefusedWithInvalidArgument) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SslPtr ssl(SSL_new(ctx.get()));
  unsigned char out[16];
  unsigned char context[4] = {1, 2, 3, 4};
  struct Call {
    SSL* ssl;
    unsigned char* out;
    size_t out_len;
    const char* label;
    const unsigned char* context;
    size_t context_len;
    const char* what;
  };
  for (const Call& c : std::vector<Call>{
           {nullptr, out, 16, kConnectionLabel, nullptr, 0, "NULL ssl"},
           {ssl.get(), nullptr, 16, kConnectionLabel, nullptr, 0, "NULL out"},
           {ssl.get(), out, 16, nullptr, nullptr, 0, "NULL label"},
           {ssl.get(), out, 16, "", nullptr, 0, "empty label"},
           {ssl.get(), out, 0, kConnectionLabel, nullptr, 0, "zero length"},
           {ssl.get(), out, 16, kConnectionLabel, nullptr, 4,
            "NULL context of length 4"},
       }) {
    ERR_clear_error();
    EXPECT_EQ(ONEM2M_PSK_export_keying_material(
                  c.ssl, c.out, c.out_len, c.label, c.context, c.context_len),
              0)
        << c.what;
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_INVALID_ARGUMENT)
        << c.what;
  }
  // A connection the library is not attached to has nothing to export.
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_export_keying_material(ssl.get(), out, sizeof(out),
                                              kConnectionLabel, context,
                                              sizeof(context)),
            0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_NOT_AUTHENTICATED);
}

}  // namespace
}  // namespace onem2m::testing
