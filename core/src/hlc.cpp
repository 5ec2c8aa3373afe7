#include "relais/hlc.hpp"

#include <algorithm>

#include "relais/dates.hpp"

namespace relais {

HybridLogicalClock::HybridLogicalClock(std::int64_t last_version, WallClock wall_clock)
    : last_(std::max<std::int64_t>(last_version, 0)),
      wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(now_unix_ms)) {}

std::int64_t HybridLogicalClock::tick() {
  const std::int64_t wall = make(wall_clock_(), 0);
  // Either the wall clock moved past everything seen (counter restarts at 0), or we stay on
  // the last physical time and bump the counter (which carries into the milliseconds if full).
  last_ = std::max(wall, last_ < kMaxVersion ? last_ + 1 : kMaxVersion);
  return last_;
}

std::string describe_clock_offset(std::int64_t offset_ms, Lang lang) {
  const bool fr = lang == Lang::fr;
  // Magnitude without overflow for INT64_MIN.
  const auto ms = offset_ms < 0 ? -(offset_ms + 1) + 1 : offset_ms;
  const std::int64_t seconds = ms / 1000, minutes = seconds / 60, hours = minutes / 60, days = hours / 24;
  const auto plural = [](std::int64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n > 1 ? many : one);
  };
  if (days >= 365) return fr ? plural(days / 365, "an", "ans") : plural(days / 365, "year", "years");
  if (days >= 2) return fr ? plural(days, "jour", "jours") : plural(days, "day", "days");
  if (hours >= 1) {
    const auto rest = minutes % 60;
    return std::to_string(hours) + " h" + (rest > 0 ? " " + std::to_string(rest) + " min" : "");
  }
  if (minutes >= 1) return std::to_string(minutes) + " min";
  return std::to_string(seconds) + " s";
}

std::string clock_warning(std::int64_t offset_ms, Lang lang) {
  if (offset_ms == 0) return {};
  // offset = server - device: positive when this device is behind.
  const auto amount = describe_clock_offset(offset_ms, lang);
  if (lang == Lang::fr) {
    return "L’horloge de cet ordinateur " + std::string(offset_ms > 0 ? "retarde de " : "avance de ") + amount +
           " sur celle du serveur : corrigez sa date et son heure. En attendant, Relais date vos modifications "
           "avec l'heure du serveur.";
  }
  return "This computer's clock is " + amount + (offset_ms > 0 ? " behind" : " ahead of") +
         " the server's: set its date and time right. Meanwhile Relais dates your changes with the server's time.";
}

bool HybridLogicalClock::observe(std::int64_t remote_version) {
  if (remote_version > ceiling(wall_clock_(), 2 * kMaxClockSkewMs)) return false;
  last_ = std::max(last_, remote_version);
  return true;
}

}  // namespace relais
