// kdf_params_fuzzer: the provider's KDFs ONEM2M-PSK and ONEM2M-MASTER
// (spec section 6) driven through the EVP_KDF API by a program that the
// fuzz input encodes: parameter sets with fuzzer-chosen names, types and
// lengths, derivations with any output length, reset, dup, get and new, on
// three contexts. Besides not crashing, it checks the failure kind "a KDF
// context that is reset, reused, duplicated or fed an empty value after a
// non-empty one behaves exactly like a fresh one":
//   - every derivation gives the same result and octets as one on a copy
//     taken just before (EVP_KDF_CTX_dup);
//   - every derivation gives the same result and octets as one on a fresh
//     context fed, in one call, the last value of each parameter that the
//     context holds (a model: a set that succeeds stores its values, a set
//     that fails clears the parameter that failed; a failing call with
//     several parameters leaves the model unknown until the next reset);
//   - a set call succeeds exactly when each of its parameters is accepted
//     on its own by a fresh context.
//
// Input: a sequence of operations, each an opcode octet and its operands;
// see Program::Step.

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "onem2m/kdf.h"
#include "protocol.h"
#include "provider.h"

namespace {

using onem2m::ParseIdentity;

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

EVP_KDF* psk_kdf = nullptr;
EVP_KDF* master_kdf = nullptr;

enum class Kind { kPsk, kMaster };

// The parameter names the fuzzer picks from: the six of spec section 6, a
// gettable one set by mistake, and one no KDF knows.
const char* const kNames[] = {
    ONEM2M_KDF_PARAM_KEY,
    ONEM2M_KDF_PARAM_KEY_ID,
    ONEM2M_KDF_PARAM_VERSION,
    ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM,
    ONEM2M_KDF_PARAM_RECEIVER_RANDOM,
    ONEM2M_KDF_PARAM_SESSION_HASH,
    ONEM2M_KDF_PARAM_SIZE,
    "no-such-parameter",
};
constexpr size_t kNameCount = sizeof(kNames) / sizeof(kNames[0]);

// Known tells whether a KDF of |kind| reads parameter |name|.
bool Known(Kind kind, const std::string& name) {
  if (name == ONEM2M_KDF_PARAM_KEY || name == ONEM2M_KDF_PARAM_KEY_ID ||
      name == ONEM2M_KDF_PARAM_VERSION) {
    return true;
  }
  return kind == Kind::kMaster && (name == ONEM2M_KDF_PARAM_ORIGINATOR_RANDOM ||
                                   name == ONEM2M_KDF_PARAM_RECEIVER_RANDOM ||
                                   name == ONEM2M_KDF_PARAM_SESSION_HASH);
}

const unsigned int kTypes[] = {
    OSSL_PARAM_OCTET_STRING, OSSL_PARAM_UTF8_STRING,      OSSL_PARAM_UTF8_PTR,
    OSSL_PARAM_OCTET_PTR,    OSSL_PARAM_UNSIGNED_INTEGER, OSSL_PARAM_INTEGER,
    OSSL_PARAM_REAL,
};
constexpr size_t kTypeCount = sizeof(kTypes) / sizeof(kTypes[0]);

// RawParam is one parameter as the fuzzer made it, kept so that it can be
// rebuilt for another context.
struct RawParam {
  std::string name;
  unsigned int type = OSSL_PARAM_OCTET_STRING;
  bool null_data = false;  // only with no octets
  // With null_data, a pointer type: data itself NULL rather than pointing
  // at a NULL pointer.
  bool null_pointer = false;
  std::vector<unsigned char> octets;
};

// Arena owns the memory of the OSSL_PARAMs it builds: each value in an
// allocation of exactly its size, so that ASan sees any overread.
class Arena {
 public:
  OSSL_PARAM Build(const RawParam& raw) {
    OSSL_PARAM p = OSSL_PARAM_construct_end();
    p.key = raw.name.c_str();
    p.data_type = raw.type;
    p.data_size = raw.octets.size();
    p.return_size = OSSL_PARAM_UNMODIFIED;
    unsigned char* value = nullptr;
    if (!raw.null_data) {
      buffers_.emplace_back(new unsigned char[raw.octets.size()]);
      value = buffers_.back().get();
      if (!raw.octets.empty()) {
        std::memcpy(value, raw.octets.data(), raw.octets.size());
      }
    }
    bool pointer_type =
        raw.type == OSSL_PARAM_UTF8_PTR || raw.type == OSSL_PARAM_OCTET_PTR;
    if (pointer_type && raw.null_data && raw.null_pointer) {
      p.data = nullptr;
    } else if (pointer_type) {
      pointers_.push_back(value);
      p.data = &pointers_.back();
    } else {
      p.data = value;
    }
    return p;
  }

  // Buffer returns |size| writable octets (exactly), or nullptr.
  unsigned char* Buffer(size_t size, bool null) {
    if (null) {
      return nullptr;
    }
    buffers_.emplace_back(new unsigned char[size]);
    return buffers_.back().get();
  }

 private:
  std::vector<std::unique_ptr<unsigned char[]>> buffers_;
  std::deque<const void*> pointers_;
};

// Model is what a context should hold: the last accepted value of each
// parameter, unless |unknown|.
struct Model {
  bool unknown = false;
  std::map<std::string, RawParam> present;
};

struct Slot {
  EVP_KDF_CTX* ctx = nullptr;
  Kind kind = Kind::kPsk;
  Model model;
};

EVP_KDF_CTX* NewCtx(Kind kind) {
  return EVP_KDF_CTX_new(kind == Kind::kPsk ? psk_kdf : master_kdf);
}

// AcceptedAlone tells whether a fresh context of |kind| accepts |raw|.
bool AcceptedAlone(Kind kind, const RawParam& raw) {
  EVP_KDF_CTX* fresh = NewCtx(kind);
  Check(fresh != nullptr);
  Arena arena;
  OSSL_PARAM params[] = {arena.Build(raw), OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_CTX_set_params(fresh, params);
  EVP_KDF_CTX_free(fresh);
  ERR_clear_error();
  return ok == 1;
}

// ApplyToModel updates |model| after a set of |params| on a context of
// |kind|, and returns whether that set had to succeed.
bool ApplyToModel(Kind kind, const std::vector<RawParam>& params,
                  Model* model) {
  // The first of each name is the one OSSL_PARAM_locate finds.
  std::map<std::string, const RawParam*> seen;
  for (const RawParam& raw : params) {
    if (Known(kind, raw.name) && seen.count(raw.name) == 0) {
      seen[raw.name] = &raw;
    }
  }
  size_t rejected = 0;
  std::string rejected_name;
  for (const auto& [name, raw] : seen) {
    if (!AcceptedAlone(kind, *raw)) {
      rejected++;
      rejected_name = name;
    }
  }
  if (rejected == 0) {
    for (const auto& [name, raw] : seen) {
      model->present[name] = *raw;
    }
    return true;
  }

  // A set that fails clears the parameter that failed; with others in the
  // same call, which of them were applied is not part of the contract.
  if (seen.size() == 1) {
    model->present.erase(rejected_name);
  } else {
    model->unknown = true;
  }
  return false;
}

// Reader hands out the fuzz input octet by octet; zeros past its end.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::vector<unsigned char> Take(size_t n) {
    size_t available = size_ - (pos_ < size_ ? pos_ : size_);
    if (n > available) {
      n = available;
    }
    std::vector<unsigned char> out(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

class Program {
 public:
  Program() {
    slots_[0] = {NewCtx(Kind::kPsk), Kind::kPsk, {}};
    slots_[1] = {NewCtx(Kind::kMaster), Kind::kMaster, {}};
    slots_[2] = {NewCtx(Kind::kPsk), Kind::kPsk, {}};
    for (const Slot& slot : slots_) {
      Check(slot.ctx != nullptr);
    }
  }

  ~Program() {
    for (Slot& slot : slots_) {
      EVP_KDF_CTX_free(slot.ctx);
    }
  }

  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Step runs one operation: opcode octet, then its operands.
  void Step(Reader* in) {
    uint8_t op = in->Byte();
    Slot& slot = slots_[in->Byte() % kSlots];
    switch (op % 8) {
      case 0:
      case 1:
        Set(slot, ReadParams(in));
        break;
      case 2:
      case 3:
        Derive(slot, in);
        break;
      case 4:
        EVP_KDF_CTX_reset(slot.ctx);
        slot.model = Model();
        break;
      case 5: {
        Slot& from = slots_[in->Byte() % kSlots];
        if (&from != &slot) {
          EVP_KDF_CTX* copy = EVP_KDF_CTX_dup(from.ctx);
          Check(copy != nullptr);
          EVP_KDF_CTX_free(slot.ctx);
          slot.ctx = copy;
          slot.kind = from.kind;
          slot.model = from.model;
        }
        break;
      }
      case 6:
        Get(slot, in);
        break;
      case 7:
        EVP_KDF_CTX_free(slot.ctx);
        slot.kind = (in->Byte() & 1) ? Kind::kMaster : Kind::kPsk;
        slot.ctx = NewCtx(slot.kind);
        Check(slot.ctx != nullptr);
        slot.model = Model();
        break;
    }
    ERR_clear_error();
  }

 private:
  static constexpr size_t kSlots = 3;

  // ReadParam reads a name, a type, a length and the octets.
  static RawParam ReadParam(Reader* in) {
    RawParam raw;
    raw.name = kNames[in->Byte() % kNameCount];
    uint8_t type = in->Byte();
    raw.type = kTypes[type % kTypeCount];
    size_t length;
    if (raw.type == OSSL_PARAM_UNSIGNED_INTEGER ||
        raw.type == OSSL_PARAM_INTEGER || raw.type == OSSL_PARAM_REAL) {
      static const size_t kSizes[] = {4, 8, 1, 2, 16, 3, 0};
      length = kSizes[in->Byte() % 7];
    } else {
      length = in->Byte();
    }
    raw.octets = in->Take(length);
    raw.octets.resize(length);  // zeros past the end of the input
    raw.null_data = raw.octets.empty() && (type & 0x80) != 0;
    raw.null_pointer = (type & 0x40) != 0;
    return raw;
  }

  static std::vector<RawParam> ReadParams(Reader* in) {
    std::vector<RawParam> params(in->Byte() % 5);
    for (RawParam& raw : params) {
      raw = ReadParam(in);
    }
    return params;
  }

  static std::vector<OSSL_PARAM> BuildAll(const std::vector<RawParam>& raws,
                                          Arena* arena) {
    std::vector<OSSL_PARAM> params;
    for (const RawParam& raw : raws) {
      params.push_back(arena->Build(raw));
    }
    params.push_back(OSSL_PARAM_construct_end());
    return params;
  }

  void Set(Slot& slot, const std::vector<RawParam>& raws) {
    Arena arena;
    std::vector<OSSL_PARAM> params = BuildAll(raws, &arena);
    int ok = EVP_KDF_CTX_set_params(slot.ctx, params.data());
    bool expected = ApplyToModel(slot.kind, raws, &slot.model);
    Check((ok == 1) == expected);
  }

  // Derive derives with a fuzzer-chosen output length and, optionally,
  // parameters, and compares with a copy and with a fresh context.
  void Derive(Slot& slot, Reader* in) {
    uint8_t how = in->Byte();
    std::vector<RawParam> raws;
    if (how & 0x80) {
      raws = ReadParams(in);
    }
    size_t outlen;
    switch (how % 8) {
      case 0:
        outlen = EVP_KDF_CTX_get_kdf_size(slot.ctx);
        break;
      case 1:
        outlen = 32;
        break;
      case 2:
        outlen = 48;
        break;
      case 3:
        outlen = 16 + in->Byte() % 49;
        break;
      default:
        outlen = in->Byte();
        break;
    }
    if (outlen > 4096) {
      outlen = 4096;
    }
    bool null_out = (how & 0x40) != 0 && (how & 0x20) != 0;

    // A copy taken before must derive the same.
    EVP_KDF_CTX* copy = EVP_KDF_CTX_dup(slot.ctx);
    Check(copy != nullptr);

    Arena arena;
    std::vector<OSSL_PARAM> params = BuildAll(raws, &arena);
    unsigned char* out = arena.Buffer(outlen, null_out);
    int ok = EVP_KDF_derive(slot.ctx, out, outlen, params.data());
    bool set_ok = ApplyToModel(slot.kind, raws, &slot.model);
    if (!set_ok) {
      Check(ok != 1);
    }

    unsigned char* copy_out = arena.Buffer(outlen, null_out);
    int copy_ok = EVP_KDF_derive(copy, copy_out, outlen, params.data());
    EVP_KDF_CTX_free(copy);
    Check(ok == copy_ok);
    Check(ok != 1 || out == nullptr || std::memcmp(out, copy_out, outlen) == 0);

    if (!set_ok || slot.model.unknown) {
      return;
    }

    // A fresh context fed the model's values must derive the same.
    EVP_KDF_CTX* fresh = NewCtx(slot.kind);
    Check(fresh != nullptr);
    std::vector<RawParam> values;
    for (const auto& [name, raw] : slot.model.present) {
      values.push_back(raw);
    }
    std::vector<OSSL_PARAM> fresh_params = BuildAll(values, &arena);
    Check(EVP_KDF_CTX_set_params(fresh, fresh_params.data()) == 1);
    unsigned char* fresh_out = arena.Buffer(outlen, null_out);
    int fresh_ok = EVP_KDF_derive(fresh, fresh_out, outlen, nullptr);
    EVP_KDF_CTX_free(fresh);
    Check(ok == fresh_ok);
    Check(ok != 1 || out == nullptr ||
          std::memcmp(out, fresh_out, outlen) == 0);
  }

  // Get asks for size and identity with fuzzer-chosen types and buffers.
  void Get(Slot& slot, Reader* in) {
    uint8_t how = in->Byte();
    Arena arena;
    std::vector<OSSL_PARAM> params;

    size_t size_value = 0;
    unsigned int size_type = OSSL_PARAM_UNSIGNED_INTEGER;
    if (how & 1) {
      static const size_t kSizes[] = {sizeof(size_t), 4, 1, 16};
      size_t n = kSizes[(how >> 1) % 4];
      size_type = (how & 0x08) ? OSSL_PARAM_INTEGER : size_type;
      OSSL_PARAM p = OSSL_PARAM_construct_end();
      p.key = ONEM2M_KDF_PARAM_SIZE;
      p.data_type = size_type;
      p.data = AsksNativeSize(how) ? static_cast<void*>(&size_value)
                                   : arena.Buffer(n, false);
      p.data_size = n;
      p.return_size = OSSL_PARAM_UNMODIFIED;
      params.push_back(p);
    }

    unsigned char* identity = nullptr;
    size_t identity_size = 0;
    if (how & 0x10) {
      identity_size = in->Byte();
      identity = arena.Buffer(identity_size, (how & 0x20) != 0);
      OSSL_PARAM p = OSSL_PARAM_construct_end();
      p.key = ONEM2M_KDF_PARAM_IDENTITY;
      p.data_type =
          (how & 0x40) ? OSSL_PARAM_OCTET_STRING : OSSL_PARAM_UTF8_STRING;
      p.data = identity;
      p.data_size = identity_size;
      p.return_size = OSSL_PARAM_UNMODIFIED;
      params.push_back(p);
    }
    params.push_back(OSSL_PARAM_construct_end());

    int ok = EVP_KDF_CTX_get_params(slot.ctx, params.data());
    if (ok != 1) {
      return;
    }

    // A returned identity is a wire identity that parses. OpenSSL adds
    // the NUL only when it fits.
    if (identity != nullptr &&
        params[params.size() - 2].data_type == OSSL_PARAM_UTF8_STRING) {
      size_t n = params[params.size() - 2].return_size;
      Check(n <= identity_size);
      Check(ParseIdentity(
                std::string_view(reinterpret_cast<const char*>(identity), n))
                .has_value());
    }

    // The size agrees with the one EVP_KDF_CTX_get_kdf_size reports.
    if ((how & 1) && AsksNativeSize(how)) {
      Check(size_value == EVP_KDF_CTX_get_kdf_size(slot.ctx));
    }
  }

  // AsksNativeSize tells whether Get asked for size as a size_t.
  static bool AsksNativeSize(uint8_t how) {
    return ((how >> 1) % 4) == 0 && (how & 0x08) == 0;
  }

  Slot slots_[kSlots];
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // The provider's own code, registered as a built-in: no module file.
  if (OSSL_PROVIDER_add_builtin(nullptr, ONEM2M_PROVIDER_NAME,
                                onem2m_provider_init) != 1 ||
      OSSL_PROVIDER_load(nullptr, ONEM2M_PROVIDER_NAME) == nullptr ||
      OSSL_PROVIDER_load(nullptr, "default") == nullptr) {
    std::abort();
  }
  psk_kdf = EVP_KDF_fetch(nullptr, ONEM2M_KDF_PSK, nullptr);
  master_kdf = EVP_KDF_fetch(nullptr, ONEM2M_KDF_MASTER, nullptr);
  if (psk_kdf == nullptr || master_kdf == nullptr) {
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  Program program;
  for (int steps = 0; !in.empty() && steps < 64; steps++) {
    program.Step(&in);
  }
  return 0;
}
