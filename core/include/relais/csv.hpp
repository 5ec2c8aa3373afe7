#pragma once
// CSV the way a French office user opens it by double-click in Excel: UTF-8 with a BOM,
// ';' between fields, RFC 4180 quoting, CRLF line ends.
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace relais {

class CsvWriter {
 public:
  explicit CsvWriter(std::ostream& out, char separator = ';');

  void write_bom();
  void write_row(const std::vector<std::string>& cells);

  // RFC 4180: a field with the separator, a quote, CR or LF is quoted, inner quotes doubled.
  std::string quote(std::string_view cell) const;

 private:
  std::ostream& out_;
  char separator_;
};

// Free text that starts like a spreadsheet formula (= + - @) gets a leading apostrophe, so
// that opening an export can never run a formula someone typed into a note.
std::string neutralize_formula(std::string_view text);

// Parses CSV text produced by CsvWriter (or any RFC 4180 file with this separator); the BOM,
// if any, is skipped. Used by tests and imports.
std::vector<std::vector<std::string>> parse_csv(std::string_view text, char separator = ';');

}  // namespace relais
