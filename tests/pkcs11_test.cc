// The PKCS#11 keystore on a real token: SoftHSM2, with a token directory
// that each test creates (SOFTHSM2_CONF) and removes. Known answers through
// the token, the Root Key that cannot be read out, handshakes with the
// server's keys in the token, concurrency, token failures (through a shim
// module that forwards to SoftHSM2 and fails on demand), the PIN rules,
// and the CLI's import, genkey --pkcs11 and check.

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>
#include <stdlib.h>

#include <fstream>
#include <regex>
#include <thread>

#include "keystore.h"
#include "keystore_pkcs11.h"
#include "onem2m/keystore.h"
#include "onem2m/psk.h"
#include "pkcs11_uri.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

const char kSoftHsm[] = "/usr/lib/softhsm/libsofthsm2.so";
const char kPin[] = "1234";
const std::string kKeyId = "dev-0001@sp.example.com";
// vectors.json's 64-octet Root Key: SoftHSM2 derives every version with it.
const std::string kRoot64Hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

// SoftHsmToken is a fresh SoftHSM2 token "cse" (user PIN 1234) in a
// temporary directory; SOFTHSM2_CONF points at it for this process and for
// the children started with Env().
class SoftHsmToken {
 public:
  SoftHsmToken() {
    std::string tokens = dir_.path() + "/tokens";
    EXPECT_EQ(mkdir(tokens.c_str(), 0700), 0);
    conf_ = dir_.WriteFile("softhsm2.conf", "directories.tokendir = " + tokens +
                                                "\nobjectstore.backend = "
                                                "file\nlog.level = ERROR\n");
    setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
    CommandResult r =
        RunCommand({"/usr/bin/softhsm2-util", "--init-token", "--free",
                    "--label", "cse", "--pin", kPin, "--so-pin", "5678"},
                   "", std::chrono::seconds(30), Env());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    pin_file_ = dir_.WriteFile("pin", std::string(kPin) + "\n");
  }
  ~SoftHsmToken() { unsetenv("SOFTHSM2_CONF"); }

  std::map<std::string, std::string> Env() const {
    return {{"SOFTHSM2_CONF", conf_}};
  }
  // Uri names the token with SoftHSM2 (or |module|) and the PIN file.
  std::string Uri(const std::string& module = kSoftHsm) const {
    return "pkcs11:token=cse?module-path=" + module +
           "&pin-source=" + pin_file_;
  }
  const ScopedTempDir& dir() const { return dir_; }
  const std::string& pin_file() const { return pin_file_; }

 private:
  ScopedTempDir dir_;
  std::string conf_;
  std::string pin_file_;
};

// FirstErrorText returns the newest error's text and clears the queue.
std::string FirstErrorText() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long e =
      ERR_peek_last_error_all(nullptr, nullptr, nullptr, &data, &flags);
  std::string out = e == 0 || data == nullptr ? "" : data;
  ERR_clear_error();
  return out;
}

std::string ShimModule() { return ONEM2M_PKCS11_SHIM; }

CommandResult Cli(const SoftHsmToken& token, std::vector<std::string> args,
                  std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), CliBin());
  for (const auto& [k, v] : token.Env()) {
    env[k] = v;
  }
  return RunCommand(args, "", std::chrono::seconds(30), env);
}

// ImportLine imports "KeyID:RootKey" into the token through the CLI.
void ImportLine(const SoftHsmToken& token, const std::string& line) {
  std::string file = token.dir().WriteFile("import", line + "\n");
  CommandResult r =
      Cli(token, {"import", "--keystore", file, "--pkcs11", token.Uri()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// OpenToken opens the token keystore in this process.
std::unique_ptr<Pkcs11Keystore> OpenToken(const SoftHsmToken& token) {
  std::unique_ptr<Pkcs11Keystore> ks = MakePkcs11Keystore(token.Uri());
  EXPECT_NE(ks, nullptr) << FirstErrorText();
  return ks;
}

// --- URIs (RFC 7512) ------------------------------------------------------

struct BadUri {
  const char* name;
  const char* uri;
  const char* why;
};

class Pkcs11UriRefusalTest : public ::testing::TestWithParam<BadUri> {};

TEST_P(Pkcs11UriRefusalTest, IsRefusedWithAnExactReason) {
  Pkcs11Uri uri;
  std::string why;
  EXPECT_FALSE(ParsePkcs11Uri(GetParam().uri, &uri, &why));
  EXPECT_EQ(why, GetParam().why);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7512, Pkcs11UriRefusalTest,
    ::testing::Values(
        BadUri{"NotPkcs11", "file:keys",
               "not a PKCS#11 URI: it must start "
               "with pkcs11:"},
        BadUri{"EmptyPathAttribute", "pkcs11:token=cse;;object=k",
               "PKCS#11 URI has an empty path attribute (two ';' in a row, "
               "or one at an end)"},
        BadUri{"NoEquals", "pkcs11:token",
               "PKCS#11 URI path attribute "
               "\"token\" is not of the form "
               "name=value"},
        BadUri{"BadPercent", "pkcs11:token=c%zz",
               "PKCS#11 URI attribute token has a '%' that is not followed "
               "by two hex digits"},
        BadUri{"ShortPercent", "pkcs11:token=c%4",
               "PKCS#11 URI attribute token has a '%' that is not followed "
               "by two hex digits"},
        BadUri{"Twice", "pkcs11:token=a;token=b",
               "PKCS#11 URI attribute token appears twice"},
        BadUri{"ObjectNotKeyId", "pkcs11:token=cse;object=a%20b",
               "PKCS#11 URI object is not a KeyID: KeyID has octet 32 at "
               "position 2 (only A-Z a-z 0-9 . _ - @ are allowed)"},
        BadUri{"SlotIdNotNumber", "pkcs11:slot-id=x1",
               "PKCS#11 URI slot-id \"x1\" is not a decimal number"},
        BadUri{"TypePrivate", "pkcs11:token=cse;type=private",
               "PKCS#11 URI type=private: Root Keys are secret keys; use "
               "type=secret-key or leave type out"},
        BadUri{"UnknownPath", "pkcs11:token=cse;colour=red",
               "PKCS#11 URI path attribute colour is not supported (use "
               "token, manufacturer, serial, model, slot-id, object, id, "
               "type)"},
        BadUri{"UnknownQuery", "pkcs11:token=cse?pin=1",
               "PKCS#11 URI query attribute pin is not supported (use "
               "module-path, pin-source, pin-value)"},
        BadUri{"ModuleName", "pkcs11:token=cse?module-name=softhsm2",
               "PKCS#11 URI module-name is not supported; give the "
               "module's file with module-path= or ONEM2M_PKCS11_MODULE"},
        BadUri{"EmptyModulePath", "pkcs11:token=cse?module-path=",
               "PKCS#11 URI module-path is empty"},
        BadUri{"PinTwice", "pkcs11:token=cse?pin-source=/p&pin-value=1",
               "PKCS#11 URI has both pin-source and pin-value; give one"}),
    [](const ::testing::TestParamInfo<BadUri>& info) {
      return std::string(info.param.name);
    });

TEST(Pkcs11UriTest, PercentEncodedAttributesAreDecoded) {
  Pkcs11Uri uri;
  std::string why;
  ASSERT_TRUE(
      ParsePkcs11Uri("PKCS11:token=my%20cse;id=%01%02;slot-id=7;object=dev-1"
                     "?module-path=/m%2Fx.so&pin-source=file:///etc/pin",
                     &uri, &why))
      << why;
  EXPECT_EQ(uri.token, "my cse");
  EXPECT_EQ(uri.id, std::string("\x01\x02"));
  EXPECT_EQ(uri.slot_id, 7u);
  EXPECT_EQ(uri.object, "dev-1");
  EXPECT_EQ(uri.module_path, "/m/x.so");
  EXPECT_EQ(PinSourcePath(uri.pin_source, &why), "/etc/pin");
  EXPECT_EQ(PinSourcePath("/etc/pin", &why), "/etc/pin");
  EXPECT_EQ(PinSourcePath("https://x/pin", &why), std::nullopt);
  EXPECT_EQ(why,
            "pin-source https: is not supported; give a file path or a "
            "file: URI");
}

TEST(Pkcs11UriTest, LibraryRaisesPkcs11UriForABadUri) {
  ERR_clear_error();
  EXPECT_EQ(ONEM2M_KEYSTORE_open("pkcs11:token=a;token=b"), nullptr);
  unsigned long e = ERR_peek_last_error();
  EXPECT_EQ(ERR_GET_LIB(e), ONEM2M_get_error_library());
  EXPECT_EQ(ERR_GET_REASON(e), ONEM2M_R_PKCS11_URI);
  EXPECT_EQ(FirstErrorText(), "PKCS#11 URI attribute token appears twice");
}

TEST(Pkcs11UriTest, NoModuleAnywhereIsRefused) {
  unsetenv(kPkcs11ModuleEnv);
  EXPECT_EQ(MakePkcs11Keystore("pkcs11:token=cse"), nullptr);
  EXPECT_EQ(FirstErrorText(),
            "no PKCS#11 module: add module-path=FILE to the URI or set "
            "ONEM2M_PKCS11_MODULE");
}

// --- Known answers through the token ---------------------------------------

class Pkcs11VectorTest : public ::testing::TestWithParam<KnownAnswer> {};

TEST_P(Pkcs11VectorTest, TokenDerivesTheKnownAnswerOrRefusesWithAReason) {
  const KnownAnswer& ka = GetParam();
  SoftHsmToken token;
  std::unique_ptr<Pkcs11Keystore> ks = OpenToken(token);
  ASSERT_NE(ks, nullptr);
  std::vector<unsigned char> root = FromHex(ka.root_key_hex);
  RootKeyEntry entry{SecretBuffer(root.data(), root.size()), kAllVersions};

  // SoftHSM2 refuses HMAC keys shorter than the hash (its ulMinKeySize).
  if (root.size() < 32) {
    EXPECT_FALSE(ks->Import({ImportEntry{ka.key_id, &entry}}));
    EXPECT_EQ(FirstErrorText(),
              "KeyID " + ka.key_id +
                  ": the token computes HMAC-SHA-256 only with keys of 32 "
                  "octets or more, and this Root Key has 16; nothing was "
                  "imported");
    EXPECT_EQ(ks->Count(), 0u);
    return;
  }
  ASSERT_TRUE(ks->Import({ImportEntry{ka.key_id, &entry}})) << FirstErrorText();

  VersionSet expected_versions =
      root.size() >= 48 ? VersionBit(1) | VersionBit(2) | VersionBit(3)
                        : VersionBit(1) | VersionBit(2);
  EXPECT_EQ(ks->AllowedVersions(ka.key_id), expected_versions);
  SecretBuffer psk;
  DeriveStatus status = ks->DerivePsk(nullptr, ka.key_id, ka.version, &psk);
  if ((expected_versions & VersionBit(ka.version)) == 0) {
    // Version 0 would need the Root Key itself; version 3 needs 48 octets.
    EXPECT_EQ(status, DeriveStatus::kVersionNotAllowed);
    EXPECT_TRUE(psk.empty());
    return;
  }
  ASSERT_EQ(status, DeriveStatus::kOk) << FirstErrorText();
  EXPECT_EQ(ToHex(psk.data(), psk.size()), ka.psk_hex);
  EXPECT_EQ(ks->TokenFingerprint(ka.key_id), Fingerprint(entry.root_key));
}

INSTANTIATE_TEST_SUITE_P(VectorsJson, Pkcs11VectorTest,
                         ::testing::ValuesIn(LoadKnownAnswers()),
                         [](const ::testing::TestParamInfo<KnownAnswer>& info) {
                           return info.param.Name();
                         });

// --- The Root Key stays in the token ---------------------------------------

TEST(Pkcs11TokenTest, RootKeyValueCannotBeReadOut) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);

  // Straight to the module, as any other application of the host could.
  void* handle = dlopen(kSoftHsm, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr);
  auto get = reinterpret_cast<CK_C_GetFunctionList>(
      dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST* f = nullptr;
  ASSERT_EQ(get(&f), CKR_OK);
  ASSERT_EQ(f->C_Initialize(nullptr), CKR_OK);
  CK_SLOT_ID slots[4];
  CK_ULONG n = 4;
  ASSERT_EQ(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
  ASSERT_GE(n, 1u);
  CK_SESSION_HANDLE session = 0;
  ASSERT_EQ(f->C_OpenSession(slots[0], CKF_SERIAL_SESSION, nullptr, nullptr,
                             &session),
            CKR_OK);
  ASSERT_EQ(
      f->C_Login(session, CKU_USER,
                 reinterpret_cast<unsigned char*>(const_cast<char*>(kPin)), 4),
      CKR_OK);
  CK_ATTRIBUTE find = {CKA_LABEL, const_cast<char*>(kKeyId.data()),
                       kKeyId.size()};
  ASSERT_EQ(f->C_FindObjectsInit(session, &find, 1), CKR_OK);
  CK_OBJECT_HANDLE object = 0;
  ASSERT_EQ(f->C_FindObjects(session, &object, 1, &n), CKR_OK);
  ASSERT_EQ(n, 1u);
  f->C_FindObjectsFinal(session);

  unsigned char value[64];
  CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
  EXPECT_EQ(f->C_GetAttributeValue(session, object, &read, 1),
            CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(read.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  CK_BBOOL sensitive = CK_FALSE;
  CK_BBOOL extractable = CK_TRUE;
  CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
                          {CKA_EXTRACTABLE, &extractable, sizeof(extractable)}};
  EXPECT_EQ(f->C_GetAttributeValue(session, object, flags, 2), CKR_OK);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(extractable, CK_FALSE);
  f->C_CloseSession(session);
  f->C_Finalize(nullptr);
  dlclose(handle);
}

TEST(Pkcs11TokenTest, VersionZeroIsRefusedAndNeverAllowed) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  std::unique_ptr<Pkcs11Keystore> ks = OpenToken(token);
  ASSERT_NE(ks, nullptr);
  SecretBuffer psk;
  EXPECT_EQ(ks->DerivePsk(nullptr, kKeyId, 0, &psk),
            DeriveStatus::kVersionNotAllowed);
  EXPECT_EQ(ks->AllowedVersions(kKeyId), 0x0eu);

  CommandResult r = Cli(token, {"derive", "--keystore", token.Uri(), "--key-id",
                                kKeyId, "--version", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "onem2m-psk: error: KeyID " + kKeyId +
                " is a token key: version 0 is not available (its PSK would "
                "be the Root Key, which never leaves the token); the token "
                "allows version 1,2,3\n");
}

TEST(Pkcs11TokenTest, LibraryOpensAUriWithAPinValue) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  std::string uri = std::string("pkcs11:token=cse;object=") + kKeyId +
                    "?module-path=" + kSoftHsm + "&pin-value=" + kPin;
  KeystorePtr ks(ONEM2M_KEYSTORE_open(uri.c_str()));
  ASSERT_NE(ks, nullptr) << FirstErrorText();
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks.get()), 1u);
}

// --- Handshakes with the server's keys in the token ------------------------

struct MatrixCase {
  TlsProtocol protocol;
  unsigned version;
};

class Pkcs11HandshakeTest : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(Pkcs11HandshakeTest, OurClientAuthenticatesToServeWithATokenKeystore) {
  const MatrixCase c = GetParam();
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  BackgroundProcess server(
      {CliBin(), "serve", "--keystore", token.Uri(), "--accept", "127.0.0.1:0"},
      token.Env());
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.Output();
  std::smatch m;
  std::string out = server.Output();
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));

  // The client holds the same Root Key in a file, as a device would.
  std::string keys =
      token.dir().WriteFile("device-keys", kKeyId + ":" + kRoot64Hex + "\n");
  CommandResult r = RunCommand(
      {CliBin(), "connect", "--key-id", kKeyId, "--keystore", keys,
       c.protocol == TlsProtocol::kTls12 ? "--tls1_2" : "--tls1_3", "--version",
       std::to_string(c.version), "127.0.0.1:" + m[1].str()});
  ASSERT_EQ(r.exit_code, 0) << r.err << server.Output();
  EXPECT_NE(r.out.find("kdf_version:  " + std::to_string(c.version)),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find(std::string("protocol:     ") + ProtocolName(c.protocol)),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("server says:  hello " + kKeyId +
                       ": authenticated with oneM2M KDF version " +
                       std::to_string(c.version)),
            std::string::npos)
      << r.out;
}

INSTANTIATE_TEST_SUITE_P(Matrix, Pkcs11HandshakeTest,
                         ::testing::Values(MatrixCase{TlsProtocol::kTls12, 1},
                                           MatrixCase{TlsProtocol::kTls12, 2},
                                           MatrixCase{TlsProtocol::kTls12, 3},
                                           MatrixCase{TlsProtocol::kTls13, 1},
                                           MatrixCase{TlsProtocol::kTls13, 2},
                                           MatrixCase{TlsProtocol::kTls13, 3}),
                         [](const ::testing::TestParamInfo<MatrixCase>& info) {
                           return std::string(info.param.protocol ==
                                                      TlsProtocol::kTls12
                                                  ? "Tls12"
                                                  : "Tls13") +
                                  "_KdfVersion" +
                                  std::to_string(info.param.version);
                         });

TEST(Pkcs11HandshakeInProcessTest, OurServerWithTheTokenStoreAuthenticates) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  KeystorePtr server_ks(ONEM2M_KEYSTORE_open(token.Uri().c_str()));
  ASSERT_NE(server_ks, nullptr) << FirstErrorText();
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRoot64Hex));
  for (TlsProtocol p : {TlsProtocol::kTls12, TlsProtocol::kTls13}) {
    OurServer server(server_ks.get(), {.protocol = p});
    ClientOptions client;
    client.protocol = p;
    client.versions = 0x0e;
    client.pinned_version = 3;
    HandshakeResult cr =
        RunOurClient(server.port(), client_ks.get(), kKeyId, client);
    HandshakeResult sr = server.WaitForResult(0);
    ASSERT_TRUE(cr.ok) << cr.failure << cr.openssl_error;
    ASSERT_TRUE(sr.ok) << sr.failure;
    EXPECT_EQ(sr.key_id, kKeyId);
    EXPECT_EQ(sr.version, 3);
  }
}

// --- Concurrency -----------------------------------------------------------

TEST(Pkcs11ConcurrencyTest, ConcurrentDerivationsShareAPoolOfSessions) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  std::unique_ptr<Pkcs11Keystore> ks = OpenToken(token);
  ASSERT_NE(ks, nullptr);
  SecretBuffer expected;
  ASSERT_EQ(ks->DerivePsk(nullptr, kKeyId, 2, &expected), DeriveStatus::kOk);

  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; i++) {
        SecretBuffer psk;
        if (ks->DerivePsk(nullptr, kKeyId, 2, &psk) == DeriveStatus::kOk &&
            psk.Equals(expected)) {
          good++;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(good.load(), kThreads * kEach);
  Pkcs11Stats stats = ks->Stats();
  EXPECT_GT(stats.peak_in_use, 1u);
  EXPECT_LE(stats.sessions_opened, 4u);
  EXPECT_EQ(stats.logins, 1u);
}

TEST(Pkcs11ConcurrencyTest, ConcurrentHandshakesAgainstServeAllSucceed) {
  SoftHsmToken token;
  ImportLine(token, kKeyId + ":" + kRoot64Hex);
  BackgroundProcess server(
      {CliBin(), "serve", "--keystore", token.Uri(), "--accept", "127.0.0.1:0"},
      token.Env());
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.Output();
  std::smatch m;
  std::string out = server.Output();
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));
  int port = std::stoi(m[1].str());
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRoot64Hex));

  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; i++) {
        ClientOptions client;
        client.protocol =
            (t + i) % 2 ? TlsProtocol::kTls12 : TlsProtocol::kTls13;
        client.pinned_version = 1 + (t + i) % 3;
        if (RunOurClient(port, client_ks.get(), kKeyId, client).ok) {
          good++;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(good.load(), 20) << server.Output();
  EXPECT_TRUE(server.Running());
}

// --- Failures --------------------------------------------------------------

// A serve whose module is the shim, so that the test can fail the token.
class Pkcs11FailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fail_file_ = token_.dir().path() + "/fail";
    log_file_ = token_.dir().path() + "/calls";
    ImportLine(token_, kKeyId + ":" + kRoot64Hex);
  }
  std::map<std::string, std::string> Env() const {
    std::map<std::string, std::string> env = token_.Env();
    env["ONEM2M_SHIM_MODULE"] = kSoftHsm;
    env["ONEM2M_SHIM_FAIL"] = fail_file_;
    env["ONEM2M_SHIM_LOG"] = log_file_;
    return env;
  }
  int Count(const std::string& call) {
    std::ifstream in(log_file_);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n += line == call;
    }
    return n;
  }
  bool Handshake(int port) {
    KeystorePtr client_ks(MemoryKeystore(kKeyId, kRoot64Hex));
    ClientOptions client;
    client.pinned_version = 2;
    return RunOurClient(port, client_ks.get(), kKeyId, client).ok;
  }

  SoftHsmToken token_;
  std::string fail_file_;
  std::string log_file_;
};

TEST_F(Pkcs11FailureTest,
       TokenErrorFailsOneHandshakeWithAReasonAndServeGoesOn) {
  BackgroundProcess server(
      {CliBin(), "serve", "--keystore", token_.Uri(ShimModule()), "--accept",
       "127.0.0.1:0"},
      Env());
  ASSERT_TRUE(server.WaitForOutput("listening on")) << server.Output();
  std::smatch m;
  std::string out = server.Output();
  ASSERT_TRUE(
      std::regex_search(out, m, std::regex("listening on 127.0.0.1:(\\d+)")));
  int port = std::stoi(m[1].str());
  ASSERT_TRUE(Handshake(port)) << server.Output();

  // The token goes away: CKR_DEVICE_REMOVED from every session call.
  token_.dir().WriteFile("fail", "0x32\n");
  EXPECT_FALSE(Handshake(port));
  EXPECT_TRUE(server.WaitForOutput(
      "PSK derivation failed: PKCS#11 C_SignInit failed: CKR_DEVICE_REMOVED "
      "(KeyID " +
      kKeyId + ")"))
      << server.Output();
  EXPECT_FALSE(Handshake(port));
  EXPECT_TRUE(server.WaitForOutput(
      "PSK derivation failed: PKCS#11 C_OpenSession failed: "
      "CKR_DEVICE_REMOVED"))
      << server.Output();
  EXPECT_TRUE(server.Running());

  // It comes back: a new session (and login) serves the next handshake.
  ASSERT_EQ(unlink(fail_file_.c_str()), 0);
  EXPECT_TRUE(Handshake(port)) << server.Output();
  EXPECT_EQ(Count("C_Login"), 2);
}

TEST_F(Pkcs11FailureTest, WrongPinFailsAtStartupOnceWithAMessage) {
  std::string bad = token_.dir().WriteFile("badpin", "9999\n");
  std::string uri =
      "pkcs11:token=cse?module-path=" + ShimModule() + "&pin-source=" + bad;
  CommandResult r = RunCommand(
      {CliBin(), "serve", "--keystore", uri, "--accept", "127.0.0.1:0"}, "",
      std::chrono::seconds(30), Env());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: PKCS#11 login "
            "failed: CKR_PIN_INCORRECT (check the PIN file " +
                bad + ")\n");
  EXPECT_EQ(Count("C_Login"), 1);
}

TEST_F(Pkcs11FailureTest, PinOnTheCommandLineIsRefused) {
  std::string uri = std::string("pkcs11:token=cse?module-path=") + kSoftHsm +
                    "&pin-value=" + kPin;
  CommandResult r = Cli(token_, {"check", "--keystore", uri});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: PKCS#11 URI "
            "has pin-value, but a command line is visible to every user "
            "(ps); give pin-source=FILE or set ONEM2M_PKCS11_PIN\n");
  EXPECT_EQ(r.err.find(std::string("=") + kPin + "\n"), std::string::npos);
}

TEST_F(Pkcs11FailureTest, PinFromTheEnvironmentIsAccepted) {
  std::string uri = std::string("pkcs11:token=cse");
  CommandResult r =
      Cli(token_, {"check", "--keystore", uri},
          {{"ONEM2M_PKCS11_MODULE", kSoftHsm}, {"ONEM2M_PKCS11_PIN", kPin}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')),
            "pkcs11:token=cse: 1 key, valid");
}

TEST_F(Pkcs11FailureTest, PinSourceProblemsAreNamed) {
  std::string missing = token_.dir().path() + "/nope";
  std::string uri =
      std::string("pkcs11:token=cse?module-path=") + kSoftHsm + "&pin-source=";
  CommandResult r = Cli(token_, {"check", "--keystore", uri + missing});
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: cannot open PIN "
            "file " +
                missing + ": No such file or directory\n");
  std::string open_pin = token_.dir().WriteFile("openpin", kPin, 0644);
  r = Cli(token_, {"check", "--keystore", uri + open_pin});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: PIN file " +
                open_pin +
                " has mode 0644, which lets group or others read it; run "
                "chmod 600 " +
                open_pin + "\n");
  std::string empty = token_.dir().WriteFile("empty", "\n");
  r = Cli(token_, {"check", "--keystore", uri + empty});
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: PIN file " +
                empty + " is empty\n");
  r = Cli(token_, {"check", "--keystore",
                   "pkcs11:token=cse?module-path=" + std::string(kSoftHsm)});
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: no PIN for "
            "PKCS#11 token cse: add pin-source=FILE to the URI or set "
            "ONEM2M_PKCS11_PIN\n");
  r = Cli(token_, {"check", "--keystore",
                   "pkcs11:token=other?module-path=" + std::string(kSoftHsm) +
                       "&pin-source=" + token_.pin_file()});
  EXPECT_EQ(r.err,
            "onem2m-psk: error: cannot open PKCS#11 keystore: no PKCS#11 "
            "token matches the URI (token=other); tokens present: 'cse'\n");
}

// --- Provisioning through the CLI ------------------------------------------

TEST(Pkcs11CliTest, ImportSaysToDeleteTheFileAndIsAllOrNothing) {
  SoftHsmToken token;
  std::string file = token.dir().WriteFile(
      "keys", kKeyId + ":" + kRoot64Hex + "\nother:" + kRoot64Hex + "\n");
  CommandResult r =
      Cli(token, {"import", "--keystore", file, "--pkcs11", token.Uri()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "imported 2 keys into the token; they cannot be read out of it.\n"
            "Delete " +
                file + " now (e.g. shred -u " + file +
                "): it is a copy of every Root Key\noutside the token.\n");

  // A second file with one new KeyID and one already there: nothing moves.
  std::string again = token.dir().WriteFile(
      "again", "new-1:" + kRoot64Hex + "\nother:" + kRoot64Hex + "\n");
  r = Cli(token, {"import", "--keystore", again, "--pkcs11", token.Uri()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "onem2m-psk: error: import into the token failed: KeyID other is "
            "already on the token; nothing was imported\n");
  r = Cli(token, {"check", "--keystore", token.Uri()});
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), token.Uri() + ": 2 keys, valid");

  // A versions= narrower than what the token allows would be widened.
  std::string narrow =
      token.dir().WriteFile("narrow", "n-1:" + kRoot64Hex + ":versions=3\n");
  r = Cli(token, {"import", "--keystore", narrow, "--pkcs11", token.Uri()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("KeyID n-1 has versions=3, but the token would allow "
                       "versions 1,2,3"),
            std::string::npos)
      << r.err;
}

// SoftHSM2 computes HMAC-SHA-384 only with keys of 48 octets or more: a
// 32-octet Root Key keeps versions 1 and 2, and import says so at once.
TEST(Pkcs11CliTest, ImportWarnsWhenTheTokenNarrowsAKeysVersions) {
  SoftHsmToken token;
  std::string file =
      token.dir().WriteFile("keys", kKeyId + ":" + std::string(64, 'b') + "\n");
  CommandResult r =
      Cli(token, {"import", "--keystore", file, "--pkcs11", token.Uri()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err,
            "onem2m-psk: warning: " + kKeyId +
                ": the token derives only versions 1,2 with this 32-octet "
                "Root Key, not 3 (its HMAC needs a key as long as the hash); "
                "its clients must use --version 2 or lower, or give it a new "
                "key of 48 octets or more (genkey --bytes 48)\n");
}

TEST(Pkcs11CliTest, GenkeyPrintsTheOneLineWhoseKeyTheTokenHolds) {
  SoftHsmToken token;
  CommandResult r = Cli(token, {"genkey", "--key-id", "dev-9", "--bytes", "64",
                                "--pkcs11", token.Uri()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(std::regex_match(r.out, std::regex("dev-9:[0-9a-f]{128}\n")))
      << r.out;
  std::string file = token.dir().WriteFile("device", r.out);
  for (const char* v : {"1", "2", "3"}) {
    CommandResult from_token =
        Cli(token, {"derive", "--keystore", token.Uri(), "--key-id", "dev-9",
                    "--version", v});
    CommandResult from_file = Cli(token, {"derive", "--keystore", file,
                                          "--key-id", "dev-9", "--version", v});
    ASSERT_EQ(from_token.exit_code, 0) << from_token.err;
    EXPECT_EQ(from_token.out, from_file.out);
  }
  r = Cli(token, {"genkey", "--key-id", "dev-9", "--pkcs11", token.Uri()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  r = Cli(token, {"genkey", "--help"});
  EXPECT_NE(r.out.find("only copy outside the token"), std::string::npos);
}

TEST(Pkcs11CliTest, CheckOnTheTokenShowsTheFileFingerprints) {
  SoftHsmToken token;
  std::string file = token.dir().WriteFile(
      "keys",
      kKeyId + ":" + kRoot64Hex + "\nk32:" + kRoot64Hex.substr(0, 64) + "\n");
  CommandResult from_file = Cli(token, {"check", "--keystore", file});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  ASSERT_EQ(Cli(token, {"import", "--keystore", file, "--pkcs11", token.Uri()})
                .exit_code,
            0);
  CommandResult from_token = Cli(token, {"check", "--keystore", token.Uri()});
  ASSERT_EQ(from_token.exit_code, 0) << from_token.err;
  // Same count and fingerprints; versions= is what the token can compute.
  std::string expected = from_file.out;
  expected.replace(0, file.size(), token.Uri());
  expected = std::regex_replace(
      expected, std::regex("(" + kKeyId + " +)versions=any     "),
      "$1versions=1,2,3   ");
  expected = std::regex_replace(
      expected, std::regex("(k32 +)versions=any     "), "$1versions=1,2     ");
  EXPECT_EQ(from_token.out, expected);
}

}  // namespace
}  // namespace onem2m::testing
