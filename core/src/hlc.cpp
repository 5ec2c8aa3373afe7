#include "relais/hlc.hpp"

#include <algorithm>

#include "relais/dates.hpp"

namespace relais {

HybridLogicalClock::HybridLogicalClock(std::int64_t last_version, WallClock wall_clock)
    : last_(last_version), wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(now_unix_ms)) {}

std::int64_t HybridLogicalClock::tick() {
  const std::int64_t wall = make(wall_clock_(), 0);
  // Either the wall clock moved past everything seen (counter restarts at 0), or we stay on
  // the last physical time and bump the counter (which carries into the milliseconds if full).
  last_ = std::max(wall, last_ + 1);
  return last_;
}

void HybridLogicalClock::observe(std::int64_t remote_version) { last_ = std::max(last_, remote_version); }

}  // namespace relais
