// Session resumption, the three answers of the Receiver Hello (spec
// section 1, step 2): a new session ID, the same ID (resumed), an empty
// ID (no resumption); TLS 1.2 session IDs and tickets, TLS 1.3 tickets.
// A resumed session reports the KeyID and version that first
// authenticated it; a removed or changed key cannot resume (spec
// section 7).

#include <gtest/gtest.h>

#include "onem2m/psk.h"
#include "test_support.h"
#include "tls_harness.h"

namespace onem2m::testing {
namespace {

const char kKeyId[] = "dev-0001@sp.example.com";
const char kRootHex[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kOtherRootHex[] =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";

enum class Mode { kTls12SessionId, kTls12Ticket, kTls13Ticket };

struct ResumeCase {
  Mode mode;
  int version;
};

std::string CaseName(const ::testing::TestParamInfo<ResumeCase>& info) {
  const char* mode = info.param.mode == Mode::kTls12SessionId ? "Tls12SessionId"
                     : info.param.mode == Mode::kTls12Ticket  ? "Tls12Ticket"
                                                              : "Tls13Ticket";
  return std::string(mode) + "_KdfVersion" + std::to_string(info.param.version);
}

class ResumptionTest : public ::testing::TestWithParam<ResumeCase> {
 protected:
  TlsProtocol protocol() const {
    return GetParam().mode == Mode::kTls13Ticket ? TlsProtocol::kTls13
                                                 : TlsProtocol::kTls12;
  }

  ServerOptions Server() const {
    ServerOptions o;
    o.protocol = protocol();
    o.tickets = GetParam().mode != Mode::kTls12SessionId;
    return o;
  }

  HandshakeResult Connect(int port, ONEM2M_KEYSTORE* ks,
                          SSL_SESSION* resume = nullptr) const {
    ClientOptions o;
    o.protocol = protocol();
    o.pinned_version = GetParam().version;
    o.resume = resume;
    return RunOurClient(port, ks, kKeyId, o);
  }
};

TEST_P(ResumptionTest, ResumedSessionReportsWhoFirstAuthenticated) {
  KeystorePtr server_ks(MemoryKeystore(kKeyId, kRootHex));
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(server_ks.get(), Server());

  HandshakeResult first = Connect(server.port(), client_ks.get());
  ASSERT_TRUE(first.ok) << first.failure;
  EXPECT_FALSE(first.resumed);
  EXPECT_FALSE(server.WaitForResult(0).resumed);

  HandshakeResult second =
      Connect(server.port(), client_ks.get(), first.session.get());
  HandshakeResult sr = server.WaitForResult(1);
  ASSERT_TRUE(second.ok) << second.failure;
  EXPECT_TRUE(second.resumed);
  EXPECT_TRUE(sr.resumed);
  EXPECT_EQ(sr.key_id, kKeyId);
  EXPECT_EQ(sr.version, GetParam().version);
  EXPECT_EQ(second.key_id, kKeyId);
  EXPECT_EQ(second.version, GetParam().version);
  auto lines = server.LogLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("outcome=ok resumed=yes"), std::string::npos)
      << lines[1];
  if (GetParam().mode == Mode::kTls12SessionId) {
    // Receiver Hello: a new ID, then the same ID when resumed.
    EXPECT_EQ(first.session_id_hex.size(), 64u);
    EXPECT_EQ(second.session_id_hex, first.session_id_hex);
  }
}

TEST_P(ResumptionTest, RemovedKeyIdCannotResume) {
  KeystorePtr server_ks(MemoryKeystore(kKeyId, kRootHex));
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(server_ks.get(), Server());
  HandshakeResult first = Connect(server.port(), client_ks.get());
  ASSERT_TRUE(first.ok) << first.failure;

  ASSERT_EQ(ONEM2M_KEYSTORE_remove_key(server_ks.get(), kKeyId), 1);
  HandshakeResult second =
      Connect(server.port(), client_ks.get(), first.session.get());
  HandshakeResult sr = server.WaitForResult(1);
  EXPECT_FALSE(second.ok);
  EXPECT_FALSE(sr.ok);
  EXPECT_FALSE(sr.resumed);
}

TEST_P(ResumptionTest, ChangedKeyCannotResumeAndTheFullHandshakeFails) {
  ScopedTempDir dir;
  std::string path =
      dir.WriteFile("keys", std::string(kKeyId) + ":" + kRootHex + "\n");
  KeystorePtr server_ks(ONEM2M_KEYSTORE_load_file(path.c_str()));
  ASSERT_NE(server_ks, nullptr);
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(server_ks.get(), Server());
  HandshakeResult first = Connect(server.port(), client_ks.get());
  ASSERT_TRUE(first.ok) << first.failure;

  dir.WriteFile("keys", std::string(kKeyId) + ":" + kOtherRootHex + "\n");
  ASSERT_EQ(ONEM2M_KEYSTORE_reload(server_ks.get()), 1);
  HandshakeResult second =
      Connect(server.port(), client_ks.get(), first.session.get());
  EXPECT_FALSE(second.ok);
  EXPECT_FALSE(server.WaitForResult(1).ok);
}

TEST_P(ResumptionTest, ReloadFallsBackToAFullHandshakeThatSucceeds) {
  ScopedTempDir dir;
  std::string path =
      dir.WriteFile("keys", std::string(kKeyId) + ":" + kRootHex + "\n");
  KeystorePtr server_ks(ONEM2M_KEYSTORE_load_file(path.c_str()));
  ASSERT_NE(server_ks, nullptr);
  KeystorePtr client_ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(server_ks.get(), Server());
  HandshakeResult first = Connect(server.port(), client_ks.get());
  ASSERT_TRUE(first.ok) << first.failure;

  ASSERT_EQ(ONEM2M_KEYSTORE_reload(server_ks.get()), 1);  // same keys
  HandshakeResult second =
      Connect(server.port(), client_ks.get(), first.session.get());
  ASSERT_TRUE(second.ok) << second.failure;
  EXPECT_FALSE(second.resumed);
  EXPECT_EQ(server.WaitForResult(1).version, GetParam().version);
}

std::vector<ResumeCase> Cases() {
  std::vector<ResumeCase> out;
  for (Mode m :
       {Mode::kTls12SessionId, Mode::kTls12Ticket, Mode::kTls13Ticket}) {
    for (int v : {1, 2, 3}) {
      out.push_back({m, v});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Modes, ResumptionTest, ::testing::ValuesIn(Cases()),
                         CaseName);

TEST(ResumptionCacheOffTest, EmptySessionIdMeansTheServerWillNotResume) {
  KeystorePtr ks(MemoryKeystore(kKeyId, kRootHex));
  OurServer server(ks.get(), {.protocol = TlsProtocol::kTls12,
                              .tickets = false,
                              .session_cache = false});
  ClientOptions o;
  o.protocol = TlsProtocol::kTls12;
  HandshakeResult first = RunOurClient(server.port(), ks.get(), kKeyId, o);
  ASSERT_TRUE(first.ok) << first.failure;
  EXPECT_EQ(first.session_id_hex, "");
  o.resume = first.session.get();
  HandshakeResult second = RunOurClient(server.port(), ks.get(), kKeyId, o);
  ASSERT_TRUE(second.ok) << second.failure;
  EXPECT_FALSE(second.resumed);
  EXPECT_FALSE(server.WaitForResult(1).resumed);
}

}  // namespace
}  // namespace onem2m::testing
