#include "kdf_common.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string_view>

#include "inner_algorithms.h"
#include "onem2m/kdf.h"

namespace onem2m::provider {

namespace {

// The parameters both KDFs report (spec section 6).
const OSSL_PARAM kGettableCtxParams[] = {
    OSSL_PARAM_size_t(ONEM2M_KDF_PARAM_SIZE, nullptr),
    OSSL_PARAM_utf8_string(ONEM2M_KDF_PARAM_IDENTITY, nullptr, 0),
    OSSL_PARAM_END,
};

// DigestSettings fills |params| (2 entries) with a digest name, the only
// setting of the HMAC and TLS1-PRF prototypes.
void DigestSettings(const char* digest, OSSL_PARAM* params) {
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                               const_cast<char*>(digest), 0);
  params[1] = OSSL_PARAM_construct_end();
}

// NewConfiguredKdf makes a context of |kdf| with |settings| applied.
EvpKdfCtxPtr NewConfiguredKdf(EVP_KDF* kdf, const OSSL_PARAM* settings) {
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf));
  if (ctx == nullptr || !EVP_KDF_CTX_set_params(ctx.get(), settings)) {
    return nullptr;
  }
  return ctx;
}

// CanDup tells whether the implementation behind |ctx| can duplicate its
// contexts. OpenSSL 3.0's TLS1-PRF cannot; later releases can.
bool CanDup(const EVP_KDF_CTX* ctx) {
  ERR_set_mark();
  EvpKdfCtxPtr copy(EVP_KDF_CTX_dup(ctx));
  ERR_pop_to_mark();
  return copy != nullptr;
}

// OctetsParam reads an octet string parameter without copying it. Raises
// kReasonWrongParameterType when |p| holds another type.
bool OctetsParam(const CoreErrors& errors, const OSSL_PARAM& p,
                 const void** data, size_t* len) {
  *data = nullptr;
  *len = 0;
  // Without data the value is empty; OpenSSL 3.0 would read an OCTET_PTR
  // through the null pointer (found by fuzz/kdf_params_fuzzer).
  if (p.data == nullptr && (p.data_type == OSSL_PARAM_OCTET_STRING ||
                            p.data_type == OSSL_PARAM_OCTET_PTR)) {
    return true;
  }
  if (p.data == nullptr || !OSSL_PARAM_get_octet_string_ptr(&p, data, len)) {
    ONEM2M_PROV_RAISE(errors, kReasonWrongParameterType,
                      "%s must be an octet string (on the command line: "
                      "-kdfopt hex%s:<hex>)",
                      p.key, p.key);
    return false;
  }
  return true;
}

// BigEndian32 writes |value| as 4 octets, most significant first.
void BigEndian32(uint32_t value, unsigned char out[4]) {
  out[0] = static_cast<unsigned char>(value >> 24);
  out[1] = static_cast<unsigned char>(value >> 16);
  out[2] = static_cast<unsigned char>(value >> 8);
  out[3] = static_cast<unsigned char>(value);
}

// KdfName names the KDF of |kind| in messages.
const char* KdfName(KdfKind kind) {
  return kind == KdfKind::kPsk ? ONEM2M_KDF_PSK : ONEM2M_KDF_MASTER;
}

}  // namespace

// InnerAlgorithms ------------------------------------------------------------

std::unique_ptr<InnerAlgorithms> InnerAlgorithms::Fetch(
    OSSL_LIB_CTX* libctx, const CoreErrors& errors) {
  std::unique_ptr<InnerAlgorithms> inner(new InnerAlgorithms());

  // The fetches fail with OpenSSL's own "unsupported" errors when the
  // default provider is missing; our one reason replaces them.
  ERR_set_mark();
  inner->hmac_.reset(EVP_MAC_fetch(libctx, "HMAC", nullptr));
  inner->tls1_prf_.reset(EVP_KDF_fetch(libctx, "TLS1-PRF", nullptr));
  if (inner->hmac_ == nullptr || inner->tls1_prf_ == nullptr) {
    ERR_pop_to_mark();
    ONEM2M_PROV_RAISE(errors, kReasonInnerUnavailable,
                      "cannot fetch%s%s from the application's library "
                      "context; load the default provider (or another that "
                      "implements them) beside onem2m",
                      inner->hmac_ == nullptr ? " HMAC" : "",
                      inner->tls1_prf_ == nullptr ? " TLS1-PRF" : "");
    return nullptr;
  }

  // Configure the prototypes: HMAC and TLS1-PRF with each TLS hash (spec
  // sections 4 and 5). Setting a digest fetches it, so a missing SHA-256
  // or SHA-384 shows up here too.
  OSSL_PARAM sha256[2];
  OSSL_PARAM sha384[2];
  DigestSettings("SHA256", sha256);
  DigestSettings("SHA384", sha384);
  inner->hmac_sha256_.reset(EVP_MAC_CTX_new(inner->hmac_.get()));
  inner->hmac_sha384_.reset(EVP_MAC_CTX_new(inner->hmac_.get()));
  bool ok = inner->hmac_sha256_ != nullptr &&
            EVP_MAC_CTX_set_params(inner->hmac_sha256_.get(), sha256) &&
            inner->hmac_sha384_ != nullptr &&
            EVP_MAC_CTX_set_params(inner->hmac_sha384_.get(), sha384);
  inner->tls1_prf_sha256_ = NewConfiguredKdf(inner->tls1_prf_.get(), sha256);
  inner->tls1_prf_sha384_ = NewConfiguredKdf(inner->tls1_prf_.get(), sha384);
  if (!ok || inner->tls1_prf_sha256_ == nullptr ||
      inner->tls1_prf_sha384_ == nullptr) {
    ERR_pop_to_mark();
    ONEM2M_PROV_RAISE(errors, kReasonInnerUnavailable,
                      "cannot set up HMAC or TLS1-PRF with SHA-256 and "
                      "SHA-384; load the default provider (or another that "
                      "implements them) beside onem2m");
    return nullptr;
  }

  // Learn once whether derivations can copy the prototypes.
  inner->tls1_prf_can_dup_ = CanDup(inner->tls1_prf_sha256_.get());
  ERR_pop_to_mark();
  return inner;
}

EvpMacCtxPtr InnerAlgorithms::NewHmac(Version version) const {
  return EvpMacCtxPtr(
      EVP_MAC_CTX_dup(version == 3 ? hmac_sha384_.get() : hmac_sha256_.get()));
}

EvpKdfCtxPtr InnerAlgorithms::NewTls1Prf(Version version) const {
  const char* digest = TlsHashName(version);
  OSSL_PARAM settings[2];
  DigestSettings(digest, settings);
  return NewKdfCtx(
      tls1_prf_.get(),
      version == 3 ? tls1_prf_sha384_.get() : tls1_prf_sha256_.get(),
      tls1_prf_can_dup_, settings);
}

EvpKdfCtxPtr InnerAlgorithms::NewKdfCtx(EVP_KDF* kdf,
                                        const EVP_KDF_CTX* prototype,
                                        bool can_dup,
                                        const OSSL_PARAM* settings) {
  if (can_dup) {
    return EvpKdfCtxPtr(EVP_KDF_CTX_dup(prototype));
  }
  // OpenSSL 3.0 cannot copy a TLS1-PRF context, so this configures a new
  // one for each ONEM2M-MASTER derivation, and TLS1-PRF looks up HMAC and
  // the digest again (about 1 us). Kept on purpose: only ONEM2M-MASTER
  // pays it, and no handshake derives one (the TLS stack computes its own
  // Master Key); on OpenSSL 3.2+ the copy above is taken.
  return NewConfiguredKdf(kdf, settings);
}

// KdfContext -----------------------------------------------------------------

std::unique_ptr<KdfContext> KdfContext::Clone() const {
  auto copy = std::make_unique<KdfContext>(provctx_, kind_);
  copy->root_key_ = root_key_.Clone();
  copy->key_id_ = key_id_;
  copy->version_ = version_;
  copy->originator_random_ = originator_random_;
  copy->receiver_random_ = receiver_random_;
  copy->session_hash_ = session_hash_;
  return copy;
}

void KdfContext::Reset() {
  hmac_[0].reset();
  hmac_[1].reset();
  root_key_.Clear();
  key_id_.reset();
  version_.reset();
  originator_random_.reset();
  receiver_random_.reset();
  session_hash_.reset();
}

bool KdfContext::SetParams(const OSSL_PARAM params[]) {
  if (params == nullptr) {
    return true;
  }

  // The parameters of both KDFs.
  const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_KEY);
  if (p != nullptr && !SetRootKey(*p)) {
    return false;
  }
  p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_KEY_ID);
  if (p != nullptr && !SetKeyId(*p)) {
    return false;
  }
  p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_VERSION);
  if (p != nullptr && !SetVersion(*p)) {
    return false;
  }
  if (kind_ != KdfKind::kMaster) {
    return true;
  }

  // The seeds of ONEM2M-MASTER.
  p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM);
  if (p != nullptr && !SetRandom(*p, &originator_random_)) {
    return false;
  }
  p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_RECEIVER_RANDOM);
  if (p != nullptr && !SetRandom(*p, &receiver_random_)) {
    return false;
  }
  p = OSSL_PARAM_locate_const(params, ONEM2M_KDF_PARAM_SESSION_HASH);
  if (p != nullptr && !SetSessionHash(*p)) {
    return false;
  }
  return true;
}

bool KdfContext::SetRootKey(const OSSL_PARAM& p) {
  const void* data;
  size_t len;
  if (!OctetsParam(errors(), p, &data, &len)) {
    root_key_.Clear();
    return false;
  }

  // Spec section 4: 16 to 64 octets, not all zero.
  if (len < kMinRootKeyLength || len > kMaxRootKeyLength) {
    root_key_.Clear();
    ONEM2M_PROV_RAISE(errors(), kReasonBadRootKeyLength,
                      "the Root Key is %zu octets; it must be 16 to 64", len);
    return false;
  }
  // A context reused for another derivation keeps its buffer.
  if (root_key_.size() == len) {
    std::memcpy(root_key_.data(), data, len);
  } else {
    root_key_.Assign(static_cast<const unsigned char*>(data), len);
  }
  if (root_key_.IsAllZero()) {
    root_key_.Clear();
    ONEM2M_PROV_RAISE(errors(), kReasonAllZeroRootKey,
                      "the Root Key is all zero; provision a random one");
    return false;
  }
  return true;
}

bool KdfContext::SetKeyId(const OSSL_PARAM& p) {
  const char* data = nullptr;
  if (p.data_type == OSSL_PARAM_UTF8_STRING) {
    data = static_cast<const char*>(p.data);
  } else if (p.data_type == OSSL_PARAM_UTF8_PTR && p.data != nullptr) {
    data = *static_cast<const char* const*>(p.data);
  } else {
    key_id_.reset();
    ONEM2M_PROV_RAISE(errors(), kReasonWrongParameterType,
                      "key-id must be a UTF-8 string");
    return false;
  }

  // Take the explicit length, so that an embedded NUL is seen and refused
  // rather than silently cutting the KeyID; one trailing NUL is the
  // terminator that some callers count.
  std::string_view key_id;
  if (data != nullptr) {
    key_id = std::string_view(data, p.data_size);
  }
  if (!key_id.empty() && key_id.back() == '\0') {
    key_id.remove_suffix(1);
  }
  if (auto problem = CheckKeyId(key_id)) {
    key_id_.reset();
    ONEM2M_PROV_RAISE(errors(), kReasonInvalidKeyId, "%s", problem->c_str());
    return false;
  }
  // Assigned in place, a reused context keeps the string's buffer.
  if (key_id_.has_value()) {
    key_id_->assign(key_id);
  } else {
    key_id_.emplace(key_id);
  }
  return true;
}

bool KdfContext::SetVersion(const OSSL_PARAM& p) {
  version_.reset();
  uint64_t version;
  // OpenSSL 3.0 reads the octet before |data| of an integer without octets
  // (found by fuzz/kdf_params_fuzzer): refuse it before asking.
  if (p.data == nullptr || p.data_size == 0 ||
      !OSSL_PARAM_get_uint64(&p, &version)) {
    ONEM2M_PROV_RAISE(errors(), kReasonWrongParameterType,
                      "version must be an unsigned integer (0 to 3)");
    return false;
  }
  if (!IsSupportedVersion(version)) {
    ONEM2M_PROV_RAISE(errors(), kReasonUnsupportedVersion,
                      "KDF version %llu is not supported; use 0, 1, 2 or 3",
                      static_cast<unsigned long long>(version));
    return false;
  }
  version_ = static_cast<Version>(version);
  return true;
}

bool KdfContext::SetRandom(const OSSL_PARAM& p,
                           std::optional<std::vector<unsigned char>>* field) {
  field->reset();
  const void* data;
  size_t len;
  if (!OctetsParam(errors(), p, &data, &len)) {
    return false;
  }
  if (len != kTlsRandomLength) {
    ONEM2M_PROV_RAISE(errors(), kReasonBadRandomLength,
                      "%s is %zu octets; a TLS random is exactly 32", p.key,
                      len);
    return false;
  }
  const auto* bytes = static_cast<const unsigned char*>(data);
  *field = std::vector<unsigned char>(bytes, bytes + len);
  return true;
}

bool KdfContext::SetSessionHash(const OSSL_PARAM& p) {
  session_hash_.reset();
  const void* data;
  size_t len;
  if (!OctetsParam(errors(), p, &data, &len)) {
    return false;
  }

  // Either TLS hash will do here; the version is checked at derivation.
  if (len != TlsHashLength(2) && len != TlsHashLength(3)) {
    ONEM2M_PROV_RAISE(errors(), kReasonBadSessionHashLength,
                      "session-hash is %zu octets; it must be 32 (SHA-256, "
                      "versions 0 to 2) or 48 (SHA-384, version 3)",
                      len);
    return false;
  }
  const auto* bytes = static_cast<const unsigned char*>(data);
  session_hash_ = std::vector<unsigned char>(bytes, bytes + len);
  return true;
}

bool KdfContext::GetParams(OSSL_PARAM params[]) const {
  if (params == nullptr) {
    return true;
  }

  OSSL_PARAM* p = OSSL_PARAM_locate(params, ONEM2M_KDF_PARAM_SIZE);
  if (p != nullptr && !OSSL_PARAM_set_size_t(p, Size())) {
    ONEM2M_PROV_RAISE(errors(), kReasonWrongParameterType,
                      "size must be asked as a size_t");
    return false;
  }

  // The wire identity of spec section 3.
  p = OSSL_PARAM_locate(params, ONEM2M_KDF_PARAM_IDENTITY);
  if (p == nullptr) {
    return true;
  }
  if (!key_id_.has_value()) {
    ONEM2M_PROV_RAISE(errors(), kReasonMissingKeyId,
                      "the identity needs key-id; set it first");
    return false;
  }
  if (!version_.has_value()) {
    ONEM2M_PROV_RAISE(errors(), kReasonMissingVersion,
                      "the identity needs version; set it first");
    return false;
  }
  if (p->data_type != OSSL_PARAM_UTF8_STRING) {
    ONEM2M_PROV_RAISE(errors(), kReasonWrongParameterType,
                      "identity must be asked as a UTF-8 string");
    return false;
  }
  std::string identity = EncodeIdentity(*key_id_, *version_);
  if (!OSSL_PARAM_set_utf8_string(p, identity.c_str())) {
    ONEM2M_PROV_RAISE(errors(), kReasonBufferTooSmall,
                      "identity needs %zu octets and a terminating NUL",
                      identity.size());
    return false;
  }
  return true;
}

size_t KdfContext::Size() const {
  if (kind_ == KdfKind::kMaster) {
    return kMasterKeyLength;
  }
  if (!version_.has_value() || (*version_ == 0 && root_key_.empty())) {
    return 0;
  }
  return PskLength(*version_, root_key_.size());
}

bool KdfContext::CheckPskInputs() const {
  if (root_key_.empty()) {
    ONEM2M_PROV_RAISE(errors(), kReasonMissingRootKey,
                      "%s needs the Root Key: set key (on the command line: "
                      "-kdfopt hexkey:<hex>)",
                      KdfName(kind_));
    return false;
  }
  if (!key_id_.has_value()) {
    ONEM2M_PROV_RAISE(errors(), kReasonMissingKeyId,
                      "%s needs the KeyID: set key-id", KdfName(kind_));
    return false;
  }
  if (!version_.has_value()) {
    ONEM2M_PROV_RAISE(errors(), kReasonMissingVersion,
                      "%s needs the KDF version: set version to 0, 1, 2 or 3",
                      KdfName(kind_));
    return false;
  }
  return true;
}

bool KdfContext::CheckOutputLength(size_t outlen) const {
  size_t size = Size();
  if (outlen != size) {
    ONEM2M_PROV_RAISE(errors(), kReasonBadOutputLength,
                      "asked for %zu octets, but %s with version %u gives "
                      "exactly %zu (see the size parameter)",
                      outlen, KdfName(kind_), version(), size);
    return false;
  }
  return true;
}

EVP_MAC_CTX* KdfContext::Hmac(const InnerAlgorithms& inner, Version v) const {
  EvpMacCtxPtr& slot = hmac_[v == 3 ? 1 : 0];
  if (slot == nullptr) {
    slot = inner.NewHmac(v);
  }
  return slot.get();
}

bool KdfContext::DerivePsk(unsigned char* psk, size_t psk_len) const {
  Version v = *version_;

  // Version 0 (plain TS-0003): the PSK is the Root Key itself.
  if (v == 0) {
    std::memcpy(psk, root_key_.data(), psk_len);
    return true;
  }

  const InnerAlgorithms* inner = provctx_->Inner();
  if (inner == nullptr) {
    return false;
  }

  // Version 1: PSK = HMAC-SHA-256(RootKey, L1 || KeyID).
  if (v == 1) {
    EVP_MAC_CTX* mac = Hmac(*inner, v);
    size_t written = 0;
    if (mac == nullptr ||
        !EVP_MAC_init(mac, root_key_.data(), root_key_.size(), nullptr) ||
        !EVP_MAC_update(
            mac, reinterpret_cast<const unsigned char*>(kPskLabelV1.data()),
            kPskLabelV1.size()) ||
        !EVP_MAC_update(mac,
                        reinterpret_cast<const unsigned char*>(key_id_->data()),
                        key_id_->size()) ||
        !EVP_MAC_final(mac, psk, &written, psk_len) || written != psk_len) {
      ONEM2M_PROV_RAISE(errors(), kReasonInnerDerivationFailed,
                        "HMAC-SHA-256 failed for version 1");
      return false;
    }
    return true;
  }

  // Versions 2 and 3: SP 800-108r1 section 4.1, counter mode, with
  // PRF = HMAC over the TLS hash, Label = "oneM2M-PSK", Context = KeyID
  // and L = 8 * psk_len, 32-bit big-endian [i] and [L]:
  //   K(i) = PRF(RootKey, [i] || Label || 0x00 || Context || [L])
  // PSK = K(1) || K(2) || ... truncated to psk_len octets (one block for
  // both versions). OpenSSL's KBKDF computes the same octets (vectors.json,
  // and random inputs in tests/provider_test.cc, PskKdfCrossCheck), but on
  // 3.0 its context cannot be copied, and a new one fetched HMAC and the
  // digest on every derivation.
  EVP_MAC_CTX* mac = Hmac(*inner, v);
  const uint32_t L = static_cast<uint32_t>(8 * psk_len);
  const unsigned char separator = 0x00;
  unsigned char l_be[4];
  unsigned char block[EVP_MAX_MD_SIZE];
  BigEndian32(L, l_be);
  bool ok = mac != nullptr;
  for (uint32_t i = 1, done = 0; ok && done < psk_len; i++) {
    unsigned char i_be[4];
    BigEndian32(i, i_be);
    size_t written = 0;
    ok = EVP_MAC_init(mac, root_key_.data(), root_key_.size(), nullptr) &&
         EVP_MAC_update(mac, i_be, sizeof(i_be)) &&
         EVP_MAC_update(
             mac, reinterpret_cast<const unsigned char*>(kPskLabelKbkdf.data()),
             kPskLabelKbkdf.size()) &&
         EVP_MAC_update(mac, &separator, 1) &&
         EVP_MAC_update(mac,
                        reinterpret_cast<const unsigned char*>(key_id_->data()),
                        key_id_->size()) &&
         EVP_MAC_update(mac, l_be, sizeof(l_be)) &&
         EVP_MAC_final(mac, block, &written, sizeof(block)) && written != 0;
    if (ok) {
      size_t take = std::min(written, psk_len - done);
      std::memcpy(psk + done, block, take);
      done += static_cast<uint32_t>(take);
    }
  }
  OPENSSL_cleanse(block, sizeof(block));
  if (!ok) {
    ONEM2M_PROV_RAISE(errors(), kReasonInnerDerivationFailed,
                      "KBKDF (HMAC-%s) failed for version %u", TlsHashName(v),
                      v);
    return false;
  }
  return true;
}

// Dispatch functions ---------------------------------------------------------

void* KdfNewCtx(void* provctx, KdfKind kind) {
  auto* prov = static_cast<ProviderContext*>(provctx);
  try {
    return new KdfContext(prov, kind);
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(prov->errors(), e);
    return nullptr;
  }
}

void KdfFreeCtx(void* vctx) {
  // SecretBuffer wipes the Root Key as the context goes.
  delete static_cast<KdfContext*>(vctx);
}

void* KdfDupCtx(void* vctx) {
  auto* ctx = static_cast<KdfContext*>(vctx);
  try {
    return ctx->Clone().release();
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(ctx->errors(), e);
    return nullptr;
  }
}

void KdfReset(void* vctx) { static_cast<KdfContext*>(vctx)->Reset(); }

int KdfSetCtxParams(void* vctx, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<KdfContext*>(vctx);
  try {
    return ctx->SetParams(params) ? 1 : 0;
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(ctx->errors(), e);
    return 0;
  }
}

int KdfGetCtxParams(void* vctx, OSSL_PARAM params[]) {
  auto* ctx = static_cast<KdfContext*>(vctx);
  try {
    return ctx->GetParams(params) ? 1 : 0;
  } catch (const std::exception& e) {
    ONEM2M_PROV_RAISE_EXCEPTION(ctx->errors(), e);
    return 0;
  }
}

const OSSL_PARAM* KdfGettableCtxParams(void* /*vctx*/, void* /*provctx*/) {
  return kGettableCtxParams;
}

}  // namespace onem2m::provider
