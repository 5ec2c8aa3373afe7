#pragma once
// Hybrid logical clock (Kulkarni et al., 2014): the version stamped on every change.
// A version is one 64-bit number: wall-clock milliseconds in the high bits, a logical
// counter in the low 16 bits. It never goes backwards on a device even when the system
// clock does, and after observing a remote version it stays ahead of it, so versions
// order causally related changes across devices; ties are broken by device id.
//
// Clocks are bounded (docs/protocol.md, "Bounded clocks"): the server refuses a version more
// than kMaxClockSkewMs ahead of its own clock, and a device never takes a clock from a pulled
// record more than twice that ahead of its own, so no device (broken, misconfigured or hostile)
// can drag everyone's clock, or make a version nobody can beat.
#include <cstdint>
#include <functional>
#include <string>

#include "relais/lang.hpp"

namespace relais {

// How far ahead of the server's clock a version may be: a device clock a little fast, never
// one that is hours off (the server's time comes with every answer, and a device that far off
// corrects its versions by it: LocalStore::set_clock_offset).
inline constexpr std::int64_t kMaxClockSkewMs = 60 * 60 * 1000;
// A device clock further than this from the server's is corrected by the server's time and
// reported to the user; below it, it is ordinary drift.
inline constexpr std::int64_t kClockCorrectionThresholdMs = 2 * 60 * 1000;

// How far a clock is off, as people say it: "10 ans", "3 h 12 min", "45 s" ("10 years"…), of
// the absolute value of `offset_ms`.
std::string describe_clock_offset(std::int64_t offset_ms, Lang lang);
// "This computer's clock is 3 h 12 min ahead of the server's: …" (or behind), or "" for 0.
std::string clock_warning(std::int64_t offset_ms, Lang lang);

class HybridLogicalClock {
 public:
  using WallClock = std::function<std::int64_t()>;  // Unix milliseconds

  explicit HybridLogicalClock(std::int64_t last_version = 0, WallClock wall_clock = {});

  // A new version for a local change, greater than every version seen so far (saturating at
  // kMaxVersion, which no plausible clock reaches before the year 6000).
  std::int64_t tick();
  // Merges a version received from elsewhere; later ticks are greater than it. A version more
  // than 2 × kMaxClockSkewMs ahead of the wall clock is not taken (returns false): the server
  // accepts none, so only a record from before that rule, or a hostile one, has it.
  bool observe(std::int64_t remote_version);
  std::int64_t last() const { return last_; }
  // Starts again from `last_version` (a device that had taken a wrong clock: see
  // LocalStore::restamp_future_versions).
  void reset(std::int64_t last_version) { last_ = last_version; }

  static constexpr int kCounterBits = 16;
  static constexpr std::int64_t kMaxPhysicalMs = INT64_MAX >> kCounterBits;
  static constexpr std::int64_t kMaxVersion = INT64_MAX;
  static std::int64_t physical_ms(std::int64_t version) { return version >> kCounterBits; }
  static std::int64_t counter(std::int64_t version) { return version & ((std::int64_t{1} << kCounterBits) - 1); }
  // Milliseconds outside [0, kMaxPhysicalMs] are clamped into it: the shift cannot overflow.
  static std::int64_t make(std::int64_t physical_ms, std::int64_t counter) {
    if (physical_ms < 0) physical_ms = 0;
    if (physical_ms > kMaxPhysicalMs) physical_ms = kMaxPhysicalMs;
    return (physical_ms << kCounterBits) | (counter & ((std::int64_t{1} << kCounterBits) - 1));
  }
  // The greatest version a node whose clock reads `now_ms` accepts from elsewhere.
  static std::int64_t ceiling(std::int64_t now_ms, std::int64_t skew_ms = kMaxClockSkewMs) {
    return make(now_ms > kMaxPhysicalMs - skew_ms ? kMaxPhysicalMs : now_ms + skew_ms, 0xFFFF);
  }

 private:
  std::int64_t last_;
  WallClock wall_clock_;
};

}  // namespace relais
