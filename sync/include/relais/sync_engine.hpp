#pragma once
// The client side of sync (docs/protocol.md): enrollment, then push of the outbox and pull of
// what changed elsewhere, with the store doing the merging. SyncEngine runs one sync on the
// calling thread; BackgroundSync runs it on its own thread, with back-off while offline.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "relais/http_client.hpp"
#include "relais/local_store.hpp"
#include "relais/wire.hpp"

namespace relais {


// Keys of the store's meta table that hold the sync settings and state.
namespace sync_meta {
inline constexpr const char* server_url = "sync_server_url";
inline constexpr const char* token = "sync_token";
inline constexpr const char* ca_file = "sync_ca_file";
inline constexpr const char* user = "sync_user";  // JSON of the enrolled user
inline constexpr const char* last_success = "sync_last_success";
inline constexpr const char* last_error = "sync_last_error";
inline constexpr const char* last_attempt = "sync_last_attempt";
}  // namespace sync_meta

struct SyncReport {
  std::size_t pushed = 0;     // records the server applied
  std::size_t pulled = 0;     // records received
  std::size_t conflicts = 0;  // values that lost to a concurrent edit (push and pull)
  std::size_t rejected = 0;   // records the server refused (quarantined)
  std::string error;          // empty when the sync went through
  std::string error_code;     // transport error (cannot_connect, timeout...) or the server's code
  // The server's time minus this device's, when they differ enough to matter (else 0): this
  // device's versions are made with the server's time meanwhile (LocalStore::learn_server_time).
  std::int64_t clock_offset_ms = 0;
  std::size_t restamped = 0;  // records stamped again because this device's clock ran ahead
  std::size_t refused_for_clock = 0;  // of `rejected`: refused because their clock ran ahead
  bool ok() const { return error.empty(); }
};

struct SyncProgress {
  std::string phase;  // "push" | "pull"
  std::size_t done = 0;
};
using ProgressCallback = std::function<void(const SyncProgress&)>;

struct EnrollResult {
  bool ok = false;
  std::string error;
  nlohmann::json user;
};

// Exchanges a one-time code for a device token and saves the server settings in the store.
EnrollResult enroll(LocalStore& store, const HttpClientOptions& options, const std::string& code,
                    const std::string& device_name);

class SyncEngine {
 public:
  // Uses the server settings saved by enroll(); `server_url` and `ca_file` override the saved
  // ones, and replace them once a sync with them succeeds.
  SyncEngine(LocalStore& store, std::optional<std::string> server_url = std::nullopt,
             std::optional<std::string> ca_file = std::nullopt);

  bool enrolled() const;
  // Push everything pending, then pull until up to date. Never throws for network or server
  // problems: they are in the report (and in the store's last error).
  SyncReport run_once(const ProgressCallback& progress = {});
  // Thread-safe: stops the request in progress; run_once returns with error_code "cancelled".
  void cancel();

  std::uint64_t bytes_sent() const;
  std::uint64_t bytes_received() const;

  static constexpr std::size_t kPushBatch = wire::kMaxChangesPerPush;
  static constexpr std::size_t kPushesInFlight = 2;
  // Records per pull page: the server's maximum, 1,000, unless set lower (tests use small pages).
  void set_pull_limit(std::size_t limit) {
    pull_limit_ = std::clamp<std::size_t>(limit, 1, static_cast<std::size_t>(wire::kMaxPullLimit));
  }

 private:
  bool push(SyncReport& report, const ProgressCallback& progress);
  bool pull(SyncReport& report, const ProgressCallback& progress, bool& resync);
  bool fail(SyncReport& report, const HttpResult& result, const std::string& what);
  // Learns the server's clock from an answer's Relais-Server-Time header.
  void note_server_time(const HttpResult& result, SyncReport& report);
  std::vector<std::pair<std::string, std::string>> headers() const;

  LocalStore& store_;
  std::string token_;
  std::optional<std::string> server_url_;  // given for this sync: saved once it succeeds
  std::optional<std::string> ca_file_;
  std::unique_ptr<HttpClient> http_;
  // The connections of the other pushes in flight (the first one's is http_).
  std::array<std::unique_ptr<HttpClient>, kPushesInFlight - 1> more_http_;
  std::size_t pull_limit_ = static_cast<std::size_t>(wire::kMaxPullLimit);
};

// Runs syncs on a worker thread with its own store connection: at start, every `interval` while
// online, at once on request_now(), and with exponential back-off plus jitter after a failure.
// Never touches the UI: the callbacks run on the worker thread and must only post messages.
class BackgroundSync {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::minutes(2)};
    std::chrono::milliseconds first_retry{std::chrono::seconds(5)};
    std::chrono::milliseconds max_retry{std::chrono::minutes(5)};
  };
  using ReportCallback = std::function<void(const SyncReport&)>;

  BackgroundSync(std::filesystem::path store_path, const Vocabulary& vocabulary, Options options,
                 ReportCallback on_report, ProgressCallback on_progress = {});
  ~BackgroundSync();  // stops and joins
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;

  void request_now();
  void stop();
  bool running_sync() const { return running_.load(); }

 private:
  class EngineLease;  // sets engine_ for a sync, clears it on every way out
  void run();

  std::filesystem::path store_path_;
  const Vocabulary& vocabulary_;
  Options options_;
  ReportCallback on_report_;
  ProgressCallback on_progress_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  bool now_requested_ = true;
  std::atomic<bool> running_{false};
  SyncEngine* engine_ = nullptr;  // guarded by mutex_, for cancel() from stop(); set by EngineLease only
  std::thread thread_;
};

}  // namespace relais
