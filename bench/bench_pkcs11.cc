// Root Keys in a PKCS#11 token (issue 6): a TLS 1.3 handshake whose server
// PSK is derived in SoftHSM2 (C_Sign) against the same handshake with the
// server's keys in a file, and one PSK derivation of each kind (what a
// derived-PSK cache would save). The token is made here, in a temporary
// directory; if that fails the rows say why and the other benchmarks run.

#include <benchmark/benchmark.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "bench_util.h"
#include "kdf_fetch.h"
#include "keystore_pkcs11.h"
#include "onem2m/kdf.h"
#include "onem2m/keystore.h"
#include "openssl_ptr.h"
#include "tls_fixtures.h"

namespace onem2m::bench {

namespace {

const char kSoftHsm[] = "/usr/lib/softhsm/libsofthsm2.so";

using KeystorePtr = UniquePtr<ONEM2M_KEYSTORE, ONEM2M_KEYSTORE_free>;

// Token is a SoftHSM2 token "bench" in a temporary directory, removed when
// it goes.
struct Token {
  std::string dir;
  ~Token() {
    if (!dir.empty()) {
      std::system(("rm -rf '" + dir + "'").c_str());
    }
  }
};

// MakeToken initialises the token and writes its PIN file. The PIN of a
// throwaway token is on softhsm2-util's command line: it has no other way.
bool MakeToken(Token* token, std::string* uri, std::string* error) {
  char pattern[] = "/tmp/onem2m-bench-p11.XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    *error = "cannot make a temporary directory";
    return false;
  }
  token->dir = pattern;
  std::string conf = token->dir + "/softhsm2.conf";
  std::FILE* f = std::fopen(conf.c_str(), "w");
  std::string pin = token->dir + "/pin";
  std::FILE* p = std::fopen(pin.c_str(), "w");
  if (f == nullptr || p == nullptr ||
      mkdir((token->dir + "/tokens").c_str(), 0700) != 0) {
    *error = "cannot write the SoftHSM2 configuration";
    if (f != nullptr) std::fclose(f);
    if (p != nullptr) std::fclose(p);
    return false;
  }
  std::fprintf(f,
               "directories.tokendir = %s/tokens\nobjectstore.backend = "
               "file\nlog.level = ERROR\n",
               token->dir.c_str());
  std::fclose(f);
  std::fprintf(p, "1234\n");
  std::fclose(p);
  chmod(pin.c_str(), 0600);  // a PIN file others can read is refused
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  if (access(kSoftHsm, R_OK) != 0 ||
      std::system("softhsm2-util --init-token --free --label bench --pin "
                  "1234 --so-pin 5678 >/dev/null 2>&1") != 0) {
    *error = std::string("SoftHSM2 is not usable (") + kSoftHsm +
             ", softhsm2-util --init-token); install softhsm2";
    return false;
  }
  *uri = std::string("pkcs11:token=bench?module-path=") + kSoftHsm +
         "&pin-source=" + pin;
  return true;
}

// LastErrorText is the newest error's reason and text (the library's
// message), and clears the queue.
std::string LastErrorText() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long e = ERR_peek_last_error_data(&data, &flags);
  std::string text = e == 0 ? "no error recorded" : "";
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    text = reason != nullptr ? reason : "error";
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0) {
      text += std::string(": ") + data;
    }
  }
  ERR_clear_error();
  return text;
}

void AddFailure(const std::string& what, const std::string& error) {
  AddRow({"pkcs11", what, "SKIPPED: " + error, "", "", "", ""});
}

}  // namespace

void BM_Pkcs11(benchmark::State& state) {
  const Settings& settings = GetSettings();
  std::string error;
  Token token;
  std::string uri;
  // Every failure skips this benchmark (Google Benchmark aborts on a
  // return without it) and leaves a SKIPPED row saying why.
  auto fail = [&state](const std::string& what, const std::string& why) {
    state.SkipWithError((what + ": " + why).c_str());
    AddFailure(what, why);
  };
  if (!MakeToken(&token, &uri, &error)) {
    fail("token setup", error);
    return;
  }

  // One 64-octet Root Key (every version), in a file and in the token.
  std::string path = token.dir + "/keys";
  std::string id = KeyIdFor(0);
  RootKeyEntry entry{SecretBuffer(64), kAllVersions};
  {
    RAND_bytes(entry.root_key.data(), 64);
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
      fail("keystore file", "cannot write " + path);
      return;
    }
    std::fprintf(f, "%s:", id.c_str());
    for (size_t i = 0; i < entry.root_key.size(); i++) {
      std::fprintf(f, "%02x", entry.root_key.data()[i]);
    }
    std::fprintf(f, "\n");
    std::fclose(f);
    chmod(path.c_str(), 0600);
  }
  KeystorePtr file(ONEM2M_KEYSTORE_open(path.c_str()));
  std::unique_ptr<Pkcs11Keystore> made = MakePkcs11Keystore(uri);
  if (file == nullptr || made == nullptr) {
    fail("open",
         "cannot open the file keystore or the token: " + LastErrorText());
    return;
  }
  if (!made->Import({ImportEntry{id, &entry}})) {
    fail("import", "the token refused the key: " + LastErrorText());
    return;
  }
  KeystorePtr in_token(new onem2m_keystore_st);
  in_token->impl = std::move(made);

  // TLS 1.3 psk_dhe_ke, version 2, the client's key in a file either way.
  TlsPair token_pair;
  TlsPair file_pair;
  token_pair.server =
      NewOursServer(Mode::kTls13PskDheKe, in_token.get(), &error);
  file_pair.server = NewOursServer(Mode::kTls13PskDheKe, file.get(), &error);
  token_pair.client =
      NewOursClient(Mode::kTls13PskDheKe, file.get(), id, &error);
  file_pair.client =
      NewOursClient(Mode::kTls13PskDheKe, file.get(), id, &error);
  if (!token_pair.server || !file_pair.server || !token_pair.client ||
      !file_pair.client ||
      !Handshake(token_pair.server.get(), token_pair.client.get(), &error)) {
    fail("handshake setup", error);
    return;
  }
  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  auto derive = [&kdf, id](Keystore* ks) {
    return Side{
        "derive", [&kdf, id, ks](int n, std::string* err) {
          for (int i = 0; i < n; i++) {
            SecretBuffer psk;
            if (ks->DerivePsk(kdf.get(), id, 2, &psk) != DeriveStatus::kOk) {
              *err = "derivation failed";
              return false;
            }
          }
          return true;
        }};
  };
  auto handshake = [](TlsPair* pair) {
    return Side{
        "handshake", [pair](int n, std::string* err) {
          for (int i = 0; i < n; i++) {
            if (!Handshake(pair->server.get(), pair->client.get(), err)) {
              return false;
            }
          }
          return true;
        }};
  };

  PairedRunner runner;
  runner.AddPair(handshake(&token_pair), handshake(&file_pair));
  runner.AddPair(derive(in_token->impl.get()), derive(file->impl.get()));
  if (!runner.Calibrate(settings.round_ns)) {
    fail("calibration", runner.error());
    return;
  }
  for (auto _ : state) {
    if (!runner.RunRound()) {
      fail("run", runner.error());
      return;
    }
  }
  PairedRunner::Result h = runner.Get(0);
  PairedRunner::Result d = runner.Get(1);
  state.counters["token_handshake_us"] = h.a_ns / 1000;
  state.counters["file_handshake_us"] = h.b_ns / 1000;
  state.counters["token_derive_us"] = d.a_ns / 1000;
  state.counters["file_derive_us"] = d.b_ns / 1000;
  AddRow({"handshake", "TLS 1.3 psk_dhe_ke v2: server PSK in SoftHSM2 vs file",
          FormatMicros(h.a_ns), FormatMicros(h.b_ns),
          FormatRatioRange(h.ratio, h.ratio_low, h.ratio_high), "", ""});
  AddRow({"pkcs11", "one v2 PSK derivation: SoftHSM2 C_Sign vs file",
          FormatMicros(d.a_ns), FormatMicros(d.b_ns),
          FormatRatioRange(d.ratio, d.ratio_low, d.ratio_high), "", ""});
}

}  // namespace onem2m::bench
