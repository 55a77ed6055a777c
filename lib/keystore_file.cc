// The keystore file of spec section 8 and the keystore that reads it.
//
//   KeyID:RootKey[:attributes]      one key a line
//   # comment                       blank lines are ignored too
//
// A file is read whole and parsed whole: one bad line fails the load (or the
// reload, which then keeps the keys it had). Messages name the file and line
// and never quote the Root Key text.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "errors.h"
#include "keystore.h"
#include "keystore_table.h"

namespace onem2m {

namespace {

constexpr std::string_view kBase64Prefix = "base64:";
constexpr std::string_view kVersionsAttribute = "versions";

// LineError is why a line was refused: a reason code of onem2m/err.h and a
// message without the file and line (the caller adds them).
struct LineError {
  int reason;
  std::string message;
};

// WhitespaceName names a character that has no place in a key line, or
// returns nullptr for any other character.
const char* WhitespaceName(char c) {
  switch (c) {
    case ' ':
      return "a space";
    case '\t':
      return "a tab";
    case '\r':
      return "a carriage return";
    case '\v':
    case '\f':
      return "a whitespace character";
    default:
      return nullptr;
  }
}

// FindWhitespace returns the position of the first whitespace character of
// |text|, or npos.
size_t FindWhitespace(std::string_view text) {
  for (size_t i = 0; i < text.size(); i++) {
    if (WhitespaceName(text[i]) != nullptr) {
      return i;
    }
  }
  return std::string_view::npos;
}

// ParseAttributes parses "name=value;..." (only versions= is known) into
// |entry|. Names and values are not quoted: a mistyped line may hold key
// text there.
std::optional<LineError> ParseAttributes(std::string_view text,
                                         RootKeyEntry* entry) {
  if (text.empty()) {
    return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                     "nothing follows the second ':'; remove it, or add "
                     "attributes such as versions=2,3"};
  }

  bool seen_versions = false;
  size_t index = 0;
  for (;;) {
    index++;
    size_t end = text.find(';');
    std::string_view item = text.substr(0, end);
    std::string which = "attribute " + std::to_string(index);

    // Each item is name=value with a known name, once.
    if (item.empty()) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which +
                           " is empty; separate name=value pairs with "
                           "one ';' and end without one"};
    }
    size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which +
                           " has no '='; write name=value, e.g. "
                           "versions=2,3"};
    }
    std::string_view name = item.substr(0, equals);
    if (name.empty()) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which +
                           " has an empty name; write name=value, e.g. "
                           "versions=2,3"};
    }
    if (name != kVersionsAttribute) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which +
                           " has an unknown name; the only attribute "
                           "known is versions (e.g. versions=2,3)"};
    }
    if (seen_versions) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which + " repeats versions=; give it once"};
    }
    seen_versions = true;
    std::optional<VersionSet> versions =
        ParseVersionList(item.substr(equals + 1));
    if (!versions.has_value()) {
      return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                       which +
                           ": versions= needs KDF versions 0 to 3 "
                           "separated by ',' without repeats or "
                           "spaces, e.g. versions=2,3"};
    }
    entry->versions = *versions;

    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    text = text.substr(end + 1);
  }
}

// ParseKeyLine parses one key line (no comment, no blank, CR removed) into
// |key_id| and |entry|.
std::optional<LineError> ParseKeyLine(std::string_view line,
                                      std::string_view* key_id,
                                      RootKeyEntry* entry) {
  if (const char* what = WhitespaceName(line[0])) {
    return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                     std::string("line starts with ") + what +
                         "; remove it (a line is empty, a # comment, or "
                         "KeyID:RootKey[:attributes] with no spaces)"};
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                     "no ':' in the line; write KeyID:RootKey[:attributes]"};
  }

  // The KeyID (spec section 2).
  std::string_view id = line.substr(0, colon);
  size_t space = FindWhitespace(id);
  if (space != std::string_view::npos) {
    return LineError{ONEM2M_R_INVALID_KEY_ID,
                     std::string("KeyID has ") + WhitespaceName(id[space]) +
                         " at position " + std::to_string(space + 1) +
                         "; remove it (only A-Z a-z 0-9 . _ - @ are "
                         "allowed)"};
  }
  if (std::optional<std::string> why = CheckKeyId(id)) {
    return LineError{ONEM2M_R_INVALID_KEY_ID, *why};
  }

  // No whitespace anywhere after it either: it is never part of a field.
  std::string_view rest = line.substr(colon + 1);
  space = FindWhitespace(rest);
  if (space != std::string_view::npos) {
    return LineError{ONEM2M_R_KEYSTORE_SYNTAX,
                     std::string("found ") + WhitespaceName(rest[space]) +
                         " at column " + std::to_string(colon + 1 + space + 1) +
                         "; remove it (no spaces or tabs are allowed in a "
                         "key line, not even at its end)"};
  }

  // The RootKey field ends at the next ':' after a "base64:" prefix.
  size_t from = rest.substr(0, kBase64Prefix.size()) == kBase64Prefix
                    ? kBase64Prefix.size()
                    : 0;
  size_t end = rest.find(':', from);
  std::string why;
  if (!DecodeRootKey(rest.substr(0, end), &entry->root_key, &why)) {
    return LineError{ONEM2M_R_INVALID_ROOT_KEY, why};
  }
  if (std::optional<std::string> bad = CheckRootKey(entry->root_key)) {
    return LineError{ONEM2M_R_INVALID_ROOT_KEY, *bad};
  }

  entry->versions = kAllVersions;
  if (end != std::string_view::npos) {
    if (auto error = ParseAttributes(rest.substr(end + 1), entry)) {
      return error;
    }
  }
  *key_id = id;
  return std::nullopt;
}

// FdCloser closes a file descriptor when it goes out of scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// ErrnoText returns the text of |error| (thread-safe, unlike strerror).
std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

// ReadAll reads |fd| to its end into |text| (wiped memory: the file holds
// Root Keys), starting with room for |size_hint| octets.
bool ReadAll(int fd, size_t size_hint, const std::string& path,
             SecretBuffer* text, size_t* length) {
  SecretBuffer buffer(size_hint + 1);
  size_t used = 0;
  for (;;) {
    if (used == buffer.size()) {
      // The file grew since fstat; move to a larger buffer.
      SecretBuffer larger(buffer.size() * 2);
      std::memcpy(larger.data(), buffer.data(), used);
      buffer = std::move(larger);
    }
    ssize_t n = read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int error = errno;
      ONEM2M_RAISE(ONEM2M_R_KEYSTORE_IO, "%s: cannot read the keystore: %s",
                   path.c_str(), ErrnoText(error).c_str());
      return false;
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  *text = std::move(buffer);
  *length = used;
  return true;
}

// FileKeystore is a keystore file loaded into memory; Reload re-reads it.
class FileKeystore final : public TableKeystore {
 public:
  FileKeystore(std::string path, KeyIndex table)
      : TableKeystore(std::move(table)), path_(std::move(path)) {}

  // Reload parses the whole file into a new table and swaps it in only on
  // success; reloads run one at a time so the last file read wins.
  bool Reload() override {
    std::lock_guard<std::mutex> reloading(reload_mutex_);
    KeyIndex table;
    if (!ReadKeystoreFile(path_, &table)) {
      return false;
    }
    ReplaceTable(std::move(table));
    return true;
  }

  // AddKey is refused: the file is the only source of a file keystore.
  bool AddKey(std::string_view, SecretBuffer, VersionSet) override {
    ONEM2M_RAISE(ONEM2M_R_NOT_SUPPORTED,
                 "%s is a file keystore: add the key as a line of the file "
                 "and reload it",
                 path_.c_str());
    return false;
  }

  // RemoveKey is refused: the file is the only source of a file keystore.
  bool RemoveKey(std::string_view) override {
    ONEM2M_RAISE(ONEM2M_R_NOT_SUPPORTED,
                 "%s is a file keystore: remove the key's line from the file "
                 "and reload it",
                 path_.c_str());
    return false;
  }

 private:
  const std::string path_;
  std::mutex reload_mutex_;
};

// NextLine returns the next line of |*text| without its newline (and
// without one trailing CR, for CRLF files) and moves |*text| past it.
std::string_view NextLine(std::string_view* text) {
  size_t newline = text->find('\n');
  std::string_view line = text->substr(0, newline);
  *text = newline == std::string_view::npos ? std::string_view()
                                            : text->substr(newline + 1);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

// FirstLineOf returns the number of the first line of |text| that gives
// |key_id|, or 0.
size_t FirstLineOf(std::string_view text, std::string_view key_id) {
  size_t line_number = 0;
  while (!text.empty()) {
    line_number++;
    std::string_view line = NextLine(&text);
    if (line.size() > key_id.size() && line[key_id.size()] == ':' &&
        line.substr(0, key_id.size()) == key_id) {
      return line_number;
    }
  }
  return 0;
}

// LineCount returns how many lines |text| has at most.
size_t LineCount(std::string_view text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
}

// ParseKeyLines parses every line of |text| and hands each key to |add|,
// which returns false for a KeyID it holds already. On the first error it
// raises it, naming |name| and the line, and returns false.
template <typename Add>
bool ParseKeyLines(std::string_view text, const std::string& name, Add add) {
  std::string_view rest = text;
  size_t line_number = 0;
  while (!rest.empty()) {
    line_number++;
    std::string_view line = NextLine(&rest);
    if (line.empty() || line[0] == '#') {
      continue;
    }

    // A key line, its KeyID unseen so far.
    std::string_view key_id;
    RootKeyEntry entry;
    if (std::optional<LineError> error = ParseKeyLine(line, &key_id, &entry)) {
      ONEM2M_RAISE(error->reason, "%s:%zu: %s", name.c_str(), line_number,
                   error->message.c_str());
      return false;
    }
    if (!add(key_id, &entry)) {
      // Only now look for the line that gave it first: no per-line index.
      ONEM2M_RAISE(ONEM2M_R_KEYSTORE_DUPLICATE,
                   "%s:%zu: KeyID \"%s\" was already given on line %zu; keep "
                   "only one of the two lines",
                   name.c_str(), line_number, std::string(key_id).c_str(),
                   FirstLineOf(text, key_id));
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseKeystoreText(std::string_view text, const std::string& name,
                       KeyTable* table) {
  table->reserve(table->size() + LineCount(text));
  return ParseKeyLines(
      text, name, [table](std::string_view key_id, RootKeyEntry* entry) {
        return table->try_emplace(std::string(key_id), std::move(*entry))
            .second;
      });
}

bool ParseKeystoreText(std::string_view text, const std::string& name,
                       KeyIndex* index) {
  // A record is shorter than its line, but for the padding that keeps it
  // within a cache line: this bounds the arena (pages never touched are
  // never resident).
  size_t lines = LineCount(text);
  index->Reserve(lines, text.size() + 32 * lines);
  return ParseKeyLines(
      text, name, [index](std::string_view key_id, RootKeyEntry* entry) {
        return index->Insert(key_id, entry->root_key, entry->versions);
      });
}

bool ReadKeystoreFile(const std::string& path, KeyIndex* table) {
  // Open first, then check the mode of what was opened (no TOCTOU window).
  // O_NONBLOCK keeps a FIFO from blocking us; it is refused below.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    ONEM2M_RAISE(ONEM2M_R_KEYSTORE_IO, "%s: cannot open the keystore: %s",
                 path.c_str(), ErrnoText(error).c_str());
    return false;
  }
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    ONEM2M_RAISE(ONEM2M_R_KEYSTORE_IO, "%s: cannot stat the keystore: %s",
                 path.c_str(), ErrnoText(error).c_str());
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    ONEM2M_RAISE(ONEM2M_R_KEYSTORE_IO,
                 "%s: not a regular file; give the path of a keystore file",
                 path.c_str());
    return false;
  }

  // Spec section 8: no read or write access for group or others.
  constexpr mode_t kGroupOrOtherReadWrite =
      S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH;
  if ((st.st_mode & kGroupOrOtherReadWrite) != 0) {
    ONEM2M_RAISE(ONEM2M_R_KEYSTORE_PERMISSIONS,
                 "%s: mode %04o lets group or others read or write the "
                 "keystore; restrict it with chmod 600 %s",
                 path.c_str(), static_cast<unsigned>(st.st_mode & 07777),
                 path.c_str());
    return false;
  }

  // Read and parse the whole file; its text is wiped when done.
  SecretBuffer text;
  size_t length = 0;
  if (!ReadAll(fd, static_cast<size_t>(st.st_size), path, &text, &length)) {
    return false;
  }
  return ParseKeystoreText(
      std::string_view(reinterpret_cast<const char*>(text.data()), length),
      path, table);
}

std::unique_ptr<Keystore> MakeFileKeystore(const std::string& path) {
  KeyIndex table;
  if (!ReadKeystoreFile(path, &table)) {
    return nullptr;
  }
  return std::make_unique<FileKeystore>(path, std::move(table));
}

}  // namespace onem2m
