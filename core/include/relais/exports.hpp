#pragma once
// Streaming exports for people: activities (La Coop's activity export), statistics, equipment
// and impact, as CSV (French Excel: ';', UTF-8 BOM), XLSX (libxlsxwriter, constant memory) or
// JSON. One set of writers serves the local store (LocalExportSource, sync/) and the server
// (its own ExportSource): a source hands rows over one at a time, so memory stays flat whatever
// the number of rows. docs/exports.md describes every column and JSON shape.
//
// Typical use (the desktop app runs it on a worker thread, with a progress bar and a cancel
// button):
//   relais::LocalExportSource source(store_path, vocabulary);
//   exports::Options options;  options.format = Format::xlsx;  options.what = What::activities;
//   options.progress = [&](std::int64_t done, std::int64_t total) { ... };
//   options.cancel = &cancel_flag;
//   const auto result = exports::export_to_file(source, factors, options, "activites.xlsx");
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/impact.hpp"
#include "relais/lang.hpp"
#include "relais/records.hpp"
#include "relais/session_export.hpp"
#include "relais/statistics.hpp"

namespace relais {

class Vocabulary;

// A collected device with what the equipment export shows of it.
struct ExportedDevice {
  Lot lot;
  Device device;
  std::vector<DeviceEvent> events;  // oldest first (date, then creation)
  std::optional<Place> place;       // the lot's place, when it has one known here
  std::string outcome;              // device_outcome(events): reemploi | recyclage | pieces | en_attente
  std::string mediateur;            // the advisor's name, for team exports ("" when unknown)
};

namespace exports {

enum class Format { csv, xlsx, json };
enum class What { activities, stats, equipment, impact };

std::string_view to_string(Format format);  // "csv", "xlsx", "json"
std::string_view to_string(What what);      // "activities", "stats", "equipment", "impact"
std::optional<Format> parse_format(std::string_view text);
std::optional<What> parse_what(std::string_view text);

// The period of an export, both bounds inclusive; absent means open.
struct Period {
  std::optional<Date> from;
  std::optional<Date> to;
};

// Where an export reads its data. Implementations: LocalExportSource (the advisor's store) and
// the server's (a structure's records). Calls come from one thread, in this order: names(),
// then, for a list, count_*() and for_each_*() between begin_snapshot() and end_snapshot() so
// that the count printed in the "Informations export" block is the number of rows written.
class ExportSource {
 public:
  virtual ~ExportSource() = default;

  virtual const Vocabulary& vocabulary() const = 0;

  // Live sessions whose date is in the period, oldest first (date, then creation time).
  virtual std::int64_t count_sessions(const Period& period) const = 0;
  virtual void for_each_session(const Period& period, const std::function<void(const ExportedSession&)>& visit) const = 0;

  // Live devices whose lot's date is in the period, by lot date, lot, then device creation.
  virtual std::int64_t count_devices(const Period& period) const = 0;
  virtual void for_each_device(const Period& period, const std::function<void(const ExportedDevice&)>& visit) const = 0;

  // The indicators of `filter` (stats::compute over the source's database).
  virtual stats::Indicators indicators(const stats::Filter& filter, const ImpactFactors& factors) const = 0;
  // Names of places (dimension "lieu") and advisors ("mediateur") for the statistics labels.
  virtual void name_codes(stats::Labels& labels) const = 0;

  // A consistent view of the data for the count and the rows that follow; no-ops by default.
  virtual void begin_snapshot() const {}
  virtual void end_snapshot() const {}
};

// The "Informations export" block every export starts with.
struct ExportInfo {
  std::string exported_by;            // the person's name
  std::string role;                   // a `role` code (mediateur | coordinateur | admin), or ""
  std::int64_t exported_at_unix_ms = 0;  // 0: now
  std::string structure;              // the team's name, when there is one ("" leaves the line out)
};

struct Options {
  Format format = Format::csv;
  What what = What::activities;
  // The period (filter.from / filter.to) applies to every export; the other fields of the
  // filter (advisor, place, commune, département, type, theme, scope) to statistics and impact.
  stats::Filter filter;
  ExportInfo info;
  bool with_mediateur = false;  // team export: the "Médiateur" column of activities and equipment
  Lang lang = Lang::fr;         // labels of everything but the activity columns (La Coop's French)
  // Called after every row written (at most every 256 rows for large exports) and once at the
  // end: rows done, rows in all (an estimate for stats). From the exporting thread.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  // Checked between rows; when it turns true the export stops and leaves nothing behind.
  const std::atomic<bool>* cancel = nullptr;
};

struct Result {
  bool cancelled = false;
  std::int64_t rows = 0;  // data rows written (sessions, devices, breakdown rows...)
};

// Input the export cannot use (period from > to): nothing is written.
class InvalidOptions : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The destination could not be written (missing folder, disk full, a folder in the way...).
class WriteError : public std::runtime_error {
 public:
  WriteError(const std::filesystem::path& path, const std::string& detail)
      : std::runtime_error(path.string() + ": " + detail), path_(path) {}
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes the export to `<out>.part` beside `out`, then renames it to `out`: a failed or cancelled
// export leaves no file behind (and an existing `out` untouched). Throws WriteError,
// InvalidOptions, or what the source throws (sqlite::Error...).
Result export_to_file(const ExportSource& source, const ImpactFactors& factors, const Options& options,
                      const std::filesystem::path& out);

// CSV and JSON straight to a stream (an HTTP response); XLSX goes through a temporary file in
// `temp_dir` (default: the system's), copied to `out` at the end. On a cancel, what was written
// to the stream stays there: the caller drops the response.
Result export_to_stream(const ExportSource& source, const ImpactFactors& factors, const Options& options,
                        std::ostream& out, const std::filesystem::path& temp_dir = {});

// The indicators as JSON (docs/exports.md, "Statistics JSON"): codes with their labels.
nlohmann::json to_json(const stats::Indicators& indicators, const stats::Labels& labels);

// The suggested file name of an export: "relais-activites-2026-11-01-2026-11-30.xlsx".
std::string default_file_name(What what, Format format, const Period& period);

}  // namespace exports
}  // namespace relais
