// DTLS 1.2 (issue #5): our serve --dtls and connect --dtls with each other
// and with stock openssl s_client / s_server, over real UDP on 127.0.0.1,
// for KDF versions 0 to 3 (the stock openssl cases record their cells of
// docs/interop.md); a wrong key and an unknown KeyID; the cookie exchange
// before any key work; CoAP over DTLS with our client; the TS-0003 profile
// and SNI; and the library on a DTLS SSL_CTX in-process. libcoap's
// coap-client and the GnuTLS tools over DTLS are in tests/interop_test.cc.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include "interop_cells.h"
#include "keystore.h"
#include "onem2m/err.h"
#include "onem2m/psk.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

const char kKeyId[] = "dev-0001@sp.example.com";
const char kRootHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kWrongRootHex[] =
    "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

using Clock = std::chrono::steady_clock;

CommandResult Cli(
    const std::vector<std::string>& args,
    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  std::vector<std::string> argv = {CliBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", timeout);
}

// FreeUdpPort returns a UDP port on 127.0.0.1 that was free a moment ago.
int FreeUdpPort() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A keystore file with kKeyId, and one with the same KeyID and a wrong key.
class DtlsCliFixture {
 protected:
  DtlsCliFixture() {
    keys_ = dir_.WriteFile("keys", std::string(kKeyId) + ":" + kRootHex + "\n");
    wrong_ = dir_.WriteFile("wrong",
                            std::string(kKeyId) + ":" + kWrongRootHex + "\n");
    stranger_ = dir_.WriteFile(
        "stranger", std::string("stranger@sp.example.com:") + kRootHex + "\n");
  }

  // Serve runs `serve` with |extra| and waits for its port.
  std::unique_ptr<BackgroundProcess> Serve(std::vector<std::string> extra) {
    std::vector<std::string> argv = {CliBin(), "serve",    "--keystore",
                                     keys_,    "--accept", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    serve_argv_ = argv;
    auto server = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE(server->WaitForOutput("listening on")) << server->Output();
    std::smatch m;
    std::string out = server->Output();
    EXPECT_TRUE(
        std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));
    port_ = m.size() > 1 ? m[1].str() : "0";
    return server;
  }

  // Connect runs `connect` as kKeyId with the keystore |keys| to the server.
  CommandResult Connect(std::vector<std::string> extra,
                        const std::string& keys = "",
                        const std::string& key_id = kKeyId) {
    std::vector<std::string> args = {"connect", "--key-id", key_id,
                                     "--keystore", keys.empty() ? keys_ : keys};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("127.0.0.1:" + port_);
    return Cli(args);
  }

  ScopedTempDir dir_;
  std::string keys_;
  std::string wrong_;
  std::string stranger_;
  std::string port_;
  std::vector<std::string> serve_argv_;  // of the last Serve()
};

// The PSK of (kKeyId, v) from `onem2m-psk derive`: identity, hex.
std::pair<std::string, std::string> DeriveWithCli(const std::string& keys,
                                                  unsigned version) {
  CommandResult r = Cli({"derive", "--keystore", keys, "--key-id", kKeyId,
                         "--version", std::to_string(version)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t nl = r.out.find('\n');
  return {r.out.substr(0, nl), r.out.substr(nl + 1, r.out.size() - nl - 2)};
}

std::string Greeting(unsigned version, const std::string& suite) {
  return std::string("hello ") + kKeyId +
         ": authenticated with oneM2M KDF version " + std::to_string(version) +
         " over DTLSv1.2 (" + suite + ")";
}

// ---------------------------------------------------------------------
// Our client and our server, each version and suite.

struct SuiteCase {
  const char* name;    // for the test name
  const char* cipher;  // --cipher, "" for the default list
  const char* expect;  // the suite negotiated
};

const SuiteCase kSuites[] = {
    {"DefaultSuites", "", "ECDHE-PSK-CHACHA20-POLY1305"},
    {"Ccm8", "PSK-AES128-CCM8", "PSK-AES128-CCM8"},
    {"Gcm", "PSK-AES128-GCM-SHA256", "PSK-AES128-GCM-SHA256"},
    {"EcdhePskCbc", "ECDHE-PSK-AES128-CBC-SHA256",
     "ECDHE-PSK-AES128-CBC-SHA256"},
};

class DtlsOurPairTest
    : public DtlsCliFixture,
      public ::testing::TestWithParam<std::tuple<unsigned, SuiteCase>> {};

TEST_P(DtlsOurPairTest, OurDtlsClientAuthenticatesToOurDtlsServer) {
  auto [version, suite] = GetParam();
  auto server = Serve({"--dtls", "--versions", "0,1,2,3"});
  std::vector<std::string> args = {"--dtls", "--versions", "0,1,2,3",
                                   "--version", std::to_string(version)};
  if (*suite.cipher != '\0') {
    args.insert(args.end(), {"--cipher", suite.cipher});
  }
  CommandResult r = Connect(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << server->Output();
  EXPECT_NE(r.out.find("protocol:     DTLSv1.2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("suite:        ") + suite.expect + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kdf_version:  " + std::to_string(version) + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("server says:  " + Greeting(version, suite.expect)),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(server->WaitForOutput(
      std::string("key_id=") + kKeyId + " version=" + std::to_string(version) +
      " protocol=DTLSv1.2 suite=" + suite.expect + " outcome=ok"))
      << server->Output();
}

INSTANTIATE_TEST_SUITE_P(VersionsAndSuites, DtlsOurPairTest,
                         ::testing::Combine(::testing::Values(0u, 1u, 2u, 3u),
                                            ::testing::ValuesIn(kSuites)),
                         [](const auto& info) {
                           return "KdfVersion" +
                                  std::to_string(std::get<0>(info.param)) +
                                  "_" + std::get<1>(info.param).name;
                         });

// ---------------------------------------------------------------------
// Stock openssl, both ways.

// These cases are the OpenSSL DTLS 1.2 cells of docs/interop.md
// (interop_cells.h): each records its cell when it ends.
class DtlsStockOpensslTest : public DtlsCliFixture,
                             public ::testing::TestWithParam<unsigned> {
 protected:
  InteropCell NewCell(const std::string& direction) const {
    InteropCell cell;
    cell.peer = "OpenSSL";
    CommandResult version = RunCommand({OpensslBin(), "version"});
    cell.peer_version = version.out.substr(0, version.out.find('\n'));
    cell.protocol = "DTLS 1.2";
    cell.direction = direction;
    cell.version = GetParam();
    cell.result = kCellPass;
    return cell;
  }
};

TEST_P(DtlsStockOpensslTest, StockOpensslClientAuthenticatesToOurDtlsServer) {
  unsigned version = GetParam();
  InteropCellRecorder recorder(NewCell("openssl s_client → onem2m-psk serve"));
  auto [identity, psk_hex] = DeriveWithCli(keys_, version);
  auto server = Serve({"--dtls", "--versions", "0,1,2,3"});
  recorder.cell().our_command =
      CommandTemplate(serve_argv_, {{keys_, "KEYSTORE"}});
  std::vector<std::string> argv = {
      OpensslBin(),    "s_client", "-dtls1_2", "-connect", "127.0.0.1:" + port_,
      "-psk_identity", identity,   "-psk",     psk_hex,    "-ign_eof"};
  recorder.cell().peer_command =
      CommandTemplate(argv, {{"127.0.0.1:" + port_, "127.0.0.1:PORT"},
                             {identity, "IDENTITY"},
                             {psk_hex, "PSK_HEX"}});
  CommandResult r = RunCommand(argv);
  // Our server's greeting reached s_client: application data crossed.
  const char suite[] = "ECDHE-PSK-CHACHA20-POLY1305";
  EXPECT_NE(r.out.find(Greeting(version, suite) + "\n"), std::string::npos)
      << r.out << r.err;
  EXPECT_TRUE(server->WaitForOutput(
      std::string("key_id=") + kKeyId + " version=" + std::to_string(version) +
      " protocol=DTLSv1.2 suite=" + suite + " outcome=ok"))
      << server->Output();
  recorder.cell().suite = suite;
}

TEST_P(DtlsStockOpensslTest, OurDtlsClientAuthenticatesToStockOpensslServer) {
  unsigned version = GetParam();
  InteropCellRecorder recorder(
      NewCell("onem2m-psk connect → openssl s_server"));
  auto [identity, psk_hex] = DeriveWithCli(keys_, version);
  port_ = std::to_string(FreeUdpPort());
  // The hint of spec section 7, so that our client picks this version.
  std::vector<std::string> argv = {OpensslBin(),
                                   "s_server",
                                   "-dtls1_2",
                                   "-accept",
                                   "127.0.0.1:" + port_,
                                   "-nocert",
                                   "-psk_identity",
                                   identity,
                                   "-psk",
                                   psk_hex,
                                   "-psk_hint",
                                   "onem2m-versions=" + std::to_string(version),
                                   "-naccept",
                                   "1"};
  recorder.cell().peer_command = CommandTemplate(
      argv,
      {{"127.0.0.1:" + port_, "127.0.0.1:PORT"},
       {identity, "IDENTITY"},
       {psk_hex, "PSK_HEX"},
       {"onem2m-versions=" + std::to_string(version), "onem2m-versions=N"}});
  BackgroundProcess s_server(argv);
  ASSERT_TRUE(s_server.WaitForOutput("ACCEPT")) << s_server.Output();
  // s_server prints what it receives: application data crossed.
  std::string line = "interop DTLSv1.2 KDF version " + std::to_string(version);
  std::vector<std::string> args = {"--dtls", "--versions", "0,1,2,3", "--send",
                                   line};
  std::vector<std::string> ours = {CliBin(), "connect",    "--key-id",
                                   kKeyId,   "--keystore", keys_};
  ours.insert(ours.end(), args.begin(), args.end());
  ours.push_back("127.0.0.1:" + port_);  // as Connect() runs it
  recorder.cell().our_command =
      CommandTemplate(ours, {{keys_, "KEYSTORE"},
                             {line, "TEXT"},
                             {"127.0.0.1:" + port_, "127.0.0.1:PORT"}});
  CommandResult r = Connect(args);
  ASSERT_EQ(r.exit_code, 0) << r.err << s_server.Output();
  EXPECT_NE(r.out.find("protocol:     DTLSv1.2\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kdf_version:  " + std::to_string(version) + "\n"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(s_server.WaitForOutput(line + "\n")) << s_server.Output();
  std::smatch suite;
  ASSERT_TRUE(
      std::regex_search(r.out, suite, std::regex("suite:        (\\S+)\n")))
      << r.out;
  recorder.cell().suite = suite[1].str();
}

INSTANTIATE_TEST_SUITE_P(Versions, DtlsStockOpensslTest,
                         ::testing::Values(0u, 1u, 2u, 3u),
                         [](const auto& info) {
                           return "KdfVersion" + std::to_string(info.param);
                         });

// ---------------------------------------------------------------------
// Refusals: DTLS drops what fails, so the client hears nothing.

class DtlsRefusalTest : public DtlsCliFixture, public ::testing::Test {};

// A UDP port is shared with the per-client sockets (SO_REUSEPORT), but
// never with another server: a second serve on a taken port fails as a
// TCP one does, and so does one on a port that a plain socket holds.
TEST_F(DtlsRefusalTest, ASecondServerOnTheSamePortFailsInsteadOfSharingIt) {
  auto first = Serve({"--dtls"});
  CommandResult second = Cli({"serve", "--dtls", "--keystore", keys_,
                              "--accept", "127.0.0.1:" + port_});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("cannot bind UDP 127.0.0.1:" + port_ +
                            ": Address already in use"),
            std::string::npos)
      << second.err;
  // The first server still has its clients.
  CommandResult good = Connect({"--dtls"});
  EXPECT_EQ(good.exit_code, 0) << good.err;

  int held = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(held, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(held, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string held_port = std::to_string(ntohs(addr.sin_port));
  CommandResult third = Cli({"serve", "--dtls", "--keystore", keys_, "--accept",
                             "127.0.0.1:" + held_port});
  close(held);
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_NE(third.err.find("Address already in use"), std::string::npos)
      << third.err;
}

TEST_F(DtlsRefusalTest, WrongKeyEndsWithinTheTimeoutAndTheServerKeepsServing) {
  auto server = Serve({"--dtls", "--handshake-timeout", "2"});
  CommandResult bad = Connect({"--dtls", "--timeout", "2"}, wrong_);
  // The watchdog of RunCommand is 30 s; the bound is 2 s.
  EXPECT_FALSE(bad.timed_out);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no answer: possible PSK mismatch"), std::string::npos)
      << bad.err;
  EXPECT_TRUE(server->WaitForOutput(
      "outcome=failed reason=\"wrong Root Key (or the client went away)"))
      << server->Output();

  CommandResult good = Connect({"--dtls"});
  EXPECT_EQ(good.exit_code, 0) << good.err << server->Output();
}

TEST_F(DtlsRefusalTest, UnknownKeyIdLooksLikeAWrongKeyToTheClient) {
  auto server = Serve({"--dtls", "--handshake-timeout", "2"});
  CommandResult r = Connect({"--dtls", "--timeout", "2"}, stranger_,
                            "stranger@sp.example.com");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no answer: possible PSK mismatch"), std::string::npos)
      << r.err;
  EXPECT_TRUE(server->WaitForOutput(
      "key_id=stranger@sp.example.com version=3 protocol=DTLSv1.2"))
      << server->Output();
  EXPECT_TRUE(server->WaitForOutput("reason=\"unknown KeyID\""))
      << server->Output();
  EXPECT_EQ(Connect({"--dtls"}).exit_code, 0) << server->Output();
}

TEST_F(DtlsRefusalTest, RevealUnknownSendsUnknownPskIdentity) {
  auto server = Serve({"--dtls", "--reveal-unknown"});
  CommandResult r = Connect({"--dtls", "--timeout", "2"}, stranger_,
                            "stranger@sp.example.com");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PSK rejected by peer (unknown identity): alert unknown "
                       "PSK identity"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(server->WaitForOutput("reason=\"unknown KeyID\""))
      << server->Output();
}

// ---------------------------------------------------------------------
// CoAP over DTLS.

class DtlsCoapTest : public DtlsCliFixture, public ::testing::Test {};

TEST_F(DtlsCoapTest, CoapGetGetsA205ContentWithTheSameMessageIdAndToken) {
  auto server = Serve({"--dtls"});
  CommandResult r = Connect({"--dtls", "--coap-get", "/onem2m/greeting"});
  ASSERT_EQ(r.exit_code, 0) << r.err << server->Output();
  std::smatch sent;
  std::smatch got;
  ASSERT_TRUE(std::regex_search(
      r.out, sent,
      std::regex(
          "coap request: CON GET mid=(0x[0-9a-f]{4}) token=([0-9a-f]{8})")))
      << r.out;
  ASSERT_TRUE(std::regex_search(
      r.out, got,
      std::regex("coap response: (\\S+) (\\S+) mid=(0x[0-9a-f]{4}) "
                 "token=([0-9a-f]*) content-format=(\\S+)")))
      << r.out;
  EXPECT_EQ(got[1], "ACK");  // piggy-backed on the ACK of the CON
  EXPECT_EQ(got[2], "2.05");
  EXPECT_EQ(got[3], sent[1].str());
  EXPECT_EQ(got[4], sent[2].str());
  EXPECT_EQ(got[5], "0");  // text/plain
  EXPECT_NE(r.out.find("server says:  " +
                       Greeting(3, "ECDHE-PSK-CHACHA20-POLY1305") + "\n"),
            std::string::npos)
      << r.out;
}

// ---------------------------------------------------------------------
// The TS-0003 profile and SNI.

class DtlsProfileTest : public DtlsCliFixture,
                        public ::testing::TestWithParam<bool> {
 protected:
  std::vector<std::string> Transport() {
    return GetParam() ? std::vector<std::string>{"--dtls"}
                      : std::vector<std::string>{};
  }
  std::string Protocol() { return GetParam() ? "DTLSv1.2" : "TLSv1.2"; }
  std::string Suite() {
    return GetParam() ? "PSK-AES128-CCM8" : "PSK-AES128-CBC-SHA256";
  }
  std::vector<std::string> With(std::vector<std::string> more) {
    std::vector<std::string> args = Transport();
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

TEST_P(DtlsProfileTest, ProfileNegotiatesTheMandatorySuiteAndSendsSni) {
  auto server = Serve(With({"--profile", "onem2m"}));
  CommandResult r =
      Connect(With({"--profile", "onem2m", "--servername", "cse.example.com"}));
  ASSERT_EQ(r.exit_code, 0) << r.err << server->Output();
  EXPECT_NE(r.out.find("protocol:     " + Protocol() + "\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("suite:        " + Suite() + "\n"), std::string::npos)
      << r.out;
  EXPECT_TRUE(server->WaitForOutput("protocol=" + Protocol() +
                                    " suite=" + Suite() +
                                    " outcome=ok sni=cse.example.com"))
      << server->Output();
}

TEST_P(DtlsProfileTest, ProfileServerRefusesOtherSuitesWithHandshakeFailure) {
  auto server = Serve(With({"--profile", "onem2m"}));
  CommandResult r = Connect(With(
      {"--tls1_2", "--cipher", "PSK-AES128-GCM-SHA256", "--timeout", "3"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("alert handshake failure"), std::string::npos) << r.err;
  EXPECT_TRUE(server->WaitForOutput(
      "protocol=" + Protocol() +
      " suite=- outcome=failed reason=\"sent alert handshake failure\""))
      << server->Output();
}

TEST_P(DtlsProfileTest, ProfileServerServesAClientWithoutSni) {
  auto server = Serve(With({"--profile", "onem2m"}));
  CommandResult r = Connect(With({"--tls1_2", "--cipher", Suite()}));
  ASSERT_EQ(r.exit_code, 0) << r.err << server->Output();
  EXPECT_TRUE(server->WaitForOutput(" suite=" + Suite() + " outcome=ok\n"))
      << server->Output();
}

TEST_P(DtlsProfileTest, ProfileClientToAnIpAddressNeedsServername) {
  port_ = "4433";  // nothing is contacted
  CommandResult r = Connect(With({"--profile", "onem2m"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--profile onem2m sends Server Name Indication, which "
                       "cannot be an IP address (RFC 6066 section 3): give "
                       "--servername NAME for 127.0.0.1"),
            std::string::npos)
      << r.err;
}

INSTANTIATE_TEST_SUITE_P(TlsAndDtls, DtlsProfileTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? std::string("Dtls")
                                             : std::string("Tls");
                         });

TEST(DtlsProfileLibraryTest, UnknownProfileNameFailsWithInvalidArgument) {
  SslCtxPtr ctx(SSL_CTX_new(DTLS_method()));
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_CTX_set_profile(ctx.get(), "tls-psk"), 0);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), ONEM2M_R_INVALID_ARGUMENT);
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_PSK_CTX_set_profile(ctx.get(), "onem2m"), 1);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx.get()), DTLS1_2_VERSION);
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx.get());
  std::vector<std::string> tls12;
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (SSL_CIPHER_get_protocol_id(c) >> 8 != 0x13) {
      tls12.push_back(SSL_CIPHER_get_name(c));
    }
  }
  EXPECT_EQ(tls12, std::vector<std::string>{"PSK-AES128-CCM8"});
}

// ---------------------------------------------------------------------
// In-process: the library on DTLS contexts, real UDP sockets.

// CountingKeystore counts PSK derivations of a memory keystore.
class CountingKeystore : public Keystore {
 public:
  explicit CountingKeystore(std::unique_ptr<Keystore> inner)
      : inner_(std::move(inner)) {}
  DeriveStatus DerivePsk(EVP_KDF* kdf, std::string_view key_id, Version version,
                         SecretBuffer* psk) const override {
    derivations++;
    return inner_->DerivePsk(kdf, key_id, version, psk);
  }
  bool Contains(std::string_view key_id) const override {
    return inner_->Contains(key_id);
  }
  std::vector<KeyInfo> List() const override { return inner_->List(); }
  size_t Count() const override { return inner_->Count(); }
  bool Reload() override { return inner_->Reload(); }
  bool AddKey(std::string_view key_id, SecretBuffer root_key,
              VersionSet versions) override {
    return inner_->AddKey(key_id, std::move(root_key), versions);
  }
  bool RemoveKey(std::string_view key_id) override {
    return inner_->RemoveKey(key_id);
  }
  mutable std::atomic<int> derivations{0};

 private:
  std::unique_ptr<Keystore> inner_;
};

// NewCountingKeystore returns a handle holding kKeyId; |*counter| points
// at its derivation count.
ONEM2M_KEYSTORE* NewCountingKeystore(CountingKeystore** counter) {
  auto inner = MakeMemoryKeystore();
  std::vector<unsigned char> root = FromHex(kRootHex);
  inner->AddKey(kKeyId, SecretBuffer(root.data(), root.size()), kAllVersions);
  auto counting = std::make_unique<CountingKeystore>(std::move(inner));
  *counter = counting.get();
  auto* ks = new onem2m_keystore_st;
  ks->impl = std::move(counting);
  return ks;
}

int UdpSocket(bool nonblocking) {
  int fd = socket(AF_INET, SOCK_DGRAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  return fd;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

void ConnectTo(int fd, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
}

// UseConnectedDgram gives |ssl| a datagram BIO on the connected |fd|.
void UseConnectedDgram(SSL* ssl, int fd, int port) {
  BIO* bio = BIO_new_dgram(fd, BIO_NOCLOSE);
  BIO_ADDR* peer = BIO_ADDR_new();
  in_addr loopback{htonl(INADDR_LOOPBACK)};
  BIO_ADDR_rawmake(peer, AF_INET, &loopback, sizeof(loopback),
                   htons(static_cast<uint16_t>(port)));
  BIO_ctrl_set_connected(bio, peer);
  BIO_ADDR_free(peer);
  SSL_set_bio(ssl, bio, bio);
}

// Drive runs |step| (SSL_accept or SSL_connect) on the non-blocking |fd|
// until it completes or fails, for at most 10 s, on the DTLS timer.
bool Drive(SSL* ssl, int fd, int (*step)(SSL*)) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int rc = step(ssl);
    if (rc == 1) {
      return true;
    }
    int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      return false;
    }
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 0) {
      DTLSv1_handle_timeout(ssl);
    }
  }
  return false;
}

// Recv reads one datagram from |fd| within 2 s ("" if none).
std::string Recv(int fd) {
  pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) {
    return "";
  }
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// CaptureClientHello returns the first datagram a DTLS 1.2 PSK client
// sends: a ClientHello without a cookie (RFC 6347 section 4.2.1).
std::string CaptureClientHello() {
  int sink = UdpSocket(false);
  int fd = UdpSocket(true);
  ConnectTo(fd, PortOf(sink));
  SslCtxPtr ctx(SSL_CTX_new(DTLS_client_method()));
  SSL_CTX_set_cipher_list(ctx.get(), "PSK");
  // OpenSSL offers PSK suites only with a PSK callback; this one is never
  // asked (the capture ends with the first flight).
  SSL_CTX_set_psk_client_callback(
      ctx.get(),
      [](SSL*, const char*, char*, unsigned, unsigned char*,
         unsigned) -> unsigned { return 0; });
  SslPtr ssl(SSL_new(ctx.get()));
  UseConnectedDgram(ssl.get(), fd, PortOf(sink));
  SSL_connect(ssl.get());
  std::string hello = Recv(sink);
  close(fd);
  close(sink);
  return hello;
}

// DTLS record (13 octets) and handshake (12 octets) headers, then the
// body; a ClientHello body is client_version(2) random(32)
// session_id<0..32> cookie<0..255> ... (RFC 6347 section 4.2.1).
constexpr size_t kRecordHeader = 13;
constexpr size_t kBody = kRecordHeader + 12;

// WithCookie returns |hello| with |cookie| in its cookie field and the
// three lengths (record, handshake, fragment) grown to match.
std::string WithCookie(std::string hello, const std::string& cookie) {
  size_t sid_len = static_cast<unsigned char>(hello[kBody + 34]);
  size_t cookie_at = kBody + 35 + sid_len;
  hello[cookie_at] = static_cast<char>(cookie.size());
  hello.insert(cookie_at + 1, cookie);
  auto grow = [&](size_t at, size_t width) {
    size_t v = 0;
    for (size_t i = 0; i < width; i++) {
      v = v << 8 | static_cast<unsigned char>(hello[at + i]);
    }
    v += cookie.size();
    for (size_t i = width; i-- > 0; v >>= 8) {
      hello[at + i] = static_cast<char>(v & 0xff);
    }
  };
  grow(11, 2);                 // record length
  grow(kRecordHeader + 1, 3);  // handshake length
  grow(kRecordHeader + 9, 3);  // fragment length
  return hello;
}

// ListenOnce runs DTLSv1_listen for what waits on |listen_fd|; returns 1
// for a ClientHello with a valid cookie, else 0.
int ListenOnce(SSL_CTX* ctx, int listen_fd) {
  SslPtr ssl(SSL_new(ctx));
  BIO* bio = BIO_new_dgram(listen_fd, BIO_NOCLOSE);
  SSL_set_bio(ssl.get(), bio, bio);
  BIO_ADDR* peer = BIO_ADDR_new();
  pollfd p = {listen_fd, POLLIN, 0};
  poll(&p, 1, 2000);
  int rc = DTLSv1_listen(ssl.get(), peer);
  BIO_ADDR_free(peer);
  ERR_clear_error();
  return rc;
}

TEST(DtlsCookieTest, NoKeyWorkBeforeTheCookieAndTheAnswerIsNoLarger) {
  CountingKeystore* counter = nullptr;
  KeystorePtr ks(NewCountingKeystore(&counter));
  SslCtxPtr ctx(SSL_CTX_new(DTLS_server_method()));
  ASSERT_TRUE(SSL_CTX_set_cipher_list(ctx.get(), "PSK"));
  ASSERT_TRUE(ONEM2M_PSK_attach_server(ctx.get(), ks.get()));
  int listen_fd = UdpSocket(true);

  std::string hello = CaptureClientHello();
  ASSERT_GT(hello.size(), kBody + 35u);
  ASSERT_EQ(hello[0], 22);                              // handshake record
  ASSERT_EQ(hello[kRecordHeader], 1);                   // ClientHello
  ASSERT_EQ(hello[kBody + 35 + hello[kBody + 34]], 0);  // no cookie

  // A spoofed or first ClientHello: a HelloVerifyRequest, nothing more.
  int client = UdpSocket(false);
  ConnectTo(client, PortOf(listen_fd));
  ASSERT_EQ(send(client, hello.data(), hello.size(), 0),
            static_cast<ssize_t>(hello.size()));
  EXPECT_EQ(ListenOnce(ctx.get(), listen_fd), 0);
  std::string verify = Recv(client);
  ASSERT_GT(verify.size(), kBody + 3);
  EXPECT_EQ(verify[kRecordHeader], 3);  // HelloVerifyRequest
  EXPECT_LE(verify.size(), hello.size());
  std::string cookie =
      verify.substr(kBody + 3, static_cast<unsigned char>(verify[kBody + 2]));
  EXPECT_EQ(cookie.size(), 32u);  // HMAC-SHA-256
  EXPECT_EQ(counter->derivations.load(), 0);

  // The cookie from another source port: refused, another verify request.
  int other = UdpSocket(false);
  ConnectTo(other, PortOf(listen_fd));
  std::string second = WithCookie(hello, cookie);
  ASSERT_EQ(send(other, second.data(), second.size(), 0),
            static_cast<ssize_t>(second.size()));
  EXPECT_EQ(ListenOnce(ctx.get(), listen_fd), 0);
  EXPECT_EQ(Recv(other)[kRecordHeader], 3);

  // A flipped cookie octet: the same.
  std::string forged = cookie;
  forged[0] ^= 1;
  std::string third = WithCookie(hello, forged);
  send(client, third.data(), third.size(), 0);
  EXPECT_EQ(ListenOnce(ctx.get(), listen_fd), 0);
  EXPECT_EQ(Recv(client)[kRecordHeader], 3);

  // The right cookie from the right port: accepted, still no key work
  // (the PSK is derived only at ClientKeyExchange).
  send(client, second.data(), second.size(), 0);
  EXPECT_EQ(ListenOnce(ctx.get(), listen_fd), 1);
  EXPECT_EQ(counter->derivations.load(), 0);
  close(other);
  close(client);
  close(listen_fd);
}

struct InProcessResult {
  bool server_ok = false;
  bool client_ok = false;
  std::string server_key_id;
  int server_version = -1;
  std::string server_sni;
  std::string openssl_sni;
  std::string protocol;
};

// RunInProcess handshakes our DTLS client with our DTLS server over
// 127.0.0.1, the server behind DTLSv1_listen.
InProcessResult RunInProcess(SSL_CTX* server_ctx, SSL_CTX* client_ctx,
                             const char* sni) {
  InProcessResult result;
  int listen_fd = UdpSocket(true);
  int port = PortOf(listen_fd);
  std::thread server([&] {
    SslPtr ssl(SSL_new(server_ctx));
    BIO* bio = BIO_new_dgram(listen_fd, BIO_NOCLOSE);
    SSL_set_bio(ssl.get(), bio, bio);
    BIO_ADDR* peer = BIO_ADDR_new();
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
      pollfd p = {listen_fd, POLLIN, 0};
      poll(&p, 1, 100);
      rc = DTLSv1_listen(ssl.get(), peer);
    }
    BIO_ADDR_free(peer);
    result.server_ok = rc == 1 && Drive(ssl.get(), listen_fd, SSL_accept);
    if (const char* id = ONEM2M_PSK_get0_key_id(ssl.get())) {
      result.server_key_id = id;
    }
    result.server_version = ONEM2M_PSK_get_version(ssl.get());
    if (const char* name = ONEM2M_PSK_get0_server_name(ssl.get())) {
      result.server_sni = name;
    }
    if (const char* name =
            SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name)) {
      result.openssl_sni = name;
    }
    SSL_shutdown(ssl.get());
  });

  int fd = UdpSocket(true);
  ConnectTo(fd, port);
  SslPtr ssl(SSL_new(client_ctx));
  UseConnectedDgram(ssl.get(), fd, port);
  if (sni != nullptr) {
    SSL_set_tlsext_host_name(ssl.get(), sni);
  }
  result.client_ok = Drive(ssl.get(), fd, SSL_connect);
  result.protocol = SSL_get_version(ssl.get());
  server.join();
  close(fd);
  close(listen_fd);
  ERR_clear_error();
  return result;
}

class DtlsLibraryTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(DtlsLibraryTest, ServerApplicationGetsThePeersKeyIdAndSni) {
  unsigned version = GetParam();
  CountingKeystore* counter = nullptr;
  KeystorePtr server_ks(NewCountingKeystore(&counter));
  SslCtxPtr server_ctx(SSL_CTX_new(DTLS_server_method()));
  ASSERT_TRUE(
      SSL_CTX_set_cipher_list(server_ctx.get(), ONEM2M_PSK_DTLS12_CIPHERS));
  ASSERT_TRUE(ONEM2M_PSK_attach_server(server_ctx.get(), server_ks.get()));
  ASSERT_TRUE(
      ONEM2M_PSK_CTX_set_versions(server_ctx.get(), ONEM2M_VERSIONS_ALL));

  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRootHex));
  SslCtxPtr client_ctx(SSL_CTX_new(DTLS_client_method()));
  ASSERT_TRUE(
      SSL_CTX_set_cipher_list(client_ctx.get(), ONEM2M_PSK_DTLS12_CIPHERS));
  ASSERT_TRUE(
      ONEM2M_PSK_attach_client(client_ctx.get(), client_ks.get(), kKeyId));
  ASSERT_TRUE(
      ONEM2M_PSK_CTX_set_versions(client_ctx.get(), ONEM2M_VERSIONS_ALL));
  ASSERT_TRUE(ONEM2M_PSK_CTX_pin_version(client_ctx.get(), (int)version));

  InProcessResult r =
      RunInProcess(server_ctx.get(), client_ctx.get(), "cse.example.com");
  ASSERT_TRUE(r.server_ok);
  ASSERT_TRUE(r.client_ok);
  EXPECT_EQ(r.protocol, "DTLSv1.2");
  EXPECT_EQ(r.server_key_id, kKeyId);
  EXPECT_EQ(r.server_version, static_cast<int>(version));
  EXPECT_EQ(r.server_sni, "cse.example.com");
  EXPECT_EQ(r.openssl_sni, "cse.example.com");
  EXPECT_EQ(counter->derivations.load(), 1);  // once, after the cookie
}

INSTANTIATE_TEST_SUITE_P(Versions, DtlsLibraryTest,
                         ::testing::Values(0u, 1u, 2u, 3u),
                         [](const auto& info) {
                           return "KdfVersion" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace onem2m::testing
