// Complete handshakes in memory, both ends in this thread over a BIO pair:
// our library against stock OpenSSL with a fixed PSK in each PSK mode, and
// our PSK handshakes against TLS 1.3 with mutual certificates. A figure is
// the CPU time of one handshake, client and server together, including
// SSL_new and SSL_free of both ends.

#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "tls_fixtures.h"

namespace onem2m::bench {

namespace {

// HandshakeSide makes a side that runs |n| handshakes of |pair|.
Side HandshakeSide(std::string name, const TlsPair* pair) {
  return Side{
      std::move(name), [pair](int n, std::string* error) {
        for (int i = 0; i < n; i++) {
          if (!Handshake(pair->server.get(), pair->client.get(), error)) {
            return false;
          }
        }
        return true;
      }};
}

struct Fixtures {
  ONEM2M_KEYSTORE* server_keys = nullptr;
  ONEM2M_KEYSTORE* client_keys = nullptr;
  TlsPair ours[3];
  TlsPair stock[3];
  TlsPair certs;

  ~Fixtures() {
    ONEM2M_KEYSTORE_free(server_keys);
    ONEM2M_KEYSTORE_free(client_keys);
  }
};

const Mode kPskModes[3] = {Mode::kTls12Psk, Mode::kTls12EcdhePsk,
                           Mode::kTls13PskDheKe};

// SetUp makes every context and checks what each one negotiates.
bool SetUp(Fixtures* f, std::string* error) {
  // The server holds 1000 keys, the client its own one.
  f->server_keys = NewOursMemoryKeystore(1000, 1);
  f->client_keys = NewOursMemoryKeystore(1, 1);
  if (f->server_keys == nullptr || f->client_keys == nullptr) {
    *error = "cannot make the keystores";
    return false;
  }
  for (int i = 0; i < 3; i++) {
    f->ours[i].server = NewOursServer(kPskModes[i], f->server_keys, error);
    f->ours[i].client =
        f->ours[i].server
            ? NewOursClient(kPskModes[i], f->client_keys, KeyIdFor(0), error)
            : nullptr;
    if (f->ours[i].client == nullptr ||
        !NewStockPair(kPskModes[i], &f->stock[i], error)) {
      return false;
    }
  }
  if (!NewCertPair(&f->certs, error)) {
    return false;
  }

  // What each pair negotiates must be what the table says it measures.
  const char* expected[3] = {"TLSv1.2 PSK-AES128-CBC-SHA256",
                             "TLSv1.2 ECDHE-PSK-AES128-CBC-SHA256",
                             "TLSv1.3 TLS_AES_128_GCM_SHA256"};
  for (int i = 0; i < 3; i++) {
    std::string want = expected[i];
    std::string ours = DescribeHandshake(f->ours[i].server.get(),
                                         f->ours[i].client.get(), error);
    std::string stock = DescribeHandshake(f->stock[i].server.get(),
                                          f->stock[i].client.get(), error);
    if (ours != want + " v2" || stock != want) {
      *error += " (" + std::string(ModeName(kPskModes[i])) + ": ours \"" +
                ours + "\", stock \"" + stock + "\")";
      return false;
    }
  }
  std::string certs =
      DescribeHandshake(f->certs.server.get(), f->certs.client.get(), error);
  if (certs != "TLSv1.3 TLS_AES_128_GCM_SHA256") {
    *error += " (certificates: \"" + certs + "\")";
    return false;
  }
  return true;
}

}  // namespace

void BM_Handshakes(benchmark::State& state) {
  const Settings& settings = GetSettings();
  Fixtures f;
  std::string error;
  if (!SetUp(&f, &error)) {
    state.SkipWithError(error.c_str());
    AddRow({"handshake", "setup", "FAILED: " + error, "", "", "", "NO"});
    return;
  }

  // Pairs 0-2: ours against stock; 3-4: PSK against certificates.
  PairedRunner runner;
  for (int i = 0; i < 3; i++) {
    runner.AddPair(HandshakeSide("ours", &f.ours[i]),
                   HandshakeSide("stock", &f.stock[i]));
  }
  runner.AddPair(HandshakeSide("ours TLS 1.3", &f.ours[2]),
                 HandshakeSide("certificates", &f.certs));
  runner.AddPair(HandshakeSide("ours TLS 1.2", &f.ours[0]),
                 HandshakeSide("certificates", &f.certs));
  if (!runner.Calibrate(settings.round_ns)) {
    state.SkipWithError(runner.error().c_str());
    AddRow({"handshake", "calibration", "FAILED: " + runner.error(), "", "", "",
            "NO"});
    return;
  }
  for (auto _ : state) {
    if (!runner.RunRound()) {
      state.SkipWithError(runner.error().c_str());
      AddRow(
          {"handshake", "run", "FAILED: " + runner.error(), "", "", "", "NO"});
      return;
    }
  }

  const char* keys[3] = {"tls12_psk", "tls12_ecdhe_psk", "tls13_psk_dhe"};
  for (int i = 0; i < 3; i++) {
    PairedRunner::Result r = runner.Get(i);
    state.counters[std::string(keys[i]) + "_ours_us"] = r.a_ns / 1000;
    state.counters[std::string(keys[i]) + "_stock_us"] = r.b_ns / 1000;
    state.counters[std::string(keys[i]) + "_ratio"] = r.ratio;
    AddRow({"handshake",
            std::string(ModeName(kPskModes[i])) + ": ours vs stock",
            FormatMicros(r.a_ns), FormatMicros(r.b_ns),
            FormatRatioRange(r.ratio, r.ratio_low, r.ratio_high), "≤ 1.02",
            Verdict(r.ratio <= 1.02)});
  }
  PairedRunner::Result t13 = runner.Get(3);
  PairedRunner::Result t12 = runner.Get(4);
  state.counters["certs_us"] = t13.b_ns / 1000;
  state.counters["tls13_psk_vs_certs"] = t13.ratio;
  state.counters["tls12_psk_vs_certs"] = t12.ratio;
  AddRow({"handshake", ModeName(Mode::kTls13Certs), FormatMicros(t13.b_ns), "",
          "", "(reference)", ""});
  AddRow({"handshake", "PSK vs certificates: ours TLS 1.3 psk_dhe_ke vs certs",
          FormatMicros(t13.a_ns), FormatMicros(t13.b_ns),
          FormatRatioRange(t13.ratio, t13.ratio_low, t13.ratio_high), "", ""});
  AddRow({"handshake", "PSK vs certificates: ours TLS 1.2 PSK vs certs",
          FormatMicros(t12.a_ns), FormatMicros(t12.b_ns),
          FormatRatioRange(t12.ratio, t12.ratio_low, t12.ratio_high), "", ""});
}

}  // namespace onem2m::bench
