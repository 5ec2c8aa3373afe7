// Sync end to end: real relais-server processes on loopback, devices running the real sync
// engine (libcurl), and a fault-injecting proxy between them. What is checked is what people
// rely on: after the trouble stops, every record is on the server exactly once with its latest
// content, and every device sees the same records.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "relais/dates.hpp"
#include "relais/exports.hpp"
#include "relais/hlc.hpp"
#include "relais/impact.hpp"
#include "relais/sqlite.hpp"
#include "relais/statistics.hpp"
#include "relais/sync_engine.hpp"
#include "server_process.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::LocalStore;
using relais::RecordKind;
using relais::test::server_admin;
using relais::test::ServerProcess;

namespace {

// [SECTION] Setting up a team -------------------------------------------------------------------

struct Team {
  relais::test::TempDir dir;
  std::filesystem::path server_db = dir / "server.db";
  std::string structure = server_admin(RELAIS_SERVER_PATH, server_db, {"add-structure", "--name", "France Services"});
  std::string advisor = server_admin(RELAIS_SERVER_PATH, server_db,
                                     {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Benali"});
  std::string coordinator = server_admin(
      RELAIS_SERVER_PATH, server_db, {"add-user", "--structure", structure, "--role", "coordinateur", "--name", "Martin"});
  std::unique_ptr<ServerProcess> server = std::make_unique<ServerProcess>(RELAIS_SERVER_PATH, server_db);

  // A device of `user`, enrolled through `url` (the server's, or a proxy's); its clock is the
  // system's plus `clock_ahead_ms`.
  std::unique_ptr<LocalStore> device(const std::string& name, const std::string& user, const std::string& url,
                                     std::int64_t clock_ahead_ms = 0) {
    LocalStore::Options store_options;
    store_options.today = relais::test::kToday;
    if (clock_ahead_ms != 0) {
      store_options.wall_clock = [clock_ahead_ms] { return relais::now_unix_ms() + clock_ahead_ms; };
    }
    auto store = std::make_unique<LocalStore>(dir / (name + ".db"), relais::test::vocabulary(), store_options);
    const auto code = server_admin(RELAIS_SERVER_PATH, server_db, {"enroll-code", "--user", user});
    relais::HttpClientOptions options;
    options.base_url = url;
    const auto enrolled = relais::enroll(*store, options, code, name);
    INFO(enrolled.error);
    REQUIRE(enrolled.ok);
    return store;
  }
};

std::string add_session(LocalStore& store, int minutes = 45) {
  auto input = relais::test::valid_individual_session_json();
  input["date"] = "2026-01-15";
  input["duree"] = minutes;
  auto checked = relais::check_record(RecordKind::session, input, relais::test::context());
  REQUIRE(checked.ok());
  const auto result = store.add(checked.record);
  REQUIRE(result.ok());
  return result.ids.front();
}

relais::SyncReport sync(LocalStore& store, std::optional<std::string> url = std::nullopt) {
  relais::SyncEngine engine(store, std::move(url));
  return engine.run_once();
}

void sync_ok(LocalStore& store, std::optional<std::string> url = std::nullopt) {
  const auto report = sync(store, std::move(url));
  INFO(report.error);
  REQUIRE(report.ok());
  REQUIRE(store.pending_count() == 0);
}

// Live sessions as id -> the fields people see.
std::map<std::string, json> sessions_of(const LocalStore& store) {
  std::map<std::string, json> out;
  relais::ListQuery query;
  for (auto record : store.list(query)) {
    const std::string id = record["id"];
    for (const auto* key : {"created_at", "updated_at", "version", "mediateur_id"}) record.erase(key);
    out[id] = record;
  }
  return out;
}

std::int64_t server_count(const std::filesystem::path& db, const std::string& sql) {
  relais::sqlite::Database database(db, relais::sqlite::Database::Mode::read_only);
  return database.query_int64(sql);
}

// [SECTION] A fault-injecting proxy ---------------------------------------------------------------

enum class Fault { none, refuse, drop_after_forward, truncate_response, server_error, delay, duplicate };

// Forwards one HTTP request per connection to the server, misbehaving as told: it may close the
// connection before or after the server has seen the request, cut the answer, answer 503 itself,
// wait, or send the request twice.
class FaultProxy {
 public:
  explicit FaultProxy(int target_port) : target_port_(target_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(listener_, 16) == 0);
    socklen_t length = sizeof address;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~FaultProxy() {
    stop_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_fault_rate(double rate) { fault_rate_ = rate; }
  // Offline: every connection is closed before the server sees anything.
  void set_offline(bool offline) { offline_ = offline; }
  void retarget(int port) { target_port_ = port; }
  int faults_injected() const { return faults_; }

 private:
  // Reads one whole HTTP message (headers, then Content-Length bytes of body).
  static std::string read_message(int fd) {
    std::string data;
    char buffer[65536];
    for (;;) {
      const auto end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t length = 0;
        auto lower = data.substr(0, end);
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (const auto at = lower.find("content-length:"); at != std::string::npos) {
          length = std::stoul(lower.substr(at + 15));
        }
        if (data.size() >= end + 4 + length) return data.substr(0, end + 4 + length);
      }
      pollfd ready{fd, POLLIN, 0};
      if (poll(&ready, 1, 10000) <= 0) return data;
      const auto n = read(fd, buffer, sizeof buffer);
      if (n <= 0) return data;
      data.append(buffer, static_cast<std::size_t>(n));
    }
  }

  static void write_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const auto n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  std::string forward(std::string request) {
    // One request per connection: the server closes after answering.
    if (const auto at = request.find("\r\n"); at != std::string::npos) request.insert(at + 2, "Connection: close\r\n");
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(target_port_.load()));
    std::string response;
    if (connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      write_all(upstream, request);
      response = read_message(upstream);
    }
    close(upstream);
    return response;
  }

  void handle(int client, Fault fault) {
    const auto request = read_message(client);
    switch (fault) {
      case Fault::refuse: break;
      case Fault::drop_after_forward: forward(request); break;
      case Fault::truncate_response: {
        const auto response = forward(request);
        write_all(client, response.substr(0, response.size() / 2));
        break;
      }
      case Fault::server_error:
        write_all(client,
                  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                  "Connection: close\r\n\r\n{}");
        break;
      case Fault::delay:
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        write_all(client, forward(request));
        break;
      case Fault::duplicate:
        forward(request);
        write_all(client, forward(request));
        break;
      case Fault::none: write_all(client, forward(request)); break;
    }
    close(client);
  }

  void serve() {
    std::mt19937 random(99);
    const std::vector<Fault> faults{Fault::refuse,        Fault::drop_after_forward, Fault::truncate_response,
                                    Fault::server_error, Fault::delay,              Fault::duplicate};
    while (!stop_) {
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      auto fault = Fault::none;
      if (offline_) {
        fault = Fault::refuse;
      } else if (std::uniform_real_distribution<double>(0, 1)(random) < fault_rate_.load()) {
        fault = faults[random() % faults.size()];
        ++faults_;
      }
      handle(client, fault);
    }
  }

  std::atomic<int> target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<double> fault_rate_{0.0};
  std::atomic<bool> offline_{false};
  std::atomic<int> faults_{0};
  std::thread thread_;
};

}  // namespace

// [SECTION] Tests ---------------------------------------------------------------------------------

TEST_CASE("two devices of an advisor and their coordinator converge after offline edits", "[sync][e2e]") {
  Team team;
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  auto netbook = team.device("netbook", team.advisor, team.server->url());
  auto coordinator = team.device("coordinator", team.coordinator, team.server->url());

  std::mt19937 random(2026);
  std::vector<std::string> ids;
  std::vector<LocalStore*> advisor_devices{laptop.get(), netbook.get()};
  for (int step = 0; step < 120; ++step) {
    auto& device = *advisor_devices[random() % 2];
    const auto action = random() % 10;
    if (action < 3 || ids.empty()) {
      ids.push_back(add_session(device, 15 * (1 + static_cast<int>(random() % 8))));
    } else if (action < 7) {
      const auto& id = ids[random() % ids.size()];
      const auto current = device.get(id);
      if (current && !current->contains("deleted_at")) {
        const json change = random() % 2 ? json{{"duree", 15 * (1 + static_cast<int>(random() % 8))}}
                                         : json{{"notes", "Note " + std::to_string(random() % 1000)}};
        REQUIRE(device.update(id, change).ok());
      }
    } else if (action < 8) {
      const auto& id = ids[random() % ids.size()];
      const auto current = device.get(id);
      if (current && !current->contains("deleted_at")) REQUIRE(device.remove(id).ok());
    } else {
      const auto report = sync(device);
      INFO(report.error);
      REQUIRE(report.ok());
    }
  }
  for (int round = 0; round < 2; ++round) {
    sync_ok(*laptop);
    sync_ok(*netbook);
  }
  // And one edit of the same field on both, offline: a real conflict, logged, never lost.
  const auto shared = sessions_of(*laptop);
  REQUIRE_FALSE(shared.empty());
  const auto& both = shared.begin()->first;
  REQUIRE(laptop->update(both, json{{"notes", "Vu avec sa fille"}}).ok());
  REQUIRE(netbook->update(both, json{{"notes", "Vu seul"}}).ok());
  for (int round = 0; round < 2; ++round) {
    sync_ok(*laptop);
    sync_ok(*netbook);
  }
  sync_ok(*coordinator);

  const auto reference = sessions_of(*laptop);
  CHECK(sessions_of(*netbook) == reference);
  CHECK(sessions_of(*coordinator) == reference);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session' AND deleted = 0") ==
        static_cast<std::int64_t>(reference.size()));
  CHECK(laptop->conflict_log().size() + netbook->conflict_log().size() > 0);
}

TEST_CASE("a device or event whose parent comes in a later pull page is held until the parent arrives",
          "[sync][e2e]") {
  Team team;
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  const auto add = [&](RecordKind kind, const json& input) {
    auto checked = relais::check_record(kind, input, relais::test::context());
    INFO(checked.problems.size());
    REQUIRE(checked.ok());
    const auto result = laptop->add(checked.record);
    REQUIRE(result.ok());
    return result.ids.front();
  };
  const auto lot = add(RecordKind::lot, {{"date", "2026-01-10"}, {"type_donateur", "entreprise"}});
  const auto device = add(RecordKind::device, {{"lot_id", lot}, {"type", "ordinateur_portable"}, {"marque", "Lenovo"}});
  const auto event = add(RecordKind::device_event,
                         {{"device_id", device}, {"type", "recu"}, {"date", "2026-01-11"}, {"auteur", "Samia B."}});
  sync_ok(*laptop);
  // The device, then the lot, change after the event: the server serves event, device, lot.
  REQUIRE(laptop->update(device, {{"marque", "Dell"}}).ok());
  REQUIRE(laptop->update(lot, {{"nom_donateur", "Rhône Offset"}}).ok());
  sync_ok(*laptop);

  // A new device of the same advisor pulls one record per page: each page is one transaction,
  // which would fail on its foreign keys if the event or device were written before its parent.
  auto phone = team.device("phone", team.advisor, team.server->url());
  relais::SyncEngine engine(*phone);
  engine.set_pull_limit(1);
  const auto report = engine.run_once();
  INFO(report.error);
  REQUIRE(report.ok());
  REQUIRE(phone->get(event).has_value());
  CHECK(phone->get(device)->at("marque") == "Dell");
  CHECK(phone->get(device)->at("lot_id") == lot);
  CHECK(phone->get(lot)->at("nom_donateur") == "Rhône Offset");
  CHECK(server_count(phone->path(), "SELECT count(*) FROM sync_held") == 0);
  // Nothing pulled is pushed back.
  CHECK(phone->pending_count() == 0);
}

TEST_CASE("after a backup is restored, reset-epoch makes every device resync so nothing is lost",
          "[sync][e2e]") {
  Team team;
  const int port = team.server->port();
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  auto phone = team.device("phone", team.advisor, team.server->url());
  const auto a = add_session(*laptop, 30);
  sync_ok(*laptop);
  sync_ok(*phone);

  // The nightly backup, then a change that only the lost store had.
  REQUIRE(team.server->stop() == 0);
  const auto backup = team.dir / "backup.db";
  std::filesystem::copy_file(team.server_db, backup);
  team.server = std::make_unique<ServerProcess>(RELAIS_SERVER_PATH, team.server_db, port);
  const auto b = add_session(*laptop, 60);
  sync_ok(*laptop);
  sync_ok(*phone);

  // The disk dies; the backup is restored and given a new epoch.
  REQUIRE(team.server->stop() == 0);
  for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(team.server_db.string() + suffix);
  std::filesystem::copy_file(backup, team.server_db);
  const auto answer = server_admin(RELAIS_SERVER_PATH, team.server_db, {"reset-epoch"});
  CHECK(answer.rfind("new epoch ", 0) == 0);
  team.server = std::make_unique<ServerProcess>(RELAIS_SERVER_PATH, team.server_db, port);

  // The phone pushes first, which carries the restored store past the laptop's old cursor:
  // without the new epoch, that cursor would look valid and `b` would never come back.
  const auto c = add_session(*phone, 90);
  sync_ok(*phone);
  sync_ok(*laptop);
  sync_ok(*phone);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") == 3);
  for (const auto& id : {a, b, c}) {
    INFO(id);
    CHECK(phone->get(id).has_value());
    CHECK(laptop->get(id).has_value());
  }
}

TEST_CASE("sync --server saves the server's address once a sync with it succeeds", "[sync][e2e]") {
  Team team;
  FaultProxy proxy(team.server->port());
  auto laptop = team.device("laptop", team.advisor, proxy.url());
  add_session(*laptop);
  // A wrong address fails and is not saved.
  CHECK_FALSE(sync(*laptop, "http://127.0.0.1:1").ok());
  CHECK(laptop->meta(relais::sync_meta::server_url) == proxy.url());
  // The server moved: the new address works and becomes the saved one.
  sync_ok(*laptop, team.server->url());
  CHECK(laptop->meta(relais::sync_meta::server_url) == team.server->url());
  add_session(*laptop);
  sync_ok(*laptop);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") == 2);
}

TEST_CASE("a vocabulary update published on the server is used by the devices after their sync", "[sync][e2e]") {
  Team team;
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  auto input = relais::test::valid_individual_session_json();
  input["thematiques"].push_back("objets_connectes");
  const auto add_with_new_theme = [&](LocalStore& store) {
    const relais::ValidationContext context{store.vocabulary(), relais::test::context().today};
    auto checked = relais::check_record(RecordKind::session, input, context);
    return checked.ok() && store.add(checked.record).ok();
  };
  CHECK_FALSE(add_with_new_theme(*laptop));

  const auto file = team.dir / "vocabulary-update.json";
  std::ofstream(file) << R"({"version": 1, "sets": {"thematiques": {"codes": [
      {"code": "objets_connectes", "fr": "Objets connectés", "en": "Connected devices"}]}}})";
  CHECK(server_admin(RELAIS_SERVER_PATH, team.server_db, {"publish-vocabulary", file.string()}) ==
        "published vocabulary version 1");
  sync_ok(*laptop);
  CHECK(laptop->vocabulary().label("thematiques", "objets_connectes", relais::Lang::fr) ==
        "Objets connectés");
  REQUIRE(add_with_new_theme(*laptop));
  // The server accepts the new code too, and another device gets both the code and the record.
  sync_ok(*laptop);
  auto phone = team.device("phone", team.advisor, team.server->url());
  sync_ok(*phone);
  CHECK(phone->vocabulary().update_version() == 1);
  CHECK(sessions_of(*phone) == sessions_of(*laptop));
  CHECK(sessions_of(*phone).size() == 1);
}

TEST_CASE("after network faults stop, one more sync leaves every record once with its latest content",
          "[sync][e2e]") {
  Team team;
  FaultProxy proxy(team.server->port());
  auto laptop = team.device("laptop", team.advisor, proxy.url());
  std::mt19937 random(5);
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(add_session(*laptop));

  proxy.set_fault_rate(0.5);
  int failures = 0;
  for (int attempt = 0; attempt < 25; ++attempt) {
    // Edits keep coming while the connection misbehaves.
    for (int i = 0; i < 5; ++i) {
      const auto& id = ids[random() % ids.size()];
      REQUIRE(laptop->update(id, json{{"duree", 15 * (1 + static_cast<int>(random() % 8))}}).ok());
    }
    ids.push_back(add_session(*laptop));
    if (!sync(*laptop).ok()) ++failures;
  }
  CHECK(proxy.faults_injected() > 5);
  CHECK(failures > 0);

  proxy.set_fault_rate(0.0);
  sync_ok(*laptop);

  // A fresh device of the same advisor sees exactly what the laptop has.
  auto fresh = team.device("fresh", team.advisor, team.server->url());
  sync_ok(*fresh);
  CHECK(sessions_of(*fresh) == sessions_of(*laptop));
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") ==
        static_cast<std::int64_t>(ids.size()));
  // Only one device wrote: answers lost in the faults, then edits on the same device, are no
  // conflicts for anyone to review (issue 14.6).
  CHECK(server_count(team.server_db, "SELECT count(*) FROM conflicts") == 0);
  CHECK(laptop->conflict_log().empty());
}

TEST_CASE("a server killed in the middle of a large push loses and duplicates nothing", "[sync][e2e]") {
  Team team;
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  constexpr int kRecords = 6000;
  {
    std::vector<relais::AnyRecord> batch;
    auto input = relais::test::valid_individual_session_json();
    input["date"] = "2026-01-15";
    for (int i = 0; i < kRecords; ++i) {
      input["notes"] = "Séance " + std::to_string(i);
      batch.push_back(relais::check_record(RecordKind::session, input, relais::test::context()).record);
    }
    REQUIRE(laptop->add(std::move(batch)).ok());
  }

  // Kill the server once it has stored part of the push.
  std::thread sync_thread([&] { sync(*laptop); });
  for (int wait = 0; wait < 2000; ++wait) {
    if (server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  team.server->kill_hard();
  sync_thread.join();
  const auto stored_before_restart =
      server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'");
  CHECK(stored_before_restart < kRecords);
  CHECK(laptop->pending_count() > 0);

  team.server = std::make_unique<ServerProcess>(RELAIS_SERVER_PATH, team.server_db);
  sync_ok(*laptop, team.server->url());
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") == kRecords);
  CHECK(server_count(team.server_db, "PRAGMA integrity_check") == 0);  // "ok" reads as 0
  auto fresh = team.device("fresh", team.advisor, team.server->url());
  sync_ok(*fresh);
  CHECK(fresh->count(RecordKind::session) == kRecords);
}

TEST_CASE("background sync runs on its own thread, retries while offline and syncs on request", "[sync][e2e]") {
  Team team;
  FaultProxy proxy(team.server->port());
  {
    auto laptop = team.device("laptop", team.advisor, proxy.url());
    add_session(*laptop);
  }
  std::mutex mutex;
  std::condition_variable reported;
  std::vector<relais::SyncReport> reports;
  relais::BackgroundSync::Options options;
  options.interval = std::chrono::minutes(10);  // only request_now() and retries wake it in this test
  options.first_retry = std::chrono::milliseconds(50);
  options.max_retry = std::chrono::milliseconds(200);
  const auto wait_for_reports = [&](std::size_t count) {
    std::unique_lock lock(mutex);
    // A safety net, not a measure: the retries come every 50 to 250 ms.
    return reported.wait_for(lock, std::chrono::seconds(60), [&] { return reports.size() >= count; });
  };

  proxy.set_offline(true);
  relais::BackgroundSync background(team.dir / "laptop.db", relais::test::vocabulary(), options,
                                    [&](const relais::SyncReport& report) {
                                      std::lock_guard lock(mutex);
                                      reports.push_back(report);
                                      reported.notify_all();
                                    });
  REQUIRE(wait_for_reports(3));  // the first attempt and at least two retries, all failed
  {
    std::lock_guard lock(mutex);
    for (const auto& report : reports) CHECK_FALSE(report.ok());
  }

  proxy.set_offline(false);  // back online: the next retry goes through
  std::size_t seen = 0;
  for (;;) {
    {
      std::lock_guard lock(mutex);
      seen = reports.size();
      if (reports.back().ok()) break;
    }
    REQUIRE(wait_for_reports(seen + 1));
  }
  {
    std::lock_guard lock(mutex);
    CHECK(reports.back().pushed == 1);
  }

  // Asked to sync now, it does, without waiting for its interval.
  {
    auto laptop = relais::test::open_store(team.dir / "laptop.db");
    add_session(*laptop);
  }
  {
    std::lock_guard lock(mutex);
    seen = reports.size();
  }
  background.request_now();
  REQUIRE(wait_for_reports(seen + 1));
  background.stop();
  std::lock_guard lock(mutex);
  CHECK(reports.back().ok());
  CHECK(reports.back().pushed == 1);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session'") == 2);
}

TEST_CASE("bounded clocks: a laptop years ahead syncs without dragging anyone, and deletes take effect",
          "[sync][e2e][clock]") {
  constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 3600 * 1000;
  Team team;
  const auto administrator = server_admin(RELAIS_SERVER_PATH, team.server_db,
                                          {"add-user", "--structure", team.structure, "--role", "admin", "--name", "Admin"});
  auto laptop = team.device("laptop", team.advisor, team.server->url(), kTenYears);  // thinks it is 2036
  auto slightly_fast = team.device("fast", team.advisor, team.server->url(), 40 * 60 * 1000);  // 40 min ahead
  auto admin_pc = team.device("admin", administrator, team.server->url());
  const auto from_laptop = add_session(*laptop);
  const auto from_fast = add_session(*slightly_fast);

  // The laptop learns the server's time from the answer, stamps its refused record again, and
  // its record goes through in the same sync; it is told how far off it is.
  const auto report = sync(*laptop);
  INFO(report.error);
  REQUIRE(report.ok());
  CHECK(report.restamped == 1);
  CHECK(report.rejected == 0);
  CHECK(report.clock_offset_ms < -kTenYears + 60'000);
  CHECK(laptop->pending_count() == 0);
  CHECK(laptop->quarantined().empty());
  CHECK(relais::clock_warning(laptop->clock_offset_ms(), relais::Lang::fr).find("avance de 10 ans") !=
        std::string::npos);
  sync_ok(*slightly_fast);  // within the skew: taken as it is
  CHECK(slightly_fast->clock_offset_ms() < -39 * 60 * 1000);  // (but corrected from now on)

  // No version on the server is more than the skew ahead of its clock.
  const auto ceiling = relais::HybridLogicalClock::ceiling(relais::now_unix_ms());
  CHECK(server_count(team.server_db,
                     "SELECT count(*) FROM records, json_each(records.versions) WHERE json_extract(json_each.value, "
                     "'$[0]') > " + std::to_string(ceiling)) == 0);

  // The administrator deletes both; both deletions take effect everywhere.
  sync_ok(*admin_pc);
  REQUIRE(admin_pc->remove(from_laptop).ok());
  REQUIRE(admin_pc->remove(from_fast).ok());
  sync_ok(*admin_pc);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM records WHERE kind = 'session' AND deleted = 1") == 2);
  CHECK(server_count(team.server_db, "SELECT count(*) FROM conflicts") == 0);
  sync_ok(*laptop);
  sync_ok(*slightly_fast);
  CHECK(laptop->count(RecordKind::session) == 0);
  CHECK(slightly_fast->count(RecordKind::session) == 0);
  // The admin's clock was not dragged anywhere.
  add_session(*admin_pc);
  const auto admin_outbox = admin_pc->outbox(10);
  REQUIRE(admin_outbox.changes.size() == 1);
  CHECK(relais::HybridLogicalClock::physical_ms(admin_outbox.changes.front().versions.begin()->second.clock) <
        relais::now_unix_ms() + relais::kMaxClockSkewMs);
}

TEST_CASE("background sync: a store busy past its timeout is a reported failure, and stop() after it is safe",
          "[sync][background]") {
  relais::test::TempDir dir;
  const auto path = dir / "laptop.db";
  {
    // Enrolled with a server that is never reached: the sync fails on the store first.
    auto store = relais::test::open_store(path);
    store->set_meta(relais::sync_meta::token, "a-token");
    store->set_meta(relais::sync_meta::server_url, "http://127.0.0.1:9");
  }
  // Another connection (a CLI import, say) holds the write lock past the 5 s busy timeout: the
  // sync's first write (its attempt's time) throws inside run_once.
  auto holder = std::make_unique<relais::sqlite::Database>(path);
  auto write_lock = std::make_unique<relais::sqlite::Transaction>(*holder);

  std::mutex mutex;
  std::condition_variable reported;
  std::vector<relais::SyncReport> reports;
  relais::BackgroundSync::Options options;
  options.interval = std::chrono::minutes(10);
  options.first_retry = std::chrono::minutes(10);  // the thread waits in its back-off when stopped
  relais::BackgroundSync background(path, relais::test::vocabulary(), options, [&](const relais::SyncReport& report) {
    std::lock_guard lock(mutex);
    reports.push_back(report);
    reported.notify_all();
  });
  {
    std::unique_lock lock(mutex);
    REQUIRE(reported.wait_for(lock, std::chrono::seconds(60), [&] { return !reports.empty(); }));
    CHECK_FALSE(reports.front().ok());
    CHECK(reports.front().error_code == "store_busy");
  }
  write_lock.reset();
  // The engine of the failed sync is gone: stop() must not cancel it (ASan: stack-use-after-scope).
  background.stop();
  std::lock_guard lock(mutex);
  CHECK(reports.size() == 1);  // one failure, then the back-off: the thread was not killed
}

// [SECTION] Statistics: the same figures on a device and on the server ----------------------------

namespace {

// Every figure of `db` for each filter, as the exports print them (codes, not names).
json figures_of(const relais::sqlite::Database& db, const std::vector<relais::stats::Filter>& filters) {
  const auto factors = relais::ImpactFactors::load_file(relais::test::assets().directory / "impact_factors.json");
  const relais::stats::Labels labels(relais::test::vocabulary(), relais::Lang::fr);
  json out = json::array();
  for (const auto& filter : filters) {
    auto figures = relais::exports::to_json(relais::stats::compute(db, filter, relais::test::vocabulary(), factors), labels);
    out.push_back(std::move(figures));
  }
  return out;
}

json session_at(const std::string& place_id, const char* date, int minutes) {
  auto input = relais::test::valid_individual_session_json();
  input["date"] = date;
  input["duree"] = minutes;
  input["type_lieu"] = "lieu_activite";
  input["lieu_id"] = place_id;
  for (const char* key : {"lieu_commune", "lieu_code_postal", "lieu_code_insee"}) input.erase(key);
  return input;
}

std::string add_event(LocalStore& store, const std::string& device_id, const char* type, const char* date) {
  json record{{"device_id", device_id}, {"type", type}, {"date", date}, {"auteur", "Camille"}};
  if (std::string(type) == "efface") {
    record["methode"] = "purge";
    record["outil"] = "ShredOS / nwipe";
    record["resultat"] = "reussi";
    record["certificat"] = "CERT-1";
  }
  if (std::string(type) == "remis") record["code_beneficiaire"] = "BEN-1";
  return relais::test::add_ok(store, RecordKind::device_event, record);
}

}  // namespace

TEST_CASE("statistics: a device and the server give the same figures for the same records, deleted parents included",
          "[sync][e2e][stats]") {
  Team team;
  const auto admin = server_admin(RELAIS_SERVER_PATH, team.server_db,
                                  {"add-user", "--structure", team.structure, "--role", "admin", "--name", "Admin"});
  auto office = team.device("office", admin, team.server->url());  // places are the administrators'
  auto laptop = team.device("laptop", team.advisor, team.server->url());
  auto tablet = team.device("tablet", team.advisor, team.server->url());
  using relais::test::add_ok;

  const auto mediatheque = add_ok(*office, RecordKind::place,
                                  {{"nom", "Médiathèque"}, {"commune", "Villeurbanne"}, {"code_postal", "69100"},
                                   {"code_insee", "69266"}});
  const auto annexe = add_ok(*office, RecordKind::place,
                             {{"nom", "Annexe"}, {"commune", "Ajaccio"}, {"code_postal", "20000"}, {"code_insee", "2A004"}});
  sync_ok(*office);
  sync_ok(*laptop);

  // Sessions, lots, devices and events, some of them deleted.
  add_ok(*laptop, RecordKind::session, session_at(mediatheque, "2026-11-03", 30));
  add_ok(*laptop, RecordKind::session, relais::test::valid_workshop_json());
  add_ok(*laptop, RecordKind::session, relais::test::valid_individual_session_json());
  const auto gone = add_ok(*laptop, RecordKind::session, session_at(mediatheque, "2026-11-04", 60));
  REQUIRE(laptop->remove(gone).ok());
  const auto lot = add_ok(*laptop, RecordKind::lot, {{"date", "2026-11-05"}, {"type_donateur", "entreprise"}, {"lieu_id", mediatheque}});
  const auto computer = add_ok(*laptop, RecordKind::device, {{"lot_id", lot}, {"type", "ordinateur_portable"}, {"poids_kg", 2.0}});
  add_event(*laptop, computer, "efface", "2026-11-06");
  add_event(*laptop, computer, "remis", "2026-11-07");
  const auto dropped = add_ok(*laptop, RecordKind::device, {{"lot_id", lot}, {"type", "smartphone"}, {"poids_kg", 0.2}});
  REQUIRE(laptop->remove(dropped).ok());
  const auto lot_annexe = add_ok(*laptop, RecordKind::lot, {{"date", "2026-11-08"}, {"type_donateur", "particulier"}, {"lieu_id", annexe}});
  sync_ok(*laptop);
  sync_ok(*tablet);

  // Deleted where nothing used them yet, while elsewhere something came to use them: the annexe
  // (by the office, while the laptop records a session there) and its lot (by the laptop, while
  // the tablet records a phone of it).
  add_ok(*laptop, RecordKind::session, session_at(annexe, "2026-11-10", 45));
  const auto phone = add_ok(*tablet, RecordKind::device, {{"lot_id", lot_annexe}, {"type", "smartphone"}, {"poids_kg", 0.2}});
  add_event(*tablet, phone, "efface", "2026-11-11");
  add_event(*tablet, phone, "remis", "2026-11-12");
  REQUIRE(laptop->remove(lot_annexe).ok());
  REQUIRE(office->remove(annexe).ok());
  sync_ok(*office);
  sync_ok(*laptop);
  sync_ok(*tablet);
  sync_ok(*laptop);

  // The server brings its index up to date before an export.
  const auto out = team.dir / "stats.json";
  const auto exported = relais::test::run_process({RELAIS_SERVER_PATH, "--db", team.server_db.string(), "export", "--format",
                                                   "json", "--what", "stats", "--out", out.string()});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);

  std::vector<relais::stats::Filter> filters(1);
  for (const char* departement : {"69", "2A"}) {
    filters.emplace_back().departement = departement;
  }
  filters.emplace_back().commune = "Ajaccio";
  filters.emplace_back().type = "individuel";
  filters.emplace_back().mediateur_id = team.advisor;
  filters.emplace_back().lieu_id = annexe;
  for (auto& filter : filters) {
    filter.from = relais::Date{2026, 1, 1};
    filter.to = relais::Date{2026, 12, 31};
  }
  const relais::sqlite::Database server(team.server_db, relais::sqlite::Database::Mode::read_only);
  const auto on_server = figures_of(server, filters);
  // Something to compare: the tablet's session at the deleted annexe counts in Corsica, and the
  // phone of the deleted lot is collected and handed over.
  CHECK(on_server[2]["totals"]["individual_sessions"] == 1);
  CHECK(on_server[0]["equipment"]["devices_collected"] == 2);
  CHECK(on_server[0]["equipment"]["devices_handed_over"] == 2);
  for (auto* device : {laptop.get(), tablet.get()}) {
    const auto on_device = figures_of(device->database(), filters);
    for (std::size_t i = 0; i < filters.size(); ++i) {
      INFO("filter " << i);
      CHECK(on_device[i].dump(1) == on_server[i].dump(1));
    }
  }
}
