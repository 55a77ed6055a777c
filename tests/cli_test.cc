// The onem2m-psk command line, run as a user runs it: a real process, real
// files, real sockets on 127.0.0.1.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "test_support.h"

namespace onem2m::testing {
namespace {

const std::string kKeyId = "dev-0001@sp.example.com";
const std::string kRootHex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kOtherRootHex =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

CommandResult Cli(const std::vector<std::string>& args,
                  const std::string& input = "") {
  std::vector<std::string> argv = {CliBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

TEST(CliHelpTest, EverySubcommandExplainsItself) {
  for (const char* cmd : {"genkey", "derive", "check", "serve", "connect"}) {
    CommandResult r = Cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find(std::string("usage: onem2m-psk ") + cmd),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("options:"), std::string::npos) << cmd;
  }
  CommandResult overview = Cli({"--help"});
  EXPECT_EQ(overview.exit_code, 0);
  EXPECT_NE(overview.out.find("commands:"), std::string::npos);
}

TEST(CliHelpTest, UnknownCommandsAndOptionsAreUsageErrors) {
  CommandResult r = Cli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
  r = Cli({"genkey", "--key-id", "k", "--colour", "blue"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --colour"), std::string::npos);
}

TEST(CliGenkeyTest, PrintsALoadableKeystoreLineWithAFreshKey) {
  CommandResult a = Cli({"genkey", "--key-id", kKeyId});
  CommandResult b = Cli({"genkey", "--key-id", kKeyId});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::regex line(kKeyId + ":[0-9a-f]{64}\n");
  EXPECT_TRUE(std::regex_match(a.out, line)) << a.out;
  EXPECT_NE(a.out, b.out);

  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", a.out);
  CommandResult check = Cli({"check", "--keystore", keys});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("1 key, valid"), std::string::npos);
}

TEST(CliGenkeyTest, HonoursBytesAndVersionsWithinTheSpecLimits) {
  CommandResult r =
      Cli({"genkey", "--key-id", "k", "--bytes", "16", "--versions", "2,3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      std::regex_match(r.out, std::regex("k:[0-9a-f]{32}:versions=2,3\n")))
      << r.out;
  EXPECT_EQ(Cli({"genkey", "--key-id", "k", "--bytes", "64"}).exit_code, 0);
  for (const char* bad : {"15", "65", "0"}) {
    CommandResult e = Cli({"genkey", "--key-id", "k", "--bytes", bad});
    EXPECT_EQ(e.exit_code, 2) << bad;
    EXPECT_NE(e.err.find("16 to 64 octets"), std::string::npos) << e.err;
  }
  CommandResult e = Cli({"genkey", "--key-id", "a:b"});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("KeyID has ':' at position 2"), std::string::npos)
      << e.err;
}

TEST(CliConfigTest, WrongModulePathNamesTheProviderAndWhy) {
  ScopedTempDir dir;
  std::string sample = ReadFile(SourceDir() + "/openssl.cnf.sample");
  size_t at = sample.find("[onem2m_sect]\n");
  ASSERT_NE(at, std::string::npos);
  sample.insert(at + 14, "module = /nonexistent/onem2m.so\n");
  std::string cnf = dir.WriteFile("openssl.cnf", sample);
  std::string keys = dir.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
  CommandResult r =
      RunCommand({CliBin(), "check", "--keystore", keys}, "",
                 std::chrono::seconds(30), {{"OPENSSL_CONF", cnf}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("activates provider onem2m, which could not be "
                       "loaded from /nonexistent/onem2m.so: "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos);

  // The sample as shipped, with the module found through OPENSSL_MODULES.
  std::string good =
      dir.WriteFile("good.cnf", ReadFile(SourceDir() + "/openssl.cnf.sample"));
  r = RunCommand({CliBin(), "check", "--keystore", keys}, "",
                 std::chrono::seconds(30),
                 {{"OPENSSL_CONF", good}, {"OPENSSL_MODULES", ModulesDir()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Every known answer through `derive` and a keystore file.
// An output option naming the command's own input would replace the Root
// Keys with PSKs or a session: refused, and the input is left as it was.
TEST(CliOutputTest, NoCommandWritesOverTheKeystoreOrRootKeyItReads) {
  ScopedTempDir dir;
  const std::string line = kKeyId + ":" + kRootHex + "\n";
  std::string keys = dir.WriteFile("keys", line);
  std::string root = dir.WriteFile("root", kRootHex + "\n");
  // A second name for the keystore: the check is by file, not by name.
  std::string alias = dir.path() + "/alias";
  ASSERT_EQ(link(keys.c_str(), alias.c_str()), 0);

  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string victim;
  };
  const Case cases[] = {
      {{"export", "--keystore", keys, "--format", "gnutls", "--out", keys},
       "refusing to write --out " + keys + ": it is the --keystore",
       keys},
      {{"export", "--keystore", keys, "--format", "gnutls", "--out", alias},
       "refusing to write --out " + alias + ": it is the --keystore",
       keys},
      {{"derive", "--keystore", keys, "--key-id", kKeyId, "--version", "3",
        "--session-out", keys},
       "refusing to write --session-out " + keys + ": it is the --keystore",
       keys},
      {{"derive", "--root-key-file", root, "--key-id", kKeyId, "--version", "1",
        "--session-out", root},
       "refusing to write --session-out " + root +
           ": it is the --root-key-file",
       root},
  };
  for (const Case& c : cases) {
    std::string before = ReadFile(c.victim);
    CommandResult r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args[0];
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("would destroy its Root Keys; name another file"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(ReadFile(c.victim), before) << c.args[0];
  }
}

// Mistakes on the command line name themselves, not a later symptom.
TEST(CliUsageTest, MistakesAreNamedForWhatTheyAre) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
  CommandResult r = Cli({"check", "--keystore", keys, "extra"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("check takes no positional argument (got 'extra'); "
                       "give the keystore as --keystore FILE|URI"),
            std::string::npos)
      << r.err;

  // An unknown profile, with an IP host that the profile would refuse:
  // the profile is what is wrong.
  r = Cli({"connect", "--key-id", kKeyId, "--keystore", keys, "--profile",
           "foo", "127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--profile takes onem2m (TS-0003 clause 10.2)"),
            std::string::npos)
      << r.err;
}

// A server whose keystore is empty starts (keys may come with a reload)
// but says that it will refuse everyone until then.
TEST(CliServeStartTest, AnEmptyKeystoreStartsWithAWarning) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", "# none yet\n");
  BackgroundProcess server(
      {CliBin(), "serve", "--keystore", keys, "--accept", "127.0.0.1:0"});
  EXPECT_TRUE(
      server.WaitForOutput("(TLS 1.2 and 1.3, KDF versions 1,2,3, 0 "
                           "keys)"))
      << server.Output();
  EXPECT_TRUE(server.WaitForOutput(
      "onem2m-psk serve: warning: the keystore " + keys +
      " holds no keys: every client will be refused until keys are added "
      "and the server reloads (SIGHUP)"))
      << server.Output();
  server.Stop();
}

class CliDeriveVectorTest : public ::testing::TestWithParam<KnownAnswer> {};

TEST_P(CliDeriveVectorTest, PrintsTheVectorIdentityAndPsk) {
  const KnownAnswer& ka = GetParam();
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", ka.key_id + ":" + ka.root_key_hex + "\n");
  CommandResult r = Cli({"derive", "--keystore", keys, "--key-id", ka.key_id,
                         "--version", std::to_string(ka.version)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ka.identity + "\n" + ka.psk_hex + "\n");
}

INSTANTIATE_TEST_SUITE_P(Vectors, CliDeriveVectorTest,
                         ::testing::ValuesIn(LoadKnownAnswers()),
                         [](const auto& info) { return info.param.Name(); });

TEST(CliDeriveTest, WritesAPrivateSessionFileForStockTools) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
  std::string session = dir.path() + "/psk.pem";
  CommandResult r = Cli({"derive", "--keystore", keys, "--key-id", kKeyId,
                         "--version", "3", "--session-out", session});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(stat(session.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(ReadFile(session).find("BEGIN SSL SESSION PARAMETERS"),
            std::string::npos);
  // openssl reads it back as a TLS 1.3 session with a SHA-384 suite.
  CommandResult text =
      RunCommand({OpensslBin(), "sess_id", "-in", session, "-noout", "-text"});
  EXPECT_NE(text.out.find("TLSv1.3"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("TLS_AES_256_GCM_SHA384"), std::string::npos);
}

TEST(CliDeriveTest, RefusesToWriteTheSessionThroughASymbolicLink) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
  std::string victim = dir.WriteFile("victim", "precious\n", 0644);
  std::string link = dir.path() + "/psk.pem";
  ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
  CommandResult r = Cli({"derive", "--keystore", keys, "--key-id", kKeyId,
                         "--version", "3", "--session-out", link});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to follow it"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(victim), "precious\n");
}

TEST(CliDeriveTest, SaysWhatIsWrongWithTheRequest) {
  ScopedTempDir dir;
  std::string keys =
      dir.WriteFile("keys", kKeyId + ":" + kRootHex + ":versions=2\n");
  CommandResult r = Cli(
      {"derive", "--keystore", keys, "--key-id", "stranger", "--version", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no KeyID stranger"), std::string::npos) << r.err;
  r = Cli({"derive", "--keystore", keys, "--key-id", kKeyId, "--version", "3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not allow version 3"), std::string::npos);
  r = Cli({"derive", "--keystore", keys, "--key-id", kKeyId, "--version", "4"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--version takes 0, 1, 2 or 3"), std::string::npos);
}

TEST(CliCheckTest, CountsKeysAndShowsFingerprintsNeverKeys) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", "# two keys\n" + kKeyId + ":" + kRootHex +
                  "\nk:base64:" + "AAECAwQFBgcICQoLDA0ODw==:versions=2,3\n");
  CommandResult r = Cli({"check", "--keystore", keys});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 keys, valid"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("k +versions=2,3 +fingerprint=([0-9a-f]{2}:){7}"
                        "[0-9a-f]{2}")))
      << r.out;
  EXPECT_EQ(r.out.find("000102030405"), std::string::npos);
  EXPECT_EQ(r.out.find("AAECAwQF"), std::string::npos);
}

// Root Keys that spec section 4 refuses, as a keystore line and as a
// --root-key-file: the same refusal, with a message.
struct BadRootKey {
  const char* name;
  std::string text;
  const char* message;  // a part of the expected message
};

class CliBadRootKeyTest : public ::testing::TestWithParam<BadRootKey> {};

TEST_P(CliBadRootKeyTest, IsRefusedInTheFileWithItsLine) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile(
      "keys", "# line 1\n" + kKeyId + ":" + GetParam().text + "\n");
  CommandResult r = Cli({"check", "--keystore", keys});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(keys + ":2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
}

TEST_P(CliBadRootKeyTest, IsRefusedAsARootKeyFile) {
  ScopedTempDir dir;
  std::string root = dir.WriteFile("root", GetParam().text + "\n");
  CommandResult r = Cli({"derive", "--root-key-file", root, "--key-id", kKeyId,
                         "--version", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("root key file " + root + ": "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(GetParam().message), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Spec, CliBadRootKeyTest,
    ::testing::Values(
        BadRootKey{"OddLengthHex", std::string(63, 'a'), "odd"},
        BadRootKey{"HexWith0x", "0x" + std::string(64, 'a'), "0x"},
        BadRootKey{"Empty", "", "empty"},
        BadRootKey{"AllZero", std::string(64, '0'), "all zero"},
        BadRootKey{"Fifteen", std::string(30, 'a'), "15 octets"},
        BadRootKey{"SixtyFive", std::string(130, 'a'), "65 octets"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CliRootKeyFileTest, RefusesAFileOthersCanRead) {
  ScopedTempDir dir;
  std::string root = dir.WriteFile("root", kRootHex + "\n", 0644);
  CommandResult r = Cli({"derive", "--root-key-file", root, "--key-id", kKeyId,
                         "--version", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
}

TEST(CliRootKeyFileTest, ReadsTheKeyFromStandardInput) {
  CommandResult r = Cli(
      {"derive", "--root-key-file", "-", "--key-id", kKeyId, "--version", "2"},
      kRootHex + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "v2:" + kKeyId +
                "\n32a2d3c8e7fb0c0f72da258645851cd2b5603c1486863c2c81c1966731"
                "d4bda7\n");
}

// serve and connect, both ours, over loopback.
class CliServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = dir_.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
    wrong_ = dir_.WriteFile("wrong", kOtherRootHex + "\n");
  }

  // Start runs `serve` with |extra| options and waits for its port.
  std::unique_ptr<BackgroundProcess> Start(std::vector<std::string> extra) {
    std::vector<std::string> argv = {CliBin(), "serve",    "--keystore",
                                     keys_,    "--accept", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto server = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE(server->WaitForOutput("listening on")) << server->Output();
    std::smatch m;
    std::string out = server->Output();
    EXPECT_TRUE(
        std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));
    port_ = m.size() > 1 ? m[1].str() : "0";
    return server;
  }

  CommandResult Connect(std::vector<std::string> extra,
                        const std::string& key = "") {
    std::vector<std::string> args = {"connect", "--key-id", kKeyId};
    if (key.empty()) {
      args.insert(args.end(), {"--keystore", keys_});
    } else {
      args.insert(args.end(), {"--root-key-file", key});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("127.0.0.1:" + port_);
    return Cli(args);
  }

  ScopedTempDir dir_;
  std::string keys_;
  std::string wrong_;
  std::string port_;
};

TEST_F(CliServeTest, ConnectsWithEveryProtocolAndVersion) {
  auto server = Start({});
  for (const char* proto : {"--tls1_2", "--tls1_3"}) {
    for (const char* v : {"1", "2", "3"}) {
      CommandResult r = Connect({proto, "--version", v});
      ASSERT_EQ(r.exit_code, 0) << proto << " v" << v << ": " << r.err;
      EXPECT_NE(r.out.find(std::string("kdf_version:  ") + v),
                std::string::npos)
          << r.out;
      EXPECT_NE(r.out.find(std::string("protocol:     TLSv1.") +
                           (proto[7] == '2' ? "2" : "3")),
                std::string::npos)
          << r.out;
      EXPECT_NE(r.out.find("server says:  hello " + kKeyId +
                           ": authenticated with oneM2M KDF version " + v),
                std::string::npos)
          << r.out;
    }
  }
}

TEST_F(CliServeTest, SavedSessionResumesAndSaysSo) {
  auto server = Start({});
  for (const char* proto : {"--tls1_2", "--tls1_3"}) {
    std::string session = dir_.path() + "/session.pem";
    CommandResult first = Connect({proto, "--sess-out", session});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.out.find("resumed:      no"), std::string::npos);
    struct stat st {};
    ASSERT_EQ(stat(session.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    CommandResult second = Connect({proto, "--sess-in", session});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    EXPECT_NE(second.out.find("resumed:      yes"), std::string::npos)
        << proto << "\n"
        << second.out;
    EXPECT_NE(second.out.find("kdf_version:  3"), std::string::npos);
  }
  EXPECT_TRUE(server->WaitForOutput("outcome=ok resumed=yes"));
}

TEST_F(CliServeTest, WrongKeyIsRefusedInWordsAndTheServerKeepsServing) {
  auto server = Start({});
  CommandResult r = Connect({}, wrong_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("PSK rejected by peer (unknown identity or wrong "
                       "key)"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(server->WaitForOutput("reason=\"wrong Root Key"))
      << server->Output();
  // A refused version looks the same to the client (spec section 7); the
  // message says what to try unless --version is already pinned.
  EXPECT_NE(r.err.find("; if the key is right, the server may refuse this "
                       "KDF version: try a lower one with --version N\n"),
            std::string::npos)
      << r.err;
  CommandResult pinned = Connect({"--version", "2"}, wrong_);
  EXPECT_EQ(pinned.err.find("try a lower one"), std::string::npos)
      << pinned.err;
  EXPECT_EQ(Connect({}).exit_code, 0);
  // The log never shows key bytes.
  EXPECT_EQ(server->Output().find("0001020304050607"), std::string::npos);
  EXPECT_EQ(server->Output().find("a5a5a5a5"), std::string::npos);
}

TEST_F(CliServeTest, AStalledClientBlocksNobody) {
  auto server = Start({"--handshake-timeout", "30"});
  // A client that connects and says nothing.
  int stalled = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(port_)));
  ASSERT_EQ(connect(stalled, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  auto start = std::chrono::steady_clock::now();
  CommandResult r = Connect({"--timeout", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  close(stalled);
}

TEST_F(CliServeTest, StopsOnSigtermWithASummary) {
  auto server = Start({});
  EXPECT_EQ(Connect({}).exit_code, 0);
  EXPECT_EQ(Connect({}, wrong_).exit_code, 1);
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_NE(server->Output().find("stopped: 2 handshakes, 1 ok, 1 failed"),
            std::string::npos)
      << server->Output();
}

TEST_F(CliServeTest, BusyServerSaysSoAndStopsWithoutWaitingForStalledPeers) {
  auto server = Start({"--max-clients", "1", "--handshake-timeout", "60"});
  int stalled = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(port_)));
  ASSERT_EQ(connect(stalled, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  // Wait until the server took the stalled connection, then a good client
  // is turned away with a log line.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CommandResult refused = Connect({"--timeout", "2"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(server->WaitForOutput("busy: 1 connections in progress"))
      << server->Output();

  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server->Stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(server->Output().find("stopping: closing 1 connections"),
            std::string::npos)
      << server->Output();
  close(stalled);
}

TEST_F(CliServeTest, ServerWithNoPskSuiteFailsAtStartup) {
  CommandResult r =
      Cli({"serve", "--keystore", keys_, "--accept", "127.0.0.1:0", "--tls1_2",
           "--cipher", "ECDHE-RSA-AES128-GCM-SHA256"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("enables no PSK cipher suite"), std::string::npos)
      << r.err;
}

TEST_F(CliServeTest, NoCommonVersionNamesBothSets) {
  auto server = Start({"--versions", "1"});
  CommandResult r = Connect({"--tls1_2", "--versions", "2,3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no common KDF version: server allows 1, client "
                       "allows 2,3"),
            std::string::npos)
      << r.err;
}

TEST_F(CliServeTest, SilentPeerGivesNoAnswerMessage) {
  // A TCP listener that never speaks TLS: the kernel completes the
  // connection, nobody answers the ClientHello.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = std::to_string(ntohs(addr.sin_port));
  CommandResult r = Connect({"--timeout", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no answer: possible PSK mismatch"), std::string::npos)
      << r.err;
  close(fd);
}

TEST_F(CliServeTest, NothingListeningSaysSo) {
  port_ = std::to_string(FreeLoopbackPort());
  CommandResult r = Connect({});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to 127.0.0.1:" + port_),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace onem2m::testing

namespace onem2m::testing {
namespace {

// The programs of examples/, run as a user runs them.
TEST(ExamplesTest, ExampleClientAuthenticatesToExampleServer) {
  ScopedTempDir dir;
  std::string keys = dir.WriteFile("keys", kKeyId + ":" + kRootHex + "\n");
  std::string port = std::to_string(FreeLoopbackPort());
  BackgroundProcess server({ONEM2M_EXAMPLE_SERVER_BIN, keys, port, "2"});
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.Output();

  CommandResult good =
      RunCommand({ONEM2M_EXAMPLE_CLIENT_BIN, keys, kKeyId, port});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("KDF version 3"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("server says: hello " + kKeyId), std::string::npos)
      << good.out;

  std::string wrong =
      dir.WriteFile("wrong", kKeyId + ":" + kOtherRootHex + "\n");
  CommandResult bad =
      RunCommand({ONEM2M_EXAMPLE_CLIENT_BIN, wrong, kKeyId, port});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("PSK rejected by peer"), std::string::npos) << bad.err;
  EXPECT_TRUE(server.WaitForOutput("handshake failed: wrong Root Key"))
      << server.Output();
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ExamplesTest, StockOpensslScriptHandshakesWithAKdfDerivedPsk) {
  CommandResult r =
      RunCommand({"/bin/bash", SourceDir() + "/examples/stock_openssl.sh",
                  ModulesDir(), "2"},
                 "", std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Protocol version: TLSv1.2"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Protocol version: TLSv1.3"), std::string::npos);
  EXPECT_NE(r.out.find("hello from s_client over tls1_3"), std::string::npos);
}

}  // namespace
}  // namespace onem2m::testing
