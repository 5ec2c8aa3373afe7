#include "relais/server/attempt_throttle.hpp"

namespace relais::server {

namespace {

std::int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AttemptThrottle::AttemptThrottle(std::size_t max_failures, std::int64_t window_ms, Clock clock)
    : max_failures_(max_failures), window_ms_(window_ms), clock_(clock ? std::move(clock) : Clock(monotonic_ms)) {}

void AttemptThrottle::forget_old(Entry& entry, std::int64_t now) const {
  while (!entry.failures.empty() && entry.failures.front() <= now - window_ms_) entry.failures.pop_front();
}

std::int64_t AttemptThrottle::wait_ms(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(address);
  if (it == entries_.end()) return 0;
  const auto now = clock_();
  forget_old(it->second, now);
  if (it->second.failures.size() < max_failures_) return 0;
  // Free again when enough failures have left the window to be under the limit.
  const auto freeing = it->second.failures[it->second.failures.size() - max_failures_];
  return freeing + window_ms_ - now;
}

std::size_t AttemptThrottle::failed(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto now = clock_();
  auto it = entries_.find(address);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxAddresses) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(address);
    it = entries_.emplace(address, Entry{{}, std::prev(order_.end())}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.order);
  }
  auto& entry = it->second;
  forget_old(entry, now);
  entry.failures.push_back(now);
  // Only the last max_failures_ + 1 matter to wait_ms(): the memory per address is bounded too.
  while (entry.failures.size() > max_failures_ + 1) entry.failures.pop_front();
  return entry.failures.size();
}

void AttemptThrottle::succeeded(const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(address);
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace relais::server
