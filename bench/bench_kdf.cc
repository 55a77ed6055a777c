// Each KDF version through the provider against the bare OpenSSL calls it
// needs (spec section 4):
//   v0  the Root Key itself: a copy, no OpenSSL call at all;
//   v1  HMAC-SHA-256 with a fetched EVP_MAC and one reused EVP_MAC_CTX;
//   v2  KBKDF (HMAC-SHA-256) with a fetched EVP_KDF and one reused,
//       configured EVP_KDF_CTX;
//   v3  the same with HMAC-SHA-384.
// Both sides reuse their objects: the provider side one ONEM2M-PSK context
// of the fetched EVP_KDF, EVP_KDF_derive with key, key-id and version. A
// second figure gives the provider with a new context per derivation, which
// is what lib/keystore.cc does per handshake.

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>

#include "bench_util.h"
#include "kdf_fetch.h"
#include "onem2m/kdf.h"
#include "protocol.h"

namespace onem2m::bench {

namespace {

struct KdfInputs {
  unsigned char root_key[32];
  std::string key_id = KeyIdFor(0);
  KdfInputs() { RAND_bytes(root_key, sizeof(root_key)); }
};

// ProviderParams fills |params| (4 entries) with the inputs of ONEM2M-PSK.
void ProviderParams(const KdfInputs& in, unsigned* version,
                    OSSL_PARAM* params) {
  params[0] = OSSL_PARAM_construct_octet_string(
      ONEM2M_KDF_PARAM_KEY, const_cast<unsigned char*>(in.root_key),
      sizeof(in.root_key));
  params[1] = OSSL_PARAM_construct_utf8_string(
      ONEM2M_KDF_PARAM_KEY_ID, const_cast<char*>(in.key_id.c_str()),
      in.key_id.size());
  params[2] = OSSL_PARAM_construct_uint(ONEM2M_KDF_PARAM_VERSION, version);
  params[3] = OSSL_PARAM_construct_end();
}

// ProviderDerive runs ONEM2M-PSK once on |ctx|, or, when |ctx| is null, on
// a context of its own, the way lib/keystore.cc does per handshake.
bool ProviderDerive(EVP_KDF* kdf, EVP_KDF_CTX* ctx, const KdfInputs& in,
                    unsigned version, unsigned char* out, size_t out_len) {
  EvpKdfCtxPtr own(ctx == nullptr ? EVP_KDF_CTX_new(kdf) : nullptr);
  OSSL_PARAM params[4];
  ProviderParams(in, &version, params);
  EVP_KDF_CTX* use = ctx != nullptr ? ctx : own.get();
  return use != nullptr && EVP_KDF_derive(use, out, out_len, params) > 0;
}

// BareHmac is version 1 with the calls a careful caller would make.
class BareHmac {
 public:
  bool Init() {
    mac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    ctx_.reset(mac_ ? EVP_MAC_CTX_new(mac_.get()) : nullptr);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end(),
    };
    return ctx_ != nullptr && EVP_MAC_CTX_set_params(ctx_.get(), params);
  }

  bool Derive(const KdfInputs& in, unsigned char* out, size_t out_len) {
    size_t written = 0;
    return EVP_MAC_init(ctx_.get(), in.root_key, sizeof(in.root_key),
                        nullptr) &&
           EVP_MAC_update(
               ctx_.get(),
               reinterpret_cast<const unsigned char*>(kPskLabelV1.data()),
               kPskLabelV1.size()) &&
           EVP_MAC_update(
               ctx_.get(),
               reinterpret_cast<const unsigned char*>(in.key_id.data()),
               in.key_id.size()) &&
           EVP_MAC_final(ctx_.get(), out, &written, out_len) &&
           written == out_len;
  }

 private:
  EvpMacPtr mac_;
  EvpMacCtxPtr ctx_;
};

// BareKbkdf is versions 2 and 3 with one configured KBKDF context.
class BareKbkdf {
 public:
  bool Init(const char* digest) {
    kdf_.reset(EVP_KDF_fetch(nullptr, "KBKDF", nullptr));
    ctx_.reset(kdf_ ? EVP_KDF_CTX_new(kdf_.get()) : nullptr);
    int on = 1;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE,
                                         const_cast<char*>("COUNTER"), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC,
                                         const_cast<char*>("HMAC"), 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                         const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &on),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &on),
        OSSL_PARAM_construct_end(),
    };
    return ctx_ != nullptr && EVP_KDF_CTX_set_params(ctx_.get(), params);
  }

  bool Derive(const KdfInputs& in, unsigned char* out, size_t out_len) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(in.root_key),
            sizeof(in.root_key)),
        OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, const_cast<char*>(kPskLabelKbkdf.data()),
            kPskLabelKbkdf.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                          const_cast<char*>(in.key_id.data()),
                                          in.key_id.size()),
        OSSL_PARAM_construct_end(),
    };
    return EVP_KDF_derive(ctx_.get(), out, out_len, params) > 0;
  }

 private:
  EvpKdfPtr kdf_;
  EvpKdfCtxPtr ctx_;
};

const char* KdfFigure(unsigned version) {
  switch (version) {
    case 0:
      return "v0 PSK = Root Key: provider vs a copy";
    case 1:
      return "v1 HMAC-SHA-256: provider vs bare EVP_MAC";
    case 2:
      return "v2 KBKDF HMAC-SHA-256: provider vs bare EVP_KDF";
    default:
      return "v3 KBKDF HMAC-SHA-384: provider vs bare EVP_KDF";
  }
}

}  // namespace

void BM_Kdf(benchmark::State& state) {
  const Settings& settings = GetSettings();
  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  static const KdfInputs in;
  BareHmac hmac;
  BareKbkdf kbkdf256;
  BareKbkdf kbkdf384;
  if (!kdf || !hmac.Init() || !kbkdf256.Init("SHA256") ||
      !kbkdf384.Init("SHA384")) {
    state.SkipWithError("cannot fetch ONEM2M-PSK, HMAC or KBKDF");
    AddRow({"KDF", "setup", "FAILED", "", "", "", "NO"});
    return;
  }

  // Two pairs per version: the provider with one reused context against
  // the bare calls, then the provider with a new context per derivation
  // (what the library pays) against the same bare calls. Both sides must
  // agree first.
  EvpKdfCtxPtr reused(EVP_KDF_CTX_new(kdf.get()));
  PairedRunner runner;
  for (unsigned v = 0; v <= 3; v++) {
    size_t len = v == 0 ? sizeof(in.root_key) : (v == 3 ? 48 : 32);
    auto bare = [&, v, len](unsigned char* out) {
      switch (v) {
        case 0:
          std::memcpy(out, in.root_key, len);
          benchmark::DoNotOptimize(out);
          return true;
        case 1:
          return hmac.Derive(in, out, len);
        case 2:
          return kbkdf256.Derive(in, out, len);
        default:
          return kbkdf384.Derive(in, out, len);
      }
    };
    unsigned char a[48];
    unsigned char b[48];
    if (reused == nullptr ||
        !ProviderDerive(kdf.get(), reused.get(), in, v, a, len) || !bare(b) ||
        std::memcmp(a, b, len) != 0) {
      state.SkipWithError("the provider and the bare calls disagree");
      AddRow(
          {"KDF", KdfFigure(v), "FAILED: provider != bare", "", "", "", "NO"});
      return;
    }
    auto provider = [&, v, len](EVP_KDF_CTX* ctx) {
      return Side{"provider v" + std::to_string(v),
                  [&, ctx, v, len](int n, std::string* error) {
                    unsigned char out[48];
                    for (int i = 0; i < n; i++) {
                      if (!ProviderDerive(kdf.get(), ctx, in, v, out, len)) {
                        *error = "EVP_KDF_derive failed";
                        return false;
                      }
                    }
                    return true;
                  }};
    };
    Side bare_side{"bare v" + std::to_string(v),
                   [bare](int n, std::string* error) {
                     unsigned char out[48];
                     for (int i = 0; i < n; i++) {
                       if (!bare(out)) {
                         *error = "bare derivation failed";
                         return false;
                       }
                     }
                     return true;
                   }};
    runner.AddPair(provider(reused.get()), bare_side);
    runner.AddPair(provider(nullptr), std::move(bare_side));
  }
  if (!runner.Calibrate(settings.round_ns / 4)) {
    state.SkipWithError(runner.error().c_str());
    AddRow(
        {"KDF", "calibration", "FAILED: " + runner.error(), "", "", "", "NO"});
    return;
  }

  for (auto _ : state) {
    if (!runner.RunRound()) {
      state.SkipWithError(runner.error().c_str());
      AddRow({"KDF", "run", "FAILED: " + runner.error(), "", "", "", "NO"});
      return;
    }
  }

  for (unsigned v = 0; v <= 3; v++) {
    PairedRunner::Result r = runner.Get(2 * v);
    PairedRunner::Result fresh = runner.Get(2 * v + 1);
    std::string name = "v" + std::to_string(v);
    state.counters[name + "_provider_ns"] = r.a_ns;
    state.counters[name + "_provider_new_ctx_ns"] = fresh.a_ns;
    state.counters[name + "_bare_ns"] = r.b_ns;
    state.counters[name + "_ratio"] = r.ratio;
    bool has_target = v != 0;
    AddRow({"KDF", KdfFigure(v), FormatNanos(r.a_ns), FormatNanos(r.b_ns),
            FormatRatioRange(r.ratio, r.ratio_low, r.ratio_high),
            has_target ? "≤ 1.30" : "(no bare call)",
            has_target ? Verdict(r.ratio <= 1.30) : ""});
    AddRow({"KDF", "  the same, a new provider context per derivation",
            FormatNanos(fresh.a_ns), FormatNanos(fresh.b_ns),
            FormatRatio(fresh.ratio), "", ""});
  }
}

}  // namespace onem2m::bench
