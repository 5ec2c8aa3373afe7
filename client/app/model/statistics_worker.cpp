#include "statistics_worker.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "forms.hpp"
#include "relais/local_store.hpp"
#include "relais/text.hpp"

namespace relais::app {

namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

sys_days to_days(const Date& date) {
  return year_month_day{std::chrono::year{date.year}, std::chrono::month{date.month}, std::chrono::day{date.day}};
}

Date from_days(sys_days value) {
  const year_month_day ymd{value};
  return Date{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())};
}

Date last_day_of_month(int year, unsigned month) {
  const std::chrono::year_month_day_last last{std::chrono::year{year} / std::chrono::month{month} / std::chrono::last};
  return Date{year, month, static_cast<unsigned>(last.day())};
}

// The month `count` months before (year, month).
std::pair<int, unsigned> months_before(int year, unsigned month, int count) {
  int index = year * 12 + static_cast<int>(month) - 1 - count;
  return {index / 12, static_cast<unsigned>(index % 12 + 1)};
}

std::string two_digits(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "%02u", value);
  return text;
}

constexpr std::array<const char*, 12> kMonthsFr{"janv.", "févr.", "mars", "avr.", "mai", "juin",
                                                "juil.", "août", "sept.", "oct.", "nov.", "déc."};
constexpr std::array<const char*, 12> kMonthsEn{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Groups the digits of a whole number: "1 234 567" (narrow no-break spaces) or "1,234,567".
std::string group_digits(std::string digits, Lang lang) {
  const std::string separator = lang == Lang::fr ? "\u202f" : ",";
  std::string out;
  const std::size_t first = digits.size() % 3 == 0 ? 3 : digits.size() % 3;
  out = digits.substr(0, first);
  for (std::size_t i = first; i < digits.size(); i += 3) out += separator + digits.substr(i, 3);
  return out;
}

}  // namespace

// [SECTION] Periods and filters ---------------------------------------------------------------------

std::optional<Period> preset_period(std::string_view preset, const Date& today) {
  if (preset == "this_month") return Period{Date{today.year, today.month, 1}, today};
  if (preset == "last_month") {
    const auto [year, month] = months_before(today.year, today.month, 1);
    return Period{Date{year, month, 1}, last_day_of_month(year, month)};
  }
  if (preset == "this_year") return Period{Date{today.year, 1, 1}, today};
  if (preset == "last_12_months") {
    const auto [year, month] = months_before(today.year, today.month, 11);
    return Period{Date{year, month, 1}, today};
  }
  return std::nullopt;
}

std::optional<stats::Filter> make_filter(const StatisticsQuery& query, const Date& today, const Vocabulary& vocabulary,
                                         std::vector<QueryProblem>& problems) {
  problems.clear();
  stats::Filter filter;
  if (query.preset == "custom") {
    const auto read = [&](const std::string& typed, const char* field, const char* missing) -> std::optional<Date> {
      const auto text = trim(typed);
      if (text.empty()) {
        problems.push_back({field, missing, {}});
        return std::nullopt;
      }
      const auto date = parse_date(date_for_store(text));
      if (!date) problems.push_back({field, "app.stats.error.bad_date", text});
      return date;
    };
    filter.from = read(query.custom_from, stats::filter_field::from, "app.stats.error.from_required");
    filter.to = read(query.custom_to, stats::filter_field::to, "app.stats.error.to_required");
  } else if (const auto period = preset_period(query.preset, today)) {
    filter.from = period->from;
    filter.to = period->to;
  } else {
    problems.push_back({"preset", "app.stats.error.bad_date", query.preset});
  }
  const auto set = [](const std::string& value) -> std::optional<std::string> {
    if (value.empty()) return std::nullopt;
    return value;
  };
  filter.mediateur_id = set(query.mediateur_id);
  filter.lieu_id = set(query.lieu_id);
  filter.type = set(query.type);
  filter.thematique = set(query.thematique);
  filter.commune = set(query.commune);
  filter.departement = set(query.departement);
  // The rule relais-cli and the server share, in the screen's words.
  for (const auto& problem : stats::check_filter(filter, vocabulary)) {
    const auto value = [&] {
      for (const auto& [key, text] : problem.args) {
        if (key == "value") return text;
      }
      return std::string{};
    }();
    if (problem.reason == "period_order") {
      problems.push_back({problem.field, "app.stats.error.order", format_date_french(*filter.from)});
    } else {
      problems.push_back({problem.field, "app.stats.error." + problem.field, value});
    }
  }
  if (!problems.empty()) return std::nullopt;
  return filter;
}

// [SECTION] The chart's series ------------------------------------------------------------------------

Granularity default_granularity(const Date& from, const Date& to) {
  const auto length = (to_days(to) - to_days(from)).count() + 1;
  if (length <= 62) return Granularity::day;
  if (length <= 190) return Granularity::week;
  return Granularity::month;
}

std::string iso_week_of(const Date& date) {
  const auto day = to_days(date);
  // The ISO week belongs to the year of its Thursday.
  const std::chrono::weekday weekday{day};
  const auto monday_based = static_cast<int>(weekday.iso_encoding()) - 1;  // 0 Monday .. 6 Sunday
  const auto thursday = day - days{monday_based} + days{3};
  const year_month_day thursday_ymd{thursday};
  const sys_days january_first = thursday_ymd.year() / std::chrono::January / 1;
  const auto week = (thursday - january_first).count() / 7 + 1;
  return std::to_string(static_cast<int>(thursday_ymd.year())) + "-W" + two_digits(static_cast<unsigned>(week));
}

std::vector<SeriesPoint> time_series(const stats::Indicators& indicators, Granularity granularity, const Date& from,
                                     const Date& to, Lang lang) {
  std::vector<SeriesPoint> out;
  if (from > to) return out;
  const auto& counts = granularity == Granularity::day    ? indicators.per_day
                       : granularity == Granularity::week ? indicators.per_week
                                                          : indicators.per_month;
  std::map<std::string, const stats::PeriodCount*, std::less<>> by_period;
  for (const auto& count : counts) by_period[count.period] = &count;
  const auto add = [&](std::string period, std::string label) {
    SeriesPoint point{std::move(period), std::move(label), 0, 0};
    if (const auto it = by_period.find(point.period); it != by_period.end()) {
      point.people = it->second->people;
      point.activities = it->second->activities;
    }
    out.push_back(std::move(point));
  };
  const auto& months = lang == Lang::fr ? kMonthsFr : kMonthsEn;
  if (granularity == Granularity::month) {
    int year = from.year;
    unsigned month = from.month;
    while (year < to.year || (year == to.year && month <= to.month)) {
      add(std::to_string(year) + "-" + two_digits(month), std::string(months[month - 1]) + " " + std::to_string(year));
      if (++month > 12) {
        month = 1;
        ++year;
      }
    }
    return out;
  }
  std::string last_week;
  for (auto day = to_days(from); day <= to_days(to); day += days{1}) {
    const auto date = from_days(day);
    if (granularity == Granularity::day) {
      add(format_date(date), lang == Lang::fr ? two_digits(date.day) + "/" + two_digits(date.month)
                                              : std::string(months[date.month - 1]) + " " + std::to_string(date.day));
    } else {
      auto week = iso_week_of(date);
      if (week == last_week) continue;
      last_week = week;
      const auto label = (lang == Lang::fr ? "S" : "W") + week.substr(week.size() - 2);
      add(std::move(week), label);
    }
  }
  return out;
}

// [SECTION] Figures for people ------------------------------------------------------------------------

std::string format_count(std::int64_t value, Lang lang) {
  const bool negative = value < 0;
  const auto magnitude = negative ? -static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value);
  return (negative ? "-" : "") + group_digits(std::to_string(magnitude), lang);
}

std::string format_decimal(double value, int decimals, Lang lang) {
  if (!std::isfinite(value)) return "—";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, std::fabs(value));
  std::string digits = text;
  std::string fraction;
  if (const auto dot = digits.find('.'); dot != std::string::npos) {
    fraction = (lang == Lang::fr ? "," : ".") + digits.substr(dot + 1);
    digits.erase(dot);
  }
  const bool negative = value < 0 && std::any_of(text, text + std::char_traits<char>::length(text),
                                                  [](char c) { return c >= '1' && c <= '9'; });
  return (negative ? "-" : "") + group_digits(digits, lang) + fraction;
}

std::string format_duration(std::int64_t minutes) {
  if (minutes < 60) return std::to_string(std::max<std::int64_t>(0, minutes)) + " min";
  const auto hours = minutes / 60;
  const auto rest = minutes % 60;
  // Hours grouped the French way whatever the language: "1 234 h" stays readable in English.
  std::string out = group_digits(std::to_string(hours), Lang::fr) + " h";
  if (rest != 0) out += " " + two_digits(static_cast<unsigned>(rest)) + " min";
  return out;
}

std::string format_percent(std::int64_t part, std::int64_t whole, Lang lang) {
  const std::string sign = lang == Lang::fr ? "\u202f%" : "%";
  if (whole <= 0 || part <= 0) return "0" + sign;
  const double percent = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  if (percent < 1.0) return "< 1" + sign;
  return std::to_string(std::llround(percent)) + sign;
}

// [SECTION] The worker ------------------------------------------------------------------------------

StatisticsWorker::StatisticsWorker(Options options) : options_(std::move(options)), worker_([this] { run(); }) {}

StatisticsWorker::~StatisticsWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    if (connection_ != nullptr && computing_ != 0) sqlite3_interrupt(connection_);
  }
  wake_.notify_all();
  worker_.join();
}

std::uint64_t StatisticsWorker::request(const stats::Filter& filter) {
  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    number = ++wanted_;
    wanted_filter_ = filter;
    // Under the lock, so that it can only hit a computation for an older request.
    if (connection_ != nullptr && computing_ != 0) sqlite3_interrupt(connection_);
  }
  wake_.notify_one();
  return number;
}

StatisticsWorker::Snapshot StatisticsWorker::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot out;
  out.result = published_;
  out.wanted = wanted_;
  out.busy = wanted_ != 0 && (!published_ || published_->request != wanted_);
  return out;
}

std::shared_ptr<const StatisticsResult> StatisticsWorker::wait() const {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return stop_ || (published_ && published_->request == wanted_); });
  return published_;
}

void StatisticsWorker::run() {
  std::unique_lock lock(mutex_);
  std::uint64_t done = 0;
  while (true) {
    wake_.wait(lock, [&] { return stop_ || wanted_ != done; });
    if (stop_) return;
    const auto request = wanted_;
    const auto filter = wanted_filter_;
    computing_ = request;
    lock.unlock();

    auto result = std::make_shared<StatisticsResult>(compute(request, filter));

    lock.lock();
    computing_ = 0;
    done = request;
    if (stop_) return;
    if (wanted_ != request) continue;  // a newer request came in: this result is stale
    published_ = std::move(result);
    done_.notify_all();
    lock.unlock();
    if (options_.on_ready) options_.on_ready();
    lock.lock();
  }
}

StatisticsResult StatisticsWorker::compute(std::uint64_t request, const stats::Filter& filter) {
  const auto started = std::chrono::steady_clock::now();
  StatisticsResult result;
  result.request = request;
  result.filter = filter;
  try {
    if (!factors_ && factors_error_.empty()) {
      try {
        factors_ = ImpactFactors::load_file(options_.impact_factors_path);
      } catch (const std::exception& error) {
        factors_error_ = error.what();
      }
    }
    if (!db_) {
      db_ = std::make_unique<sqlite::Database>(options_.store_path, sqlite::Database::Mode::read_only);
      std::lock_guard lock(mutex_);
      connection_ = db_->handle();
    }
    // The store's vocabulary (a server update may have come with the last pull).
    const auto vocabulary = vocabulary_with_update(*options_.base_vocabulary, options_.store_path);
    {
      auto statement = db_->prepare("SELECT id, nom, role, body FROM advisors WHERE deleted_at IS NULL");
      while (statement.step()) {
        KnownAdvisor advisor{statement.column_text(0), statement.column_text(1), statement.column_text(2)};
        const auto body = nlohmann::json::parse(statement.column_text(3), nullptr, false);
        if (body.is_object() && body.contains("prenom") && body["prenom"].is_string()) {
          advisor.name = trim(body["prenom"].get<std::string>() + " " + advisor.name);
        }
        result.advisors.push_back(std::move(advisor));
      }
      std::sort(result.advisors.begin(), result.advisors.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
    }
    const ImpactFactors empty_factors;
    result.indicators = stats::compute(*db_, filter, vocabulary, factors_ ? *factors_ : empty_factors);
    if (factors_) {
      result.factors_version = factors_->version();
      result.factors_source_fr = factors_->source(Lang::fr);
      result.factors_source_en = factors_->source(Lang::en);
    } else {
      result.error = factors_error_;
    }
  } catch (const std::exception& error) {
    result.indicators.reset();
    result.error = error.what();
  }
  // An interrupted computation may leave its read open: end it, so that an idle worker holds
  // no snapshot (it would keep the writer from checkpointing the WAL).
  if (db_) {
    for (int attempt = 0; attempt < 2 && sqlite3_get_autocommit(db_->handle()) == 0; ++attempt) {
      try {
        db_->exec("ROLLBACK");
      } catch (...) {
      }
    }
  }
  result.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace relais::app
