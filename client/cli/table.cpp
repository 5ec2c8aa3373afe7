#include "table.hpp"

#include <algorithm>

#include "relais/text.hpp"

namespace relais::cli {

namespace {

std::string fit(const std::string& cell, std::size_t max_width) {
  std::string flat;
  for (char ch : cell) {
    if (ch == '\n') {
      flat += " / ";
    } else if (ch != '\r') {
      flat += ch;
    }
  }
  if (utf8_length(flat) <= max_width) return flat;
  // Cut on a code point boundary, leaving room for the ellipsis.
  std::string out;
  std::size_t count = 0;
  for (std::size_t i = 0; i < flat.size(); ++i) {
    const auto byte = static_cast<unsigned char>(flat[i]);
    if ((byte & 0xC0) != 0x80) {
      if (count == max_width - 1) break;
      ++count;
    }
    out += flat[i];
  }
  return out + "…";
}

}  // namespace

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows, std::size_t max_width) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back(header);
  for (const auto& row : rows) {
    std::vector<std::string> fitted;
    for (const auto& cell : row) fitted.push_back(fit(cell, max_width));
    cells.push_back(std::move(fitted));
  }
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : cells) {
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], utf8_length(row[c]));
  }
  for (std::size_t r = 0; r < cells.size(); ++r) {
    std::string line;
    for (std::size_t c = 0; c < cells[r].size() && c < widths.size(); ++c) {
      line += cells[r][c];
      if (c + 1 < cells[r].size()) line += std::string(widths[c] - utf8_length(cells[r][c]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
    if (r == 0) {
      std::string rule;
      for (std::size_t c = 0; c < widths.size(); ++c) {
        if (widths[c] > 0) rule += std::string(widths[c], '-') + "  ";
      }
      while (!rule.empty() && rule.back() == ' ') rule.pop_back();
      out << rule << '\n';
    }
  }
}

}  // namespace relais::cli
