// The PKCS#11 keystore of keystore_pkcs11.h: a module loaded with dlopen
// (no link-time dependency on any PKCS#11 library), one token, a session
// pool, and the derivations of spec section 4 computed with C_Sign.

#include "keystore_pkcs11.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "errors.h"

namespace onem2m {

namespace {

// The PIN file is short; anything longer is not a PIN file.
constexpr size_t kMaxPinLength = 256;

// RaisePkcs11 raises PKCS11_ERROR for |function| returning |rv|.
#define RAISE_CKR(function, rv, ...)                                         \
  ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR, "PKCS#11 %s failed: %s%s", (function), \
               Pkcs11ReturnName(rv).c_str(), __VA_ARGS__)

// Call runs a PKCS#11 function and drops what it left on OpenSSL's error
// queue: a module such as SoftHSM2 uses OpenSSL in our process, and its
// internal errors are not ours to report (we raise one with the CKR_ name).
template <typename Fn, typename... Args>
CK_RV Call(Fn fn, Args... args) {
  ERR_set_mark();
  CK_RV rv = fn(args...);
  ERR_pop_to_mark();
  return rv;
}

// Trim returns a fixed-width, space-padded CK_TOKEN_INFO field as text.
std::string Trim(const unsigned char* field, size_t width) {
  std::string s(reinterpret_cast<const char*>(field), width);
  size_t end = s.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

// Module is one loaded PKCS#11 library, shared by every keystore of the
// process that names the same file: C_Initialize and C_Finalize are
// per-application calls, so a module is initialised once.
class Module {
 public:
  ~Module() {
    if (initialized_by_us_) {
      Call(functions_->C_Finalize, nullptr);
    }
    if (handle_ != nullptr) {
      dlclose(handle_);
    }
  }

  CK_FUNCTION_LIST* f() const { return functions_; }

  // Get returns the module at |path|, loading and initialising it if no
  // keystore holds it. Raises and returns nullptr on failure.
  static std::shared_ptr<Module> Get(const std::string& path) {
    static std::mutex* mu = new std::mutex;
    static auto* loaded = new std::map<std::string, std::weak_ptr<Module>>;
    std::lock_guard<std::mutex> lock(*mu);
    if (std::shared_ptr<Module> m = (*loaded)[path].lock()) {
      return m;
    }
    std::shared_ptr<Module> m(new Module);
    if (!m->Load(path)) {
      return nullptr;
    }
    (*loaded)[path] = m;
    return m;
  }

 private:
  Module() = default;

  bool Load(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* err = dlerror();
      ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                   "cannot load PKCS#11 module %s: %s (check module-path= "
                   "or ONEM2M_PKCS11_MODULE)",
                   path.c_str(), err != nullptr ? err : "unknown error");
      return false;
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(
        dlsym(handle_, "C_GetFunctionList"));
    if (get_list == nullptr) {
      ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                   "%s is not a PKCS#11 module (no C_GetFunctionList)",
                   path.c_str());
      return false;
    }
    CK_RV rv = get_list(&functions_);
    if (rv != CKR_OK || functions_ == nullptr) {
      RAISE_CKR("C_GetFunctionList", rv, "");
      return false;
    }

    // The module may use its own threads' locks: we call it from many.
    CK_C_INITIALIZE_ARGS args = {};
    args.flags = CKF_OS_LOCKING_OK;
    rv = Call(functions_->C_Initialize, &args);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      return true;  // another part of the application did; it finalizes
    }
    if (rv != CKR_OK) {
      RAISE_CKR("C_Initialize", rv, "");
      return false;
    }
    initialized_by_us_ = true;
    return true;
  }

  void* handle_ = nullptr;
  CK_FUNCTION_LIST* functions_ = nullptr;
  bool initialized_by_us_ = false;
};

// ReadPinFile reads a PIN from |path| (one line; the newline is dropped).
// Messages name the file, never its content.
bool ReadPinFile(const std::string& path, SecretBuffer* pin) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR, "cannot open PIN file %s: %s",
                 path.c_str(), std::strerror(errno));
    return false;
  }
  // Like a keystore file: a PIN that others can read is no secret.
  struct stat st {};
  if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    close(fd);
    ONEM2M_RAISE(ONEM2M_R_KEYSTORE_PERMISSIONS,
                 "PIN file %s has mode %04o, which lets group or others "
                 "read it; run chmod 600 %s",
                 path.c_str(), static_cast<unsigned>(st.st_mode & 07777),
                 path.c_str());
    return false;
  }
  SecretBuffer buffer(kMaxPinLength + 1);
  size_t used = 0;
  while (used < buffer.size()) {
    ssize_t n = read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int saved = errno;
      close(fd);
      ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR, "cannot read PIN file %s: %s",
                   path.c_str(), std::strerror(saved));
      return false;
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  close(fd);
  if (used > kMaxPinLength) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                 "PIN file %s is longer than %zu octets; it must hold the "
                 "PIN alone",
                 path.c_str(), kMaxPinLength);
    return false;
  }
  while (used > 0 &&
         (buffer.data()[used - 1] == '\n' || buffer.data()[used - 1] == '\r')) {
    used--;
  }
  if (used == 0) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR, "PIN file %s is empty", path.c_str());
    return false;
  }
  *pin = SecretBuffer(buffer.data(), used);
  return true;
}

// IsSessionLost tells whether |rv| means the session (or the token, or the
// login) is gone, so that the session must not be lent out again.
bool IsSessionLost(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_OPERATION_ACTIVE:
      return true;
    default:
      return false;
  }
}

// IsTokenWide tells whether |rv| concerns every session of the token.
bool IsTokenWide(CK_RV rv) {
  return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_ERROR;
}

// TokenKey is what the store knows of one Root Key object.
struct TokenKey {
  CK_OBJECT_HANDLE handle;
  VersionSet versions;  // what the token can compute with this key
};

class TokenKeystore final : public Pkcs11Keystore {
 public:
  TokenKeystore(std::shared_ptr<Module> module, CK_SLOT_ID slot, Pkcs11Uri uri,
                SecretBuffer pin, bool has_pin, size_t max_sessions)
      : module_(std::move(module)),
        slot_(slot),
        uri_(std::move(uri)),
        pin_(std::move(pin)),
        has_pin_(has_pin),
        max_sessions_(std::max<size_t>(1, max_sessions)) {}

  ~TokenKeystore() override {
    // Sessions lent out are back: nobody holds the store while it dies.
    for (const PooledSession& s : idle_) {
      Call(module_->f()->C_CloseSession, s.handle);
    }
  }

  // Open logs in on a first session and scans the keys.
  bool Open() {
    CK_SESSION_HANDLE session = 0;
    CK_RV rv =
        Call(f()->C_OpenSession, slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION,
             nullptr, nullptr, &session);
    if (rv != CKR_OK) {
      RAISE_CKR("C_OpenSession", rv, " (opening the token)");
      return false;
    }
    stats_.sessions_opened++;
    open_++;
    if (!Login(session)) {
      Call(f()->C_CloseSession, session);
      open_--;
      return false;
    }
    idle_.push_back({session, epoch_});

    // The shortest HMAC keys the token accepts (0 when it does not say).
    CK_MECHANISM_INFO info;
    if (Call(f()->C_GetMechanismInfo, slot_, CKM_SHA256_HMAC, &info) ==
        CKR_OK) {
      min_key_sha256_ = info.ulMinKeySize;
    }
    if (Call(f()->C_GetMechanismInfo, slot_, CKM_SHA384_HMAC, &info) ==
        CKR_OK) {
      min_key_sha384_ = info.ulMinKeySize;
    }
    return Scan();
  }

  DeriveStatus DerivePsk(EVP_KDF* /*kdf*/, std::string_view key_id,
                         Version version, SecretBuffer* psk) const override {
    if (psk == nullptr) {
      ONEM2M_RAISE(ONEM2M_R_INVALID_ARGUMENT, "no output buffer for the PSK");
      return DeriveStatus::kFailed;
    }
    psk->Clear();
    std::optional<TokenKey> key = Find(key_id);
    if (!key.has_value()) {
      return DeriveStatus::kUnknownKeyId;
    }
    if (!IsSupportedVersion(version) ||
        (key->versions & VersionBit(version)) == 0) {
      return DeriveStatus::kVersionNotAllowed;
    }

    // Spec section 4. Version 1: HMAC-SHA-256(RootKey, L1 || KeyID).
    // Versions 2 and 3: SP 800-108r1 counter mode, one block (L is the
    // PRF's output length): PRF(RootKey, [1]32 || Label || 0x00 ||
    // Context || [L]32) with Label "oneM2M-PSK" and Context the KeyID.
    std::string message;
    CK_MECHANISM_TYPE mechanism = CKM_SHA256_HMAC;
    if (version == 1) {
      message.append(kPskLabelV1);
      message.append(key_id);
    } else {
      uint32_t L = version == 2 ? 256 : 384;
      mechanism = version == 2 ? CKM_SHA256_HMAC : CKM_SHA384_HMAC;
      AppendBe32(&message, 1);
      message.append(kPskLabelKbkdf);
      message.push_back('\0');
      message.append(key_id);
      AppendBe32(&message, L);
    }
    SecretBuffer out(PskLength(version, 0));
    if (!Sign(mechanism, message, &out, key_id)) {
      return DeriveStatus::kFailed;
    }
    *psk = std::move(out);
    return DeriveStatus::kOk;
  }

  bool Contains(std::string_view key_id) const override {
    return Find(key_id).has_value();
  }

  std::vector<KeyInfo> List() const override {
    std::vector<std::pair<std::string, VersionSet>> ids;
    {
      std::shared_lock<std::shared_mutex> lock(keys_mu_);
      for (const auto& [id, key] : keys_) {
        ids.emplace_back(id, key.versions);
      }
    }
    std::sort(ids.begin(), ids.end());
    std::vector<KeyInfo> out;
    for (const auto& [id, versions] : ids) {
      out.push_back(KeyInfo{id, versions, TokenFingerprint(id)});
    }
    return out;
  }

  size_t Count() const override {
    std::shared_lock<std::shared_mutex> lock(keys_mu_);
    return keys_.size();
  }

  bool Reload() override { return Scan(); }

  uint64_t Generation() const override {
    return generation_.load(std::memory_order_acquire);
  }

  std::optional<VersionSet> AllowedVersions(
      std::string_view key_id) const override {
    std::optional<TokenKey> key = Find(key_id);
    return key.has_value() ? std::optional<VersionSet>(key->versions)
                           : std::nullopt;
  }

  bool AddKey(std::string_view, SecretBuffer, VersionSet) override {
    ONEM2M_RAISE(ONEM2M_R_NOT_SUPPORTED,
                 "a PKCS#11 keystore takes keys through onem2m-psk import "
                 "or genkey --pkcs11, not add_key");
    return false;
  }

  bool RemoveKey(std::string_view) override {
    ONEM2M_RAISE(ONEM2M_R_NOT_SUPPORTED,
                 "a PKCS#11 keystore does not remove token objects; use the "
                 "token's own tools");
    return false;
  }

  Pkcs11Stats Stats() const override {
    std::lock_guard<std::mutex> lock(pool_mu_);
    return stats_;
  }

  std::string TokenFingerprint(std::string_view key_id) const override {
    std::optional<TokenKey> key = Find(key_id);
    if (!key.has_value()) {
      ONEM2M_RAISE(ONEM2M_R_UNKNOWN_KEY_ID, "KeyID %s is not on the token",
                   std::string(key_id).c_str());
      return std::string();
    }
    // HMAC-SHA-256(RootKey, "oneM2M key fingerprint"), first 8 octets.
    SecretBuffer mac(32);
    if (!Sign(CKM_SHA256_HMAC, std::string(kFingerprintLabel), &mac, key_id)) {
      return std::string();
    }
    return FormatFingerprint(mac.data());
  }

  bool Import(const std::vector<ImportEntry>& entries) override {
    // Check everything before creating anything.
    if (!Scan()) {
      return false;
    }
    std::vector<std::string> seen;
    for (const ImportEntry& e : entries) {
      if (std::optional<std::string> why = CheckKeyId(e.key_id)) {
        ONEM2M_RAISE(ONEM2M_R_INVALID_KEY_ID, "%s", why->c_str());
        return false;
      }
      if (std::optional<std::string> why = CheckRootKey(e.key->root_key)) {
        ONEM2M_RAISE(ONEM2M_R_INVALID_ROOT_KEY, "KeyID %s: %s",
                     e.key_id.c_str(), why->c_str());
        return false;
      }
      if (Contains(e.key_id) ||
          std::find(seen.begin(), seen.end(), e.key_id) != seen.end()) {
        ONEM2M_RAISE(ONEM2M_R_KEYSTORE_DUPLICATE,
                     "KeyID %s is already on the token; nothing was "
                     "imported",
                     e.key_id.c_str());
        return false;
      }
      VersionSet token_versions = VersionsFor(e.key->root_key.size());
      if (token_versions == 0) {
        ONEM2M_RAISE(ONEM2M_R_INVALID_ROOT_KEY,
                     "KeyID %s: the token computes HMAC-SHA-256 only with "
                     "keys of %zu octets or more, and this Root Key has "
                     "%zu; nothing was imported",
                     e.key_id.c_str(), min_key_sha256_, e.key->root_key.size());
        return false;
      }
      if ((e.key->versions & token_versions) != token_versions) {
        ONEM2M_RAISE(ONEM2M_R_VERSION_NOT_ALLOWED,
                     "KeyID %s has versions=%s, but the token would allow "
                     "versions %s (a token object has no versions "
                     "attribute); remove the attribute and narrow the "
                     "server's --versions instead; nothing was imported",
                     e.key_id.c_str(),
                     FormatVersionSet(e.key->versions).c_str(),
                     FormatVersionSet(token_versions).c_str());
        return false;
      }
      seen.push_back(e.key_id);
    }

    // Create them; on a failure, destroy what this call created.
    Lease lease(this);
    if (!lease.ok()) {
      return false;
    }
    std::vector<CK_OBJECT_HANDLE> created;
    for (const ImportEntry& e : entries) {
      CK_OBJECT_HANDLE handle = 0;
      CK_RV rv =
          CreateKeyObject(lease.session(), e.key_id, e.key->root_key, &handle);
      if (rv != CKR_OK) {
        for (CK_OBJECT_HANDLE h : created) {
          Call(f()->C_DestroyObject, lease.session(), h);
        }
        lease.Fail(rv);
        RAISE_CKR("C_CreateObject", rv, " (nothing was imported)");
        return false;
      }
      created.push_back(handle);
    }
    return Scan();
  }

 private:
  // PooledSession is a session and the pool epoch it was opened in.
  struct PooledSession {
    CK_SESSION_HANDLE handle;
    uint64_t epoch;
  };

  // Lease borrows a session from the pool for one operation and gives it
  // back (or drops it after Fail with a lost-session code).
  class Lease {
   public:
    explicit Lease(const TokenKeystore* store) : store_(store) {
      ok_ = store_->Acquire(&session_);
    }
    ~Lease() {
      if (ok_) {
        store_->Release(session_, rv_);
      }
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    bool ok() const { return ok_; }
    CK_SESSION_HANDLE session() const { return session_.handle; }
    void Fail(CK_RV rv) { rv_ = rv; }

   private:
    const TokenKeystore* store_;
    PooledSession session_{0, 0};
    bool ok_ = false;
    CK_RV rv_ = CKR_OK;
  };

  CK_FUNCTION_LIST* f() const { return module_->f(); }

  static void AppendBe32(std::string* out, uint32_t v) {
    out->push_back(static_cast<char>(v >> 24));
    out->push_back(static_cast<char>(v >> 16));
    out->push_back(static_cast<char>(v >> 8));
    out->push_back(static_cast<char>(v));
  }

  std::optional<TokenKey> Find(std::string_view key_id) const {
    std::shared_lock<std::shared_mutex> lock(keys_mu_);
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  // VersionsFor returns the versions the token can derive with a Root Key
  // of |length| octets: a token may refuse HMAC keys shorter than its
  // mechanism's minimum (SoftHSM2: the hash length).
  VersionSet VersionsFor(size_t length) const {
    VersionSet v = 0;
    if (length >= min_key_sha256_) {
      v |= VersionBit(1) | VersionBit(2);
    }
    if (length >= min_key_sha384_) {
      v |= VersionBit(3);
    }
    return v;
  }

  // Login logs the application in (once for every session). A refused
  // PIN is remembered and never tried again.
  bool Login(CK_SESSION_HANDLE session) const {
    std::lock_guard<std::mutex> lock(login_mu_);
    if (login_refused_ != CKR_OK) {
      ONEM2M_RAISE(ONEM2M_R_PKCS11_LOGIN,
                   "PKCS#11 login was refused earlier (%s); not retrying, "
                   "so that the token does not lock: fix the PIN and "
                   "restart",
                   Pkcs11ReturnName(login_refused_).c_str());
      return false;
    }
    CK_RV rv =
        Call(f()->C_Login, session, CKU_USER,
             has_pin_ ? const_cast<unsigned char*>(pin_.data()) : nullptr,
             has_pin_ ? pin_.size() : 0);
    {
      std::lock_guard<std::mutex> pool_lock(pool_mu_);
      stats_.logins++;
    }
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
      return true;
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
        rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
        rv == CKR_PIN_EXPIRED || rv == CKR_ARGUMENTS_BAD) {
      login_refused_ = rv;
    }
    ONEM2M_RAISE(ONEM2M_R_PKCS11_LOGIN,
                 "PKCS#11 login failed: %s (check the PIN %s)",
                 Pkcs11ReturnName(rv).c_str(), PinOrigin().c_str());
    return false;
  }

  std::string PinOrigin() const {
    if (!uri_.pin_source.empty()) {
      return "file " + uri_.pin_source;
    }
    if (uri_.pin_value.has_value()) {
      return "in the URI's pin-value";
    }
    return std::string("in ") + kPkcs11PinEnv;
  }

  // Acquire lends out an idle session, opens a new one while fewer than
  // max_sessions_ exist, or waits for one to come back.
  bool Acquire(PooledSession* out) const {
    bool relogin = false;
    uint64_t epoch = 0;
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      pool_cv_.wait(lock,
                    [this] { return !idle_.empty() || open_ < max_sessions_; });
      if (!idle_.empty()) {
        *out = idle_.back();
        idle_.pop_back();
        in_use_++;
        stats_.peak_in_use = std::max(stats_.peak_in_use, in_use_);
        return true;
      }
      open_++;
      in_use_++;
      stats_.peak_in_use = std::max(stats_.peak_in_use, in_use_);
      relogin = need_login_;
      need_login_ = false;
      epoch = epoch_;
    }

    // A new session, outside the lock: C_OpenSession may be slow.
    CK_SESSION_HANDLE session = 0;
    CK_RV rv =
        Call(f()->C_OpenSession, slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION,
             nullptr, nullptr, &session);
    // After a new login the token may hand out new object handles
    // (SoftHSM2 forgets those of private objects when it logs out).
    if (rv == CKR_OK && relogin &&
        (!Login(session) || !ScanWith(session, nullptr))) {
      Call(f()->C_CloseSession, session);
      GiveBackSlot(true);
      return false;
    }
    if (rv != CKR_OK) {
      GiveBackSlot(relogin);
      RAISE_CKR("C_OpenSession", rv, "");
      return false;
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    stats_.sessions_opened++;
    *out = PooledSession{session, epoch};
    return true;
  }

  // GiveBackSlot undoes the count of a session that could not be opened;
  // |relogin| keeps the need for a login for the next attempt.
  void GiveBackSlot(bool relogin) const {
    std::lock_guard<std::mutex> lock(pool_mu_);
    open_--;
    in_use_--;
    need_login_ = need_login_ || relogin;
    pool_cv_.notify_one();
  }

  // Release returns |s| to the pool, or closes it when |rv| says it is
  // lost; a token-wide loss also closes the idle sessions.
  void Release(const PooledSession& s, CK_RV rv) const {
    std::vector<CK_SESSION_HANDLE> to_close;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      in_use_--;
      if (IsTokenWide(rv)) {
        epoch_++;
        for (const PooledSession& idle : idle_) {
          to_close.push_back(idle.handle);
        }
        open_ -= idle_.size();
        idle_.clear();
        need_login_ = true;
      }
      if (IsSessionLost(rv) || s.epoch != epoch_) {
        to_close.push_back(s.handle);
        open_--;
      } else {
        idle_.push_back(s);
      }
      pool_cv_.notify_all();
    }
    for (CK_SESSION_HANDLE h : to_close) {
      Call(f()->C_CloseSession, h);
    }
  }

  // Sign computes one HMAC block with the token key |key_id| into |out|
  // (whose size is the expected MAC length).
  bool Sign(CK_MECHANISM_TYPE mechanism, const std::string& message,
            SecretBuffer* out, std::string_view key_id) const {
    Lease lease(this);
    if (!lease.ok()) {
      return false;
    }

    // The handle after the lease: a new session may have re-scanned them.
    std::optional<TokenKey> found = Find(key_id);
    if (!found.has_value()) {
      ONEM2M_RAISE(ONEM2M_R_UNKNOWN_KEY_ID,
                   "KeyID %s is no longer on the token",
                   std::string(key_id).c_str());
      return false;
    }
    CK_OBJECT_HANDLE key = found->handle;
    CK_MECHANISM mech = {mechanism, nullptr, 0};
    CK_RV rv = Call(f()->C_SignInit, lease.session(), &mech, key);
    const char* function = "C_SignInit";
    CK_ULONG len = out->size();
    if (rv == CKR_OK) {
      function = "C_Sign";
      rv = Call(
          f()->C_Sign, lease.session(),
          reinterpret_cast<unsigned char*>(const_cast<char*>(message.data())),
          message.size(), out->data(), &len);
    }
    if (rv == CKR_OK && len != out->size()) {
      ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                   "PKCS#11 C_Sign gave %lu octets for KeyID %s, not %zu",
                   static_cast<unsigned long>(len), std::string(key_id).c_str(),
                   out->size());
      return false;
    }
    if (rv != CKR_OK) {
      lease.Fail(rv);
      std::string what = " (KeyID " + std::string(key_id) + ")";
      RAISE_CKR(function, rv, what.c_str());
      return false;
    }
    return true;
  }

  CK_RV CreateKeyObject(CK_SESSION_HANDLE session, const std::string& key_id,
                        const SecretBuffer& root_key,
                        CK_OBJECT_HANDLE* handle) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    CK_BBOOL no = CK_FALSE;
    std::string id = key_id;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &no, sizeof(no)},
        {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_LABEL, id.data(), id.size()},
        {CKA_ID, id.data(), id.size()},
        {CKA_VALUE, const_cast<unsigned char*>(root_key.data()),
         root_key.size()},
    };
    return Call(f()->C_CreateObject, session, tmpl,
                sizeof(tmpl) / sizeof(tmpl[0]), handle);
  }

  // GetText reads a variable-length attribute as text.
  CK_RV GetText(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                CK_ATTRIBUTE_TYPE type, std::string* out) const {
    CK_ATTRIBUTE a = {type, nullptr, 0};
    CK_RV rv = Call(f()->C_GetAttributeValue, session, object, &a, 1);
    if (rv != CKR_OK) {
      return rv;
    }
    out->assign(a.ulValueLen, '\0');
    a.pValue = out->data();
    return Call(f()->C_GetAttributeValue, session, object, &a, 1);
  }

  // Scan finds the Root Key objects (every secret key, or the one object=
  // or id= names) and replaces the KeyID table.
  bool Scan() {
    Lease lease(this);
    if (!lease.ok()) {
      return false;
    }
    CK_RV rv = CKR_OK;
    if (!ScanWith(lease.session(), &rv)) {
      lease.Fail(rv);  // CKR_OK for a refusal that is not the token's
      return false;
    }
    return true;
  }

  // ScanWith does Scan's work on |session|; |failed_rv|, when given, gets
  // the return value of a PKCS#11 call that failed.
  bool ScanWith(CK_SESSION_HANDLE session, CK_RV* failed_rv) const {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof(cls)}};
    std::string label = uri_.object.value_or("");
    std::string id = uri_.id.value_or("");
    if (uri_.object.has_value()) {
      tmpl.push_back({CKA_LABEL, label.data(), label.size()});
    }
    if (uri_.id.has_value()) {
      tmpl.push_back({CKA_ID, id.data(), id.size()});
    }
    CK_RV rv = Call(f()->C_FindObjectsInit, session, tmpl.data(), tmpl.size());
    if (rv != CKR_OK) {
      if (failed_rv != nullptr) {
        *failed_rv = rv;
      }
      RAISE_CKR("C_FindObjectsInit", rv, "");
      return false;
    }
    std::vector<CK_OBJECT_HANDLE> found;
    for (;;) {
      CK_OBJECT_HANDLE batch[64];
      CK_ULONG n = 0;
      rv = Call(f()->C_FindObjects, session, batch, 64, &n);
      if (rv != CKR_OK || n == 0) {
        break;
      }
      found.insert(found.end(), batch, batch + n);
    }
    Call(f()->C_FindObjectsFinal, session);
    if (rv != CKR_OK) {
      if (failed_rv != nullptr) {
        *failed_rv = rv;
      }
      RAISE_CKR("C_FindObjects", rv, "");
      return false;
    }

    // KeyID: the label, or CKA_ID when the label is not a KeyID.
    std::unordered_map<std::string, TokenKey> keys;
    for (CK_OBJECT_HANDLE object : found) {
      std::string key_id;
      rv = GetText(session, object, CKA_LABEL, &key_id);
      if (rv != CKR_OK || CheckKeyId(key_id).has_value()) {
        rv = GetText(session, object, CKA_ID, &key_id);
        if (rv != CKR_OK || CheckKeyId(key_id).has_value()) {
          continue;  // not one of ours: no KeyID
        }
      }
      CK_BBOOL sensitive = CK_FALSE;
      CK_BBOOL extractable = CK_TRUE;
      CK_ULONG length = 0;
      CK_ATTRIBUTE flags[] = {
          {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
          {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
          {CKA_VALUE_LEN, &length, sizeof(length)},
      };
      rv = Call(f()->C_GetAttributeValue, session, object, flags, 3);
      if (rv != CKR_OK || sensitive != CK_TRUE || extractable != CK_FALSE) {
        ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                     "token key %s is not sensitive and non-extractable; a "
                     "Root Key must never leave the token (import it with "
                     "onem2m-psk import)",
                     key_id.c_str());
        return false;
      }
      if (!keys.emplace(key_id, TokenKey{object, VersionsFor(length)}).second) {
        ONEM2M_RAISE(ONEM2M_R_KEYSTORE_DUPLICATE,
                     "two secret key objects on the token have KeyID %s",
                     key_id.c_str());
        return false;
      }
    }
    if (uri_.object.has_value() && keys.empty()) {
      ONEM2M_RAISE(ONEM2M_R_UNKNOWN_KEY_ID,
                   "the token has no secret key object labelled %s",
                   label.c_str());
      return false;
    }

    std::unique_lock<std::shared_mutex> lock(keys_mu_);
    keys_.swap(keys);
    generation_.fetch_add(1, std::memory_order_release);
    return true;
  }

  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_;
  Pkcs11Uri uri_;
  SecretBuffer pin_;
  bool has_pin_;
  size_t max_sessions_;
  size_t min_key_sha256_ = 0;
  size_t min_key_sha384_ = 0;

  mutable std::mutex login_mu_;
  mutable CK_RV login_refused_ = CKR_OK;

  mutable std::mutex pool_mu_;
  mutable std::condition_variable pool_cv_;
  mutable std::vector<PooledSession> idle_;
  mutable size_t open_ = 0;
  mutable size_t in_use_ = 0;
  mutable bool need_login_ = false;
  mutable uint64_t epoch_ = 0;
  mutable Pkcs11Stats stats_;

  mutable std::shared_mutex keys_mu_;
  mutable std::unordered_map<std::string, TokenKey> keys_;
  mutable std::atomic<uint64_t> generation_{0};
};

// FindSlot returns the one slot whose token matches |uri|'s token
// attributes.
// TODO(#6): the slot is found once, at open. A hardware token pulled out
// and plugged back may come back in another slot; the store then fails
// every derivation until the server restarts. Finding the slot again
// (by the URI's token attributes) after CKR_TOKEN_NOT_PRESENT would fix it.
bool FindSlot(CK_FUNCTION_LIST* f, const Pkcs11Uri& uri, CK_SLOT_ID* slot) {
  CK_ULONG count = 0;
  CK_RV rv = Call(f->C_GetSlotList, CK_TRUE, nullptr, &count);
  std::vector<CK_SLOT_ID> slots(count);
  if (rv == CKR_OK && count > 0) {
    rv = Call(f->C_GetSlotList, CK_TRUE, slots.data(), &count);
    slots.resize(count);
  }
  if (rv != CKR_OK) {
    RAISE_CKR("C_GetSlotList", rv, "");
    return false;
  }
  std::vector<CK_SLOT_ID> matches;
  std::string present;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (Call(f->C_GetTokenInfo, s, &info) != CKR_OK ||
        (info.flags & CKF_TOKEN_INITIALIZED) == 0) {
      continue;
    }
    std::string label = Trim(info.label, sizeof(info.label));
    present += (present.empty() ? "" : ", ") + ("'" + label + "'");
    if ((!uri.token.empty() && label != uri.token) ||
        (!uri.manufacturer.empty() &&
         Trim(info.manufacturerID, sizeof(info.manufacturerID)) !=
             uri.manufacturer) ||
        (!uri.serial.empty() &&
         Trim(info.serialNumber, sizeof(info.serialNumber)) != uri.serial) ||
        (!uri.model.empty() &&
         Trim(info.model, sizeof(info.model)) != uri.model) ||
        (uri.slot_id.has_value() && *uri.slot_id != s)) {
      continue;
    }
    matches.push_back(s);
  }
  if (matches.size() != 1) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_ERROR,
                 "%s PKCS#11 token matches the URI (token=%s); tokens "
                 "present: %s",
                 matches.empty() ? "no" : "more than one",
                 uri.token.empty() ? "any" : uri.token.c_str(),
                 present.empty() ? "none" : present.c_str());
    return false;
  }
  *slot = matches[0];
  return true;
}

}  // namespace

std::string Pkcs11ReturnName(unsigned long rv) {
  static const std::pair<CK_RV, const char*> kNames[] = {
      {CKR_OK, "CKR_OK"},
      {CKR_CANCEL, "CKR_CANCEL"},
      {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
      {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
      {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
      {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
      {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
      {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
      {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
      {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
      {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
      {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
      {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
      {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
      {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
      {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
      {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
      {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
      {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
      {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
      {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
      {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
      {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
      {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
      {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
      {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
      {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
      {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
      {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
      {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
      {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
      {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
      {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
      {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
      {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
      {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
      {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
      {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
      {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
      {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
      {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
      {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
      {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
  };
  for (const auto& [code, name] : kNames) {
    if (code == rv) {
      return name;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "CKR_0x%08lx", rv);
  return buf;
}

std::unique_ptr<Pkcs11Keystore> MakePkcs11Keystore(
    const std::string& text, const Pkcs11Options& options) {
  Pkcs11Uri uri;
  std::string why;
  if (!ParsePkcs11Uri(text, &uri, &why)) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_URI, "%s", why.c_str());
    return nullptr;
  }
  if (uri.pin_value.has_value() && !options.allow_pin_value) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_URI,
                 "PKCS#11 URI has pin-value, but a command line is visible "
                 "to every user (ps); give pin-source=FILE or set %s",
                 kPkcs11PinEnv);
    return nullptr;
  }

  // The module: the URI's, else the environment's.
  std::string module_path = uri.module_path;
  if (module_path.empty()) {
    const char* env = std::getenv(kPkcs11ModuleEnv);
    module_path = env != nullptr ? env : "";
  }
  if (module_path.empty()) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_URI,
                 "no PKCS#11 module: add module-path=FILE to the URI or set "
                 "%s",
                 kPkcs11ModuleEnv);
    return nullptr;
  }

  // The PIN: pin-source, pin-value, or the environment.
  SecretBuffer pin;
  bool has_pin = true;
  if (!uri.pin_source.empty()) {
    std::optional<std::string> path = PinSourcePath(uri.pin_source, &why);
    if (!path.has_value()) {
      ONEM2M_RAISE(ONEM2M_R_PKCS11_URI, "%s", why.c_str());
      return nullptr;
    }
    if (!ReadPinFile(*path, &pin)) {
      return nullptr;
    }
  } else if (uri.pin_value.has_value()) {
    pin = SecretBuffer(
        reinterpret_cast<const unsigned char*>(uri.pin_value->data()),
        uri.pin_value->size());
    OPENSSL_cleanse(uri.pin_value->data(), uri.pin_value->size());
    uri.pin_value->clear();
  } else if (const char* env = std::getenv(kPkcs11PinEnv)) {
    pin = SecretBuffer(reinterpret_cast<const unsigned char*>(env),
                       std::strlen(env));
  } else {
    has_pin = false;  // a protected authentication path, or no login
  }

  std::shared_ptr<Module> module = Module::Get(module_path);
  if (module == nullptr) {
    return nullptr;
  }
  CK_SLOT_ID slot = 0;
  if (!FindSlot(module->f(), uri, &slot)) {
    return nullptr;
  }
  CK_TOKEN_INFO info;
  if (!has_pin && Call(module->f()->C_GetTokenInfo, slot, &info) == CKR_OK &&
      (info.flags & CKF_PROTECTED_AUTHENTICATION_PATH) == 0) {
    ONEM2M_RAISE(ONEM2M_R_PKCS11_LOGIN,
                 "no PIN for PKCS#11 token %s: add pin-source=FILE to the "
                 "URI or set %s",
                 Trim(info.label, sizeof(info.label)).c_str(), kPkcs11PinEnv);
    return nullptr;
  }
  auto store = std::make_unique<TokenKeystore>(std::move(module), slot,
                                               std::move(uri), std::move(pin),
                                               has_pin, options.max_sessions);
  if (!store->Open()) {
    return nullptr;
  }
  return store;
}

}  // namespace onem2m
