#pragma once
// Slows down guessing: failed attempts (enrollment codes) counted per client address over a
// sliding window; past the limit, an address is refused until its oldest failure leaves the
// window. Memory is bounded: at most kMaxAddresses addresses are remembered (the least recently
// failed are forgotten first). Thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace relais::server {

class AttemptThrottle {
 public:
  using Clock = std::function<std::int64_t()>;  // milliseconds, monotonic
  static constexpr std::size_t kMaxAddresses = 10'000;

  AttemptThrottle(std::size_t max_failures, std::int64_t window_ms, Clock clock = {});

  // Milliseconds until `address` may try again; 0 when it may now.
  std::int64_t wait_ms(const std::string& address);
  // A failed attempt from `address`; returns the failures counted in the window, this one included.
  std::size_t failed(const std::string& address);
  // A successful attempt: the address's failures are forgotten.
  void succeeded(const std::string& address);

 private:
  struct Entry {
    std::deque<std::int64_t> failures;  // times, oldest first, within the window
    std::list<std::string>::iterator order;
  };
  void forget_old(Entry& entry, std::int64_t now) const;

  std::size_t max_failures_;
  std::int64_t window_ms_;
  Clock clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // least recently failed first
};

}  // namespace relais::server
