// The two table writers of the exports: CSV sections for French Excel, and XLSX sheets through
// libxlsxwriter in constant-memory mode (each row goes to a temporary file as soon as the next
// one starts, so rows are written strictly in order, one sheet after the other).
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>
#include <stdexcept>

#include <xlsxwriter.h>

#include "export_table.hpp"
#include "relais/csv.hpp"
#include "relais/exports.hpp"

namespace relais::exports::detail {
namespace {

// Up to two decimals, trailing zeros dropped: 12.5 -> "12,5" (fr) or "12.5" (en).
std::string decimal_text(double value, Lang lang) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  std::string text(buffer);
  if (const auto dot = text.find('.'); dot != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
    if (lang == Lang::fr) {
      if (const auto at = text.find('.'); at != std::string::npos) text[at] = ',';
    }
  }
  if (text == "-0") text = "0";
  return text;
}

class CsvTable final : public Table {
 public:
  CsvTable(std::ostream& out, Lang lang) : out_(out), csv_(out), lang_(lang) { csv_.write_bom(); }

  void sheet(const std::string& name, const std::vector<double>&) override {
    if (sheets_++ == 0) return;
    csv_.write_row({});
    csv_.write_row({name});
  }

  // What CsvWriter::write_row writes, without copying every text into a vector first.
  void row(const std::vector<Cell>& cells, RowStyle) override {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out_ << ';';
      const auto& cell = cells[i];
      if (cell.kind == Cell::Kind::text) {
        out_ << csv_.quote(cell.text);
      } else {
        out_ << csv_.quote(csv_text(cell, lang_));
      }
    }
    out_ << "\r\n";
  }

  void close() override { out_.flush(); }

 private:
  std::ostream& out_;
  CsvWriter csv_;
  Lang lang_;
  int sheets_ = 0;
};

// Excel refuses sheet names over 31 characters, with []:*?/\ or used twice.
std::string sheet_name(const std::string& wanted, std::set<std::string>& used) {
  std::string clean;
  std::size_t characters = 0;
  for (std::size_t i = 0; i < wanted.size() && characters < 28;) {
    const auto byte = static_cast<unsigned char>(wanted[i]);
    const std::size_t length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
    auto part = wanted.substr(i, length);
    if (part.size() == 1 && std::string("[]:*?/\\").find(part[0]) != std::string::npos) part = "-";
    clean += part;
    ++characters;
    i += length;
  }
  if (clean.empty()) clean = "Feuille";
  auto name = clean;
  for (int n = 2; used.count(name) != 0; ++n) name = clean + " " + std::to_string(n);
  used.insert(name);
  return name;
}

class XlsxTable final : public Table {
 public:
  XlsxTable(const std::filesystem::path& path, const std::filesystem::path& temp_dir)
      : path_(path), temp_dir_(temp_dir.string()) {
    lxw_workbook_options options{};
    options.constant_memory = LXW_TRUE;
    options.tmpdir = temp_dir_.empty() ? nullptr : temp_dir_.data();
    options.use_zip64 = LXW_TRUE;
    workbook_ = workbook_new_opt(path_.c_str(), &options);
    if (workbook_ == nullptr) throw WriteError(path_, "cannot create the workbook");

    bold_ = workbook_add_format(workbook_);
    format_set_bold(bold_);
    header_ = workbook_add_format(workbook_);
    format_set_bold(header_);
    format_set_text_wrap(header_);
    format_set_align(header_, LXW_ALIGN_VERTICAL_TOP);
    format_set_bottom(header_, LXW_BORDER_THIN);
    wrap_ = workbook_add_format(workbook_);
    format_set_text_wrap(wrap_);
    format_set_align(wrap_, LXW_ALIGN_VERTICAL_TOP);
    date_ = workbook_add_format(workbook_);
    format_set_num_format(date_, "dd/mm/yyyy");
    format_set_align(date_, LXW_ALIGN_LEFT);
    datetime_ = workbook_add_format(workbook_);
    format_set_num_format(datetime_, "dd/mm/yyyy hh:mm");
    format_set_align(datetime_, LXW_ALIGN_LEFT);
    decimal_ = workbook_add_format(workbook_);
    format_set_num_format(decimal_, "0.00");
  }

  ~XlsxTable() override {
    // Not closed (an error or a cancel): free everything, write nothing.
    if (workbook_ != nullptr) lxw_workbook_free(workbook_);
  }

  void sheet(const std::string& name, const std::vector<double>& widths) override {
    const auto unique = sheet_name(name, names_);
    sheet_ = workbook_add_worksheet(workbook_, unique.c_str());
    if (sheet_ == nullptr) throw WriteError(path_, "cannot add the sheet " + unique);
    row_ = 0;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const auto column = static_cast<lxw_col_t>(i);
      worksheet_set_column(sheet_, column, column, widths[i], nullptr);
    }
  }

  void row(const std::vector<Cell>& cells, RowStyle style) override {
    if (sheet_ == nullptr) sheet("Export", {});
    for (std::size_t i = 0; i < cells.size(); ++i) write(static_cast<lxw_col_t>(i), cells[i], style);
    ++row_;
  }

  void close() override {
    auto* workbook = workbook_;
    workbook_ = nullptr;  // workbook_close frees it, whatever it returns
    const auto error = workbook_close(workbook);
    if (error != LXW_NO_ERROR) throw WriteError(path_, lxw_strerror(error));
  }

 private:
  void check(lxw_error error) const {
    if (error != LXW_NO_ERROR) throw WriteError(path_, lxw_strerror(error));
  }

  void write(lxw_col_t column, const Cell& cell, RowStyle style) {
    switch (cell.kind) {
      case Cell::Kind::empty: return;
      case Cell::Kind::text: {
        lxw_format* format = style == RowStyle::header ? header_ : style == RowStyle::title ? bold_ : nullptr;
        if (format == nullptr && cell.text.find('\n') != std::string::npos) format = wrap_;
        // Excel's limit for one cell; longer free text is cut rather than making a broken file.
        if (cell.text.size() > 32000) {
          check(worksheet_write_string(sheet_, row_, column, cell.text.substr(0, 32000).c_str(), format));
        } else {
          check(worksheet_write_string(sheet_, row_, column, cell.text.c_str(), format));
        }
        return;
      }
      case Cell::Kind::integer:
        check(worksheet_write_number(sheet_, row_, column, static_cast<double>(cell.integer), nullptr));
        return;
      case Cell::Kind::decimal:
        check(worksheet_write_number(sheet_, row_, column, cell.decimal, decimal_));
        return;
      case Cell::Kind::date: {
        lxw_datetime value{cell.date.year, static_cast<int>(cell.date.month), static_cast<int>(cell.date.day), 0, 0, 0};
        check(worksheet_write_datetime(sheet_, row_, column, &value, date_));
        return;
      }
      case Cell::Kind::datetime: {
        const auto seconds = static_cast<std::time_t>(cell.unix_ms / 1000);
        std::tm local{};
        localtime_r(&seconds, &local);
        lxw_datetime value{local.tm_year + 1900, local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min,
                           static_cast<double>(local.tm_sec)};
        check(worksheet_write_datetime(sheet_, row_, column, &value, datetime_));
        return;
      }
    }
  }

  std::filesystem::path path_;
  std::string temp_dir_;
  lxw_workbook* workbook_ = nullptr;
  lxw_worksheet* sheet_ = nullptr;
  lxw_row_t row_ = 0;
  std::set<std::string> names_;
  lxw_format* bold_ = nullptr;
  lxw_format* header_ = nullptr;
  lxw_format* wrap_ = nullptr;
  lxw_format* date_ = nullptr;
  lxw_format* datetime_ = nullptr;
  lxw_format* decimal_ = nullptr;
};

}  // namespace

std::string csv_text(const Cell& cell, Lang lang) {
  switch (cell.kind) {
    case Cell::Kind::empty: return {};
    case Cell::Kind::text: return cell.text;
    case Cell::Kind::integer: return std::to_string(cell.integer);
    case Cell::Kind::decimal: return decimal_text(cell.decimal, lang);
    case Cell::Kind::date: return format_date_french(cell.date);
    case Cell::Kind::datetime: return format_timestamp_local_french(cell.unix_ms);
  }
  return {};
}

std::unique_ptr<Table> make_csv_table(std::ostream& out, Lang lang) { return std::make_unique<CsvTable>(out, lang); }

std::unique_ptr<Table> make_xlsx_table(const std::filesystem::path& path, const std::filesystem::path& temp_dir) {
  return std::make_unique<XlsxTable>(path, temp_dir);
}

}  // namespace relais::exports::detail
