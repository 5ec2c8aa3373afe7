#pragma once
// The Statistiques screen's model, with no UI code: what its controls say (StatisticsQuery),
// turned into a stats::Filter with plain-word problems for a bad period; the series the chart
// draws (periods without activity included); figures formatted for people; and
// StatisticsWorker, which runs relais::stats::compute() on its own thread and read-only
// connection so that the UI thread never waits on SQLite.
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "relais/dates.hpp"
#include "relais/impact.hpp"
#include "relais/lang.hpp"
#include "relais/sqlite.hpp"
#include "relais/statistics.hpp"
#include "relais/vocabulary.hpp"

namespace relais::app {

// Period presets, in the order the screen shows them.
inline constexpr std::string_view kPeriodPresets[] = {"this_month", "last_month", "this_year", "last_12_months",
                                                      "custom"};

// What the screen's controls say. Empty strings mean "all".
struct StatisticsQuery {
  std::string preset = "this_month";
  std::string custom_from;  // JJ/MM/AAAA (or YYYY-MM-DD), for the "custom" preset
  std::string custom_to;
  std::string mediateur_id;
  std::string lieu_id;
  std::string type;        // individuel | collectif
  std::string thematique;  // a thematiques code
  std::string commune;     // name or INSEE code
  std::string departement;

  bool operator==(const StatisticsQuery&) const = default;
};

// A problem with the query, for people: a translation key and its {value}.
struct QueryProblem {
  std::string field;  // preset, or stats::filter_field's names (from, to, type, theme, departement)
  std::string key;    // app.stats.error.*
  std::string value;
};

struct Period {
  Date from;
  Date to;
};

// The dates of a preset on `today`: this_month and this_year run to today; last_month is the
// whole previous month; last_12_months is today's month and the 11 before it, whole.
std::optional<Period> preset_period(std::string_view preset, const Date& today);

// The filter of `query`, or nothing with `problems` set (a custom date that is no date or
// missing; then stats::check_filter's problems: a start after the end, a département that is
// none, a type or theme that is no code of `vocabulary`).
std::optional<stats::Filter> make_filter(const StatisticsQuery& query, const Date& today, const Vocabulary& vocabulary,
                                         std::vector<QueryProblem>& problems);

// The chart's steps.
enum class Granularity { day, week, month };
// The one that gives a readable chart for the period: days up to 62 days, weeks up to about
// 6 months, months beyond.
Granularity default_granularity(const Date& from, const Date& to);

struct SeriesPoint {
  std::string period;  // as in PeriodCount: 2026-11-22, 2026-W47, 2026-11
  std::string label;   // "22/11", "S47", "nov. 2026" / "22/11", "W47", "Nov 2026"
  std::int64_t people = 0;
  std::int64_t activities = 0;
};
// Every step of [from, to] (those without activity at 0), with the counts of `indicators`.
std::vector<SeriesPoint> time_series(const stats::Indicators& indicators, Granularity granularity, const Date& from,
                                     const Date& to, Lang lang);
// "2026-W47" for the ISO week of a day.
std::string iso_week_of(const Date& date);

// Figures for people: "1 234" (fr, narrow no-break space) / "1,234"; "12,5 kg" / "12.5 kg";
// "3 h 05 min", "45 min", "0 min".
std::string format_count(std::int64_t value, Lang lang);
std::string format_decimal(double value, int decimals, Lang lang);
std::string format_duration(std::int64_t minutes);
// "37 %" / "37%"; below 1 and above 0 shows "< 1 %".
std::string format_percent(std::int64_t part, std::int64_t whole, Lang lang);

// An advisor of the team the store knows (from its advisors table).
struct KnownAdvisor {
  std::string id;
  std::string name;  // "Samia Benali"
  std::string role;  // mediateur | coordinateur | admin
};

// One computation's outcome.
struct StatisticsResult {
  std::uint64_t request = 0;  // what StatisticsWorker::request() returned for it
  stats::Filter filter;
  std::optional<stats::Indicators> indicators;  // nothing when it failed
  std::vector<KnownAdvisor> advisors;
  std::string error;  // why it failed, as the library said it
  std::string factors_source_fr, factors_source_en, factors_version;
  double elapsed_ms = 0;
};

// Runs the statistics on a worker thread with its own read-only connection to the store. The
// UI asks (request(), returns at once) and reads snapshot() each frame. Only the newest request
// matters: a computation for an older one is interrupted and its result dropped.
class StatisticsWorker {
 public:
  struct Options {
    std::filesystem::path store_path;
    const Vocabulary* base_vocabulary = nullptr;  // the assets' one; the store's update is added to it
    std::filesystem::path impact_factors_path;    // assets/impact_factors.json
    std::function<void()> on_ready;               // called on the worker thread after each result
  };
  explicit StatisticsWorker(Options options);
  // Interrupts the computation running, if any, and joins the worker.
  ~StatisticsWorker();
  StatisticsWorker(const StatisticsWorker&) = delete;
  StatisticsWorker& operator=(const StatisticsWorker&) = delete;

  // Computes `filter` (again, even when it is the same: the store changed). Returns its number.
  std::uint64_t request(const stats::Filter& filter);

  struct Snapshot {
    std::shared_ptr<const StatisticsResult> result;  // the newest result, nullptr before the first
    bool busy = false;                               // a request is being computed
    std::uint64_t wanted = 0;                        // the newest request
  };
  Snapshot snapshot() const;
  // Blocks until the newest request is answered (tests only).
  std::shared_ptr<const StatisticsResult> wait() const;

 private:
  void run();
  StatisticsResult compute(std::uint64_t request, const stats::Filter& filter);

  Options options_;
  std::optional<ImpactFactors> factors_;  // loaded on the worker thread, once
  std::string factors_error_;

  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  mutable std::condition_variable done_;
  bool stop_ = false;
  std::uint64_t wanted_ = 0;
  std::uint64_t computing_ = 0;  // the request being computed, 0 when idle
  stats::Filter wanted_filter_;
  std::shared_ptr<const StatisticsResult> published_;
  std::unique_ptr<sqlite::Database> db_;  // the worker's alone, opened on its first request
  sqlite3* connection_ = nullptr;  // db_'s handle, for sqlite3_interrupt (under mutex_)
  std::thread worker_;          // last: started once everything above exists
};

}  // namespace relais::app
