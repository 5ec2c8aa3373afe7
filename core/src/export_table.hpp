#pragma once
// Internal to the exports: a table written row by row to CSV (sections) or XLSX (sheets).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "relais/dates.hpp"
#include "relais/lang.hpp"

namespace relais::exports::detail {

struct Cell {
  enum class Kind { empty, text, integer, decimal, date, datetime };
  Kind kind = Kind::empty;
  std::string text;
  std::int64_t integer = 0;
  double decimal = 0;
  Date date{};
  std::int64_t unix_ms = 0;

  Cell() = default;
  Cell(std::string value) : kind(value.empty() ? Kind::empty : Kind::text), text(std::move(value)) {}  // NOLINT
  Cell(const char* value) : Cell(std::string(value)) {}                                               // NOLINT
  static Cell number(std::int64_t value) {
    Cell cell;
    cell.kind = Kind::integer;
    cell.integer = value;
    return cell;
  }
  static Cell real(double value) {
    Cell cell;
    cell.kind = Kind::decimal;
    cell.decimal = value;
    return cell;
  }
  static Cell day(const Date& value) {
    Cell cell;
    cell.kind = Kind::date;
    cell.date = value;
    return cell;
  }
  static Cell timestamp(std::int64_t value) {
    Cell cell;
    cell.kind = Kind::datetime;
    cell.unix_ms = value;
    return cell;
  }
};

enum class RowStyle { normal, header, title };

class Table {
 public:
  virtual ~Table() = default;
  // Starts a sheet (XLSX) or a section (CSV: a blank line and the name, except for the first).
  // `widths`: column widths in characters (XLSX only).
  virtual void sheet(const std::string& name, const std::vector<double>& widths) = 0;
  virtual void row(const std::vector<Cell>& cells, RowStyle style = RowStyle::normal) = 0;
  virtual void blank() { row({}); }
  // Writes what remains; throws on a write error.
  virtual void close() = 0;
};

// CSV text of a cell: dates as DD/MM/YYYY, decimals with a comma in French.
std::string csv_text(const Cell& cell, Lang lang);

std::unique_ptr<Table> make_csv_table(std::ostream& out, Lang lang);
// The file is only written by close(); destroying the table without close() writes nothing.
std::unique_ptr<Table> make_xlsx_table(const std::filesystem::path& path, const std::filesystem::path& temp_dir);

}  // namespace relais::exports::detail
