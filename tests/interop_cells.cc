#include "interop_cells.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace onem2m::testing {
namespace {

constexpr char kRecordSuffix[] = ".cell";

// The fields of a record, in the order they are written. Values are one
// line each: a newline in a value would end it, so it becomes a space.
std::vector<std::pair<std::string, std::string*>> Fields(InteropCell* c) {
  return {{"peer", &c->peer},
          {"peer_version", &c->peer_version},
          {"protocol", &c->protocol},
          {"direction", &c->direction},
          {"result", &c->result},
          {"suite", &c->suite},
          {"note", &c->note},
          {"peer_command", &c->peer_command},
          {"our_command", &c->our_command}};
}

std::string OneLine(std::string value) {
  std::replace(value.begin(), value.end(), '\n', ' ');
  std::replace(value.begin(), value.end(), '\r', ' ');
  return value;
}

// FileName turns a cell's key into a file name of [A-Za-z0-9._-] only.
std::string FileName(const InteropCell& cell) {
  std::string name;
  for (unsigned char ch : cell.Key()) {
    bool plain = std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_';
    name += plain ? static_cast<char>(ch) : '_';
  }
  return name + kRecordSuffix;
}

}  // namespace

std::string InteropCell::Key() const {
  return peer + "|" + protocol + "|" + direction + "|v" +
         std::to_string(version);
}

std::string InteropResultsDir() {
  const char* dir = std::getenv("ONEM2M_INTEROP_RESULTS");
  return dir != nullptr && *dir != '\0' ? dir : ONEM2M_INTEROP_RESULTS_DIR;
}

void RecordCell(const InteropCell& cell, const std::string& dir) {
  std::filesystem::create_directories(dir);
  InteropCell copy = cell;
  std::ostringstream text;
  text << "version=" << copy.version << "\n";
  for (const auto& [name, value] : Fields(&copy)) {
    text << name << "=" << OneLine(*value) << "\n";
  }

  // Write a temporary file and rename it, so that a reader never sees half
  // a record.
  std::string path = dir + "/" + FileName(cell);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text.str();
    if (!out.good()) {
      throw std::runtime_error("cannot write " + tmp);
    }
  }
  std::filesystem::rename(tmp, path);
}

std::vector<InteropCell> LoadCells(const std::string& dir) {
  std::vector<InteropCell> cells;
  if (!std::filesystem::is_directory(dir)) {
    return cells;
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string path = entry.path().string();
    if (entry.path().extension() != kRecordSuffix) {
      continue;
    }
    InteropCell cell;
    std::map<std::string, std::string> values;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) {
        throw std::runtime_error(path + ": a line without '='");
      }
      values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (values.count("version") == 0 || values["version"].size() != 1 ||
        !std::isdigit(static_cast<unsigned char>(values["version"][0]))) {
      throw std::runtime_error(path + ": no KDF version");
    }
    cell.version = static_cast<unsigned>(values["version"][0] - '0');
    for (const auto& [name, value] : Fields(&cell)) {
      *value = values[name];
    }
    if (cell.peer.empty() || cell.protocol.empty() || cell.direction.empty() ||
        cell.result.empty()) {
      throw std::runtime_error(path +
                               ": peer, protocol, direction or "
                               "result missing");
    }
    cells.push_back(cell);
  }
  return cells;
}

std::string CommandTemplate(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& placeholders) {
  std::string line;
  for (size_t i = 0; i < argv.size(); i++) {
    std::string arg = argv[i];
    if (i == 0) {
      arg = std::filesystem::path(arg).filename().string();
    } else if (auto it = placeholders.find(arg); it != placeholders.end()) {
      arg = it->second;
    }
    bool quote = arg.empty() ||
                 arg.find_first_of(" \t'\"$&|;<>()*?!\\`") != std::string::npos;
    line += (i == 0 ? "" : " ") + (quote ? "'" + arg + "'" : arg);
  }
  return line;
}

InteropCellRecorder::InteropCellRecorder(InteropCell cell)
    : cell_(std::move(cell)) {}

InteropCellRecorder::~InteropCellRecorder() {
  if (::testing::Test::HasFailure()) {
    cell_.result = kCellFail;
  }
  try {
    RecordCell(cell_, InteropResultsDir());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot record the interop cell " << cell_.Key() << ": "
                  << e.what();
  }
}

}  // namespace onem2m::testing
