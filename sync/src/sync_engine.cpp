#include "relais/sync_engine.hpp"

#include <cctype>
#include <charconv>
#include <deque>
#include <future>
#include <random>

#include <sqlite3.h>

#include "relais/assets.hpp"
#include "relais/json_parse.hpp"
#include "relais/vocabulary.hpp"
#include "relais/wire.hpp"

namespace relais {

using nlohmann::json;

namespace {

// A server's answer, or a discarded value when it is not JSON.
json parse_answer(const std::string& text) {
  try {
    return parse_json(text);
  } catch (const JsonSyntaxError&) {
    return json(json::value_t::discarded);
  }
}

std::string error_code_of(const json& body) {
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    return body["error"].value("code", std::string{});
  }
  return {};
}

std::string error_message_of(const HttpResponse& response) {
  const auto body = parse_answer(response.body);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    return body["error"].value("message", std::string{});
  }
  return "HTTP " + std::to_string(response.status);
}

// HttpResponse::headers has lower-case names.
std::string lower_case_name(std::string_view name) {
  std::string out(name);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// A refusal because the change's clock runs ahead of the server's (docs/protocol.md).
bool refused_for_clock(const PushResult& result) {
  if (result.status != "rejected" || !result.problems.is_array()) return false;
  return std::any_of(result.problems.begin(), result.problems.end(), [](const json& problem) {
    return problem.is_object() && problem.value("reason", std::string{}) == "clock_ahead";
  });
}

std::string url_encode(const std::string& text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char raw : text) {
    const auto ch = static_cast<unsigned char>(raw);
    if (std::isalnum(ch) || raw == '-' || raw == '_' || raw == '.' || raw == '~') {
      out += raw;
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 0x0F];
    }
  }
  return out;
}

}  // namespace

EnrollResult enroll(LocalStore& store, const HttpClientOptions& options, const std::string& code,
                    const std::string& device_name) {
  EnrollResult out;
  HttpClient http(options);
  const json body{{"code", code}, {"device_id", store.device_id()}, {"device_name", device_name}};
  const auto result = http.post_json("/api/v1/enroll", body.dump(), {{std::string(wire::kProtocolHeader), std::string(wire::kProtocolVersion)}}, false);
  if (!result.ok()) {
    out.error = std::string(to_string(result.error)) + ": " + result.error_message;
    return out;
  }
  if (result.response.status != 200) {
    out.error = error_message_of(result.response);
    return out;
  }
  const auto answer = parse_answer(result.response.body);
  if (!answer.is_object() || !answer.contains("token") || !answer["token"].is_string()) {
    out.error = "the server's answer has no token";
    return out;
  }
  out.ok = true;
  out.user = answer.value("user", json::object());
  store.set_meta(sync_meta::server_url, options.base_url);
  store.set_meta(sync_meta::token, answer["token"].get<std::string>());
  store.set_meta(sync_meta::user, out.user.dump());
  if (options.ca_file) store.set_meta(sync_meta::ca_file, *options.ca_file);
  // New records are the enrolled user's.
  if (out.user.contains("id") && out.user["id"].is_string()) store.set_meta("advisor_id", out.user["id"].get<std::string>());
  return out;
}

SyncEngine::SyncEngine(LocalStore& store, std::optional<std::string> server_url, std::optional<std::string> ca_file)
    : store_(store),
      token_(store.meta(sync_meta::token).value_or("")),
      server_url_(std::move(server_url)),
      ca_file_(std::move(ca_file)) {
  HttpClientOptions options;
  options.base_url = server_url_ ? *server_url_ : store.meta(sync_meta::server_url).value_or("");
  options.ca_file = ca_file_ ? ca_file_ : store.meta(sync_meta::ca_file);
  options.user_agent = "relais/" + relais_version();
  http_ = std::make_unique<HttpClient>(options);
  for (auto& client : more_http_) client = std::make_unique<HttpClient>(options);
}

bool SyncEngine::enrolled() const { return !token_.empty(); }

void SyncEngine::cancel() {
  http_->cancel();
  for (auto& client : more_http_) client->cancel();
}

std::uint64_t SyncEngine::bytes_sent() const {
  auto bytes = http_->bytes_sent();
  for (const auto& client : more_http_) bytes += client->bytes_sent();
  return bytes;
}

std::uint64_t SyncEngine::bytes_received() const {
  auto bytes = http_->bytes_received();
  for (const auto& client : more_http_) bytes += client->bytes_received();
  return bytes;
}

std::vector<std::pair<std::string, std::string>> SyncEngine::headers() const {
  return {{"Authorization", "Bearer " + token_}, {std::string(wire::kProtocolHeader), std::string(wire::kProtocolVersion)}};
}

bool SyncEngine::fail(SyncReport& report, const HttpResult& result, const std::string& what) {
  if (!result.ok()) {
    report.error_code = std::string(to_string(result.error));
    report.error = what + ": " + result.error_message;
  } else {
    const auto body = parse_answer(result.response.body);
    report.error_code = error_code_of(body);
    if (report.error_code.empty()) report.error_code = "http_" + std::to_string(result.response.status);
    report.error = what + ": " + error_message_of(result.response);
  }
  return false;
}

bool SyncEngine::push(SyncReport& report, const ProgressCallback& progress) {
  // Up to kPushesInFlight pushes are in flight, each on its own connection and thread: while the
  // server writes one, it reads and parses the next, and this thread reads and encodes the one
  // after and writes down the answers. Answers are taken in order, so the checkpoint only moves
  // forward; the batches hold different records (outbox() stops before any record in flight),
  // so the server may apply them in either order.
  struct InFlight {
    Outbox batch;
    std::future<HttpResult> answer;
  };
  std::deque<InFlight> in_flight;
  std::size_t sent = 0;  // pushes sent in this sync: the n-th goes on connection n % kPushesInFlight
  const auto send = [&](Outbox batch) {
    const auto slot = sent++ % kPushesInFlight;
    auto* client = slot == 0 ? http_.get() : more_http_[slot - 1].get();
    auto body = wire::encode_push(store_.device_id(), batch.changes);
    in_flight.push_back({std::move(batch), std::async(std::launch::async, [client, body = std::move(body), headers = headers()] {
                           return client->post_json("/api/v1/push", body, headers, true);
                         })});
  };
  // The batch after the pushes not acknowledged yet: `answered` (when given), then those in flight.
  const auto next_batch = [&](const Outbox* answered) {
    std::vector<const Outbox*> ahead;
    if (answered != nullptr) ahead.push_back(answered);
    for (const auto& push : in_flight) ahead.push_back(&push.batch);
    return store_.outbox(kPushBatch, ahead);
  };
  // True once the journal, as read, has nothing more to send. With nothing in flight it is read
  // again from the checkpoint: a record edited while its push was in flight was left out.
  bool journal_read = false;
  for (;;) {
    if (in_flight.empty()) journal_read = false;
    // Fill the pipeline. (An exception leaves the futures to be waited for by their
    // destructors, and nothing acknowledged.)
    while (!journal_read && in_flight.size() < kPushesInFlight) {
      auto next = next_batch(nullptr);
      if (!next.changes.empty()) {
        send(std::move(next));
        continue;
      }
      journal_read = true;
      if (in_flight.empty()) {
        // Nothing left to send: journal entries already acknowledged only move the checkpoint.
        store_.acknowledge_push(next, {});
        return true;
      }
    }

    const auto result = in_flight.front().answer.get();
    note_server_time(result, report);
    if (!result.ok() || result.response.status != 200) return fail(report, result, "push");
    auto read = wire::parse_push_results(result.response.body);
    if (!read) {
      report.error_code = "invalid_response";
      report.error = "push: the server's answer is not readable";
      return false;
    }
    auto& results = *read;
    for (const auto& one : results) {
      if (one.status == "rejected") {
        ++report.rejected;
        if (refused_for_clock(one)) ++report.refused_for_clock;
      } else {
        ++report.pushed;
        report.conflicts += one.conflicts.size();
      }
    }
    // The next push leaves before this answer is written down.
    const auto answered = std::move(in_flight.front().batch);
    in_flight.pop_front();
    if (!journal_read) {
      auto next = next_batch(&answered);
      if (next.changes.empty()) {
        journal_read = true;
      } else {
        send(std::move(next));
      }
    }
    store_.acknowledge_push(answered, results);
    if (progress) progress({"push", report.pushed + report.rejected});
  }
}

bool SyncEngine::pull(SyncReport& report, const ProgressCallback& progress, bool& resync) {
  for (;;) {
    const auto cursor = store_.meta("sync_pull_cursor");
    std::string path = "/api/v1/pull?limit=" + std::to_string(pull_limit_);
    if (cursor && !cursor->empty()) path += "&cursor=" + url_encode(*cursor);
    const auto result = http_->get(path, headers());
    note_server_time(result, report);
    if (result.ok() && result.response.status == 410) {
      resync = true;
      return true;
    }
    if (!result.ok() || result.response.status != 200) return fail(report, result, "pull");
    auto page = wire::parse_pull_answer(result.response.body);
    if (!page) {
      report.error_code = "invalid_response";
      report.error = "pull: the server's answer is not readable";
      return false;
    }
    auto& records = page->records;
    // Reference data beside the records: the vocabulary update, when it changed (protocol.md).
    const auto applied = store_.apply_pulled(records, page->cursor, page->vocabulary);
    report.pulled += records.size();
    report.conflicts += applied.conflicts;
    if (progress) progress({"pull", report.pulled});
    if (!page->more) return true;
  }
}

void SyncEngine::note_server_time(const HttpResult& result, SyncReport& report) {
  if (!result.ok()) return;
  const auto header = result.response.headers.find(lower_case_name(wire::kServerTimeHeader));
  if (header == result.response.headers.end()) return;  // a server from before the header
  std::int64_t server_ms = 0;
  const auto& text = header->second;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), server_ms);
  if (error != std::errc{} || end != text.data() + text.size() || server_ms <= 0) return;
  report.clock_offset_ms = store_.learn_server_time(server_ms);
}

SyncReport SyncEngine::run_once(const ProgressCallback& progress) {
  SyncReport report;
  store_.set_meta(sync_meta::last_attempt, format_timestamp_utc(now_unix_ms()));
  if (!enrolled()) {
    report.error_code = "not_enrolled";
    report.error = "this device is not enrolled: relais-cli enroll --server URL --code CODE";
  } else {
    try {
      // Versions stamped by a clock that ran ahead (seen at an earlier sync) go out restamped.
      report.restamped += store_.restamp_future_versions();
      bool ok = push(report, progress);
      // This push taught the device that its clock runs ahead: what the server refused for it
      // goes again, restamped with the server's time.
      if (ok && report.refused_for_clock > 0) {
        if (const auto restamped = store_.restamp_future_versions(); restamped > 0) {
          report.restamped += restamped;
          report.rejected -= std::min(report.rejected, report.refused_for_clock);
          report.refused_for_clock = 0;
          ok = push(report, progress);
        }
      }
      bool resync = false;
      if (ok) ok = pull(report, progress, resync);
      if (ok && resync) {
        // The server lost track of this device (restored or reset store): start over; pushes
        // and pulls are idempotent, so sending everything again is safe.
        store_.reset_sync_state();
        ok = push(report, progress) && pull(report, progress, resync);
      }
    } catch (const std::exception& error) {
      report.error_code = "internal";
      report.error = error.what();
    }
  }
  // One transaction, so one write to disk, for the outcome.
  sqlite::Transaction transaction(store_.database());
  if (report.ok()) {
    // A server address or CA file given for this sync worked: it becomes the saved one.
    if (server_url_) store_.set_meta(sync_meta::server_url, *server_url_);
    if (ca_file_) store_.set_meta(sync_meta::ca_file, *ca_file_);
    store_.set_meta(sync_meta::last_success, format_timestamp_utc(now_unix_ms()));
    store_.set_meta(sync_meta::last_error, "");
  } else {
    store_.set_meta(sync_meta::last_error, report.error);
  }
  transaction.commit();
  return report;
}

// [SECTION] Background --------------------------------------------------------------------------

BackgroundSync::BackgroundSync(std::filesystem::path store_path, const Vocabulary& vocabulary, Options options,
                               ReportCallback on_report, ProgressCallback on_progress)
    : store_path_(std::move(store_path)),
      vocabulary_(vocabulary),
      options_(options),
      on_report_(std::move(on_report)),
      on_progress_(std::move(on_progress)),
      thread_([this] { run(); }) {}

BackgroundSync::~BackgroundSync() { stop(); }

void BackgroundSync::request_now() {
  {
    std::lock_guard lock(mutex_);
    now_requested_ = true;
  }
  wake_.notify_one();
}

void BackgroundSync::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stop_requested_ && !thread_.joinable()) return;
    stop_requested_ = true;
    if (engine_ != nullptr) engine_->cancel();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// Publishes the engine of the sync in progress for cancel() from stop(), and takes it back
// under the mutex however the sync ends: a normal return or an exception (a store busy past
// its timeout, a full disk), so stop() never reaches an engine that is gone.
class BackgroundSync::EngineLease {
 public:
  EngineLease(BackgroundSync& owner, SyncEngine& engine) : owner_(owner) { owner_.engine_ = &engine; }  // mutex_ held
  EngineLease(const EngineLease&) = delete;
  EngineLease& operator=(const EngineLease&) = delete;
  ~EngineLease() {
    std::lock_guard lock(owner_.mutex_);
    owner_.engine_ = nullptr;
  }

 private:
  BackgroundSync& owner_;
};

namespace {

// A failure outside the network (the store), as a sync report; recorded in the store's last
// error when the store can take it at once (never waiting: it may be the store that is busy).
SyncReport store_failure(LocalStore* store, const std::exception& error) {
  SyncReport report;
  const auto* sqlite_error = dynamic_cast<const sqlite::Error*>(&error);
  report.error_code = sqlite_error == nullptr ? "internal" : sqlite_error->busy() ? "store_busy" : "store";
  report.error = error.what();
  if (store != nullptr) {
    try {
      sqlite3_busy_timeout(store->database().handle(), 0);
      store->set_meta(sync_meta::last_error, report.error);
    } catch (const std::exception&) {
      // Still busy: the report says it, and the next sync records its own outcome.
    }
  }
  return report;
}

}  // namespace

void BackgroundSync::run() {
  std::mt19937 random{std::random_device{}()};
  auto retry = options_.first_retry;
  for (;;) {
    std::unique_ptr<LocalStore> store;
    SyncReport report;
    try {
      store = std::make_unique<LocalStore>(store_path_, vocabulary_);
      SyncEngine engine(*store);
      std::optional<EngineLease> lease;
      {
        std::lock_guard lock(mutex_);
        if (stop_requested_) return;
        lease.emplace(*this, engine);
        now_requested_ = false;
      }
      running_ = true;
      report = engine.run_once(on_progress_);
      running_ = false;
    } catch (const std::exception& error) {
      running_ = false;
      // The lease is gone with the engine: stop() cannot cancel it any more. Back-off as for
      // any failed sync; the thread keeps going.
      report = store_failure(store.get(), error);
    }
    if (on_report_) on_report_(report);

    // Wait: the usual interval after a success; after a failure, a back-off that doubles up to
    // max_retry, with ±25 % jitter so that many devices coming back online do not all call at once.
    std::chrono::milliseconds wait = options_.interval;
    if (!report.ok() && report.error_code != "not_enrolled") {
      std::uniform_real_distribution<double> jitter(0.75, 1.25);
      wait = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(retry.count()) * jitter(random)));
      retry = std::min(retry * 2, options_.max_retry);
    } else {
      retry = options_.first_retry;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, wait, [this] { return stop_requested_ || now_requested_; });
    if (stop_requested_) return;
  }
}

}  // namespace relais
