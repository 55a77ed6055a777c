// The onem2m provider through the real openssl binary: `openssl kdf` on
// every case of ../shared/spec/vectors.json, `openssl list`, loading through
// openssl.cnf.sample, and a provider reason on the command line (spec
// section 6).

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "onem2m/kdf.h"
#include "test_support.h"

namespace onem2m::testing {

// PrintTo names a vector by Name() in test output, rather than its bytes.
// static: each test file has its own, found by argument-dependent lookup.
static void PrintTo(const KnownAnswer& ka, std::ostream* os) {
  *os << ka.Name();
}

namespace {

// ProviderArgs loads onem2m from the build and the default provider beside
// it, as the command line does without a configuration file.
std::vector<std::string> ProviderArgs() {
  return {"-provider-path",     ModulesDir(), "-provider",
          ONEM2M_PROVIDER_NAME, "-provider",  "default"};
}

// KdfCommand is `openssl kdf <provider args> -keylen N <opts> <kdf>`.
std::vector<std::string> KdfCommand(const std::vector<std::string>& provider,
                                    size_t keylen,
                                    const std::vector<std::string>& kdfopts,
                                    const std::string& kdf) {
  std::vector<std::string> argv = {OpensslBin(), "kdf"};
  argv.insert(argv.end(), provider.begin(), provider.end());
  argv.push_back("-keylen");
  argv.push_back(std::to_string(keylen));
  for (const std::string& opt : kdfopts) {
    argv.push_back("-kdfopt");
    argv.push_back(opt);
  }
  argv.push_back(kdf);
  return argv;
}

// PskOpts are the -kdfopt values of a vector's Root Key, KeyID, version.
std::vector<std::string> PskOpts(const KnownAnswer& ka) {
  return {"version:" + std::to_string(ka.version), "key-id:" + ka.key_id,
          "hexkey:" + ka.root_key_hex};
}

// NormalizeHex turns `openssl kdf` output ("0A:1B:...") into "0a1b...".
std::string NormalizeHex(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return hex;
}

// Described is a command's result for a failure message.
std::string Described(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out +
         "\nstderr: " + r.err;
}

std::string VectorName(const ::testing::TestParamInfo<KnownAnswer>& info) {
  return info.param.Name();
}

class OpensslKdfCliOnEachVector : public ::testing::TestWithParam<KnownAnswer> {
};

// vectors.json "psk" through `openssl kdf ... ONEM2M-PSK`.
TEST_P(OpensslKdfCliOnEachVector, DerivesTheVectorPsk) {
  const KnownAnswer& ka = GetParam();

  CommandResult r = RunCommand(KdfCommand(ProviderArgs(), ka.psk_hex.size() / 2,
                                          PskOpts(ka), ONEM2M_KDF_PSK));

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_EQ(NormalizeHex(r.out), ka.psk_hex);
}

// vectors.json "master_key" through hexoriginator-random and
// hexreceiver-random.
TEST_P(OpensslKdfCliOnEachVector, DerivesTheMasterKeyFromBothRandoms) {
  const KnownAnswer& ka = GetParam();
  std::vector<std::string> opts = PskOpts(ka);
  opts.push_back("hexoriginator-random:" + ka.originator_random_hex);
  opts.push_back("hexreceiver-random:" + ka.receiver_random_hex);

  CommandResult r =
      RunCommand(KdfCommand(ProviderArgs(), 48, opts, ONEM2M_KDF_MASTER));

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_EQ(NormalizeHex(r.out), ka.master_key_hex);
}

// vectors.json "extended_master_key" through hexsession-hash.
TEST_P(OpensslKdfCliOnEachVector,
       DerivesTheExtendedMasterKeyFromTheSessionHash) {
  const KnownAnswer& ka = GetParam();
  std::vector<std::string> opts = PskOpts(ka);
  opts.push_back("hexsession-hash:" + ka.session_hash_hex);

  CommandResult r =
      RunCommand(KdfCommand(ProviderArgs(), 48, opts, ONEM2M_KDF_MASTER));

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_EQ(NormalizeHex(r.out), ka.extended_master_key_hex);
}

INSTANTIATE_TEST_SUITE_P(VectorsJson, OpensslKdfCliOnEachVector,
                         ::testing::ValuesIn(LoadKnownAnswers()), VectorName);

// The first vector of vectors.json: version 0, dev-0001@sp.example.com.
KnownAnswer FirstVector() { return LoadKnownAnswers().at(0); }

TEST(OpensslKdfCli, BinaryOutputIsThePskItself) {
  KnownAnswer ka = FirstVector();
  std::vector<std::string> argv = KdfCommand(
      ProviderArgs(), ka.psk_hex.size() / 2, PskOpts(ka), ONEM2M_KDF_PSK);
  argv.insert(argv.end() - 1, "-binary");

  CommandResult r = RunCommand(argv);

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_EQ(
      ToHex(reinterpret_cast<const unsigned char*>(r.out.data()), r.out.size()),
      ka.psk_hex);
}

TEST(OpensslKdfCli, RejectsVersion4WithTheProviderReason) {
  KnownAnswer ka = FirstVector();
  std::vector<std::string> opts = {"version:4", "key-id:" + ka.key_id,
                                   "hexkey:" + ka.root_key_hex};

  CommandResult r =
      RunCommand(KdfCommand(ProviderArgs(), 32, opts, ONEM2M_KDF_PSK));

  EXPECT_NE(r.exit_code, 0) << Described(r);
  EXPECT_NE(r.err.find("unsupported KDF version"), std::string::npos)
      << Described(r);
}

TEST(OpensslKdfCli, RejectsAMissingRootKeyWithTheProviderReason) {
  KnownAnswer ka = FirstVector();
  std::vector<std::string> opts = {"version:2", "key-id:" + ka.key_id};

  CommandResult r =
      RunCommand(KdfCommand(ProviderArgs(), 32, opts, ONEM2M_KDF_PSK));

  EXPECT_NE(r.exit_code, 0) << Described(r);
  EXPECT_NE(r.err.find("missing Root Key"), std::string::npos) << Described(r);
}

TEST(OpensslKdfCli, RejectsAWrongKeyLengthWithTheProviderReason) {
  KnownAnswer ka = FirstVector();

  CommandResult r = RunCommand(KdfCommand(
      ProviderArgs(), 33,
      {"version:2", "key-id:" + ka.key_id, "hexkey:" + ka.root_key_hex},
      ONEM2M_KDF_PSK));

  EXPECT_NE(r.exit_code, 0) << Described(r);
  EXPECT_NE(r.err.find("output length differs from size"), std::string::npos)
      << Described(r);
}

TEST(OpensslListCli, ShowsBothKdfsOfTheLoadedProvider) {
  CommandResult r =
      RunCommand({OpensslBin(), "list", "-kdf-algorithms", "-provider-path",
                  ModulesDir(), "-provider", ONEM2M_PROVIDER_NAME});

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_NE(r.out.find("ONEM2M-PSK @ onem2m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ONEM2M-MASTER @ onem2m"), std::string::npos) << r.out;
}

// The sample names no module path: OpenSSL finds onem2m.so through
// OPENSSL_MODULES, which points at the build here.
std::map<std::string, std::string> SampleConfigEnv() {
  return {{"OPENSSL_CONF", SourceDir() + "/openssl.cnf.sample"},
          {"OPENSSL_MODULES", ModulesDir()}};
}

TEST(OpensslCnfSample, LoadsOnem2mAndKeepsTheDefaultProviderActive) {
  CommandResult r = RunCommand({OpensslBin(), "list", "-kdf-algorithms"}, "",
                               std::chrono::seconds(30), SampleConfigEnv());

  ASSERT_EQ(r.exit_code, 0) << Described(r);
  EXPECT_NE(r.out.find("ONEM2M-PSK @ onem2m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ONEM2M-MASTER @ onem2m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HKDF @ default"), std::string::npos) << r.out;
}

TEST(OpensslCnfSample, LetsOpensslKdfDeriveWithoutProviderOptions) {
  const std::vector<KnownAnswer> vectors = LoadKnownAnswers();
  for (const KnownAnswer& ka : {vectors.at(2), vectors.at(3)}) {
    SCOPED_TRACE(ka.Name());
    std::vector<std::string> opts = PskOpts(ka);
    opts.push_back("hexsession-hash:" + ka.session_hash_hex);

    CommandResult r =
        RunCommand(KdfCommand({}, 48, opts, ONEM2M_KDF_MASTER), "",
                   std::chrono::seconds(30), SampleConfigEnv());

    ASSERT_EQ(r.exit_code, 0) << Described(r);
    EXPECT_EQ(NormalizeHex(r.out), ka.extended_master_key_hex);
  }
}

}  // namespace
}  // namespace onem2m::testing
