#include "relais/csv.hpp"

namespace relais {

CsvWriter::CsvWriter(std::ostream& out, char separator) : out_(out), separator_(separator) {}

void CsvWriter::write_bom() { out_ << "\xEF\xBB\xBF"; }

std::string CsvWriter::quote(std::string_view cell) const {
  if (cell.find_first_of(std::string{separator_, '"', '\r', '\n'}) == std::string_view::npos) {
    return std::string(cell);
  }
  std::string quoted = "\"";
  for (char ch : cell) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  quoted += '"';
  return quoted;
}

void CsvWriter::write_row(const std::vector<std::string>& cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out_ << separator_;
    out_ << quote(cells[i]);
  }
  out_ << "\r\n";
}

std::string neutralize_formula(std::string_view text) {
  if (!text.empty() && (text.front() == '=' || text.front() == '+' || text.front() == '-' || text.front() == '@' ||
                        text.front() == '\t' || text.front() == '\r')) {
    return "'" + std::string(text);
  }
  return std::string(text);
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text, char separator) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool in_quotes = false;
  bool any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    any = true;
    if (in_quotes) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        cell += ch;
      }
    } else if (ch == '"') {
      in_quotes = true;
    } else if (ch == separator) {
      row.push_back(std::move(cell));
      cell.clear();
    } else if (ch == '\r' || ch == '\n') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      cell += ch;
    }
  }
  if (any) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace relais
