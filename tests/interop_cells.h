// The cells of the interoperability matrix (docs/interop.md): each interop
// test records its cell in a results directory of the build tree, and the
// InteropTable.IsCurrent test renders the page from whatever was recorded.
// A new peer or protocol is a new set of records: the renderer needs no
// change.

#ifndef ONEM2M_TESTS_INTEROP_CELLS_H_
#define ONEM2M_TESTS_INTEROP_CELLS_H_

#include <map>
#include <string>
#include <vector>

namespace onem2m::testing {

// What a cell says. kNotPossible is a handshake that the test proved the
// peer cannot do (its exact failure asserted), with the reason in |note|.
inline constexpr char kCellPass[] = "pass";
inline constexpr char kCellFail[] = "FAIL";
inline constexpr char kCellNotPossible[] = "not possible";

// InteropCell is one handshake of the matrix: a peer, a protocol, a
// direction and a KDF version, and what came of it.
struct InteropCell {
  std::string peer;          // "GnuTLS", "OpenSSL"
  std::string peer_version;  // the first line of the peer's --version
  std::string protocol;      // "TLS 1.2", "TLS 1.3", "DTLS 1.2"
  std::string direction;     // "gnutls-cli → onem2m-psk serve"
  unsigned version = 0;      // oneM2M KDF version
  std::string result;        // kCellPass, kCellFail or kCellNotPossible
  std::string suite;         // the negotiated suite (OpenSSL's name)
  std::string note;          // why, when the result is not kCellPass
  // The commands of both sides, with secrets, ports and temporary paths
  // replaced by placeholders (see CommandTemplate).
  std::string peer_command;
  std::string our_command;

  // Key names the cell uniquely (peer, protocol, direction, version).
  std::string Key() const;
};

// InteropResultsDir is where cells are recorded: $ONEM2M_INTEROP_RESULTS
// if set, else the build tree's interop-results directory.
std::string InteropResultsDir();

// RecordCell writes |cell| to |dir| (created if missing), replacing an
// earlier record of the same cell. Throws std::runtime_error on failure.
void RecordCell(const InteropCell& cell, const std::string& dir);

// LoadCells reads every record of |dir|; a malformed record throws
// std::runtime_error naming the file.
std::vector<InteropCell> LoadCells(const std::string& dir);

// CommandTemplate joins |argv| into one shell-like line: argv[0] by its
// base name, each argument equal to a key of |placeholders| replaced by its
// value (so that no secret, port or temporary path lands in the page), and
// arguments with spaces or shell characters quoted.
std::string CommandTemplate(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& placeholders);

// InteropCellRecorder records its cell when it goes out of scope, at the
// end of the test that owns it: the expected result if the test has no
// failure so far, kCellFail otherwise (so that an ASSERT that returns early
// still leaves a FAIL cell). Set the fields as the test learns them.
class InteropCellRecorder {
 public:
  explicit InteropCellRecorder(InteropCell cell);
  ~InteropCellRecorder();
  InteropCellRecorder(const InteropCellRecorder&) = delete;
  InteropCellRecorder& operator=(const InteropCellRecorder&) = delete;

  InteropCell& cell() { return cell_; }

 private:
  InteropCell cell_;
};

}  // namespace onem2m::testing

#endif  // ONEM2M_TESTS_INTEROP_CELLS_H_
