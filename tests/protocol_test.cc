// Spec sections 2, 3 and 7: KeyIDs, identities on the wire, the hint.

#include "protocol.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace onem2m {
namespace {

TEST(KeyIdTest, AcceptsEveryAllowedCharacter) {
  EXPECT_FALSE(CheckKeyId("AZaz09._-@").has_value());
  EXPECT_FALSE(CheckKeyId("k").has_value());
  EXPECT_FALSE(CheckKeyId(std::string(120, 'a')).has_value());
}

TEST(KeyIdTest, RefusesEmptyTooLongAndForeignCharacters) {
  EXPECT_TRUE(CheckKeyId("").has_value());
  EXPECT_TRUE(CheckKeyId(std::string(121, 'a')).has_value());
  EXPECT_TRUE(CheckKeyId("a:b").has_value());
  EXPECT_TRUE(CheckKeyId("a b").has_value());
  EXPECT_TRUE(CheckKeyId(std::string("a\0b", 3)).has_value());
  EXPECT_TRUE(CheckKeyId("caf\xc3\xa9").has_value());
}

TEST(KeyIdTest, MessageNamesTheOffendingCharacterAndPosition) {
  EXPECT_EQ(*CheckKeyId("ab:c"),
            "KeyID has ':' at position 3 (only A-Z a-z 0-9 . _ - @ are "
            "allowed)");
  EXPECT_EQ(*CheckKeyId(std::string("a\0", 2)),
            "KeyID has octet 0 at position 2 (only A-Z a-z 0-9 . _ - @ are "
            "allowed)");
}

// Every identity of vectors.json encodes and parses back.
class IdentityVectorTest
    : public ::testing::TestWithParam<testing::KnownAnswer> {};

TEST_P(IdentityVectorTest, EncodesAndParsesTheVectorIdentity) {
  const auto& ka = GetParam();
  EXPECT_EQ(EncodeIdentity(ka.key_id, ka.version), ka.identity);
  auto parsed = ParseIdentity(ka.identity);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, ka.version);
  EXPECT_EQ(parsed->key_id, ka.key_id);
}

INSTANTIATE_TEST_SUITE_P(Vectors, IdentityVectorTest,
                         ::testing::ValuesIn(testing::LoadKnownAnswers()),
                         [](const auto& info) { return info.param.Name(); });

TEST(IdentityTest, ParsesIdentitiesUpToTheRfc4279Limit) {
  // "v3:" plus a 120-octet KeyID is 123 octets; a bare KeyID of 120.
  std::string id120(120, 'k');
  EXPECT_TRUE(ParseIdentity("v3:" + id120).has_value());
  EXPECT_TRUE(ParseIdentity(id120).has_value());
  EXPECT_TRUE(ParseIdentity("k").has_value());
}

TEST(IdentityTest, RefusesWhatSection3DoesNotDefine) {
  EXPECT_FALSE(ParseIdentity("").has_value());
  EXPECT_FALSE(ParseIdentity("v4:k").has_value());
  EXPECT_FALSE(ParseIdentity("v0:k").has_value());
  EXPECT_FALSE(ParseIdentity("v2:").has_value());
  EXPECT_FALSE(ParseIdentity("v2:a:b").has_value());
  EXPECT_FALSE(ParseIdentity("V2:k").has_value());
  EXPECT_FALSE(ParseIdentity(std::string("v2:k\0", 5)).has_value());
  EXPECT_FALSE(ParseIdentity(std::string(121, 'a')).has_value());
  EXPECT_FALSE(ParseIdentity(std::string(129, 'a')).has_value());
}

TEST(HintTest, EncodesAllowedVersionsAscending) {
  EXPECT_EQ(EncodeHint(kDefaultServerVersions), "onem2m-versions=1,2,3");
  EXPECT_EQ(EncodeHint(VersionBit(0) | VersionBit(3)), "onem2m-versions=0,3");
}

TEST(HintTest, ParsesOurHintAndIgnoresForeignOrEmptyOnes) {
  EXPECT_EQ(ParseHint("onem2m-versions=1,2,3"), kDefaultServerVersions);
  EXPECT_EQ(ParseHint("onem2m-versions=2"), VersionBit(2));
  EXPECT_FALSE(ParseHint("").has_value());
  EXPECT_FALSE(ParseHint("onem2m-versions=").has_value());
  EXPECT_FALSE(ParseHint("onem2m-versions=1,,2").has_value());
  EXPECT_FALSE(ParseHint("onem2m-versions=4").has_value());
  EXPECT_FALSE(ParseHint("some server hint").has_value());
}

TEST(VersionTest, PskLengthAndHashFollowSection4) {
  EXPECT_EQ(PskLength(0, 17), 17u);
  EXPECT_EQ(PskLength(1, 17), 32u);
  EXPECT_EQ(PskLength(2, 64), 32u);
  EXPECT_EQ(PskLength(3, 16), 48u);
  EXPECT_STREQ(TlsHashName(0), "SHA256");
  EXPECT_STREQ(TlsHashName(2), "SHA256");
  EXPECT_STREQ(TlsHashName(3), "SHA384");
  EXPECT_EQ(HighestVersion(VersionBit(1) | VersionBit(2)), 2u);
}

}  // namespace
}  // namespace onem2m
