// Tests of the keystore (lib/keystore.h, include/onem2m/keystore.h) against
// spec section 8 (the file), section 2 (KeyIDs) and section 4 (Root Keys),
// with the known answers of ../shared/spec/vectors.json.

#include "keystore.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "kdf_fetch.h"
#include "onem2m/err.h"
#include "onem2m/kdf.h"
#include "onem2m/keystore.h"
#include "onem2m/psk.h"
#include "test_support.h"

namespace onem2m {
namespace testing {

// PrintTo names a known answer by its case (gtest would dump its bytes).
void PrintTo(const KnownAnswer& ka, std::ostream* os) { *os << ka.Name(); }

}  // namespace testing

namespace {

using testing::FromHex;
using testing::KnownAnswer;
using testing::LoadKnownAnswers;
using testing::ScopedTempDir;
using testing::ToHex;

// A 32-octet Root Key in every encoding the file accepts; its fingerprint
// was computed with `openssl mac -digest SHA256 -macopt hexkey:... HMAC`.
const std::string kKeyHex =
    "8f3c2a9b71d04e65a2b8c9d0e1f2031425364758697a8b9cadbecfd0e1f2a3b4";
const std::string kKeyHexUpper =
    "8F3C2A9B71D04E65A2B8C9D0E1F2031425364758697A8B9CADBECFD0E1F2A3B4";
const std::string kKeyBase64 = "jzwqm3HQTmWiuMnQ4fIDFCU2R1hpeoucrb7P0OHyo7Q=";
const std::string kKeyFingerprint = "72:2d:34:75:25:43:09:f7";

// A second, unrelated Root Key.
const std::string kOtherKeyHex =
    "c4a1f37e09b2d85c6e3f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f";

const std::string kKeyId = "dev-0001@sp.example.com";
const std::string kOtherKeyId = "CAE-meter.17@m2m.operator.example";

// QueuedError is one entry of OpenSSL's error queue.
struct QueuedError {
  int lib = 0;
  int reason = 0;
  std::string text;
};

// TakeErrors empties this thread's error queue and returns its entries.
std::vector<QueuedError> TakeErrors() {
  std::vector<QueuedError> out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) !=
         0) {
    QueuedError q;
    q.lib = ERR_GET_LIB(e);
    q.reason = ERR_GET_REASON(e);
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0) {
      q.text = data;
    }
    out.push_back(q);
  }
  return out;
}

// OnlyError returns the one error on the queue; the test fails unless
// exactly one oneM2M error was raised.
QueuedError OnlyError() {
  std::vector<QueuedError> errors = TakeErrors();
  EXPECT_EQ(errors.size(), 1u) << "an error must be raised exactly once";
  if (errors.empty()) {
    return QueuedError();
  }
  EXPECT_EQ(errors[0].lib, ONEM2M_get_error_library()) << errors[0].text;
  return errors[0];
}

// Base64Of encodes |hex|'s octets as standard padded base64.
std::string Base64Of(const std::string& hex) {
  std::vector<unsigned char> raw = FromHex(hex);
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          raw.data(), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// SecretOf holds |hex|'s octets in a SecretBuffer.
SecretBuffer SecretOf(const std::string& hex) {
  std::vector<unsigned char> raw = FromHex(hex);
  return SecretBuffer(raw.data(), raw.size());
}

// IsFingerprintFormat tells whether |fp| reads "xx:xx:xx:xx:xx:xx:xx:xx"
// in lowercase hex.
bool IsFingerprintFormat(const std::string& fp) {
  if (fp.size() != 23) {
    return false;
  }
  for (size_t i = 0; i < fp.size(); i++) {
    bool hex = (fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f');
    if (i % 3 == 2 ? fp[i] != ':' : !hex) {
      return false;
    }
  }
  return true;
}

// PskKdf returns ONEM2M-PSK from the onem2m provider, fetched once.
EVP_KDF* PskKdf() {
  static Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  return kdf.get();
}

// DeriveHex derives (|key_id|, |version|) from |ks| and returns the PSK in
// hex, or a text that names the failure.
std::string DeriveHex(const Keystore& ks, const std::string& key_id,
                      Version version) {
  SecretBuffer psk;
  DeriveStatus status = ks.DerivePsk(PskKdf(), key_id, version, &psk);
  if (status != DeriveStatus::kOk) {
    return "<derive failed, status " +
           std::to_string(static_cast<int>(status)) + ">";
  }
  return ToHex(psk.data(), psk.size());
}

// The fixture of every file test: a fresh directory and a clean queue.
class KeystoreFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ERR_clear_error(); }
  void TearDown() override { ERR_clear_error(); }

  std::string Write(const std::string& content, unsigned mode = 0600) {
    return dir_.WriteFile("keys.txt", content, mode);
  }

  // ExpectLoadFails loads |content| and checks the load fails with |reason|
  // and a message starting "PATH:LINE: "; returns the message.
  std::string ExpectLoadFails(const std::string& content, int reason,
                              size_t line) {
    std::string path = Write(content);
    EXPECT_EQ(MakeFileKeystore(path), nullptr);
    QueuedError error = OnlyError();
    EXPECT_EQ(error.reason, reason) << error.text;
    std::string where = path + ":" + std::to_string(line) + ": ";
    EXPECT_EQ(error.text.rfind(where, 0), 0u)
        << "message \"" << error.text << "\" must start with " << where;
    return error.text;
  }

  ScopedTempDir dir_;
};

TEST_F(KeystoreFileTest, LoadsOneKeyALineSortedByKeyId) {
  std::string path = Write(kOtherKeyId + ":" + kOtherKeyHex + "\n" + kKeyId +
                           ":" + kKeyHex + ":versions=2,3\n");

  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr) << OnlyError().text;
  EXPECT_EQ(ks->Count(), 2u);
  EXPECT_TRUE(ks->Contains(kKeyId));
  EXPECT_TRUE(ks->Contains(kOtherKeyId));
  EXPECT_FALSE(ks->Contains("nobody@example.com"));

  std::vector<KeyInfo> keys = ks->List();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key_id, kOtherKeyId);
  EXPECT_EQ(keys[0].versions, kAllVersions);
  EXPECT_EQ(keys[1].key_id, kKeyId);
  EXPECT_EQ(keys[1].versions, VersionBit(2) | VersionBit(3));
  EXPECT_EQ(keys[1].fingerprint, kKeyFingerprint);
}

TEST_F(KeystoreFileTest, AcceptsCommentsBlankLinesAndCrlf) {
  std::string path =
      Write("# oneM2M keys\r\n\r\n\n#" + kKeyId + ":not a key\r\n" + kKeyId +
            ":" + kKeyHex + "\r\n\r\n" + kOtherKeyId + ":" + kOtherKeyHex +
            ":versions=1\r\n# the end, no newline after the last key\n" +
            "last@example.com:" + kOtherKeyHex);

  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr) << OnlyError().text;
  EXPECT_EQ(ks->Count(), 3u);
  EXPECT_EQ(ks->List()[0].versions, VersionBit(1));
  EXPECT_TRUE(ks->Contains("last@example.com"));
}

TEST_F(KeystoreFileTest, AcceptsAnEmptyFile) {
  std::unique_ptr<Keystore> ks = MakeFileKeystore(Write(""));
  ASSERT_NE(ks, nullptr) << OnlyError().text;
  EXPECT_EQ(ks->Count(), 0u);
}

TEST_F(KeystoreFileTest, CountsLinesOfCrlfFilesInErrors) {
  ExpectLoadFails("# keys\r\n\r\n" + kKeyId + ":" + kKeyHex + "\r\nbad\r\n",
                  ONEM2M_R_KEYSTORE_SYNTAX, 4);
}

TEST_F(KeystoreFileTest, RefusesADuplicateKeyIdNamingTheFirstLine) {
  std::string message = ExpectLoadFails(
      "# keys\n" + kKeyId + ":" + kKeyHex + "\n" + kOtherKeyId + ":" +
          kOtherKeyHex + "\n\n" + kKeyId + ":" + kOtherKeyHex + "\n",
      ONEM2M_R_KEYSTORE_DUPLICATE, 5);
  EXPECT_NE(message.find(kKeyId), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_EQ(message.find(kOtherKeyHex), std::string::npos) << message;
}

TEST_F(KeystoreFileTest, AColonEndsTheKeyIdSoAKeyIdCannotHoldOne) {
  // "dev:1" cannot be a KeyID: the line reads as KeyID "dev", RootKey "1".
  ExpectLoadFails("dev:1:" + kKeyHex + "\n", ONEM2M_R_INVALID_ROOT_KEY, 1);
}

// One malformed line of spec section 8, written as line 4 of a file whose
// first three lines are fine.
struct BadLine {
  std::string name;
  std::string line;
  int reason;
  std::string secret;  // key text the message must not quote ("" if none)
};

void PrintTo(const BadLine& bad, std::ostream* os) { *os << bad.name; }

std::vector<BadLine> BadLines() {
  const std::string k15 = kKeyHex.substr(0, 30);
  const std::string k65 = kKeyHex + kKeyHex + "a1";
  const std::string id = "dev-0002@sp.example.com:";
  return {
      {"LineWithoutColon", kKeyHex, ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"KeyIdWithSlash", "dev/0002:" + kKeyHex, ONEM2M_R_INVALID_KEY_ID,
       kKeyHex},
      {"KeyIdWithSpace", "dev 0002:" + kKeyHex, ONEM2M_R_INVALID_KEY_ID,
       kKeyHex},
      {"KeyIdWithNonAscii", "d\xc3\xa9v:" + kKeyHex, ONEM2M_R_INVALID_KEY_ID,
       kKeyHex},
      {"EmptyKeyId", ":" + kKeyHex, ONEM2M_R_INVALID_KEY_ID, kKeyHex},
      {"KeyIdOf121Octets", std::string(121, 'a') + ":" + kKeyHex,
       ONEM2M_R_INVALID_KEY_ID, kKeyHex},
      {"OddLengthHex", id + kKeyHex + "a", ONEM2M_R_INVALID_ROOT_KEY, kKeyHex},
      {"HexWith0xPrefix", id + "0x" + kKeyHex, ONEM2M_R_INVALID_ROOT_KEY,
       kKeyHex},
      {"NonHexCharacter", id + "8f3cg" + kKeyHex.substr(5),
       ONEM2M_R_INVALID_ROOT_KEY, kKeyHex.substr(5)},
      {"EmptyRootKey", id, ONEM2M_R_INVALID_ROOT_KEY, ""},
      {"EmptyRootKeyBeforeAttributes", id + ":versions=2",
       ONEM2M_R_INVALID_ROOT_KEY, ""},
      {"AllZeroRootKey", id + std::string(64, '0'), ONEM2M_R_INVALID_ROOT_KEY,
       ""},
      {"RootKeyOf15Octets", id + k15, ONEM2M_R_INVALID_ROOT_KEY, k15},
      {"RootKeyOf65Octets", id + k65, ONEM2M_R_INVALID_ROOT_KEY, k65},
      {"Base64RootKeyOf15Octets", id + "base64:" + Base64Of(k15),
       ONEM2M_R_INVALID_ROOT_KEY, Base64Of(k15)},
      {"Base64AllZeroRootKey", id + "base64:" + Base64Of(std::string(64, '0')),
       ONEM2M_R_INVALID_ROOT_KEY, ""},
      {"Base64WithInvalidCharacter",
       id + "base64:" + kKeyBase64.substr(0, 43) + "!",
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64.substr(0, 43)},
      {"Base64WithoutPadding", id + "base64:" + kKeyBase64.substr(0, 43),
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64.substr(0, 43)},
      {"Base64WithPaddingInside",
       id + "base64:" + kKeyBase64.substr(0, 20) + "=" + kKeyBase64.substr(21),
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64.substr(21)},
      {"Base64WithUrlAlphabet",
       id + "base64:" + kKeyBase64.substr(0, 20) + "-" + kKeyBase64.substr(21),
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64.substr(21)},
      {"Base64NotCanonical", id + "base64:" + kKeyBase64.substr(0, 42) + "R=",
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64.substr(0, 42)},
      {"EmptyBase64", id + "base64:", ONEM2M_R_INVALID_ROOT_KEY, ""},
      {"Base64PrefixInCapitals", id + "BASE64:" + kKeyBase64,
       ONEM2M_R_INVALID_ROOT_KEY, kKeyBase64},
      {"UnknownAttribute", id + kKeyHex + ":colour=blue",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"AttributeLookingLikeAKey", id + kKeyHex + ":" + kKeyBase64,
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyBase64.substr(0, 43)},
      {"AttributeWithoutEquals", id + kKeyHex + ":versions",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"EmptyAttributeName", id + kKeyHex + ":=2,3", ONEM2M_R_KEYSTORE_SYNTAX,
       kKeyHex},
      {"RepeatedAttribute", id + kKeyHex + ":versions=2;versions=3",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"VersionAboveThree", id + kKeyHex + ":versions=2,4",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"RepeatedVersion", id + kKeyHex + ":versions=2,2",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"EmptyVersionInList", id + kKeyHex + ":versions=2,,3",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"EmptyVersions", id + kKeyHex + ":versions=", ONEM2M_R_KEYSTORE_SYNTAX,
       kKeyHex},
      {"TrailingSemicolon", id + kKeyHex + ":versions=2;",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"NothingAfterSecondColon", id + kKeyHex + ":", ONEM2M_R_KEYSTORE_SYNTAX,
       kKeyHex},
      {"TrailingSpace", id + kKeyHex + " ", ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"TrailingTab", id + kKeyHex + "\t", ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"TrailingSpaceAfterAttributes", id + kKeyHex + ":versions=2 ",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"SpaceAfterColon", "dev-0002@sp.example.com: " + kKeyHex,
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"LeadingSpace", " " + id + kKeyHex, ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
      {"IndentedComment", "  # a comment", ONEM2M_R_KEYSTORE_SYNTAX, ""},
      {"SpacesOnly", "   ", ONEM2M_R_KEYSTORE_SYNTAX, ""},
      {"CarriageReturnInside", id + kKeyHex + "\r:versions=2",
       ONEM2M_R_KEYSTORE_SYNTAX, kKeyHex},
  };
}

class BadKeystoreLine : public KeystoreFileTest,
                        public ::testing::WithParamInterface<BadLine> {};

TEST_P(BadKeystoreLine, FailsTheWholeLoadNamingFileAndLine) {
  const BadLine& bad = GetParam();
  std::string message =
      ExpectLoadFails("# keys\n\n" + kKeyId + ":" + kKeyHex + "\n" + bad.line +
                          "\n" + kOtherKeyId + ":" + kOtherKeyHex + "\n",
                      bad.reason, 4);

  // The message quotes no key text.
  EXPECT_EQ(message.find(kKeyHex), std::string::npos) << message;
  EXPECT_EQ(message.find(kKeyHexUpper), std::string::npos) << message;
  EXPECT_EQ(message.find(kKeyBase64), std::string::npos) << message;
  EXPECT_EQ(message.find(kOtherKeyHex), std::string::npos) << message;
  if (!bad.secret.empty()) {
    EXPECT_EQ(message.find(bad.secret), std::string::npos) << message;
  }
}

INSTANTIATE_TEST_SUITE_P(Section8, BadKeystoreLine,
                         ::testing::ValuesIn(BadLines()),
                         [](const ::testing::TestParamInfo<BadLine>& info) {
                           return info.param.name;
                         });

TEST_F(KeystoreFileTest, SaysWhatIsWrongWithTheRootKey) {
  std::string id = "dev-0002@sp.example.com:";
  EXPECT_NE(
      ExpectLoadFails(id + kKeyHex.substr(0, 30), ONEM2M_R_INVALID_ROOT_KEY, 1)
          .find("root key is 15 octets; it must be 16 to 64"),
      std::string::npos);
  EXPECT_NE(ExpectLoadFails(id + kKeyHex + kKeyHex + "a1",
                            ONEM2M_R_INVALID_ROOT_KEY, 1)
                .find("root key is 65 octets; it must be 16 to 64"),
            std::string::npos);
  EXPECT_NE(
      ExpectLoadFails(id + std::string(32, '0'), ONEM2M_R_INVALID_ROOT_KEY, 1)
          .find("all zero"),
      std::string::npos);
  EXPECT_NE(ExpectLoadFails(id + "0x" + kKeyHex, ONEM2M_R_INVALID_ROOT_KEY, 1)
                .find("0x"),
            std::string::npos);
  EXPECT_NE(ExpectLoadFails(id + kKeyHex + ":versions=2 ",
                            ONEM2M_R_KEYSTORE_SYNTAX, 1)
                .find("space"),
            std::string::npos);
  EXPECT_NE(ExpectLoadFails(id + kKeyHex + ":colour=blue",
                            ONEM2M_R_KEYSTORE_SYNTAX, 1)
                .find("versions"),
            std::string::npos);
}

// A file mode and whether the keystore accepts it.
struct ModeCase {
  unsigned mode;
  bool accepted;
};

void PrintTo(const ModeCase& mode, std::ostream* os) {
  *os << std::oct << mode.mode << std::dec;
}

class KeystoreFileMode : public KeystoreFileTest,
                         public ::testing::WithParamInterface<ModeCase> {};

TEST_P(KeystoreFileMode, IsAcceptedOnlyWithoutGroupOrOtherAccess) {
  std::string path = Write(kKeyId + ":" + kKeyHex + "\n", GetParam().mode);
  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  if (GetParam().accepted) {
    ASSERT_NE(ks, nullptr) << OnlyError().text;
    EXPECT_EQ(ks->Count(), 1u);
    return;
  }

  EXPECT_EQ(ks, nullptr);
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_KEYSTORE_PERMISSIONS) << error.text;
  char mode[8];
  snprintf(mode, sizeof(mode), "%04o", GetParam().mode);
  EXPECT_NE(error.text.find(path), std::string::npos) << error.text;
  EXPECT_NE(error.text.find(mode), std::string::npos) << error.text;
  EXPECT_NE(error.text.find("chmod 600 " + path), std::string::npos)
      << error.text;
}

INSTANTIATE_TEST_SUITE_P(
    Section8, KeystoreFileMode,
    ::testing::Values(ModeCase{0600, true}, ModeCase{0400, true},
                      ModeCase{0640, false}, ModeCase{0604, false},
                      ModeCase{0660, false}, ModeCase{0644, false},
                      ModeCase{0620, false}, ModeCase{0602, false},
                      ModeCase{0666, false}),
    [](const ::testing::TestParamInfo<ModeCase>& info) {
      char name[16];
      snprintf(name, sizeof(name), "Mode%04o", info.param.mode);
      return std::string(name);
    });

TEST_F(KeystoreFileTest, RefusesAMissingFileWithTheSystemsReason) {
  std::string path = dir_.path() + "/absent.txt";
  EXPECT_EQ(MakeFileKeystore(path), nullptr);
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_KEYSTORE_IO);
  EXPECT_NE(error.text.find(path), std::string::npos) << error.text;
  EXPECT_NE(error.text.find("No such file or directory"), std::string::npos)
      << error.text;
}

TEST_F(KeystoreFileTest, RefusesADirectory) {
  EXPECT_EQ(MakeFileKeystore(dir_.path()), nullptr);
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_KEYSTORE_IO);
  EXPECT_NE(error.text.find(dir_.path()), std::string::npos) << error.text;
}

TEST_F(KeystoreFileTest, RefusesAddAndRemove) {
  std::unique_ptr<Keystore> ks = MakeFileKeystore(Write(""));
  ASSERT_NE(ks, nullptr);
  EXPECT_FALSE(ks->AddKey(kKeyId, SecretOf(kKeyHex), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
  EXPECT_FALSE(ks->RemoveKey(kKeyId));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
}

TEST_F(KeystoreFileTest, SuccessfulReloadReplacesEveryKey) {
  std::string path = Write(kKeyId + ":" + kKeyHex + "\n");
  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr);

  Write(kOtherKeyId + ":" + kOtherKeyHex + "\n" +
        "third@example.com:" + kKeyHex + ":versions=3\n");
  ASSERT_TRUE(ks->Reload()) << OnlyError().text;
  EXPECT_EQ(ks->Count(), 2u);
  EXPECT_FALSE(ks->Contains(kKeyId));
  EXPECT_TRUE(ks->Contains(kOtherKeyId));
  EXPECT_TRUE(ks->Contains("third@example.com"));
  EXPECT_EQ(ks->List()[1].versions, VersionBit(3));
}

TEST_F(KeystoreFileTest, FailedReloadKeepsEveryKeyAndItsPsk) {
  ASSERT_NE(PskKdf(), nullptr) << "ONEM2M-PSK unavailable";
  std::string path = Write(kKeyId + ":" + kKeyHex + ":versions=2,3\n" +
                           kOtherKeyId + ":" + kOtherKeyHex + "\n");
  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr);
  std::string before = DeriveHex(*ks, kKeyId, 2);
  ASSERT_EQ(before.size(), 64u) << before;
  std::vector<KeyInfo> listed = ks->List();

  // A bad line late in the file, a looser mode, a vanished file.
  Write("new@example.com:" + kOtherKeyHex + "\n" + kKeyId + ":" + kKeyHex +
        "\n" + "bad line\n");
  EXPECT_FALSE(ks->Reload());
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_SYNTAX);
  Write("new@example.com:" + kOtherKeyHex + "\n", 0644);
  EXPECT_FALSE(ks->Reload());
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_PERMISSIONS);
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_FALSE(ks->Reload());
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_IO);

  // Nothing changed.
  EXPECT_EQ(ks->Count(), 2u);
  EXPECT_FALSE(ks->Contains("new@example.com"));
  std::vector<KeyInfo> after = ks->List();
  ASSERT_EQ(after.size(), listed.size());
  for (size_t i = 0; i < after.size(); i++) {
    EXPECT_EQ(after[i].key_id, listed[i].key_id);
    EXPECT_EQ(after[i].versions, listed[i].versions);
    EXPECT_EQ(after[i].fingerprint, listed[i].fingerprint);
  }
  EXPECT_EQ(DeriveHex(*ks, kKeyId, 2), before);
  SecretBuffer psk;
  EXPECT_EQ(ks->DerivePsk(PskKdf(), kKeyId, 1, &psk),
            DeriveStatus::kVersionNotAllowed);
}

TEST_F(KeystoreFileTest, HexInEitherCaseAndBase64DeriveTheSamePsk) {
  ASSERT_NE(PskKdf(), nullptr) << "ONEM2M-PSK unavailable";
  std::string path =
      Write("lower@example.com:" + kKeyHex + "\n" +
            "upper@example.com:" + kKeyHexUpper + "\n" +
            "base64@example.com:base64:" + kKeyBase64 + ":versions=0,1,2,3\n");
  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr) << OnlyError().text;

  for (const KeyInfo& info : ks->List()) {
    EXPECT_EQ(info.fingerprint, kKeyFingerprint) << info.key_id;
  }
  for (Version v = kMinVersion; v <= kMaxVersion; v++) {
    // The KeyID enters the KDF, so compare each against a memory store.
    for (const char* id :
         {"lower@example.com", "upper@example.com", "base64@example.com"}) {
      std::unique_ptr<Keystore> memory = MakeMemoryKeystore();
      ASSERT_TRUE(memory->AddKey(id, SecretOf(kKeyHex), kAllVersions));
      std::string psk = DeriveHex(*ks, id, v);
      EXPECT_EQ(psk, DeriveHex(*memory, id, v)) << id << " version " << v;
      EXPECT_EQ(psk.size(), 2 * PskLength(v, 32)) << psk;
    }
  }
  // Version 0: the PSK is the Root Key itself, whatever its encoding.
  EXPECT_EQ(DeriveHex(*ks, "base64@example.com", 0), kKeyHex);
  EXPECT_EQ(DeriveHex(*ks, "upper@example.com", 0), kKeyHex);
}

TEST(DecodeRootKey, DecodesHexInEitherCaseAndBase64ToTheSameOctets) {
  SecretBuffer lower, upper, base64;
  std::string why;
  ASSERT_TRUE(DecodeRootKey(kKeyHex, &lower, &why)) << why;
  ASSERT_TRUE(DecodeRootKey(kKeyHexUpper, &upper, &why)) << why;
  ASSERT_TRUE(DecodeRootKey("base64:" + kKeyBase64, &base64, &why)) << why;
  EXPECT_EQ(ToHex(lower.data(), lower.size()), kKeyHex);
  EXPECT_TRUE(lower.Equals(upper));
  EXPECT_TRUE(lower.Equals(base64));
}

TEST(DecodeRootKey, DropsBase64PaddingFromTheLength) {
  // 16, 17 and 18 octets end with "==", "=" and no padding.
  for (size_t octets : {16u, 17u, 18u, 64u}) {
    std::string hex = (kKeyHex + kKeyHex).substr(0, 2 * octets);
    SecretBuffer key;
    std::string why;
    ASSERT_TRUE(DecodeRootKey("base64:" + Base64Of(hex), &key, &why)) << why;
    EXPECT_EQ(ToHex(key.data(), key.size()), hex) << octets << " octets";
  }
}

TEST(CheckRootKey, AcceptsOnly16To64OctetsNotAllZero) {
  EXPECT_FALSE(CheckRootKey(SecretBuffer(16)).value_or("").empty());
  std::vector<unsigned char> raw(65, 0x5a);
  for (size_t n : {0u, 1u, 15u, 65u}) {
    EXPECT_TRUE(CheckRootKey(SecretBuffer(raw.data(), n)).has_value()) << n;
  }
  for (size_t n : {16u, 32u, 48u, 64u}) {
    EXPECT_FALSE(CheckRootKey(SecretBuffer(raw.data(), n)).has_value()) << n;
  }
}

TEST(Fingerprint, IsStableAndMatchesAnIndependentHmac) {
  std::string fp = Fingerprint(SecretOf(kKeyHex));
  EXPECT_EQ(fp, kKeyFingerprint);
  EXPECT_EQ(Fingerprint(SecretOf(kKeyHex)), fp);
  EXPECT_TRUE(IsFingerprintFormat(fp)) << fp;
}

TEST(Fingerprint, DiffersBetweenKeysAndRevealsNoKeyOctets) {
  std::string fp = Fingerprint(SecretOf(kKeyHex));
  std::string other = Fingerprint(SecretOf(kOtherKeyHex));
  EXPECT_NE(fp, other);
  std::vector<std::pair<std::string, std::string>> cases = {
      {fp, kKeyHex}, {other, kOtherKeyHex}};
  for (const auto& [f, hex] : cases) {
    std::string bare = f;
    bare.erase(std::remove(bare.begin(), bare.end(), ':'), bare.end());
    EXPECT_EQ(hex.find(bare), std::string::npos) << f;
    EXPECT_EQ(f.find(hex.substr(0, 8)), std::string::npos) << f;
  }
}

TEST(KeyPolicy, VersionsAttributeRefusesTheOtherVersions) {
  ASSERT_NE(PskKdf(), nullptr) << "ONEM2M-PSK unavailable";
  ScopedTempDir dir;
  std::unique_ptr<Keystore> ks = MakeFileKeystore(
      dir.WriteFile("keys", kKeyId + ":" + kKeyHex + ":versions=3,2\n"));
  ASSERT_NE(ks, nullptr);
  ERR_clear_error();

  SecretBuffer psk;
  for (Version v : {0u, 1u, 4u, 99u}) {
    EXPECT_EQ(ks->DerivePsk(PskKdf(), kKeyId, v, &psk),
              DeriveStatus::kVersionNotAllowed)
        << v;
    EXPECT_TRUE(psk.empty());
  }
  for (Version v : {2u, 3u}) {
    EXPECT_EQ(ks->DerivePsk(PskKdf(), kKeyId, v, &psk), DeriveStatus::kOk) << v;
    EXPECT_EQ(psk.size(), PskLength(v, 32));
  }
  // Policy outcomes are the caller's to report: no error is raised.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(KeyPolicy, UnknownKeyIdIsReportedAndRaisesNothing) {
  ERR_clear_error();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  ASSERT_TRUE(ks->AddKey(kKeyId, SecretOf(kKeyHex), kAllVersions));
  SecretBuffer psk;
  for (Version v = kMinVersion; v <= kMaxVersion; v++) {
    EXPECT_EQ(ks->DerivePsk(PskKdf(), "nobody@example.com", v, &psk),
              DeriveStatus::kUnknownKeyId);
    EXPECT_EQ(ks->DerivePsk(PskKdf(), "", v, &psk),
              DeriveStatus::kUnknownKeyId);
  }
  EXPECT_TRUE(psk.empty());
  ERR_clear_error();  // whatever fetching the KDF left
}

TEST(MemoryKeystore, AddsContainsListsAndRemovesKeys) {
  ERR_clear_error();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  EXPECT_EQ(ks->Count(), 0u);
  ASSERT_TRUE(ks->AddKey(kKeyId, SecretOf(kKeyHex), VersionBit(2)));
  ASSERT_TRUE(ks->AddKey(kOtherKeyId, SecretOf(kOtherKeyHex), kAllVersions));
  EXPECT_EQ(ks->Count(), 2u);
  EXPECT_TRUE(ks->Contains(kKeyId));

  std::vector<KeyInfo> keys = ks->List();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key_id, kOtherKeyId);
  EXPECT_EQ(keys[1].key_id, kKeyId);
  EXPECT_EQ(keys[1].versions, VersionBit(2));
  EXPECT_EQ(keys[1].fingerprint, kKeyFingerprint);

  ASSERT_TRUE(ks->RemoveKey(kKeyId));
  EXPECT_FALSE(ks->Contains(kKeyId));
  EXPECT_EQ(ks->Count(), 1u);
  SecretBuffer psk;
  EXPECT_EQ(ks->DerivePsk(PskKdf(), kKeyId, 2, &psk),
            DeriveStatus::kUnknownKeyId);
  ERR_clear_error();
}

TEST(MemoryKeystore, RefusesADuplicateAndKeepsTheFirstKey) {
  ERR_clear_error();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  ASSERT_TRUE(ks->AddKey(kKeyId, SecretOf(kKeyHex), kAllVersions));
  EXPECT_FALSE(ks->AddKey(kKeyId, SecretOf(kOtherKeyHex), VersionBit(1)));
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_KEYSTORE_DUPLICATE);
  EXPECT_NE(error.text.find(kKeyId), std::string::npos) << error.text;
  EXPECT_EQ(error.text.find(kOtherKeyHex), std::string::npos) << error.text;
  EXPECT_EQ(ks->List()[0].fingerprint, kKeyFingerprint);
  EXPECT_EQ(ks->List()[0].versions, kAllVersions);
}

TEST(MemoryKeystore, RefusesInvalidKeyIdsRootKeysAndVersions) {
  ERR_clear_error();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  EXPECT_FALSE(ks->AddKey("dev 1", SecretOf(kKeyHex), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_KEY_ID);
  EXPECT_FALSE(ks->AddKey("v2:dev", SecretOf(kKeyHex), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_KEY_ID);
  EXPECT_FALSE(ks->AddKey("", SecretOf(kKeyHex), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_KEY_ID);

  EXPECT_FALSE(
      ks->AddKey(kKeyId, SecretOf(kKeyHex.substr(0, 30)), kAllVersions));
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_INVALID_ROOT_KEY);
  EXPECT_NE(error.text.find("15 octets"), std::string::npos) << error.text;
  EXPECT_EQ(error.text.find(kKeyHex.substr(0, 30)), std::string::npos);
  EXPECT_FALSE(ks->AddKey(kKeyId, SecretBuffer(32), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ROOT_KEY);
  EXPECT_FALSE(
      ks->AddKey(kKeyId, SecretOf(kKeyHex + kKeyHex + "00"), kAllVersions));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ROOT_KEY);

  EXPECT_FALSE(ks->AddKey(kKeyId, SecretOf(kKeyHex), 0));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_FALSE(ks->AddKey(kKeyId, SecretOf(kKeyHex), VersionBit(4)));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ks->Count(), 0u);
}

TEST(MemoryKeystore, RefusesToRemoveAnAbsentKeyAndToReload) {
  ERR_clear_error();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  EXPECT_FALSE(ks->RemoveKey(kKeyId));
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_UNKNOWN_KEY_ID);
  EXPECT_FALSE(ks->Reload());
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
}

class KnownAnswerTest : public ::testing::TestWithParam<KnownAnswer> {
 protected:
  void SetUp() override {
    ERR_clear_error();
    ASSERT_NE(PskKdf(), nullptr) << "ONEM2M-PSK unavailable";
  }
};

TEST_P(KnownAnswerTest, FileKeystoreDerivesTheVectorPsk) {
  const KnownAnswer& ka = GetParam();
  ScopedTempDir dir;
  std::unique_ptr<Keystore> ks = MakeFileKeystore(dir.WriteFile(
      "keys", "# vectors.json\n" + ka.key_id + ":" + ka.root_key_hex + "\n"));
  ASSERT_NE(ks, nullptr) << OnlyError().text;
  EXPECT_EQ(DeriveHex(*ks, ka.key_id, ka.version), ka.psk_hex);
}

TEST_P(KnownAnswerTest, MemoryKeystoreDerivesTheVectorPsk) {
  const KnownAnswer& ka = GetParam();
  std::unique_ptr<Keystore> ks = MakeMemoryKeystore();
  ASSERT_TRUE(
      ks->AddKey(ka.key_id, SecretOf(ka.root_key_hex), VersionBit(ka.version)))
      << OnlyError().text;
  EXPECT_EQ(DeriveHex(*ks, ka.key_id, ka.version), ka.psk_hex);
}

INSTANTIATE_TEST_SUITE_P(VectorsJson, KnownAnswerTest,
                         ::testing::ValuesIn(LoadKnownAnswers()),
                         [](const ::testing::TestParamInfo<KnownAnswer>& info) {
                           return info.param.Name();
                         });

TEST(KnownAnswers, AreThe36CasesOfVectorsJson) {
  EXPECT_EQ(LoadKnownAnswers().size(), 36u);
}

TEST(KeystoreConcurrency, DerivationsSucceedWhileTheFileReloads) {
  ASSERT_NE(PskKdf(), nullptr) << "ONEM2M-PSK unavailable";
  ScopedTempDir dir;
  // Two valid files that both hold kKeyId with the same Root Key.
  const std::string first =
      kKeyId + ":" + kKeyHex + "\n" + kOtherKeyId + ":" + kOtherKeyHex + "\n";
  const std::string second = "# second\nthird@example.com:" + kOtherKeyHex +
                             ":versions=3\n" + kKeyId +
                             ":base64:" + kKeyBase64 + ":versions=1,2\n";
  std::string path = dir.WriteFile("keys", first);
  std::unique_ptr<Keystore> ks = MakeFileKeystore(path);
  ASSERT_NE(ks, nullptr);
  const std::string expected = DeriveHex(*ks, kKeyId, 2);
  ASSERT_EQ(expected.size(), 64u) << expected;

  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::atomic<long> derived{0};
  std::atomic<long> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      bool first_round = true;
      while (!done.load()) {
        SecretBuffer psk;
        if (ks->DerivePsk(PskKdf(), kKeyId, 2, &psk) == DeriveStatus::kOk &&
            ToHex(psk.data(), psk.size()) == expected) {
          derived++;
        } else {
          failed++;
        }
        if (first_round) {
          started++;
          first_round = false;
        }
      }
    });
  }
  while (started.load() < 4) {
    std::this_thread::yield();
  }

  // 200 reloads, alternating between the two files. Derivations must not
  // starve them (a reader-preferring lock held across KDF calls did).
  int reloaded = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; i++) {
    dir.WriteFile("keys", i % 2 == 0 ? second : first);
    if (ks->Reload()) {
      reloaded++;
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  done = true;
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(reloaded, 200) << OnlyError().text;
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GE(derived.load(), 4);
  EXPECT_LT(elapsed, std::chrono::seconds(30)) << "reloads were starved";
  EXPECT_EQ(ks->Count(), 2u);
  EXPECT_TRUE(ks->Contains(kOtherKeyId));  // the last one written: first
}

// The C API of include/onem2m/keystore.h.
class KeystoreCApi : public ::testing::Test {
 protected:
  void SetUp() override { ERR_clear_error(); }
  void TearDown() override { ERR_clear_error(); }
  ScopedTempDir dir_;
};

TEST_F(KeystoreCApi, LoadsCountsReloadsAndFrees) {
  std::string path = dir_.WriteFile("keys", kKeyId + ":" + kKeyHex + "\n");
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_load_file(path.c_str());
  ASSERT_NE(ks, nullptr) << OnlyError().text;
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 1u);

  dir_.WriteFile("keys", kKeyId + ":" + kKeyHex + "\n" + kOtherKeyId + ":" +
                             kOtherKeyHex + "\n");
  EXPECT_EQ(ONEM2M_KEYSTORE_reload(ks), 1);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 2u);
  dir_.WriteFile("keys", "broken\n");
  EXPECT_EQ(ONEM2M_KEYSTORE_reload(ks), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_SYNTAX);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 2u);

  unsigned char key[32] = {1};
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, "x", key, sizeof(key), 0), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
  EXPECT_EQ(ONEM2M_KEYSTORE_remove_key(ks, kKeyId.c_str()), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
  ONEM2M_KEYSTORE_free(ks);
}

TEST_F(KeystoreCApi, LoadFailureReturnsNullWithTheReason) {
  std::string path =
      dir_.WriteFile("keys", kKeyId + ":" + kKeyHex + "\n", 0640);
  EXPECT_EQ(ONEM2M_KEYSTORE_load_file(path.c_str()), nullptr);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_PERMISSIONS);

  path = dir_.WriteFile("keys", "\n\n" + kKeyId + ":00\n");
  EXPECT_EQ(ONEM2M_KEYSTORE_load_file(path.c_str()), nullptr);
  QueuedError error = OnlyError();
  EXPECT_EQ(error.reason, ONEM2M_R_INVALID_ROOT_KEY);
  EXPECT_NE(error.text.find(path + ":3: "), std::string::npos) << error.text;
}

TEST_F(KeystoreCApi, MemoryKeystoreAddsAndRemovesKeys) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  ASSERT_NE(ks, nullptr);
  std::vector<unsigned char> key = FromHex(kKeyHex);
  EXPECT_EQ(
      ONEM2M_KEYSTORE_add_key(ks, kKeyId.c_str(), key.data(), key.size(), 0),
      1);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, kOtherKeyId.c_str(), key.data(),
                                    key.size(), ONEM2M_VERSION_BIT(2)),
            1);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 2u);

  // versions 0 means every version.
  std::vector<KeyInfo> keys = ks->impl->List();
  EXPECT_EQ(keys[1].versions, kAllVersions);
  EXPECT_EQ(keys[0].versions, VersionBit(2));

  EXPECT_EQ(
      ONEM2M_KEYSTORE_add_key(ks, kKeyId.c_str(), key.data(), key.size(), 0),
      0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_KEYSTORE_DUPLICATE);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, "new", key.data(), 15, 0), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ROOT_KEY);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, "new", key.data(), key.size(), 0x10),
            0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);

  EXPECT_EQ(ONEM2M_KEYSTORE_remove_key(ks, kKeyId.c_str()), 1);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 1u);
  EXPECT_EQ(ONEM2M_KEYSTORE_remove_key(ks, kKeyId.c_str()), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_UNKNOWN_KEY_ID);
  EXPECT_EQ(ONEM2M_KEYSTORE_reload(ks), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_NOT_SUPPORTED);
  ONEM2M_KEYSTORE_free(ks);
}

TEST_F(KeystoreCApi, ReferencesKeepTheKeystoreUntilTheLastFree) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  ASSERT_NE(ks, nullptr);
  std::vector<unsigned char> key = FromHex(kKeyHex);
  ASSERT_EQ(
      ONEM2M_KEYSTORE_add_key(ks, kKeyId.c_str(), key.data(), key.size(), 0),
      1);
  EXPECT_EQ(ONEM2M_KEYSTORE_up_ref(ks), 1);
  EXPECT_EQ(ONEM2M_KEYSTORE_up_ref(ks), 1);
  ONEM2M_KEYSTORE_free(ks);
  ONEM2M_KEYSTORE_free(ks);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 1u);  // one reference is left
  ONEM2M_KEYSTORE_free(ks);
  ONEM2M_KEYSTORE_free(nullptr);
}

TEST_F(KeystoreCApi, NullArgumentsFailWithInvalidArgument) {
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_new_memory();
  ASSERT_NE(ks, nullptr);
  unsigned char key[32] = {1};

  EXPECT_EQ(ONEM2M_KEYSTORE_load_file(nullptr), nullptr);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(nullptr, "a", key, sizeof(key), 0), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, nullptr, key, sizeof(key), 0), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_add_key(ks, "a", nullptr, sizeof(key), 0), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_remove_key(nullptr, "a"), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_remove_key(ks, nullptr), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_reload(nullptr), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(nullptr), 0u);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_up_ref(nullptr), 0);
  EXPECT_EQ(OnlyError().reason, ONEM2M_R_INVALID_ARGUMENT);
  EXPECT_EQ(ONEM2M_KEYSTORE_count(ks), 0u);
  ONEM2M_KEYSTORE_free(ks);
}

}  // namespace
}  // namespace onem2m
