#pragma once
// Hybrid logical clock (Kulkarni et al., 2014): the version stamped on every change.
// A version is one 64-bit number: wall-clock milliseconds in the high bits, a logical
// counter in the low 16 bits. It never goes backwards on a device even when the system
// clock does, and after observing a remote version it stays ahead of it, so versions
// order causally related changes across devices; ties are broken by device id.
#include <cstdint>
#include <functional>
#include <string>

namespace relais {

class HybridLogicalClock {
 public:
  using WallClock = std::function<std::int64_t()>;  // Unix milliseconds

  explicit HybridLogicalClock(std::int64_t last_version = 0, WallClock wall_clock = {});

  // A new version for a local change, greater than every version seen so far.
  std::int64_t tick();
  // Merges a version received from elsewhere; later ticks are greater than it.
  void observe(std::int64_t remote_version);
  std::int64_t last() const { return last_; }

  static constexpr int kCounterBits = 16;
  static std::int64_t physical_ms(std::int64_t version) { return version >> kCounterBits; }
  static std::int64_t counter(std::int64_t version) { return version & ((std::int64_t{1} << kCounterBits) - 1); }
  static std::int64_t make(std::int64_t physical_ms, std::int64_t counter) {
    return (physical_ms << kCounterBits) | counter;
  }

 private:
  std::int64_t last_;
  WallClock wall_clock_;
};

}  // namespace relais
