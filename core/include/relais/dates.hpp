#pragma once
// Calendar dates (YYYY-MM-DD, no time zone) and UTC timestamps.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace relais {

struct Date {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;

  auto operator<=>(const Date&) const = default;
};

// Strict YYYY-MM-DD of a real calendar day (2026-02-30 is refused).
std::optional<Date> parse_date(std::string_view text);
std::string format_date(const Date& date);          // 2026-11-22
std::string format_date_french(const Date& date);   // 22/11/2026
Date today_local();

// Milliseconds since the Unix epoch, from the system clock.
std::int64_t now_unix_ms();
// "2026-11-22T19:40:00.123Z"
std::string format_timestamp_utc(std::int64_t unix_ms);
// "22/11/2026 20:40" in the machine's local time zone, for French exports.
std::string format_timestamp_local_french(std::int64_t unix_ms);
// Parses format_timestamp_utc's output.
std::optional<std::int64_t> parse_timestamp_utc(std::string_view text);

}  // namespace relais
