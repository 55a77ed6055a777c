// Real handshakes over loopback sockets: the matrix of TLS 1.2 / TLS 1.3 x
// KDF versions 0 to 3 for our client with our server, our client with the
// stock `openssl s_server`, and the stock `openssl s_client` with our
// server; then the refusals of spec section 7 and the inputs that broke
// other PSK stacks.

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include <cctype>

#include "interop_cells.h"
#include "onem2m/psk.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

// Root Key and KeyID of vectors.json's first cases.
const char kRootHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kKeyId[] = "dev-0001@sp.example.com";
const char kOtherRootHex[] =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

struct MatrixCase {
  TlsProtocol protocol;
  unsigned version;
};

std::string CaseName(const ::testing::TestParamInfo<MatrixCase>& info) {
  return std::string(info.param.protocol == TlsProtocol::kTls12 ? "Tls12"
                                                                : "Tls13") +
         "_KdfVersion" + std::to_string(info.param.version);
}

std::vector<MatrixCase> AllCases() {
  std::vector<MatrixCase> out;
  for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    for (unsigned v = 0; v <= 3; v++) {
      out.push_back({p, v});
    }
  }
  return out;
}

// The PSK of (kKeyId, v) from `onem2m-psk derive`, as (identity, hex).
struct Derived {
  std::string identity;
  std::string psk_hex;
  std::string session_file;  // a -psk_session file, when asked for
};

Derived DeriveWithCli(const ScopedTempDir& dir, unsigned version,
                      bool session) {
  std::string keystore =
      dir.WriteFile("keys", std::string(kKeyId) + ":" + kRootHex + "\n");
  std::vector<std::string> argv = {
      CliBin(),   "derive", "--keystore", keystore,
      "--key-id", kKeyId,   "--version",  std::to_string(version)};
  Derived d;
  if (session) {
    d.session_file = dir.path() + "/psk.pem";
    argv.push_back("--session-out");
    argv.push_back(d.session_file);
  }
  CommandResult r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t nl = r.out.find('\n');
  d.identity = r.out.substr(0, nl);
  d.psk_hex = r.out.substr(nl + 1, r.out.size() - nl - 2);
  return d;
}

class HandshakeMatrixTest : public ::testing::TestWithParam<MatrixCase> {};

// StockOpensslCell starts the cell of docs/interop.md that a stock openssl
// case records (interop_cells.h).
InteropCell StockOpensslCell(const MatrixCase& c,
                             const std::string& direction) {
  InteropCell cell;
  cell.peer = "OpenSSL";
  CommandResult version = RunCommand({OpensslBin(), "version"});
  cell.peer_version = version.out.substr(0, version.out.find('\n'));
  cell.protocol = c.protocol == TlsProtocol::kTls12 ? "TLS 1.2" : "TLS 1.3";
  cell.direction = direction;
  cell.version = c.version;
  cell.result = kCellPass;
  return cell;
}

// The placeholders of the page for what derive gave.
std::map<std::string, std::string> Placeholders(const Derived& d, int port) {
  std::map<std::string, std::string> p = {
      {d.identity, "IDENTITY"},
      {d.psk_hex, "PSK_HEX"},
      {"127.0.0.1:" + std::to_string(port), "127.0.0.1:PORT"}};
  if (!d.session_file.empty()) {
    p[d.session_file] = "SESSION_PEM";
  }
  return p;
}

TEST_P(HandshakeMatrixTest, OurClientAuthenticatesToOurServer) {
  const MatrixCase c = GetParam();
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = c.protocol});

  ClientOptions client;
  client.protocol = c.protocol;
  client.versions = ONEM2M_VERSIONS_ALL;
  client.pinned_version = static_cast<int>(c.version);
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, client);
  HandshakeResult sr = server.WaitForResult(0);

  ASSERT_TRUE(cr.ok) << cr.failure;
  ASSERT_TRUE(sr.ok) << sr.failure;
  EXPECT_EQ(cr.protocol, ProtocolName(c.protocol));
  // What the server application sees: the peer's KeyID and version.
  EXPECT_EQ(sr.key_id, kKeyId);
  EXPECT_EQ(sr.version, static_cast<int>(c.version));
  EXPECT_EQ(cr.key_id, kKeyId);
  EXPECT_EQ(cr.version, static_cast<int>(c.version));
  EXPECT_EQ(cr.greeting, std::string("hello ") + kKeyId + " v" +
                             std::to_string(c.version) + "\n");
  if (c.protocol == TlsProtocol::kTls13) {
    // The suite's hash is the PSK's (spec section 4).
    std::string hash = c.version == 3 ? "_SHA384" : "_SHA256";
    EXPECT_EQ(cr.cipher.substr(cr.cipher.size() - 7), hash) << cr.cipher;
  }
}

TEST_P(HandshakeMatrixTest, OurClientAuthenticatesToStockOpensslServer) {
  const MatrixCase c = GetParam();
  ScopedTempDir dir;
  bool tls13 = c.protocol == TlsProtocol::kTls13;
  Derived d = DeriveWithCli(dir, c.version, tls13 && c.version == 3);
  int port = FreeLoopbackPort();
  std::vector<std::string> argv = {
      OpensslBin(), "s_server",
      "-accept",    "127.0.0.1:" + std::to_string(port),
      "-nocert",    "-psk_identity",
      d.identity,   "-naccept",
      "1",          "-ign_eof"};
  if (tls13) {
    argv.push_back("-tls1_3");
  } else {
    argv.insert(argv.end(), {"-tls1_2", "-cipher", "PSK"});
  }
  if (!d.session_file.empty()) {
    argv.insert(argv.end(), {"-psk_session", d.session_file});
  } else {
    argv.insert(argv.end(), {"-psk", d.psk_hex});
  }
  InteropCellRecorder recorder(
      StockOpensslCell(c, "our client (library) → openssl s_server"));
  recorder.cell().peer_command = CommandTemplate(argv, Placeholders(d, port));
  recorder.cell().our_command =
      "RunOurClient() of tests/tls_harness.cc: ONEM2M_PSK_attach_client(), "
      "version pinned";
  BackgroundProcess s_server(argv);
  ASSERT_TRUE(s_server.WaitForOutput("ACCEPT")) << s_server.Output();

  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  ClientOptions client;
  client.protocol = c.protocol;
  client.versions = ONEM2M_VERSIONS_ALL;
  client.pinned_version = static_cast<int>(c.version);
  // s_server prints what it receives: application data crossed.
  client.send =
      "interop line for KDF version " + std::to_string(c.version) + "\n";
  HandshakeResult cr = RunOurClient(port, ks.get(), kKeyId, client);
  ASSERT_TRUE(cr.ok) << cr.failure << " " << cr.openssl_error << "\n"
                     << s_server.Output();
  EXPECT_EQ(cr.protocol, ProtocolName(c.protocol));
  EXPECT_EQ(cr.version, static_cast<int>(c.version));
  EXPECT_TRUE(s_server.WaitForOutput(client.send)) << s_server.Output();
  recorder.cell().suite = cr.cipher;
}

TEST_P(HandshakeMatrixTest, StockOpensslClientAuthenticatesToOurServer) {
  const MatrixCase c = GetParam();
  ScopedTempDir dir;
  bool tls13 = c.protocol == TlsProtocol::kTls13;
  Derived d = DeriveWithCli(dir, c.version, tls13 && c.version == 3);
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = c.protocol});

  std::vector<std::string> argv = {
      OpensslBin(),    "s_client",
      "-connect",      "127.0.0.1:" + std::to_string(server.port()),
      "-psk_identity", d.identity,
      "-ign_eof"};
  if (tls13) {
    argv.push_back("-tls1_3");
  } else {
    argv.insert(argv.end(), {"-tls1_2", "-cipher", "PSK"});
  }
  if (!d.session_file.empty()) {
    argv.insert(argv.end(), {"-psk_session", d.session_file});
  } else {
    argv.insert(argv.end(), {"-psk", d.psk_hex});
  }
  InteropCellRecorder recorder(
      StockOpensslCell(c, "openssl s_client → our server (library)"));
  recorder.cell().peer_command =
      CommandTemplate(argv, Placeholders(d, server.port()));
  recorder.cell().our_command =
      "OurServer of tests/tls_harness.cc: ONEM2M_PSK_attach_server(), KDF "
      "versions 0-3";
  CommandResult r = RunCommand(argv);
  HandshakeResult sr = server.WaitForResult(0);
  ASSERT_TRUE(sr.ok) << sr.failure << "\n" << r.out << r.err;
  EXPECT_EQ(sr.key_id, kKeyId);
  EXPECT_EQ(sr.version, static_cast<int>(c.version));
  // Our server's greeting reached s_client: application data crossed.
  EXPECT_NE(r.out.find("hello " + std::string(kKeyId)), std::string::npos)
      << r.out;
  recorder.cell().suite = sr.cipher;
}

INSTANTIATE_TEST_SUITE_P(Matrix, HandshakeMatrixTest,
                         ::testing::ValuesIn(AllCases()), CaseName);

// Refusals (spec section 7), per protocol.
class RefusalTest : public ::testing::TestWithParam<TlsProtocol> {
 protected:
  // A server that knows kKeyId and allows versions 1 and 2 only.
  RefusalTest()
      : ks_(MemoryKeystore(kKeyId, kRootHex)),
        server_(ks_.get(),
                {.protocol = GetParam(),
                 .versions = ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2)}) {}

  HandshakeResult Connect(const std::string& key_id, const char* root_hex,
                          int version) {
    KeystorePtr client_ks(MemoryKeystore(key_id, root_hex));
    ClientOptions o;
    o.protocol = GetParam();
    o.versions = ONEM2M_VERSIONS_ALL;
    o.pinned_version = version;
    return RunOurClient(server_.port(), client_ks.get(), key_id, o);
  }

  // The next good client still gets through.
  void ExpectServerStillServes(size_t index) {
    HandshakeResult good = Connect(kKeyId, kRootHex, 2);
    EXPECT_TRUE(good.ok) << good.failure;
    EXPECT_TRUE(server_.WaitForResult(index).ok);
  }

  std::string LastLogLine() {
    auto lines = server_.LogLines();
    return lines.empty() ? "" : lines.back();
  }

  KeystorePtr ks_;
  OurServer server_;
};

// Wrong key: TLS 1.2 fails the Finished (its record MAC), TLS 1.3 the
// binder, for which OpenSSL 3.0 sends illegal_parameter.
int WrongKeyAlert(TlsProtocol p) {
  return p == TlsProtocol::kTls12 ? SSL_AD_BAD_RECORD_MAC
                                  : SSL_AD_ILLEGAL_PARAMETER;
}

TEST_P(RefusalTest, WrongRootKeyFailsAndTheServerLogsWrongKey) {
  HandshakeResult cr = Connect(kKeyId, kOtherRootHex, 2);
  HandshakeResult sr = server_.WaitForResult(0);
  EXPECT_FALSE(cr.ok);
  EXPECT_FALSE(sr.ok);
  EXPECT_EQ(cr.alert_received, WrongKeyAlert(GetParam())) << sr.openssl_error;
  EXPECT_NE(LastLogLine().find("wrong Root Key"), std::string::npos)
      << LastLogLine();
  EXPECT_NE(cr.failure.find("PSK rejected by peer"), std::string::npos)
      << cr.failure;
  ExpectServerStillServes(1);
}

TEST_P(RefusalTest, UnknownKeyIdLooksExactlyLikeAWrongKey) {
  HandshakeResult wrong = Connect(kKeyId, kOtherRootHex, 2);
  HandshakeResult unknown = Connect("stranger@sp.example.com", kRootHex, 2);
  EXPECT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.alert_received, wrong.alert_received);
  EXPECT_EQ(unknown.alert_received, WrongKeyAlert(GetParam()));
  server_.WaitForResult(1);
  EXPECT_NE(LastLogLine().find("reason=\"unknown KeyID\""), std::string::npos)
      << LastLogLine();
  EXPECT_NE(LastLogLine().find("key_id=stranger@sp.example.com"),
            std::string::npos);
  ExpectServerStillServes(2);
}

TEST_P(RefusalTest, RefusedVersionLooksLikeAWrongKey) {
  // The right version 3 PSK, sent by a client that ignores the TLS 1.2
  // hint (ours would refuse to offer version 3 to this server).
  ScopedTempDir dir;
  std::vector<unsigned char> psk =
      FromHex(DeriveWithCli(dir, 3, false).psk_hex);
  HandshakeResult cr =
      RunRawPskClient(server_.port(), std::string("v3:") + kKeyId, psk,
                      GetParam(), "TLS_AES_256_GCM_SHA384");
  EXPECT_FALSE(cr.ok);
  EXPECT_EQ(cr.alert_received, WrongKeyAlert(GetParam()));
  server_.WaitForResult(0);
  EXPECT_NE(LastLogLine().find("version 3 not allowed (server allows 1,2)"),
            std::string::npos)
      << LastLogLine();
  ExpectServerStillServes(1);
}

TEST_P(RefusalTest, UnparsableIdentityIsDeclinedWithoutDecoy) {
  std::vector<unsigned char> psk(32, 0x42);
  HandshakeResult cr =
      RunRawPskClient(server_.port(), "v9:not-a-version", psk, GetParam());
  EXPECT_FALSE(cr.ok);
  // TLS 1.2: unknown_psk_identity; TLS 1.3: no PSK and no certificate.
  EXPECT_EQ(cr.alert_received, GetParam() == TlsProtocol::kTls12
                                   ? TLS1_AD_UNKNOWN_PSK_IDENTITY
                                   : SSL_AD_HANDSHAKE_FAILURE);
  server_.WaitForResult(0);
  EXPECT_NE(LastLogLine().find("unparsable identity"), std::string::npos)
      << LastLogLine();
  ExpectServerStillServes(1);
}

INSTANTIATE_TEST_SUITE_P(Protocols, RefusalTest,
                         ::testing::Values(TlsProtocol::kTls12,
                                           TlsProtocol::kTls13),
                         [](const auto& info) {
                           return info.param == TlsProtocol::kTls12 ? "Tls12"
                                                                    : "Tls13";
                         });

class RevealUnknownTest : public ::testing::TestWithParam<TlsProtocol> {};

TEST_P(RevealUnknownTest, UnknownKeyIdIsRefusedOpenlyWhenConfigured) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = GetParam(),
                              .options = ONEM2M_PSK_OPT_REVEAL_UNKNOWN});
  KeystorePtr stranger(MemoryKeystore("stranger", kRootHex));
  ClientOptions o;
  o.protocol = GetParam();
  HandshakeResult cr =
      RunOurClient(server.port(), stranger.get(), "stranger", o);
  EXPECT_FALSE(cr.ok);
  EXPECT_EQ(cr.alert_received, GetParam() == TlsProtocol::kTls12
                                   ? TLS1_AD_UNKNOWN_PSK_IDENTITY
                                   : SSL_AD_HANDSHAKE_FAILURE);
  EXPECT_FALSE(server.WaitForResult(0).ok);
}

INSTANTIATE_TEST_SUITE_P(Protocols, RevealUnknownTest,
                         ::testing::Values(TlsProtocol::kTls12,
                                           TlsProtocol::kTls13),
                         [](const auto& info) {
                           return info.param == TlsProtocol::kTls12 ? "Tls12"
                                                                    : "Tls13";
                         });

// Inputs that broke other PSK stacks.

TEST(SuiteHashTest, StockClientListingSha384FirstWithSha256PskSucceeds) {
  ScopedTempDir dir;
  Derived d = DeriveWithCli(dir, 2, false);
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls13});
  CommandResult r = RunCommand(
      {OpensslBin(), "s_client", "-connect",
       "127.0.0.1:" + std::to_string(server.port()), "-tls1_3", "-ciphersuites",
       "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256", "-psk_identity",
       d.identity, "-psk", d.psk_hex, "-ign_eof"});
  HandshakeResult sr = server.WaitForResult(0);
  ASSERT_TRUE(sr.ok) << sr.failure << r.out << r.err;
  EXPECT_EQ(sr.cipher, "TLS_AES_128_GCM_SHA256");
}

// With SSL_OP_CIPHER_SERVER_PREFERENCE OpenSSL follows the server's order,
// not the client's: a client that lists a SHA-256 suite first still needs
// the server's restriction when the server lists SHA-384 first.
TEST(SuiteHashTest, ServerPreferringItsOwnOrderPicksTheSuiteOfThePskHash) {
  ScopedTempDir dir;
  Derived d = DeriveWithCli(dir, 2, false);
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(
      ks.get(),
      {.protocol = TlsProtocol::kTls13,
       .ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"});
  SSL_CTX_set_options(server.ctx(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  CommandResult r = RunCommand(
      {OpensslBin(), "s_client", "-connect",
       "127.0.0.1:" + std::to_string(server.port()), "-tls1_3", "-ciphersuites",
       "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "-psk_identity",
       d.identity, "-psk", d.psk_hex, "-ign_eof"});
  HandshakeResult sr = server.WaitForResult(0);
  ASSERT_TRUE(sr.ok) << sr.failure << r.out << r.err;
  EXPECT_EQ(sr.cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(sr.version, 2);
}

TEST(SuiteHashTest, Sha384PskWithSha256SuiteListedFirstSucceeds) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls13});
  std::vector<unsigned char> psk;
  {
    ScopedTempDir dir;
    psk = FromHex(DeriveWithCli(dir, 3, false).psk_hex);
  }
  ScopedTempDir dir;
  Derived d = DeriveWithCli(dir, 3, true);
  CommandResult r = RunCommand(
      {OpensslBin(), "s_client", "-connect",
       "127.0.0.1:" + std::to_string(server.port()), "-tls1_3", "-ciphersuites",
       "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384", "-psk_identity",
       d.identity, "-psk_session", d.session_file, "-ign_eof"});
  HandshakeResult sr = server.WaitForResult(0);
  ASSERT_TRUE(sr.ok) << sr.failure << r.out << r.err;
  EXPECT_EQ(sr.cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(sr.version, 3);
}

TEST(SuiteHashTest, ServerWithoutAMatchingSuiteNamesTheHashMismatch) {
  // The server allows only SHA-256 suites; a version 3 client cannot work.
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls13,
                              .ciphersuites = "TLS_AES_128_GCM_SHA256"});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls13;
  o.pinned_version = 3;
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  EXPECT_FALSE(cr.ok);
  HandshakeResult sr = server.WaitForResult(0);
  EXPECT_NE(sr.failure.find("SHA-384"), std::string::npos) << sr.failure;
  auto lines = server.LogLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("SHA-384"), std::string::npos) << lines.back();
  EXPECT_EQ(lines.back().find("signature"), std::string::npos);
}

TEST(HelloRetryRequestTest, KeyShareForAnUnwantedGroupStillCompletes) {
  // The client's first key share is P-384; the server takes X25519 only,
  // so it answers with a HelloRetryRequest.
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls13, .groups = "X25519"});
  for (int version : {2, 3}) {
    ClientOptions o;
    o.protocol = TlsProtocol::kTls13;
    o.pinned_version = version;
    o.groups = "P-384:X25519";
    HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
    EXPECT_TRUE(cr.ok) << "version " << version << ": " << cr.failure;
    EXPECT_EQ(cr.version, version);
  }
}

TEST(NoDefaultKeyTest, ServerNeverHandsAKeyForAnIdentityNotInItsKeystore) {
  // A raw client guesses: every identity shape, with the PSK the known key
  // would give (so only a default key could make it succeed).
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get());
  ScopedTempDir dir;
  std::vector<unsigned char> psk =
      FromHex(DeriveWithCli(dir, 2, false).psk_hex);
  size_t index = 0;
  for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    for (const char* identity :
         {"v2:someone-else", "someone-else", "v2:", "Client_identity", "x"}) {
      HandshakeResult cr = RunRawPskClient(server.port(), identity, psk, p);
      EXPECT_FALSE(cr.ok) << identity;
      EXPECT_FALSE(server.WaitForResult(index++).ok) << identity;
    }
  }
}

TEST(IdentityLengthTest, LongestKeyIdWorksAndLongerIsRefusedAtConfiguration) {
  std::string longest(120, 'k');  // identity "v2:" + 120 = 123 octets
  KeystorePtr ks(MemoryKeystore(longest, kRootHex));
  OurServer server(ks.get());
  for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    ClientOptions o;
    o.protocol = p;
    HandshakeResult cr = RunOurClient(server.port(), ks.get(), longest, o);
    EXPECT_TRUE(cr.ok) << cr.failure;
    EXPECT_EQ(cr.key_id, longest);  // never truncated
  }
  // One octet: version 0 identity "k".
  KeystorePtr one(MemoryKeystore("k", kRootHex));
  OurServer server0(one.get(), {.versions = ONEM2M_VERSIONS_ALL});
  ClientOptions o;
  o.versions = ONEM2M_VERSIONS_ALL;
  o.pinned_version = 0;
  HandshakeResult cr = RunOurClient(server0.port(), one.get(), "k", o);
  EXPECT_TRUE(cr.ok) << cr.failure;
  EXPECT_EQ(server0.WaitForResult(0).key_id, "k");

  // 121 octets or a ':' in a KeyID: refused when configured. (A NUL cannot
  // pass through this C API; the keystore file and the provider, which
  // take lengths, refuse it in their own tests.)
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  for (const std::string& bad : {std::string(121, 'k'), std::string("a:b")}) {
    ERR_clear_error();
    EXPECT_EQ(ONEM2M_PSK_attach_client(ctx, ks.get(), bad.c_str()), 0);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_INVALID_KEY_ID) << bad;
  }
  // Adding such KeyIDs to a keystore is refused too.
  KeystorePtr store(ONEM2M_KEYSTORE_new_memory());
  std::vector<unsigned char> root = FromHex(kRootHex);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(store.get(), std::string(121, 'k').c_str(),
                                    root.data(), root.size(), 0),
            0);
  EXPECT_EQ(
      ONEM2M_KEYSTORE_add_key(store.get(), "a:b", root.data(), root.size(), 0),
      0);
  SSL_CTX_free(ctx);
}

TEST(IdentityLengthTest, WireIdentitiesOf127And128OctetsAreParsedWhole) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls12});
  std::vector<unsigned char> psk(32, 1);
  size_t index = 0;
  for (size_t len : {127u, 128u}) {
    std::string identity = "v2:" + std::string(len - 3, 'k');
    HandshakeResult cr =
        RunRawPskClient(server.port(), identity, psk, TlsProtocol::kTls12);
    EXPECT_FALSE(cr.ok);
    EXPECT_EQ(cr.alert_received, TLS1_AD_UNKNOWN_PSK_IDENTITY) << len;
    HandshakeResult sr = server.WaitForResult(index++);
    EXPECT_EQ(sr.failure, "unparsable identity (not vN:KeyID or a KeyID)");
  }
  // 129 octets cannot even leave an OpenSSL client (RFC 4279 limit).
  HandshakeResult cr = RunRawPskClient(
      server.port(), "v2:" + std::string(126, 'k'), psk, TlsProtocol::kTls12);
  EXPECT_FALSE(cr.ok);
}

class HintTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HintTest, ClientWithoutOurHintUsesItsOwnHighestVersion) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(
      ks.get(), {.protocol = TlsProtocol::kTls12, .hint_override = GetParam()});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls12;
  o.versions = ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2);
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  ASSERT_TRUE(cr.ok) << cr.failure;
  EXPECT_EQ(cr.version, 2);
}

INSTANTIATE_TEST_SUITE_P(Hints, HintTest,
                         ::testing::Values("", "some foreign hint",
                                           "onem2m-versions="),
                         [](const auto& info) {
                           return info.index == 0   ? std::string("NoHint")
                                  : info.index == 1 ? std::string("Foreign")
                                                    : std::string("Empty");
                         });

TEST(HintTest, ClientPicksTheHighestVersionBothAllow) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls12,
                    .versions = ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2)});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls12;  // the client allows 1, 2, 3
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  ASSERT_TRUE(cr.ok) << cr.failure;
  EXPECT_EQ(cr.version, 2);
}

TEST(HintTest, PinnedVersionOutsideTheHintIsNotOffered) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls12,
                    .versions = ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2)});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls12;
  o.pinned_version = 3;
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  EXPECT_FALSE(cr.ok);
  EXPECT_EQ(cr.failure,
            "no common KDF version: server allows 1,2, client allows 3");
  EXPECT_FALSE(server.WaitForResult(0).ok);
}

TEST(HintTest, ClientHonoursItsOwnKeysVersionsAttribute) {
  // The device's keystore line says versions=1,2; the server allows 1-3.
  KeystorePtr server_ks(MemoryKeystore(kKeyId, kRootHex));
  KeystorePtr client_ks(MemoryKeystore(
      kKeyId, kRootHex, ONEM2M_VERSION_BIT(1) | ONEM2M_VERSION_BIT(2)));
  OurServer server(server_ks.get());
  size_t index = 0;
  for (auto p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    ClientOptions o;
    o.protocol = p;
    HandshakeResult cr =
        RunOurClient(server.port(), client_ks.get(), kKeyId, o);
    ASSERT_TRUE(cr.ok) << ProtocolName(p) << ": " << cr.failure;
    EXPECT_EQ(cr.version, 2);
    EXPECT_EQ(server.WaitForResult(index++).version, 2);
  }
}

TEST(VersionPolicyTest, PinOutsideTheAllowedVersionsIsRefused) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(ONEM2M_PSK_attach_client(ctx, ks.get(), kKeyId), 1);
  ASSERT_EQ(ONEM2M_PSK_CTX_set_versions(
                ctx, ONEM2M_VERSION_BIT(2) | ONEM2M_VERSION_BIT(3)),
            1);
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_CTX_pin_version(ctx, 1), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_INVALID_ARGUMENT);
  ASSERT_EQ(ONEM2M_PSK_CTX_pin_version(ctx, 2), 1);
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_CTX_set_versions(ctx, ONEM2M_VERSION_BIT(3)), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), ONEM2M_R_INVALID_ARGUMENT);
  SSL_CTX_free(ctx);
}

TEST(HintTest, NoCommonVersionFailsWithBothSetsNamed) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls12,
                              .versions = ONEM2M_VERSION_BIT(1)});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls12;
  o.versions = ONEM2M_VERSION_BIT(2) | ONEM2M_VERSION_BIT(3);
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  EXPECT_FALSE(cr.ok);
  EXPECT_EQ(cr.failure,
            "no common KDF version: server allows 1, client allows 2,3");
}

// TLS 1.2 suites: TS-0003 makes TLS_PSK_WITH_AES_128_CBC_SHA256 mandatory;
// ECDHE-PSK adds forward secrecy.
class Tls12SuiteTest : public ::testing::TestWithParam<const char*> {};

TEST_P(Tls12SuiteTest, NegotiatesTheSuiteWithEveryVersion) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(),
                   {.protocol = TlsProtocol::kTls12, .cipher = GetParam()});
  for (int v = 0; v <= 3; v++) {
    ClientOptions o;
    o.protocol = TlsProtocol::kTls12;
    o.versions = ONEM2M_VERSIONS_ALL;
    o.pinned_version = v;
    o.cipher = GetParam();
    HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
    ASSERT_TRUE(cr.ok) << GetParam() << " v" << v << ": " << cr.failure;
    EXPECT_EQ(cr.cipher, GetParam());
    EXPECT_EQ(server.WaitForResult(static_cast<size_t>(v)).version, v);
  }
}

INSTANTIATE_TEST_SUITE_P(Suites, Tls12SuiteTest,
                         ::testing::Values("PSK-AES128-CBC-SHA256",
                                           "ECDHE-PSK-AES128-CBC-SHA256",
                                           "PSK-AES128-GCM-SHA256"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             c = std::isalnum(static_cast<unsigned char>(c))
                                     ? c
                                     : '_';
                           }
                           return name;
                         });

TEST(Tls13KeyExchangeTest, ServerUsesPskDheKeByDefault) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls13});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls13;
  HandshakeResult cr = RunOurClient(server.port(), ks.get(), kKeyId, o);
  ASSERT_TRUE(cr.ok) << cr.failure;
  // psk_dhe_ke: an (EC)DHE group was negotiated (forward secrecy).
  EXPECT_NE(server.WaitForResult(0).group, 0);
  EXPECT_NE(cr.group, 0);
}

TEST(Tls13KeyExchangeTest, PskKeIsAllowedOnlyWhenConfigured) {
  // OpenSSL's client always offers psk_dhe_ke too, so no real client here
  // can insist on psk_ke; what the option changes is the server's
  // SSL_OP_ALLOW_NO_DHE_KEX, off by default.
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
  ASSERT_EQ(ONEM2M_PSK_attach_server(ctx, ks.get()), 1);
  EXPECT_EQ(SSL_CTX_get_options(ctx) & SSL_OP_ALLOW_NO_DHE_KEX, 0u);
  ASSERT_EQ(ONEM2M_PSK_CTX_set_options(ctx, ONEM2M_PSK_OPT_ALLOW_PSK_KE), 1);
  EXPECT_NE(SSL_CTX_get_options(ctx) & SSL_OP_ALLOW_NO_DHE_KEX, 0u);
  ASSERT_EQ(ONEM2M_PSK_CTX_set_options(ctx, 0), 1);
  EXPECT_EQ(SSL_CTX_get_options(ctx) & SSL_OP_ALLOW_NO_DHE_KEX, 0u);
  SSL_CTX_free(ctx);
}

TEST(StartupTest, ServerWithNoPskSuiteFailsWhenAttached) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  ASSERT_TRUE(SSL_CTX_set_cipher_list(ctx, "ECDHE-RSA-AES128-GCM-SHA256"));
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_attach_server(ctx, ks.get()), 0);
  unsigned long e = ERR_peek_error();
  EXPECT_EQ(ERR_GET_LIB(e), ONEM2M_get_error_library());
  EXPECT_EQ(ERR_GET_REASON(e), ONEM2M_R_NO_PSK_CIPHER);
  SSL_CTX_free(ctx);
}

TEST(LibraryContextTest, WorksWithSslCtxNewExInANonDefaultLibraryContext) {
  // A fresh library context where the application loaded nothing: the
  // library loads its provider there and the default provider stays.
  OSSL_LIB_CTX* libctx = OSSL_LIB_CTX_new();
  SSL_CTX* sctx = SSL_CTX_new_ex(libctx, nullptr, TLS_server_method());
  SSL_CTX* cctx = SSL_CTX_new_ex(libctx, nullptr, TLS_client_method());
  ASSERT_NE(sctx, nullptr);
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  EXPECT_EQ(ONEM2M_PSK_attach_server_ex(sctx, ks.get(), libctx, nullptr), 1);
  EXPECT_EQ(
      ONEM2M_PSK_attach_client_ex(cctx, ks.get(), kKeyId, libctx, nullptr), 1);
  EXPECT_TRUE(OSSL_PROVIDER_available(libctx, "onem2m"));
  EXPECT_TRUE(OSSL_PROVIDER_available(libctx, "default"));

  // A handshake in memory through a BIO pair proves the contexts work.
  SSL* server = SSL_new(sctx);
  SSL* client = SSL_new(cctx);
  BIO *sb, *cb;
  BIO_new_bio_pair(&sb, 0, &cb, 0);
  SSL_set_bio(server, sb, sb);
  SSL_set_bio(client, cb, cb);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  bool done = false;
  for (int i = 0; i < 20 && !done; i++) {
    int c = SSL_do_handshake(client);
    int s = SSL_do_handshake(server);
    done = c == 1 && s == 1;
  }
  EXPECT_TRUE(done);
  EXPECT_STREQ(ONEM2M_PSK_get0_key_id(server), kKeyId);
  SSL_free(server);
  SSL_free(client);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
  OSSL_LIB_CTX_free(libctx);
}

TEST(LogTest, LogLinesCarryMetadataAndNeverKeyBytes) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get());
  ClientOptions o;
  o.protocol = TlsProtocol::kTls13;
  RunOurClient(server.port(), ks.get(), kKeyId, o);
  KeystorePtr wrong(MemoryKeystore(kKeyId, kOtherRootHex));
  RunOurClient(server.port(), wrong.get(), kKeyId, o);
  server.WaitForResult(1);
  auto lines = server.LogLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("peer=127.0.0.1:"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("key_id=dev-0001@sp.example.com version=3 "
                          "protocol=TLSv1.3 suite=TLS_AES_256_GCM_SHA384 "
                          "outcome=ok"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("outcome=failed reason=\"wrong Root Key"),
            std::string::npos)
      << lines[1];
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("0001020304050607"), std::string::npos);
    EXPECT_EQ(line.find("a5a5a5a5"), std::string::npos);
  }
}

}  // namespace
}  // namespace onem2m::testing
