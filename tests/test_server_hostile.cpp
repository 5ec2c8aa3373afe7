// relais-server against hostile clients (issue 14): the real binary on a free loopback port,
// driven through raw sockets to 127.0.0.1 as an attacker would, never anything else. What is
// checked is what keeps the server up for everyone: the memory it reaches at its peak (VmHWM of
// /proc/PID/status), and that /healthz and a real push and pull keep answering within a second.
//
// Every loop is bounded in count and in time. A watchdog kills the server once it holds more
// than kSafetyCeiling, so that a regression fails these tests without exhausting the machine.
// RELAIS_HOSTILE_SERVER=PATH runs them against another build (the release one, or an older
// server, to see them fail); RELAIS_ASSETS_DIR may then be needed for it to find its assets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "relais/server/http.hpp"
#include "relais/server/protocol.hpp"
#include "relais/uuid.hpp"
#include "server_process.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using nlohmann::json;
using relais::test::TempDir;

// The bound of docs/server.md ("Security model") on the server's peak resident memory under
// every attack below. A server built with AddressSanitizer (the dev preset) starts at about
// 70 MB of its own (ASan's shadow memory and allocator), so for it the bound is over its size
// at rest.
constexpr std::size_t kPeakBoundKib = 64 * 1024;
constexpr std::size_t kSafetyCeilingKib = 768 * 1024;

constexpr milliseconds kAnswerWithin{1000};

std::string server_binary() {
  if (const char* other = std::getenv("RELAIS_HOSTILE_SERVER"); other != nullptr && *other != '\0') return other;
  return RELAIS_SERVER_PATH;
}

// [SECTION] The server and its memory -----------------------------------------------------------

// A field of /proc/PID/status in KiB (VmHWM: the peak resident size; VmRSS: the current one);
// 0 once the process is gone.
std::size_t status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return static_cast<std::size_t>(std::stoull(line.substr(field.size() + 1)));
  }
  return 0;
}

// Whether the process runs with AddressSanitizer's runtime.
bool sanitized(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("libasan") != std::string::npos) return true;
  }
  return false;
}

// Samples the server's resident size while an attack runs, and kills it (SIGKILL) past
// kSafetyCeilingKib.
class MemoryWatch {
 public:
  explicit MemoryWatch(pid_t pid) : pid_(pid), thread_([this] { run(); }) {}
  ~MemoryWatch() {
    done_ = true;
    thread_.join();
  }
  MemoryWatch(const MemoryWatch&) = delete;
  MemoryWatch& operator=(const MemoryWatch&) = delete;
  bool killed() const { return killed_; }
  std::size_t largest_kib() const { return largest_; }  // the largest resident size seen

 private:
  void run() {
    while (!done_) {
      const auto rss = status_kib(pid_, "VmRSS");
      largest_ = std::max<std::size_t>(largest_, rss);
      if (rss > kSafetyCeilingKib) {
        ::kill(pid_, SIGKILL);
        killed_ = true;
        return;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }

  pid_t pid_;
  std::atomic<bool> done_{false};
  std::atomic<bool> killed_{false};
  std::atomic<std::size_t> largest_{0};
  std::thread thread_;
};

// A server with one advisor, set up with the admin commands, and its memory at rest.
struct World {
  explicit World(std::vector<std::string> args = {}) : server(server_binary(), db, 0, std::move(args)) {}
  ~World() {
    // Killed by the watchdog: the test has failed already; otherwise it must stop cleanly.
    const int status = server.stop();
    if (status != 128 + SIGKILL) CHECK(status == 0);
    CHECK(server.err().find("Sanitizer") == std::string::npos);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  std::size_t bound_kib() const { return kPeakBoundKib + (sanitized(server.pid()) ? rest_kib : 0); }

  TempDir dir;
  fs::path db = dir / "server.db";
  std::string structure = relais::test::server_admin(server_binary(), db, {"add-structure", "--name", "France Services"});
  std::string user = relais::test::server_admin(
      server_binary(), db, {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Benali"});
  relais::test::ServerProcess server;
  std::size_t rest_kib = 0;
};

// [SECTION] Raw connections ---------------------------------------------------------------------

struct RawReply {
  int status = 0;  // 0: no answer (closed, or nothing in time)
  std::string headers;
  std::string body;
};

// A TCP connection to 127.0.0.1:port, written and read byte by byte if need be.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    timeval timeout{5, 0};  // bounds connect()
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(RawConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  RawConnection& operator=(RawConnection&&) = delete;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Sends everything before `deadline`: false when the server closed the connection or did not
  // take the bytes in time.
  bool send(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      const auto sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) {
        data.remove_prefix(static_cast<std::size_t>(sent));
        continue;
      }
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait(POLLOUT, deadline)) return false;
    }
    return true;
  }

  // Whether the server has closed the connection (its end, or a reset) within `within`; what it
  // sent before is skipped.
  bool closed_within(milliseconds within) {
    const auto deadline = Clock::now() + within;
    char scratch[4096];
    for (;;) {
      const auto got = ::recv(fd_, scratch, sizeof scratch, MSG_DONTWAIT);
      if (got == 0) return true;
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
      if (got < 0 && !wait(POLLIN, deadline)) return false;
    }
  }

  // The server's answer, read until its Content-Length is complete or the server closes.
  RawReply reply(Clock::time_point deadline) {
    std::string data;
    char buffer[16 * 1024];
    RawReply out;
    for (;;) {
      const auto head_end = data.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        out.headers = data.substr(0, head_end);
        std::size_t length = 0;
        std::string lower = out.headers;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        if (const auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
          length = std::stoul(lower.substr(at + 17));
        }
        if (data.size() >= head_end + 4 + length) {
          out.status = std::stoi(data.substr(9, 3));
          out.body = data.substr(head_end + 4, length);
          return out;
        }
      }
      const auto got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got > 0) {
        data.append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || !wait(POLLIN, deadline)) {
        return out;
      }
    }
  }

 private:
  bool wait(short events, Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd entry{fd_, events, 0};
    return ::poll(&entry, 1, static_cast<int>(left)) > 0;
  }

  int fd_ = -1;
};

// One request on a new connection: its answer and how long it took (connecting included).
struct Timed {
  RawReply reply;
  milliseconds took{0};
};

Timed request(int port, const std::string& text, milliseconds within = milliseconds(5000)) {
  const auto start = Clock::now();
  const auto deadline = start + within;
  Timed out;
  try {
    RawConnection connection(port);
    if (connection.send(text, deadline)) out.reply = connection.reply(deadline);
  } catch (const std::exception&) {
    // No connection: no answer.
  }
  out.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  return out;
}

std::string http_request(const std::string& method, const std::string& path, const std::string& body = {},
                         const std::vector<std::string>& headers = {}) {
  std::string text = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& header : headers) text += header + "\r\n";
  if (!body.empty() || method == "POST") text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return text + "\r\n" + body;
}

Timed healthz(int port, milliseconds within = milliseconds(5000)) {
  return request(port, http_request("GET", "/healthz"), within);
}

// Calls /healthz every `every` until stopped: the slowest answer, and how many did not come
// (or were not 200) within kAnswerWithin.
class HealthProbe {
 public:
  HealthProbe(int port, milliseconds every) : thread_([this, port, every] {
      while (!done_) {
        const auto probe = healthz(port);
        {
          std::lock_guard lock(mutex_);
          ++count_;
          slowest_ = std::max(slowest_, probe.took);
          if (probe.reply.status != 200 || probe.took > kAnswerWithin) ++late_;
        }
        std::this_thread::sleep_for(every);
      }
    }) {}
  ~HealthProbe() { stop(); }
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int count() { std::lock_guard lock(mutex_); return count_; }
  int late() { std::lock_guard lock(mutex_); return late_; }
  milliseconds slowest() { std::lock_guard lock(mutex_); return slowest_; }

 private:
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  int count_ = 0;
  int late_ = 0;
  milliseconds slowest_{0};
  std::thread thread_;
};

// [SECTION] Bodies ----------------------------------------------------------------------------

std::string gzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// A JSON array of zeros just under the 16 MiB a push may inflate to: about 16 KB gzipped, and
// more than 300 MB once a JSON library has built it.
const std::string& gzip_bomb() {
  static const std::string bomb = [] {
    const std::size_t zeros = (relais::server::kMaxBodyBytes - 2) / 2 - 1024;
    std::string text;
    text.reserve(zeros * 2 + 1);
    text += '[';
    for (std::size_t i = 0; i < zeros; ++i) text += i == 0 ? "0" : ",0";
    text += ']';
    return gzip(text);
  }();
  return bomb;
}

std::string enroll_body(const std::string& code, const std::string& device_id = relais::make_uuid_v7()) {
  return json{{"code", code}, {"device_id", device_id}, {"device_name", "PC"}}.dump();
}

// [SECTION] Client of the real protocol ------------------------------------------------------------

struct Device {
  std::string device_id;
  std::string token;
};

Device enroll(World& world) {
  const auto code = relais::test::server_admin(server_binary(), world.db, {"enroll-code", "--user", world.user});
  Device device{relais::make_uuid_v7(), ""};
  const auto answer = request(world.server.port(), http_request("POST", "/api/v1/enroll",
                                                                enroll_body(code, device.device_id),
                                                                {"Relais-Protocol: 1", "Content-Type: application/json"}));
  INFO(answer.reply.status << " " << answer.reply.body);
  REQUIRE(answer.reply.status == 200);
  device.token = json::parse(answer.reply.body).at("token").get<std::string>();
  return device;
}

std::string push_body(const Device& device) {
  const json fields = {{"type", "individuel"},      {"date", "2026-01-10"},         {"duree", 45},
                       {"type_lieu", "domicile"},   {"lieu_commune", "Lyon"},       {"lieu_code_postal", "69001"},
                       {"lieu_code_insee", "69381"}, {"materiel", {"ordinateur"}}, {"thematiques", {"email"}}};
  const json change = {{"kind", "session"},
                       {"id", relais::make_uuid_v7()},
                       {"fields", fields},
                       {"versions", {{"*", json::array({100, device.device_id})}}}};
  return json{{"device_id", device.device_id}, {"changes", json::array({change})}}.dump();
}

// A push of one new session and a pull, each on a new connection: how long each took, and
// whether both were answered 200 with the push applied.
struct RoundTrip {
  bool ok = false;
  milliseconds push{0};
  milliseconds pull{0};
};

RoundTrip push_and_pull(int port, const Device& device) {
  const std::vector<std::string> headers{"Relais-Protocol: 1", "Authorization: Bearer " + device.token,
                                         "Content-Type: application/json"};
  const auto pushed = request(port, http_request("POST", "/api/v1/push", push_body(device), headers));
  const auto pulled = request(port, http_request("GET", "/api/v1/pull?limit=10", {}, headers));
  RoundTrip out;
  out.push = pushed.took;
  out.pull = pulled.took;
  out.ok = pushed.reply.status == 200 && pushed.reply.body.find("\"applied\"") != std::string::npos &&
           pulled.reply.status == 200;
  return out;
}

}  // namespace

// [SECTION] Bounded cost before authentication ----------------------------------------------------

TEST_CASE("Hostile bodies and headers cost bounded memory before authentication, and /healthz keeps answering",
          "[server][hostile]") {
  World world;
  const int port = world.server.port();
  const pid_t pid = world.server.pid();
  REQUIRE(healthz(port).reply.status == 200);
  world.rest_kib = status_kib(pid, "VmRSS");
  const auto& bomb = gzip_bomb();
  REQUIRE(bomb.size() < 64 * 1024);

  MemoryWatch watch(pid);
  HealthProbe probe(port, milliseconds(50));
  const auto attack_end = Clock::now() + std::chrono::seconds(25);
  std::mutex mutex;
  std::vector<std::string> outcomes;  // what each attacker got, for the message of a failure
  int refused = 0;                    // attacks the server refused as it should
  const auto note = [&](const std::string& what, bool as_expected) {
    std::lock_guard lock(mutex);
    outcomes.push_back(what);
    if (as_expected) ++refused;
  };
  const auto bomb_request = [&](const std::string& path, const std::vector<std::string>& headers) {
    auto all = headers;
    all.push_back("Content-Encoding: gzip");
    all.push_back("Content-Type: application/json");
    return http_request("POST", path, bomb, all);
  };

  std::vector<std::thread> attackers;
  // Eight enrollments whose 16 KB body inflates to a 16 MiB JSON array.
  for (int i = 0; i < 8; ++i) {
    attackers.emplace_back([&] {
      const auto answer = request(port, bomb_request("/api/v1/enroll", {"Relais-Protocol: 1"}), milliseconds(20000));
      note("enroll bomb: " + std::to_string(answer.reply.status), answer.reply.status == 413);
    });
  }
  // Four pushes of the same bomb without a valid token, two to an endpoint that does not exist.
  for (int i = 0; i < 4; ++i) {
    attackers.emplace_back([&, i] {
      std::vector<std::string> headers{"Relais-Protocol: 1"};
      if (i % 2 == 1) headers.push_back("Authorization: Bearer rls_made-up-token");
      const auto answer = request(port, bomb_request("/api/v1/push", headers), milliseconds(20000));
      note("push bomb: " + std::to_string(answer.reply.status), answer.reply.status == 401);
    });
  }
  for (int i = 0; i < 2; ++i) {
    attackers.emplace_back([&] {
      const auto answer = request(port, bomb_request("/api/v1/nothing", {}), milliseconds(20000));
      note("bomb to no endpoint: " + std::to_string(answer.reply.status), answer.reply.status == 404);
    });
  }
  // Four connections sending two million short headers each (16 MB).
  for (int i = 0; i < 4; ++i) {
    attackers.emplace_back([&] {
      std::string chunk;
      for (int header = 0; header < 8192; ++header) chunk += "X-a: b\r\n";
      try {
        RawConnection connection(port);
        bool sent = connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", attack_end);
        for (int round = 0; sent && round < 2000000 / 8192 && !watch.killed(); ++round) {
          sent = connection.send(chunk, attack_end);
        }
        sent = sent && connection.send("\r\n", attack_end);
        const auto answer = connection.reply(std::min(attack_end, Clock::now() + std::chrono::seconds(5)));
        note("header flood: " + std::string(sent ? "all sent, " : "cut, ") + std::to_string(answer.status),
             answer.status == 431 || (!sent && answer.status == 0));
      } catch (const std::exception& error) {
        note(std::string("header flood: ") + error.what(), false);
      }
    });
  }
  for (auto& attacker : attackers) attacker.join();
  probe.stop();
  const auto peak = status_kib(pid, "VmHWM");

  std::string all;
  for (const auto& outcome : outcomes) all += outcome + "\n";
  INFO(all << (watch.killed() ? "killed by the watchdog past " + std::to_string(watch.largest_kib() / 1024) + " MiB; " : "")
           << "peak " << peak / 1024 << " MiB (at rest " << world.rest_kib / 1024 << " MiB), bound "
           << world.bound_kib() / 1024 << " MiB; /healthz: " << probe.count() << " calls, " << probe.late()
           << " late, slowest " << probe.slowest().count() << " ms");
  REQUIRE_FALSE(watch.killed());
  CHECK(peak <= world.bound_kib());
  CHECK(refused == static_cast<int>(attackers.size()));
  CHECK(probe.count() > 0);
  CHECK(probe.late() == 0);
  // And it still serves the real thing.
  const auto device = enroll(world);
  CHECK(push_and_pull(port, device).ok);
}

// [SECTION] Slow and idle connections -----------------------------------------------------------

TEST_CASE("Idle and slow connections cannot starve the server", "[server][hostile]") {
  World world;
  const int port = world.server.port();
  const pid_t pid = world.server.pid();
  const auto device = enroll(world);
  REQUIRE(push_and_pull(port, device).ok);
  world.rest_kib = status_kib(pid, "VmRSS");
  const relais::server::HttpLimits limits;

  MemoryWatch watch(pid);
  const auto start = Clock::now();
  // 200 connections that never send a byte, and 50 that send their head a byte a second.
  std::vector<RawConnection> idle;
  for (int i = 0; i < 200; ++i) idle.emplace_back(port);
  std::vector<RawConnection> slow;
  for (int i = 0; i < 50; ++i) slow.emplace_back(port);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(100, 'a');
  std::atomic<bool> done{false};
  std::vector<int> slow_closed_at(slow.size(), -1);  // ms after `start`; -1: still open
  std::thread sender([&] {
    for (std::size_t byte = 0; byte < head.size() && !done; ++byte) {
      for (std::size_t i = 0; i < slow.size(); ++i) {
        if (slow_closed_at[i] >= 0) continue;
        if (!slow[i].send(head.substr(byte, 1), Clock::now() + milliseconds(100)) || slow[i].closed_within(milliseconds(0))) {
          slow_closed_at[i] = static_cast<int>(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
        }
      }
      for (int tick = 0; tick < 10 && !done; ++tick) std::this_thread::sleep_for(milliseconds(100));
    }
  });

  // While they are all open (before idle_timeout): /healthz, a push and a pull, each on a new
  // connection, each answered within a second.
  std::vector<milliseconds> health;
  std::vector<RoundTrip> trips;
  const auto window_end = start + limits.idle_timeout - milliseconds(700);
  std::this_thread::sleep_for(milliseconds(300));
  while (Clock::now() < window_end && health.size() < 20) {
    const auto probe = healthz(port);
    health.push_back(probe.reply.status == 200 ? probe.took : milliseconds(-1));
    if (health.size() % 4 == 1) trips.push_back(push_and_pull(port, device));
    std::this_thread::sleep_for(milliseconds(250));
  }
  // The load was real: the idle connections were all still open at the end of the window.
  std::size_t idle_open = 0;
  for (auto& connection : idle) if (!connection.closed_within(milliseconds(0))) ++idle_open;

  // Then each is closed at its deadline: the idle ones after idle_timeout, the slow ones after
  // head_timeout.
  const auto idle_deadline = start + limits.idle_timeout + milliseconds(1500);
  std::size_t idle_closed = 0;
  for (auto& connection : idle) {
    const auto left = std::max(idle_deadline - Clock::now(), Clock::duration::zero());
    if (connection.closed_within(std::chrono::duration_cast<milliseconds>(left))) ++idle_closed;
  }
  const auto slow_deadline = start + limits.head_timeout + milliseconds(2000);
  while (Clock::now() < slow_deadline &&
         std::count(slow_closed_at.begin(), slow_closed_at.end(), -1) > 0) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  done = true;
  sender.join();
  const auto peak = status_kib(pid, "VmHWM");

  std::ostringstream report;
  report << "/healthz (ms, -1 unanswered):";
  for (const auto took : health) report << ' ' << took.count();
  report << "\npush, pull (ms):";
  for (const auto& trip : trips) report << ' ' << trip.push.count() << '+' << trip.pull.count() << (trip.ok ? "" : "(failed)");
  report << "\nidle connections open at the window's end: " << idle_open << ", closed by "
         << std::chrono::duration_cast<milliseconds>(idle_deadline - start).count() << " ms: " << idle_closed
         << "\nslow connections closed at (ms):";
  for (const auto at : slow_closed_at) report << ' ' << at;
  report << "\npeak " << peak / 1024 << " MiB (at rest " << world.rest_kib / 1024 << " MiB), bound "
         << world.bound_kib() / 1024 << " MiB";
  INFO(report.str());
  REQUIRE_FALSE(watch.killed());
  REQUIRE(health.size() >= 5);
  for (const auto took : health) {
    CHECK(took >= milliseconds(0));
    CHECK(took <= kAnswerWithin);
  }
  REQUIRE(trips.size() >= 2);
  for (const auto& trip : trips) {
    CHECK(trip.ok);
    CHECK(trip.push <= kAnswerWithin);
    CHECK(trip.pull <= kAnswerWithin);
  }
  CHECK(idle_open == idle.size());
  CHECK(idle_closed == idle.size());
  for (const auto at : slow_closed_at) {
    CHECK(at >= 0);
    CHECK(at <= std::chrono::duration_cast<milliseconds>(slow_deadline - start).count());
  }
  CHECK(peak <= world.bound_kib());
}

TEST_CASE("Past --max-connections the connections that waited longest are closed", "[server][hostile]") {
  World world({"--max-connections", "40"});
  const int port = world.server.port();
  std::vector<RawConnection> connections;
  for (int i = 0; i < 100; ++i) {
    connections.emplace_back(port);
    // Accepted in order: the cap closes the oldest.
    std::this_thread::sleep_for(milliseconds(3));
  }
  const auto probe = healthz(port);
  INFO("/healthz: " << probe.reply.status << " in " << probe.took.count() << " ms");
  CHECK(probe.reply.status == 200);
  CHECK(probe.took <= kAnswerWithin);
  std::size_t first_closed = 0;
  std::size_t last_open = 0;
  for (std::size_t i = 0; i < 50; ++i) if (connections[i].closed_within(milliseconds(1000))) ++first_closed;
  for (std::size_t i = 70; i < 100; ++i) if (!connections[i].closed_within(milliseconds(0))) ++last_open;
  CHECK(first_closed == 50);
  CHECK(last_open == 30);
}

// [SECTION] The limits, one by one -------------------------------------------------------------------

TEST_CASE("Requests past a limit are answered at once with the protocol's errors", "[server][hostile]") {
  World world;
  const int port = world.server.port();
  const auto code = relais::test::server_admin(server_binary(), world.db, {"enroll-code", "--user", world.user});
  const std::vector<std::string> enroll_headers{"Relais-Protocol: 1", "Content-Type: application/json"};
  const auto enroll_with = [&](const std::string& body, std::vector<std::string> headers = {}) {
    headers.insert(headers.end(), enroll_headers.begin(), enroll_headers.end());
    const auto answer = request(port, http_request("POST", "/api/v1/enroll", body, headers));
    INFO(answer.reply.status << " " << answer.reply.body);
    return std::make_pair(answer.reply.status, json::parse(answer.reply.body, nullptr, false));
  };
  const auto error_code = [](const json& body) {
    return body.is_object() && body.contains("error") ? body["error"].value("code", "") : std::string();
  };

  SECTION("an enrollment is a small flat object of strings") {
    const auto padded = json{{"code", code}, {"device_id", relais::make_uuid_v7()},
                             {"device_name", std::string(5000, 'a')}}.dump();
    auto [status, body] = enroll_with(padded);
    CHECK(status == 413);
    CHECK(error_code(body) == "body_too_large");
    CHECK(body["error"]["message"].get<std::string>().find("4 KiB") != std::string::npos);
    std::tie(status, body) = enroll_with(gzip(padded), {"Content-Encoding: gzip"});
    CHECK(status == 413);
    CHECK(error_code(body) == "body_too_large");
    std::tie(status, body) = enroll_with(json{{"code", json::array({code})}, {"device_id", relais::make_uuid_v7()}}.dump());
    CHECK(status == 400);
    CHECK(error_code(body) == "invalid_request");
    CHECK(body["error"]["problems"][0]["field"] == "code");
    std::tie(status, body) = enroll_with(R"({"code": ")" + code + R"(", "device_id": ")" + relais::make_uuid_v7() +
                                         R"(", "extra": {"a": [1, 2, 3]}})");
    CHECK(status == 400);
    CHECK(body["error"]["problems"][0]["field"] == "extra");
    CHECK(body["error"]["problems"][0]["reason"] == "unknown_field");
    std::tie(status, body) = enroll_with("[1, 2, 3]");
    CHECK(status == 400);
    CHECK(error_code(body) == "invalid_request");
    std::tie(status, body) = enroll_with(R"({"code": "a", "code": "b"})");
    CHECK(status == 400);
    CHECK(error_code(body) == "invalid_json");
    // None of these used the code.
    std::tie(status, body) = enroll_with(enroll_body(code));
    CHECK(status == 200);
  }

  SECTION("a request head of more than 64 headers or 16 KiB is refused with 431") {
    std::vector<std::string> many;
    for (int i = 0; i < 65; ++i) many.push_back("X-Header-" + std::to_string(i) + ": a");
    auto answer = request(port, http_request("GET", "/healthz", {}, many));
    CHECK(answer.reply.status == 431);
    many.resize(60);
    answer = request(port, http_request("GET", "/healthz", {}, many));
    CHECK(answer.reply.status == 200);
    answer = request(port, http_request("GET", "/healthz", {}, {"X-Large: " + std::string(17 * 1024, 'a')}));
    CHECK(answer.reply.status == 431);
  }

  SECTION("a push without a valid token is refused before its body is read") {
    // 4 MiB that the client is still sending when it is answered: it reads the 401 all the same.
    const std::string body(4 * 1024 * 1024, ' ');
    for (const std::string& authorization : {std::string(), std::string("Authorization: Bearer rls_made-up")}) {
      std::vector<std::string> headers{"Relais-Protocol: 1"};
      if (!authorization.empty()) headers.push_back(authorization);
      const auto answer = request(port, http_request("POST", "/api/v1/push", body, headers));
      CHECK(answer.reply.status == 401);
      CHECK(error_code(json::parse(answer.reply.body, nullptr, false)) == "unauthorized");
    }
    // Over 16 MiB by its Content-Length: 413 without a byte of it read.
    const auto answer = request(port, "POST /api/v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nRelais-Protocol: 1\r\n"
                                      "Content-Length: 100000000000\r\n\r\n");
    CHECK(answer.reply.status == 413);
  }

  SECTION("a body where none is read closes the connection after the answer; keep-alive goes on otherwise") {
    RawConnection connection(port);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    const std::string keep = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(connection.send(keep, deadline));
    CHECK(connection.reply(deadline).status == 200);
    REQUIRE(connection.send(keep, deadline));
    CHECK(connection.reply(deadline).status == 200);
    REQUIRE(connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nGET /", deadline));
    const auto answer = connection.reply(deadline);
    CHECK(answer.status == 200);
    CHECK(answer.headers.find("Connection: close") != std::string::npos);
    CHECK(connection.closed_within(milliseconds(2000)));
    const auto nowhere = request(port, http_request("PUT", "/api/v1/push", std::string(1000, 'x')));
    CHECK(nowhere.reply.status == 404);
  }
  CHECK(healthz(port).reply.status == 200);
}
