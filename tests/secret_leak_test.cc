// No secret leaks (issue 4, item 5): the whole CLI and the demo run with
// known Root Keys, and no output or log may hold a Root Key, a PSK of
// versions 0 to 3 derived from one, or a TLS secret of a handshake made
// with one (master secret, TLS 1.3 traffic secrets), in hex of either
// case (with or without colons), or in base64 at any alignment; nor any
// run of hex or base64 long enough to be key material.
//
// Outputs that hold a secret by design are not scanned: `derive` prints
// the PSK on stdout (and writes it to --session-out), `genkey` prints a
// fresh Root Key on stdout (it is still scanned for the known keys).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "kdf_fetch.h"
#include "keystore.h"
#include "onem2m/kdf.h"
#include "onem2m/psk.h"
#include "openssl_ptr.h"
#include "test_support.h"
#include "tls_harness.h"
#include "tls_wire.h"

namespace onem2m::testing {
namespace {

using Octets = std::vector<unsigned char>;

// Four known Root Keys of 32, 48, 16 and 64 octets. K2 is written in upper
// case hex, K3 in base64; K4 also travels as a --root-key-file.
struct KnownKey {
  const char* key_id;
  const char* root_hex;
  const char* attributes;
};
const KnownKey kKeys[] = {
    {"dev-0001@sp.example.com",
     "5f0e8d3c2b7a69184f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a2918f0e1", ""},
    {"meter-17@m2m.operator.example",
     "c41a9e2f7b3d58061e4c2a9b7d5f3e1c0a8b6d4f2e0c9a7b5d3f1e2c4a6b8d0f"
     "13579bdf2468ace0fdb97531eca86420",
     ":versions=2,3"},
    {"gw-3@m2m.operator.example", "9b2e4d6f81a3c5e7092b4d6f81a3c5e7", ""},
    {"ae-4@sp.example.com",
     "e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a2918070605"
     "f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff01",
     ""},
};

std::string Upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string Base64(const Octets& data) {
  if (data.empty()) {
    return "";
  }
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// LeakScanner knows the secrets and finds them, or anything that looks
// like key material, in text.
class LeakScanner {
 public:
  static constexpr size_t kWindow = 8;  // octets of a secret that may not show

  void AddSecret(const std::string& name, const Octets& secret) {
    if (secret.size() < kWindow) {
      return;
    }
    // Every 8-octet window in hex (matched case-blind, colons removed).
    std::string hex = ToHex(secret);
    for (size_t i = 0; i + 2 * kWindow <= hex.size(); i += 2) {
      windows_.emplace(hex.substr(i, 2 * kWindow), name);
    }
    // Base64 at each of the three alignments a secret can have in a
    // longer encoded stream: the characters of the groups inside it.
    for (size_t k = 0; k < 3; k++) {
      size_t groups = (secret.size() - k) / 3;
      Octets inner(secret.begin() + static_cast<long>(k),
                   secret.begin() + static_cast<long>(k + 3 * groups));
      base64_.push_back({Base64(inner), name});
    }
  }

  // Scan records what |text| (the output called |label|) gives away;
  // |generic| also flags long hex or base64 runs of unknown origin.
  void Scan(const std::string& label, const std::string& text,
            bool generic = true) {
    scanned_++;
    std::string flat;
    for (char c : text) {
      if (c != ':') {
        flat += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    std::set<std::string> found;
    size_t run = 0;
    for (size_t i = 0; i < flat.size(); i++) {
      run = std::isxdigit(static_cast<unsigned char>(flat[i])) ? run + 1 : 0;
      if (run >= 2 * kWindow) {
        auto it = windows_.find(flat.substr(i + 1 - 2 * kWindow, 2 * kWindow));
        if (it != windows_.end()) {
          found.insert(it->second + " in hex");
        }
      }
    }
    for (const auto& [encoded, name] : base64_) {
      if (text.find(encoded) != std::string::npos) {
        found.insert(name + " in base64");
      }
    }
    if (generic) {
      FlagRuns(text, &found);
    }
    for (const std::string& f : found) {
      findings_.push_back(label + ": " + f);
    }
  }

  const std::vector<std::string>& findings() const { return findings_; }
  int scanned() const { return scanned_; }

  std::string Report() const {
    std::string out;
    for (const auto& f : findings_) {
      out += "  " + f + "\n";
    }
    return out;
  }

 private:
  // FlagRuns notes runs of 32+ hex digits (16 octets) and runs of 40+
  // base64 characters with digits and both cases (30 octets).
  static void FlagRuns(const std::string& text, std::set<std::string>* found) {
    size_t hex = 0, b64 = 0;
    bool digit = false, upper = false, lower = false;
    for (size_t i = 0; i <= text.size(); i++) {
      unsigned char c = i < text.size() ? text[i] : ' ';
      hex = std::isxdigit(c) ? hex + 1 : 0;
      if (hex == 32) {
        found->insert("a run of 32+ hex digits: \"" +
                      text.substr(i + 1 - 32, 32) + "...\"");
      }
      if (std::isalnum(c) || c == '+' || c == '/' || c == '=') {
        b64++;
        digit |= std::isdigit(c) != 0;
        upper |= std::isupper(c) != 0;
        lower |= std::islower(c) != 0;
        continue;
      }
      if (b64 >= 40 && digit && upper && lower) {
        found->insert("a run of " + std::to_string(b64) +
                      " base64 characters: \"" + text.substr(i - b64, 40) +
                      "...\"");
      }
      b64 = 0;
      digit = upper = lower = false;
    }
  }

  std::unordered_multimap<std::string, std::string> windows_;
  std::vector<std::pair<std::string, std::string>> base64_;
  std::vector<std::string> findings_;
  int scanned_ = 0;
};

// Psks returns the PSKs of |key_id| for versions 0 to 3.
std::vector<Octets> Psks(const std::string& key_id, const Octets& root) {
  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  std::vector<Octets> out;
  for (Version v = 0; v <= kMaxVersion; v++) {
    SecretBuffer psk;
    SecretBuffer root_key(root.data(), root.size());
    EXPECT_TRUE(kdf && DeriveWithKdf(kdf.get(), root_key, key_id, v, &psk));
    out.emplace_back(psk.data(), psk.data() + psk.size());
  }
  return out;
}

// AddKey teaches |scanner| a Root Key and its PSKs.
void AddKey(LeakScanner* scanner, const std::string& key_id,
            const Octets& root) {
  scanner->AddSecret("Root Key of " + key_id, root);
  std::vector<Octets> psks = Psks(key_id, root);
  for (size_t v = 0; v < psks.size(); v++) {
    scanner->AddSecret("v" + std::to_string(v) + " PSK of " + key_id, psks[v]);
  }
}

TEST(SecretLeakScanner, FindsAKeyInEveryEncodingAndOffset) {
  LeakScanner scanner;
  Octets root = FromHex(kKeys[0].root_hex);
  scanner.AddSecret("K", root);
  std::string hex = ToHex(root);
  std::string colons;
  for (size_t i = 0; i < hex.size(); i += 2) {
    colons += (i ? ":" : "") + hex.substr(i, 2);
  }
  std::vector<std::string> leaks = {"key=" + hex, "KEY=" + Upper(hex), colons,
                                    "part " + hex.substr(10, 16) + " only"};
  for (size_t pad = 0; pad < 3; pad++) {
    Octets embedded(pad, 0x41);
    embedded.insert(embedded.end(), root.begin(), root.end());
    leaks.push_back("blob " + Base64(embedded) + " end");
  }
  for (size_t i = 0; i < leaks.size(); i++) {
    scanner.Scan("leak " + std::to_string(i), leaks[i], /*generic=*/false);
  }
  EXPECT_EQ(scanner.findings().size(), leaks.size()) << scanner.Report();

  LeakScanner generic;
  generic.Scan("hex", std::string(32, 'a'));
  generic.Scan("b64", "x " + Base64(Octets(30, 0xa7)) + "Zz9 y");
  generic.Scan("clean",
               "fingerprint=01:23:45:67:89:ab:cd:ef key_id=dev-0001@sp.example"
               ".com /tmp/onem2m-test-XYZ/keys TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(generic.findings().size(), 2u) << generic.Report();
}

// CliLeakTest holds a keystore of the known keys, a server, and the
// scanner that every output goes through.
class SecretLeakCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text = "# the known keys of secret_leak_test\n";
    for (const KnownKey& k : kKeys) {
      Octets root = FromHex(k.root_hex);
      AddKey(&scanner_, k.key_id, root);
      std::string field = k.root_hex;
      if (&k == &kKeys[1]) {
        field = Upper(field);
      } else if (&k == &kKeys[2]) {
        field = "base64:" + Base64(root);
      }
      text += std::string(k.key_id) + ":" + field + k.attributes + "\n";
    }
    keys_ = dir_.WriteFile("keys", text);
    root4_ = dir_.WriteFile("root4", std::string(kKeys[3].root_hex) + "\n");
    // A wrong key for dev-0001: meter-17's Root Key.
    wrong_ = dir_.WriteFile("wrong", Upper(kKeys[1].root_hex) + "\n");
  }

  // Cli runs onem2m-psk and scans both outputs unless told otherwise.
  CommandResult Cli(
      const std::string& label, const std::vector<std::string>& args,
      bool scan_out = true, bool generic_out = true,
      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<std::string> argv = {CliBin()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv, "", timeout);
    if (scan_out) {
      scanner_.Scan(label + " (stdout)", r.out, generic_out);
    }
    scanner_.Scan(label + " (stderr)", r.err);
    return r;
  }

  // StartServer starts serve with every version allowed.
  std::string StartServer(std::unique_ptr<BackgroundProcess>* server,
                          std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        CliBin(),     "serve",    "--keystore",
        keys_,        "--accept", "127.0.0.1:0",
        "--versions", "0,1,2,3",  "--handshake-timeout",
        "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    *server = std::make_unique<BackgroundProcess>(argv);
    EXPECT_TRUE((*server)->WaitForOutput("listening on"))
        << (*server)->Output();
    std::smatch m;
    std::string out = (*server)->Output();
    std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)"));
    return m.size() > 1 ? m[1].str() : "0";
  }

  ScopedTempDir dir_;
  LeakScanner scanner_;
  std::string keys_;
  std::string root4_;
  std::string wrong_;
};

TEST_F(SecretLeakCli, HelpGenkeyCheckAndDeriveShowNoKnownSecret) {
  Cli("--help", {"--help"});
  for (const char* cmd : {"genkey", "derive", "check", "serve", "connect"}) {
    Cli(std::string(cmd) + " --help", {cmd, "--help"});
  }
  // genkey prints a fresh key by design: only the known ones may not show.
  Cli("genkey", {"genkey", "--key-id", kKeys[0].key_id}, true, false);
  Cli("genkey --bytes 64",
      {"genkey", "--key-id", "x", "--bytes", "64", "--versions", "2,3"}, true,
      false);
  Cli("genkey bad", {"genkey", "--key-id", "a:b"});
  EXPECT_EQ(Cli("check", {"check", "--keystore", keys_}).exit_code, 0);

  // derive prints the PSK on stdout by design; its stderr is scanned.
  for (const KnownKey& k : kKeys) {
    for (const char* v : {"0", "1", "2", "3"}) {
      Cli(std::string("derive ") + k.key_id + " v" + v,
          {"derive", "--keystore", keys_, "--key-id", k.key_id, "--version", v},
          false);
    }
  }
  Cli("derive --session-out",
      {"derive", "--keystore", keys_, "--key-id", kKeys[1].key_id, "--version",
       "3", "--session-out", dir_.path() + "/psk.pem"},
      false);
  Cli("derive --root-key-file",
      {"derive", "--root-key-file", root4_, "--key-id", kKeys[3].key_id,
       "--version", "2"},
      false);
  Cli("derive unknown KeyID", {"derive", "--keystore", keys_, "--key-id",
                               "nobody@sp.example.com", "--version", "2"});
  Cli("derive refused version", {"derive", "--keystore", keys_, "--key-id",
                                 kKeys[1].key_id, "--version", "1"});

  EXPECT_GT(scanner_.scanned(), 30);
  EXPECT_TRUE(scanner_.findings().empty()) << scanner_.Report();
}

TEST_F(SecretLeakCli, ErrorMessagesForBadKeystoreLinesQuoteNoKey) {
  std::string k1 = kKeys[0].root_hex;
  std::string k2 = kKeys[1].root_hex;
  Octets k3 = FromHex(kKeys[2].root_hex);
  std::string k3_base64 = Base64(k3);
  // The last character before "==" carries 2 bits of the key and 4 zero
  // bits; the next character in the alphabet sets one of those.
  std::string noncanonical = k3_base64;
  noncanonical[noncanonical.size() - 3]++;
  std::string id = kKeys[0].key_id;
  const std::vector<std::string> bad_lines = {
      id + ":" + k1 + "zz",
      id + ":" + k1.substr(0, k1.size() - 1),
      id + ":0x" + k1,
      id + ":" + k1.substr(0, 20) + " " + k1.substr(20),
      id + ":" + k1 + " ",
      "\t" + id + ":" + k1,
      id + ":" + k1 + ":bogus=1",
      id + ":" + k1 + ":versions=9",
      id + ":" + k1 + ":",
      k1,
      "dev 0001:" + k1,
      id + ":" + k1.substr(0, 30),
      id + ":" + k1 + k2,
      id + ":base64:" + k3_base64.substr(0, k3_base64.size() - 1),
      id + ":base64:" + noncanonical,
      id + ":base64:" + k3_base64 + "!",
      id + ":" + std::string(64, '0'),
      kKeys[1].key_id + std::string(":") + k2 + "\n" + kKeys[1].key_id + ":" +
          Upper(k2),
  };
  for (size_t i = 0; i < bad_lines.size(); i++) {
    std::string label = "bad line " + std::to_string(i);
    std::string file = dir_.WriteFile("bad" + std::to_string(i),
                                      "# ok\n" + bad_lines[i] + "\n");
    EXPECT_EQ(Cli(label + ": check", {"check", "--keystore", file}).exit_code,
              1)
        << bad_lines[i];
    EXPECT_EQ(Cli(label + ": serve",
                  {"serve", "--keystore", file, "--accept", "127.0.0.1:0"},
                  true, true, std::chrono::seconds(5))
                  .exit_code,
              1);
    Cli(label + ": connect",
        {"connect", "--keystore", file, "--key-id", id, "127.0.0.1:1"});
    // The same text as a Root Key file.
    std::string root =
        dir_.WriteFile("root" + std::to_string(i),
                       bad_lines[i].substr(bad_lines[i].find(':') + 1) + "\n");
    // Some lines hold a good Root Key after their first ':'; derive then
    // prints its PSK by design, and only a failure's stdout is scanned.
    CommandResult r = Cli(
        label + ": derive --root-key-file",
        {"derive", "--root-key-file", root, "--key-id", id, "--version", "2"},
        false);
    if (r.exit_code != 0) {
      scanner_.Scan(label + ": derive --root-key-file (stdout)", r.out);
    }
  }
  // A keystore that others may read.
  std::string open_file = dir_.WriteFile("open", id + ":" + k1 + "\n", 0644);
  Cli("mode 0644", {"check", "--keystore", open_file});
  std::string open_root = dir_.WriteFile("open-root", k1 + "\n", 0644);
  Cli("root key file mode 0644", {"derive", "--root-key-file", open_root,
                                  "--key-id", id, "--version", "2"});

  EXPECT_TRUE(scanner_.findings().empty()) << scanner_.Report();
}

// Keylog collects what SSL_CTX_set_keylog_callback reports into the
// vector that the SSL's app data points at.
void Keylog(const SSL* ssl, const char* line) {
  static_cast<std::vector<std::string>*>(SSL_get_app_data(ssl))
      ->push_back(line);
}

// TlsSecrets connects to |port| as |key_id| pinned to |version| over one
// protocol and returns every secret the handshake made (the keylog's last
// fields, the session's master key); |ok| tells whether it succeeded.
std::vector<Octets> TlsSecrets(int port, const KnownKey& key, bool tls13,
                               int version, bool* ok) {
  KeystorePtr ks(MemoryKeystore(key.key_id, key.root_hex));
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  int proto = tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx.get(), proto);
  SSL_CTX_set_max_proto_version(ctx.get(), proto);
  SSL_CTX_set_cipher_list(ctx.get(), "PSK");
  SSL_CTX_set_keylog_callback(ctx.get(), Keylog);
  *ok = ONEM2M_PSK_attach_client(ctx.get(), ks.get(), key.key_id) &&
        ONEM2M_PSK_CTX_set_versions(ctx.get(), ONEM2M_VERSIONS_ALL) &&
        ONEM2M_PSK_CTX_pin_version(ctx.get(), version);
  std::vector<std::string> lines;
  int fd = soak::ConnectTcp("127.0.0.1", port, 5000);
  SslPtr ssl(SSL_new(ctx.get()));
  SSL_set_app_data(ssl.get(), &lines);
  SSL_set_fd(ssl.get(), fd);
  *ok = *ok && fd >= 0 && SSL_connect(ssl.get()) == 1;
  std::vector<Octets> secrets;
  if (*ok) {
    char buf[512];
    SSL_read(ssl.get(), buf, sizeof(buf));
    unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
    size_t n = SSL_SESSION_get_master_key(SSL_get_session(ssl.get()), master,
                                          sizeof(master));
    secrets.emplace_back(master, master + n);
    SSL_shutdown(ssl.get());
  }
  for (const std::string& line : lines) {
    secrets.push_back(FromHex(line.substr(line.rfind(' ') + 1)));
  }
  ssl.reset();
  if (fd >= 0) {
    close(fd);
  }
  return secrets;
}

TEST_F(SecretLeakCli, ServeAndConnectShowNoKeyPskOrTlsSecret) {
  std::unique_ptr<BackgroundProcess> server;
  std::string port = StartServer(&server);

  // Every key, protocol and allowed version through connect.
  for (const KnownKey& k : kKeys) {
    for (const char* proto : {"--tls1_2", "--tls1_3"}) {
      for (const char* v : {"0", "1", "2", "3"}) {
        // meter-17's versions= allows 2 and 3 only; the others must fail,
        // which FailureKindPinnedVersion checks (here only the words).
        bool allowed = k.attributes[0] == '\0' || v[0] >= '2';
        CommandResult r =
            Cli(std::string("connect ") + k.key_id + " " + proto + " v" + v,
                {"connect", "--keystore", keys_, "--key-id", k.key_id, proto,
                 "--version", v, "--versions", "0,1,2,3", "127.0.0.1:" + port});
        if (allowed) {
          EXPECT_EQ(r.exit_code, 0) << k.key_id << proto << v << r.err;
        }
      }
    }
  }
  Cli("connect --root-key-file",
      {"connect", "--root-key-file", root4_, "--key-id", kKeys[3].key_id,
       "127.0.0.1:" + port});

  // Failures: wrong key, unknown KeyID, refused version, no server.
  for (const char* proto : {"--tls1_2", "--tls1_3"}) {
    std::string p = proto;
    EXPECT_EQ(Cli("connect wrong key " + p,
                  {"connect", "--root-key-file", wrong_, "--key-id",
                   kKeys[0].key_id, proto, "127.0.0.1:" + port})
                  .exit_code,
              1);
    Cli("connect unknown KeyID " + p,
        {"connect", "--root-key-file", root4_, "--key-id",
         "stranger@sp.example.com", proto, "127.0.0.1:" + port});
    std::string meter_root =
        dir_.WriteFile("meter", std::string(kKeys[1].root_hex) + "\n");
    Cli("connect refused version " + p,
        {"connect", "--root-key-file", meter_root, "--key-id", kKeys[1].key_id,
         "--version", "1", proto, "127.0.0.1:" + port});
  }
  Cli("connect nothing there",
      {"connect", "--keystore", keys_, "--key-id", kKeys[0].key_id,
       "127.0.0.1:" + std::to_string(FreeLoopbackPort())});

  // The handshakes' own secrets, versions 0 to 3 over both protocols.
  int handshakes = 0;
  for (bool tls13 : {false, true}) {
    for (int v = 0; v <= 3; v++) {
      bool ok = false;
      std::vector<Octets> secrets =
          TlsSecrets(std::stoi(port), kKeys[0], tls13, v, &ok);
      EXPECT_TRUE(ok) << "TLS 1." << (tls13 ? 3 : 2) << " v" << v;
      handshakes += ok;
      for (size_t i = 0; i < secrets.size(); i++) {
        scanner_.AddSecret(std::string("TLS 1.") + (tls13 ? "3" : "2") + " v" +
                               std::to_string(v) + " secret " +
                               std::to_string(i),
                           secrets[i]);
      }
    }
  }
  EXPECT_EQ(handshakes, 8);

  // A reload that fails on a file full of key text, then a good one.
  std::string good = ReadFile(keys_);
  dir_.WriteFile("keys",
                 good + kKeys[0].key_id + ":" + kKeys[0].root_hex + "0\n");
  kill(server->pid(), SIGHUP);
  EXPECT_TRUE(server->WaitForOutput("reload failed")) << server->Output();
  dir_.WriteFile("keys", good);
  kill(server->pid(), SIGHUP);
  EXPECT_TRUE(server->WaitForOutput("keystore reloaded"));

  EXPECT_EQ(server->Stop(), 0);
  scanner_.Scan("serve stdout and log", server->Output());
  EXPECT_TRUE(scanner_.findings().empty()) << scanner_.Report();
}

TEST_F(SecretLeakCli, NoCommonVersionAndASilentPeerShowNoKey) {
  // A server that allows only version 1: the TLS 1.2 hint leaves no
  // common version; then a listener that never answers.
  std::vector<std::string> argv = {CliBin(),     "serve",    "--keystore",
                                   keys_,        "--accept", "127.0.0.1:0",
                                   "--versions", "1"};
  BackgroundProcess v1(argv);
  ASSERT_TRUE(v1.WaitForOutput("listening on"));
  std::smatch m;
  std::string out = v1.Output();
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));
  EXPECT_EQ(Cli("no common version",
                {"connect", "--keystore", keys_, "--key-id", kKeys[0].key_id,
                 "--tls1_2", "--versions", "2,3", "127.0.0.1:" + m[1].str()})
                .exit_code,
            1);
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(listen(silent, 4), 0);
  getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len);
  Cli("silent peer",
      {"connect", "--keystore", keys_, "--key-id", kKeys[0].key_id, "--timeout",
       "1", "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  close(silent);
  v1.Stop();
  scanner_.Scan("serve --versions 1", v1.Output());
  EXPECT_TRUE(scanner_.findings().empty()) << scanner_.Report();
}

TEST(SecretLeakDemo, TheDemoShowsNoKeyOfTheKeystoreItMade) {
  // The real demo script, on the build that made these tests.
  std::string cli = CliBin();
  std::string build_dir = cli.substr(0, cli.rfind("/tools/"));
  ScopedTempDir kept;
  CommandResult demo =
      RunCommand({"/bin/bash", SourceDir() + "/scripts/demo.sh"}, "",
                 std::chrono::seconds(180),
                 {{"ONEM2M_DEMO_BUILD_DIR", build_dir},
                  {"ONEM2M_DEMO_KEEP", kept.path()}});
  ASSERT_EQ(demo.exit_code, 0) << demo.out << demo.err;
  EXPECT_NE(demo.out.find("\n13 passed, 0 failed\n"), std::string::npos)
      << demo.out;

  // Its keystore: every key, decoded, and its PSKs.
  LeakScanner scanner;
  std::istringstream lines(ReadFile(kept.path() + "/keys"));
  std::string line;
  int keys = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    size_t colon = line.find(':');
    std::string key_id = line.substr(0, colon);
    std::string rest = line.substr(colon + 1);
    size_t end = rest.find(':', rest.compare(0, 7, "base64:") == 0 ? 7 : 0);
    SecretBuffer root;
    std::string why;
    ASSERT_TRUE(DecodeRootKey(rest.substr(0, end), &root, &why)) << why;
    AddKey(&scanner, key_id, Octets(root.data(), root.data() + root.size()));
    keys++;
  }
  EXPECT_EQ(keys, 2);

  scanner.Scan("demo stdout", demo.out);
  scanner.Scan("demo stderr", demo.err);
  scanner.Scan("demo serve.out", ReadFile(kept.path() + "/serve.out"));
  scanner.Scan("demo serve.log", ReadFile(kept.path() + "/serve.log"));
  scanner.Scan("demo dtls.out", ReadFile(kept.path() + "/dtls.out"));
  scanner.Scan("demo dtls.log", ReadFile(kept.path() + "/dtls.log"));
  EXPECT_TRUE(scanner.findings().empty()) << scanner.Report();
}

}  // namespace
}  // namespace onem2m::testing
