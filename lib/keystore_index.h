// KeyIndex: the keys of a table keystore, packed so that a server holds a
// fleet's worth of them in little memory and finds one in two cache misses.
//
// Every key is one record in a single arena of memory that is wiped when it
// is freed or moved:
//
//   versions (1 octet) | Root Key length (1) | KeyID length (1) |
//   Root Key | KeyID
//
// An open-addressing index (linear probing over a power of two of 64-bit
// slots, at most 70% of them used or removed) maps the hash of a KeyID to
// its record: a slot holds the top 16 bits of the hash, which let a probe
// skip nearly every other record unread, and the record's offset plus one.
// A record that fits in a cache line never straddles two (the arena is
// aligned and a record moves to the next line when it would), so a lookup
// reads one slot and one line. A removed key's record is wiped and its
// slot marked removed; the arena is compacted once most of it is removed.
//
// Measured with bench/ (docs/performance.md): std::unordered_map with
// std::string KeyIDs and heap Root Keys took about 180 octets and five
// dependent cache misses per key at 10^6 keys (bucket, previous node, node,
// KeyID, Root Key); this takes about 80 octets and two.
//
// A KeyIndex is not synchronised: TableKeystore guards it with its lock.

#ifndef ONEM2M_LIB_KEYSTORE_INDEX_H_
#define ONEM2M_LIB_KEYSTORE_INDEX_H_

#include <openssl/crypto.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol.h"
#include "secret_buffer.h"

namespace onem2m {

// Pages is a block of memory for a KeyIndex. A large one (2 MiB or more)
// comes from mmap with transparent huge pages asked for, so that a lookup
// among a million keys does not also miss the TLB twice, and is left out of
// core dumps, as it may hold Root Keys; a small one comes from the heap,
// aligned to a cache line. The first wipe() octets are wiped on release.
// Untouched pages of a large block are never resident.
class Pages {
 public:
  Pages() = default;
  // Pages(size) holds |size| zero octets. Throws std::bad_alloc.
  explicit Pages(size_t size) : size_(size) {
    if (size == 0) {
      return;
    }
    if (size >= kLarge) {
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        throw std::bad_alloc();
      }
      madvise(p, size, MADV_HUGEPAGE);  // a hint: failure changes nothing
      madvise(p, size, MADV_DONTDUMP);
      data_ = static_cast<unsigned char*>(p);
      mapped_ = true;
      return;
    }
    void* p = nullptr;
    if (posix_memalign(&p, 64, size) != 0) {
      throw std::bad_alloc();
    }
    std::memset(p, 0, size);
    data_ = static_cast<unsigned char*>(p);
  }
  ~Pages() { Release(); }
  Pages(Pages&& other) noexcept { Swap(other); }
  Pages& operator=(Pages&& other) noexcept {
    Pages taken(std::move(other));
    Swap(taken);
    return *this;
  }
  Pages(const Pages&) = delete;
  Pages& operator=(const Pages&) = delete;

  void Swap(Pages& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(wipe_, other.wipe_);
    std::swap(mapped_, other.mapped_);
  }

  unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  // set_wipe says how many leading octets hold data to wipe on release.
  void set_wipe(size_t octets) { wipe_ = octets; }

 private:
  static constexpr size_t kLarge = size_t{2} << 20;

  void Release() noexcept {
    if (data_ == nullptr) {
      return;
    }
    OPENSSL_cleanse(data_, wipe_);
    if (mapped_) {
      munmap(data_, size_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    size_ = 0;
    wipe_ = 0;
    mapped_ = false;
  }

  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t wipe_ = 0;
  bool mapped_ = false;
};

class KeyIndex {
 public:
  // Key is a view of one record, valid until the index next changes.
  struct Key {
    std::string_view key_id;
    const unsigned char* root_key = nullptr;
    size_t root_key_size = 0;
    VersionSet versions = 0;
  };

  KeyIndex() = default;
  KeyIndex(KeyIndex&& other) noexcept { Swap(other); }
  KeyIndex& operator=(KeyIndex&& other) noexcept {
    KeyIndex taken(std::move(other));
    Swap(taken);
    return *this;
  }
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;

  void Swap(KeyIndex& other) noexcept {
    arena_.Swap(other.arena_);
    std::swap(used_, other.used_);
    std::swap(garbage_, other.garbage_);
    slots_.Swap(other.slots_);
    std::swap(slot_count_, other.slot_count_);
    std::swap(live_, other.live_);
    std::swap(removed_, other.removed_);
  }

  // Reserve makes room for |keys| more keys whose records take |octets|
  // octets in all (an upper bound will do: the arena's untouched pages are
  // never resident). Throws std::bad_alloc.
  void Reserve(size_t keys, size_t octets) {
    if (!FitsSlots(live_ + removed_ + keys)) {
      Rehash(live_ + keys);
    }
    if (used_ + octets > arena_.size()) {
      GrowArena(used_ + octets);
    }
  }

  // Find returns the key of |key_id|, or std::nullopt.
  std::optional<Key> Find(std::string_view key_id) const {
    size_t slot = 0;
    if (!FindSlot(key_id, Hash(key_id), &slot)) {
      return std::nullopt;
    }
    return View(Record(Slots()[slot]));
  }

  // Insert adds |key_id| with a copy of |root_key| and |versions|, or
  // returns false, changing nothing, when |key_id| is present. Throws
  // std::bad_alloc, or std::length_error for a KeyID or Root Key over 255
  // octets (the keystores allow 120 and 64).
  bool Insert(std::string_view key_id, const SecretBuffer& root_key,
              VersionSet versions) {
    if (key_id.size() > 255 || root_key.size() > 255) {
      throw std::length_error("KeyID or Root Key too long for KeyIndex");
    }
    uint64_t hash = Hash(key_id);
    size_t slot = 0;
    if (FindSlot(key_id, hash, &slot)) {
      return false;
    }
    if (!FitsSlots(live_ + removed_ + 1)) {
      Rehash(live_ + 1);
    }
    size_t size = kHeader + root_key.size() + key_id.size();
    size_t at = used_;
    if (size <= kLine && at % kLine + size > kLine) {
      at += kLine - at % kLine;
    }
    if (at + size > arena_.size()) {
      GrowArena(std::max(at + size, arena_.size() + arena_.size() / 2));
    }

    // The record, then its slot: the first empty or removed one on the
    // probe sequence.
    unsigned char* record = arena_.data() + at;
    record[0] = static_cast<unsigned char>(versions & kAllVersions);
    record[1] = static_cast<unsigned char>(root_key.size());
    record[2] = static_cast<unsigned char>(key_id.size());
    std::memcpy(record + kHeader, root_key.data(), root_key.size());
    std::memcpy(record + kHeader + root_key.size(), key_id.data(),
                key_id.size());
    uint64_t* slots = Slots();
    size_t mask = slot_count_ - 1;
    size_t i = static_cast<size_t>(hash) & mask;
    while (slots[i] != kEmpty && slots[i] != kRemoved) {
      i = (i + 1) & mask;
    }
    if (slots[i] == kRemoved) {
      removed_--;
    }
    slots[i] = ((hash >> 48) << 48) | (at + 1);
    used_ = at + size;
    arena_.set_wipe(used_);
    live_++;
    return true;
  }

  // Erase wipes and removes |key_id|'s record; false when it is absent.
  bool Erase(std::string_view key_id) {
    size_t slot = 0;
    if (!FindSlot(key_id, Hash(key_id), &slot)) {
      return false;
    }
    unsigned char* record = Record(Slots()[slot]);
    size_t size = RecordSize(record);
    OPENSSL_cleanse(record, size);
    Slots()[slot] = kRemoved;
    live_--;
    removed_++;
    garbage_ += size;
    if (garbage_ > 4096 && garbage_ > used_ / 2) {
      try {
        Compact();
      } catch (const std::exception&) {
        // Out of memory: the index stays as it is, uncompacted.
      }
    }
    return true;
  }

  size_t size() const { return live_; }

  // ForEach calls |fn| with every key, in no particular order.
  void ForEach(const std::function<void(const Key&)>& fn) const {
    const uint64_t* slots = Slots();
    for (size_t i = 0; i < slot_count_; i++) {
      if (slots[i] != kEmpty && slots[i] != kRemoved) {
        fn(View(Record(slots[i])));
      }
    }
  }

 private:
  static constexpr size_t kHeader = 3;
  static constexpr size_t kLine = 64;  // a cache line
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kRemoved = ~uint64_t{0};
  static constexpr uint64_t kOffsetMask = (uint64_t{1} << 48) - 1;

  static uint64_t Hash(std::string_view key_id) {
    return std::hash<std::string_view>()(key_id);
  }

  static size_t RecordSize(const unsigned char* record) {
    return kHeader + record[1] + record[2];
  }

  unsigned char* Record(uint64_t slot) const {
    return arena_.data() + ((slot & kOffsetMask) - 1);
  }

  uint64_t* Slots() const { return reinterpret_cast<uint64_t*>(slots_.data()); }

  static Key View(const unsigned char* record) {
    Key key;
    key.versions = record[0];
    key.root_key = record + kHeader;
    key.root_key_size = record[1];
    key.key_id = std::string_view(
        reinterpret_cast<const char*>(record + kHeader + record[1]), record[2]);
    return key;
  }

  // FindSlot sets |*slot| to the slot of |key_id| and returns true, or
  // returns false when it is absent.
  bool FindSlot(std::string_view key_id, uint64_t hash, size_t* slot) const {
    if (slot_count_ == 0) {
      return false;
    }
    const uint64_t* slots = Slots();
    size_t mask = slot_count_ - 1;
    uint64_t tag = hash >> 48;
    for (size_t i = static_cast<size_t>(hash) & mask;; i = (i + 1) & mask) {
      uint64_t s = slots[i];
      if (s == kEmpty) {
        return false;
      }
      if (s == kRemoved || (s >> 48) != tag) {
        continue;
      }
      const unsigned char* record = Record(s);
      if (record[2] == key_id.size() &&
          std::memcmp(record + kHeader + record[1], key_id.data(),
                      key_id.size()) == 0) {
        *slot = i;
        return true;
      }
    }
  }

  // FitsSlots tells whether |used| used or removed slots keep the index at
  // most 70% full.
  bool FitsSlots(size_t used) const { return used * 10 <= slot_count_ * 7; }

  // Rehash rebuilds the slots for |keys| keys, dropping removed ones.
  void Rehash(size_t keys) {
    size_t capacity = 16;
    while (keys * 10 > capacity * 7) {
      capacity *= 2;
    }
    Pages pages(capacity * sizeof(uint64_t));  // zero: every slot kEmpty
    auto* slots = reinterpret_cast<uint64_t*>(pages.data());
    size_t mask = capacity - 1;
    const uint64_t* old = Slots();
    for (size_t k = 0; k < slot_count_; k++) {
      uint64_t s = old[k];
      if (s == kEmpty || s == kRemoved) {
        continue;
      }
      uint64_t hash = Hash(View(Record(s)).key_id);
      size_t i = static_cast<size_t>(hash) & mask;
      while (slots[i] != kEmpty) {
        i = (i + 1) & mask;
      }
      slots[i] = s;
    }
    slots_.Swap(pages);
    slot_count_ = capacity;
    removed_ = 0;
  }

  // GrowArena moves the records to an arena of |capacity| octets, wiping
  // the old one.
  void GrowArena(size_t capacity) {
    if (capacity > kOffsetMask / 2) {
      throw std::bad_alloc();
    }
    Pages arena(capacity);
    if (used_ != 0) {
      std::memcpy(arena.data(), arena_.data(), used_);
    }
    arena.set_wipe(used_);
    arena_.Swap(arena);
  }

  // Compact rebuilds the index from its live records only.
  void Compact() {
    KeyIndex fresh;
    fresh.Reserve(live_, used_ - garbage_);
    ForEach([&fresh](const Key& key) { fresh.InsertView(key); });
    Swap(fresh);
  }

  void InsertView(const Key& key) {
    Insert(key.key_id, SecretBuffer(key.root_key, key.root_key_size),
           key.versions);
  }

  Pages arena_;         // the records
  size_t used_ = 0;     // octets of records and padding, removed ones too
  size_t garbage_ = 0;  // octets of removed records
  Pages slots_;         // slot_count_ 64-bit slots
  size_t slot_count_ = 0;
  size_t live_ = 0;
  size_t removed_ = 0;
};

}  // namespace onem2m

#endif  // ONEM2M_LIB_KEYSTORE_INDEX_H_
