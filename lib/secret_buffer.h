// SecretBuffer: the one container for key material in this project.
//
// Root Keys, PSKs, premaster secrets and Master Keys live only in a
// SecretBuffer. It wipes its bytes with OPENSSL_cleanse when it is destroyed,
// resized or overwritten, it cannot be copied by accident (copies are
// explicit through Clone), and it compares in constant time.

#ifndef ONEM2M_LIB_SECRET_BUFFER_H_
#define ONEM2M_LIB_SECRET_BUFFER_H_

#include <openssl/crypto.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <utility>

namespace onem2m {

class SecretBuffer {
 public:
  SecretBuffer() = default;

  // SecretBuffer(size) holds |size| zero octets. Throws std::bad_alloc when
  // memory runs out; callers at C boundaries catch it.
  explicit SecretBuffer(size_t size) { Resize(size); }

  SecretBuffer(const unsigned char* data, size_t size) {
    Resize(size);
    if (size != 0) {
      std::memcpy(data_, data, size);
    }
  }

  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;

  SecretBuffer(SecretBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  SecretBuffer& operator=(SecretBuffer&& other) noexcept {
    if (this != &other) {
      Clear();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  ~SecretBuffer() { Clear(); }

  // Clone returns an explicit copy; the only way to duplicate a secret.
  SecretBuffer Clone() const { return SecretBuffer(data_, size_); }

  // Resize wipes the old contents and holds |size| zero octets.
  void Resize(size_t size) {
    Clear();
    if (size == 0) {
      return;
    }
    data_ = static_cast<unsigned char*>(OPENSSL_zalloc(size));
    if (data_ == nullptr) {
      throw std::bad_alloc();
    }
    size_ = size;
  }

  // Assign replaces the contents with a copy of |data|.
  void Assign(const unsigned char* data, size_t size) {
    Resize(size);
    if (size != 0) {
      std::memcpy(data_, data, size);
    }
  }

  // Clear wipes and releases the bytes; the buffer becomes empty.
  void Clear() noexcept {
    if (data_ != nullptr) {
      OPENSSL_clear_free(data_, size_);
    }
    data_ = nullptr;
    size_ = 0;
  }

  // Equals compares contents in constant time (for equal lengths).
  bool Equals(const SecretBuffer& other) const {
    return size_ == other.size_ &&
           (size_ == 0 || CRYPTO_memcmp(data_, other.data_, size_) == 0);
  }

  // IsAllZero tells, in constant time, whether every octet is zero.
  bool IsAllZero() const {
    unsigned char acc = 0;
    for (size_t i = 0; i < size_; i++) {
      acc |= data_[i];
    }
    return acc == 0;
  }

  unsigned char* data() { return data_; }
  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace onem2m

#endif  // ONEM2M_LIB_SECRET_BUFFER_H_
