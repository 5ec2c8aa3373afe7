// The only translation unit that includes httplib.h (a large header, and a compiled library
// whose configuration macros come from its pkg-config file).
#include "relais/server/http.hpp"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "relais/dates.hpp"
#include "relais/exports.hpp"
#include "relais/gzip.hpp"
#include "relais/server/attempt_throttle.hpp"
#include "relais/server/protocol.hpp"
#include "relais/server/server_export.hpp"
#include "relais/server/server_store.hpp"
#include "relais/uuid.hpp"
#include "relais/vocabulary.hpp"

namespace relais::server {

using nlohmann::json;

namespace {

// Responses are valid UTF-8 whatever was echoed from the request.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// "application/json" exactly: httplib gzips it when the request accepts gzip.
void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

// The push and pull answers (the large ones): gzipped here at zlib's fastest level when the
// client accepts it (httplib's default level took a twentieth of the server's time on pushes,
// for a few bytes less per record). The charset parameter keeps httplib from compressing them
// again (it matches the type exactly).
void send_json_text(const httplib::Request& req, httplib::Response& res, std::string text) {
  constexpr const char* kType = "application/json; charset=utf-8";
  res.status = 200;
  res.set_header("Vary", "Accept-Encoding");
  if (text.size() >= 200 && req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
    res.set_header("Content-Encoding", "gzip");
    res.set_content(gzip_compress(text), kType);
    return;
  }
  res.set_content(std::move(text), kType);
}

void send_error(httplib::Response& res, const ApiError& error) {
  if (error.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, error.status(), error_body(error.code(), error.what(), error.problems()));
}

void send_internal_error(httplib::Response& res) {
  send_json(res, 500, error_body("internal", "internal server error; the request changed nothing"));
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

// [SECTION] Connections -------------------------------------------------------------------------
//
// cpp-httplib 0.11 serves each connection on a worker of a fixed pool (8 threads), waits for a
// request with a timeout that starts again at each byte, and queues the connections no worker
// has yet: eight clients sending a byte every few seconds, or a few hundred sending nothing,
// kept every worker and starved everyone else. Here each connection has a thread of its own
// (ConnectionThreads: a thread waiting on a socket costs a few pages), reads through a
// ConnectionStream that holds a deadline for the whole request head and for the whole body,
// and a cap on open connections (ConnectionRegistry) closes those that have waited longest.
// httplib still parses requests and writes answers: GuardedServer only replaces its
// per-connection loop (process_and_close_socket) and its thread pool.

using Clock = std::chrono::steady_clock;

// What a connection is doing, as the cap sees it: waiting for its next request, sending the
// request's head, in a request (body, handler, answer), or closing (draining what the client
// still sends, so that it reads its answer instead of a reset).
enum class Phase { waiting, head, request, closing };

struct Connection {
  explicit Connection(int fd_) : fd(fd_) {}
  const int fd;
  // Guarded by ConnectionRegistry's mutex.
  Phase phase = Phase::waiting;
  Clock::time_point since = Clock::now();  // when it started waiting for its current request
  bool evicted = false;
};

class ConnectionRegistry {
 public:
  explicit ConnectionRegistry(std::size_t cap) : cap_(std::max<std::size_t>(cap, 1)) {}

  // On the accept thread, for each new connection: true when it may be served (its place is
  // kept until add()), after closing the connection that has waited longest when the cap is
  // reached; false when every connection is in a request.
  bool make_room() {
    std::lock_guard lock(mutex_);
    std::size_t live = reserved_;
    // Closing ones first (they only drain), then the one that has waited longest.
    const auto rank = [](const Connection* connection) { return connection->phase == Phase::closing ? 0 : 1; };
    Connection* oldest = nullptr;
    for (auto* connection : open_) {
      if (connection->evicted) continue;
      ++live;
      if (connection->phase == Phase::request) continue;
      if (oldest == nullptr || rank(connection) < rank(oldest) ||
          (rank(connection) == rank(oldest) && connection->since < oldest->since)) {
        oldest = connection;
      }
    }
    if (live >= cap_) {
      if (oldest == nullptr) return false;
      evict(*oldest);
    }
    ++reserved_;
    return true;
  }

  // A place kept by make_room() for a connection that is refused after all.
  void forget_reserved() {
    std::lock_guard lock(mutex_);
    if (reserved_ > 0) --reserved_;
  }

  void add(Connection& connection) {
    std::lock_guard lock(mutex_);
    if (reserved_ > 0) --reserved_;
    open_.push_back(&connection);
    if (stopping_) evict(connection);
  }

  // Before the connection's socket is closed (so that no eviction touches a reused descriptor).
  void remove(Connection& connection) {
    std::lock_guard lock(mutex_);
    open_.remove(&connection);
  }

  // False when the connection was closed meanwhile (by the cap, or because the server stops
  // and it was not in a request).
  bool enter(Connection& connection, Phase phase) {
    std::lock_guard lock(mutex_);
    if (connection.evicted || (stopping_ && phase == Phase::waiting)) return false;
    if (phase == Phase::waiting) connection.since = Clock::now();
    connection.phase = phase;
    return true;
  }

  // At shutdown: closes every connection that is not in a request; the others finish theirs.
  void stop() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto* connection : open_) {
      if (connection->phase != Phase::request) evict(*connection);
    }
  }

 private:
  // Its thread sees the end of its input (or a failed write) and closes it.
  static void evict(Connection& connection) {
    if (connection.evicted) return;
    connection.evicted = true;
    ::shutdown(connection.fd, SHUT_RDWR);
  }

  std::mutex mutex_;
  std::list<Connection*> open_;
  std::size_t reserved_ = 0;
  const std::size_t cap_;
  bool stopping_ = false;
};

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, INT_MAX));
}

// Waits for `events` on `fd` until `deadline`: false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const int wait = poll_ms(deadline);
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, wait);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (ready == 0 && wait == 0) return false;
  }
}

bool strict_u64(std::string_view text, std::uint64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc{} && end == text.data() + text.size();
}

bool is_chunked(const httplib::Request& req) {
  auto encoding = req.get_header_value("Transfer-Encoding");
  std::transform(encoding.begin(), encoding.end(), encoding.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return encoding.find("chunked") != std::string::npos;
}

void address_text(const sockaddr_storage& address, socklen_t length, std::string& ip, int& port) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

// One connection's socket as httplib reads and writes it, with the deadlines and the head's
// limits of HttpLimits. httplib reads a request's head a byte at a time: the bytes come from a
// buffer, and each counts against kMaxHeadBytes (and each line against kMaxHeaderCount), so a
// head can neither grow without end nor take longer than head_timeout in all.
class ConnectionStream final : public httplib::Stream {
 public:
  enum class Failure { none, timed_out, head_too_large };

  ConnectionStream(Connection& connection, ConnectionRegistry& registry, const HttpLimits& limits,
                   Clock::time_point accepted_at)
      : connection_(connection), registry_(registry), limits_(limits), accepted_at_(accepted_at) {}

  // Waits for the first byte of the next request: false when none comes within idle_timeout,
  // the client closed, or the connection was closed by the cap or the server's stop.
  bool next_request() {
    const auto start = first_ ? std::min(accepted_at_, Clock::now()) : Clock::now();
    first_ = false;
    phase_ = Phase::waiting;
    head_bytes_ = 0;
    head_lines_ = 0;
    content_length_.reset();
    length_unknown_ = false;
    chunked_ = false;
    body_bytes_ = 0;
    body_done_ = false;
    if (!registry_.enter(connection_, Phase::waiting)) return false;
    if (begin_ == end_) {
      deadline_ = start + limits_.idle_timeout;
      if (!fill()) return false;
    }
    if (!registry_.enter(connection_, Phase::head)) return false;
    phase_ = Phase::head;
    deadline_ = start + limits_.head_timeout;
    return true;
  }

  // The head has been read (httplib's setup_request): the body's deadline starts.
  void head_read(const httplib::Request& req) {
    phase_ = Phase::request;
    registry_.enter(connection_, Phase::request);
    chunked_ = is_chunked(req);
    if (req.has_header("Content-Length")) {
      std::uint64_t length = 0;
      if (strict_u64(req.get_header_value("Content-Length"), length)) {
        content_length_ = length;
      } else {
        length_unknown_ = true;
      }
    } else if (!chunked_ && req.method != "GET" && req.method != "HEAD") {
      length_unknown_ = true;  // httplib would read such a body up to the end of the connection
    }
    auto timeout = limits_.body_timeout_max;
    if (content_length_ && !chunked_) {
      const auto rate = std::max<std::size_t>(limits_.body_min_rate, 1);
      const auto seconds = std::min<std::uint64_t>(*content_length_ / rate, 24 * 3600);
      timeout = std::min(timeout, limits_.body_grace + std::chrono::seconds(seconds));
    }
    deadline_ = Clock::now() + timeout;
  }

  // A handler read the body to its end (a chunked one has no length to count).
  void body_read() { body_done_ = true; }

  // After the answer: whether the connection may carry another request (this one was read
  // whole and nothing failed).
  bool reusable() const {
    if (failure_ != Failure::none || eof_ || phase_ != Phase::request || length_unknown_) return false;
    if (chunked_) return body_done_;
    return !content_length_ || body_bytes_ >= *content_length_;
  }

  // Whether the client may still be sending when the connection ends: then the server drains
  // it before closing, so that the client reads its answer instead of a reset.
  bool may_have_input() const { return !eof_ && failure_ != Failure::timed_out && !reusable(); }

  Failure failure() const { return failure_; }

  bool is_readable() const override { return begin_ < end_ || wait_for(connection_.fd, POLLIN, deadline_); }

  bool is_writable() const override {
    if (!wait_for(connection_.fd, POLLOUT, Clock::now() + limits_.write_timeout)) return false;
    pollfd entry{connection_.fd, POLLOUT, 0};  // and not closed meanwhile
    return ::poll(&entry, 1, 0) > 0 && (entry.revents & (POLLERR | POLLHUP)) == 0;
  }

  ssize_t read(char* ptr, std::size_t size) override {
    if (size == 0) return 0;
    if (phase_ == Phase::head) {
      if (head_bytes_ >= kMaxHeadBytes) return fail(Failure::head_too_large);
      size = std::min(size, kMaxHeadBytes - head_bytes_);
    }
    if (begin_ == end_) {
      if (eof_) return 0;
      if (phase_ != Phase::head && size >= buffer_.size()) {
        // A large read of a body goes straight to the caller's buffer.
        const auto got = receive(ptr, size);
        if (got > 0) body_bytes_ += static_cast<std::uint64_t>(got);
        return got;
      }
      const auto got = receive(buffer_.data(), buffer_.size());
      if (got <= 0) return got;
      begin_ = 0;
      end_ = static_cast<std::size_t>(got);
    }
    const auto count = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_.data() + begin_, count);
    begin_ += count;
    if (phase_ == Phase::head) {
      head_bytes_ += count;
      head_lines_ += static_cast<std::size_t>(std::count(ptr, ptr + count, '\n'));
      // The request line, the headers and the empty line that ends them.
      if (head_lines_ > kMaxHeaderCount + 2) return fail(Failure::head_too_large);
    } else {
      body_bytes_ += count;
    }
    return static_cast<ssize_t>(count);
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    const auto deadline = Clock::now() + limits_.write_timeout;
    for (;;) {
      const auto sent = ::send(connection_.fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) return sent;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(connection_.fd, POLLOUT, deadline)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getpeername(connection_.fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, length, ip, port);
    }
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(connection_.fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, length, ip, port);
    }
  }

  socket_t socket() const override { return connection_.fd; }

 private:
  ssize_t fail(Failure failure) {
    failure_ = failure;
    return -1;
  }

  // Waits for input until the deadline of the current phase, then reads what there is.
  ssize_t receive(char* into, std::size_t size) {
    for (;;) {
      if (!wait_for(connection_.fd, POLLIN, deadline_)) return fail(Failure::timed_out);
      const auto got = ::recv(connection_.fd, into, size, MSG_DONTWAIT);
      if (got > 0) return got;
      if (got == 0) {
        eof_ = true;
        return 0;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        eof_ = true;
        return -1;
      }
    }
  }

  // Fills the empty buffer (waiting for a request): false on timeout, end or error.
  bool fill() {
    const auto got = receive(buffer_.data(), buffer_.size());
    if (got <= 0) return false;
    begin_ = 0;
    end_ = static_cast<std::size_t>(got);
    return true;
  }

  Connection& connection_;
  ConnectionRegistry& registry_;
  const HttpLimits& limits_;
  const Clock::time_point accepted_at_;
  bool first_ = true;
  std::array<char, 4096> buffer_{};
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  Phase phase_ = Phase::waiting;
  Clock::time_point deadline_ = Clock::now();
  std::size_t head_bytes_ = 0;
  std::size_t head_lines_ = 0;
  std::optional<std::uint64_t> content_length_;
  bool length_unknown_ = false;
  bool chunked_ = false;
  std::uint64_t body_bytes_ = 0;
  bool body_done_ = false;
  bool eof_ = false;
  Failure failure_ = Failure::none;
};

// The stream of the connection this thread serves (handlers run on it), and whether the
// connection being handed over is one the cap refused.
thread_local ConnectionStream* t_stream = nullptr;
thread_local bool t_refused = false;
// When the connection this thread is given was accepted: its first deadlines count from then.
thread_local Clock::time_point t_accepted_at;

// httplib's task queue, replaced: a thread per connection, started when no thread is free and
// ended after kThreadIdle unused (kKeptThreads stay). The cap is checked here, on the accept
// thread, before a thread is given.
class ConnectionThreads final : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(ConnectionRegistry& registry) : registry_(registry) {}
  ~ConnectionThreads() override { shutdown(); }

  void enqueue(std::function<void()> job) override {
    join_ended();
    if (!registry_.make_room()) {
      // Served here, at once: process_and_close_socket answers 503 and closes.
      t_refused = true;
      job();
      t_refused = false;
      return;
    }
    std::unique_lock lock(mutex_);
    jobs_.push_back({std::move(job), Clock::now()});
    // Each idle thread takes one job when it wakes: a thread more when they are too few.
    if (jobs_.size() <= idle_) {
      wake_.notify_one();
      return;
    }
    const auto slot = threads_.emplace(threads_.end());
    try {
      *slot = std::thread([this, slot] { work(slot); });
    } catch (const std::system_error&) {
      // No thread to be had: this connection is refused (the others go on).
      threads_.erase(slot);
      auto refused = std::move(jobs_.back().run);
      jobs_.pop_back();
      lock.unlock();
      registry_.forget_reserved();
      t_refused = true;
      refused();
      t_refused = false;
    }
  }

  // After the accept loop: closes the connections that are not in a request, lets the others
  // finish, and joins every thread.
  void shutdown() override {
    registry_.stop();
    std::list<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake_.notify_all();
      threads.splice(threads.end(), threads_);
      threads.splice(threads.end(), ended_);
    }
    for (auto& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  static constexpr std::size_t kKeptThreads = 8;
  static constexpr std::chrono::seconds kThreadIdle{10};

  void work(std::list<std::thread>::iterator self) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (jobs_.empty() && !stopping_) {
        ++idle_;
        const bool woken = wake_.wait_for(lock, kThreadIdle, [this] { return !jobs_.empty() || stopping_; });
        --idle_;
        if (!woken && threads_.size() > kKeptThreads) {
          ended_.splice(ended_.end(), threads_, self);  // joined by the next enqueue or shutdown
          return;
        }
        continue;
      }
      if (jobs_.empty()) return;  // stopping, and nothing left
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      t_accepted_at = job.accepted_at;
      job.run();
      lock.lock();
    }
  }

  void join_ended() {
    std::list<std::thread> ended;
    {
      std::lock_guard lock(mutex_);
      ended.splice(ended.end(), ended_);
    }
    for (auto& thread : ended) thread.join();
  }

  ConnectionRegistry& registry_;
  std::mutex mutex_;
  std::condition_variable wake_;
  struct Job {
    std::function<void()> run;
    Clock::time_point accepted_at;
  };
  std::deque<Job> jobs_;
  std::list<std::thread> threads_;
  std::list<std::thread> ended_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

// After an answer whose request was not read whole: the client may still be sending it, and
// closing with unread input would reset the connection before it reads the answer. So the
// server stops writing and discards what comes, for kLingerMax at most (and no longer than
// kLingerQuiet without a byte), as nginx's lingering_close does.
void drain_and_close(int fd) {
  constexpr std::chrono::seconds kLingerMax{5};
  constexpr std::chrono::seconds kLingerQuiet{1};
  ::shutdown(fd, SHUT_WR);
  const auto end = Clock::now() + kLingerMax;
  char scratch[16 * 1024];
  for (;;) {
    const auto now = Clock::now();
    if (now >= end || !wait_for(fd, POLLIN, std::min(end, now + kLingerQuiet))) break;
    const auto got = ::recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
  }
}

// The answer to a connection past the cap, sent without waiting (on the accept thread).
void refuse(int fd) {
  static const std::string answer = [] {
    const auto body = dump(error_body("too_many_connections",
                                      "the server has too many connections open: try again in a few seconds"));
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nRelais-Protocol: " + std::string(kProtocolVersion) +
           "\r\nRetry-After: 5\r\nConnection: close\r\n\r\n" + body;
  }();
  [[maybe_unused]] const auto sent = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

class GuardedServer final : public httplib::Server {
 public:
  explicit GuardedServer(const HttpLimits& limits) : limits_(limits), registry_(limits.max_connections) {
    new_task_queue = [this] { return new ConnectionThreads(registry_); };
    set_keep_alive_timeout(std::chrono::ceil<std::chrono::seconds>(limits.idle_timeout).count());
  }

  // httplib listens with a queue of 5: a burst of connections then waits for the client's SYN
  // to be sent again (a second or more) instead of being accepted at once.
  void widen_listen_queue() {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, 1024);
  }

 private:
  // Replaces httplib's: the same keep-alive loop over process_request, on a ConnectionStream.
  bool process_and_close_socket(socket_t sock) override {
    if (t_refused) {
      refuse(sock);
      return false;
    }
    Connection connection(sock);
    registry_.add(connection);
    bool ok = true;
    {
      ConnectionStream stream(connection, registry_, limits_, t_accepted_at);
      t_stream = &stream;
      try {
        for (auto left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
          if (!stream.next_request()) break;
          bool closed = false;
          ok = process_request(stream, left == 1, closed, [&stream](httplib::Request& req) { stream.head_read(req); });
          if (!ok || closed || !stream.reusable()) break;
        }
      } catch (const std::exception& error) {
        std::cerr << "relais-server: connection: " << error.what() << '\n';
        ok = false;
      } catch (...) {
        std::cerr << "relais-server: connection: unknown exception\n";
        ok = false;
      }
      t_stream = nullptr;
      if (stream.may_have_input() && registry_.enter(connection, Phase::closing)) drain_and_close(sock);
    }
    registry_.remove(connection);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  const HttpLimits limits_;
  ConnectionRegistry registry_;
};

// [SECTION] Requests ----------------------------------------------------------------------------

// The body a route takes (its limit, as sent and inflated; 0 for a route that reads none), or
// nothing for a request that matches no route.
std::optional<std::size_t> body_limit(const httplib::Request& req) {
  if (req.method == "POST") {
    if (req.path == "/api/v1/enroll") return kMaxEnrollBodyBytes;
    if (req.path == "/api/v1/push") return kMaxBodyBytes;
    return std::nullopt;
  }
  if (req.method == "GET" || req.method == "HEAD") {
    for (const char* path : {"/healthz", "/api/v1/pull", "/api/v1/stats", "/api/v1/export"}) {
      if (req.path == path) return 0;
    }
  }
  return std::nullopt;
}

std::string size_text(std::size_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

ApiError body_too_large(std::size_t limit) {
  return ApiError(413, "body_too_large",
                  "the request body is larger than " + size_text(limit) + " (as sent or after decompression)");
}

// Before any body is read: a request for no route is answered 404, and one whose body is
// larger than its route takes is answered 413, unread (the connection is then closed).
httplib::Server::HandlerResponse check_before_body(const httplib::Request& req, httplib::Response& res) {
  const auto refuse_with = [&](const ApiError& error) {
    send_error(res, error);
    return httplib::Server::HandlerResponse::Handled;
  };
  const auto limit = body_limit(req);
  if (!limit) return refuse_with(ApiError(404, "not_found", "no such endpoint: " + req.method + " " + req.path));
  if (*limit == 0) return httplib::Server::HandlerResponse::Unhandled;  // a body is not read
  std::uint64_t length = 0;
  if (req.has_header("Content-Length")) {
    if (!strict_u64(req.get_header_value("Content-Length"), length)) {
      return refuse_with(ApiError(400, "invalid_request", "Content-Length is not a number"));
    }
    if (length > *limit) return refuse_with(body_too_large(*limit));
  } else if (!is_chunked(req)) {
    return refuse_with(ApiError(411, "invalid_request", "send the body with its Content-Length"));
  }
  return httplib::Server::HandlerResponse::Unhandled;
}


// [SECTION] Handlers ----------------------------------------------------------------------------

// Runs a handler's body: an ApiError becomes its JSON error, anything else a 500 that names
// nothing of the server's internals (the detail goes to stderr).
template <typename Body>
void guarded(const httplib::Request& req, httplib::Response& res, Body&& body) {
  try {
    body();
  } catch (const ApiError& error) {
    send_error(res, error);
  } catch (const std::exception& error) {
    std::cerr << "relais-server: " << req.method << ' ' << req.path << ": " << error.what() << '\n';
    send_internal_error(res);
  }
}

// Reads the whole body, inflated when it came gzipped, refusing more than `limit` bytes of
// inflated data as it arrives (so that a small gzip bomb cannot fill the memory).
std::string read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                      std::size_t limit) {
  std::string body;
  bool too_large = false;
  const bool ok = reader([&](const char* data, std::size_t size) {
    if (body.size() + size > limit) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  // httplib answers 413 itself for a Content-Length above the payload limit.
  if (too_large || res.status == 413) throw body_too_large(limit);
  if (!ok) {
    const auto encoding = req.get_header_value("Content-Encoding");
    if (res.status == 415 || (!encoding.empty() && encoding != "gzip")) {
      throw ApiError(415, "invalid_request", "unsupported Content-Encoding \"" + encoding + "\" (only gzip)");
    }
    throw ApiError(400, "invalid_request",
                   encoding.empty() ? "the request body could not be read"
                                    : "the request body could not be read or is not valid gzip");
  }
  if (t_stream != nullptr) t_stream->body_read();
  return body;
}

void require_protocol(const httplib::Request& req) {
  if (!req.has_header("Relais-Protocol")) {
    throw ApiError(426, "unsupported_protocol", "send the header Relais-Protocol: 1");
  }
  const auto version = trim(req.get_header_value("Relais-Protocol"));
  if (version != kProtocolVersion) {
    throw ApiError(426, "unsupported_protocol",
                   "this server speaks Relais-Protocol " + std::string(kProtocolVersion) + ", not \"" + version + "\"");
  }
}

Caller authenticate(ServerStore& store, const httplib::Request& req) {
  const auto header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    throw ApiError(401, "unauthorized", "send the device token: Authorization: Bearer <token>");
  }
  auto caller = store.authenticate(trim(std::string_view(header).substr(kBearer.size())));
  if (!caller) throw ApiError(401, "unauthorized", "unknown or revoked device token: enroll this device again");
  return std::move(*caller);
}

json user_json(const User& user) {
  return {{"id", user.id},
          {"nom", user.nom},
          {"prenom", user.prenom ? json(*user.prenom) : json(nullptr)},
          {"role", std::string(to_string(user.role))},
          {"structure_id", user.structure_id}};
}

std::int64_t parse_limit(const httplib::Request& req) {
  if (!req.has_param("limit")) return kMaxPullLimit;
  const auto text = req.get_param_value("limit");
  std::int64_t limit = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (error != std::errc{} || end != text.data() + text.size() || limit < 1) {
    throw ApiError(400, "invalid_request", "limit must be a whole number from 1 to " + std::to_string(kMaxPullLimit),
                   json::array({problem_json("limit", "invalid", "a whole number from 1 to 1000")}));
  }
  return std::min(limit, kMaxPullLimit);
}

// Exports and statistics are fetched by administrators' tools as well as by the app: the
// protocol header is checked only when it is sent.
void check_protocol_if_given(const httplib::Request& req) {
  if (req.has_header("Relais-Protocol")) require_protocol(req);
}

// Who may read what: an administrator everything (or one structure), a coordinator their own
// structure, an advisor nothing here (their records are on their device).
std::string export_scope(const Caller& caller, const httplib::Request& req) {
  const auto asked = req.get_param_value("structure");
  switch (caller.user.role) {
    case Role::admin:
      return asked;
    case Role::coordinateur:
      if (!asked.empty() && asked != caller.user.structure_id) {
        throw ApiError(403, "forbidden", "a coordinator exports their own structure only",
                       json::array({problem_json("structure", "forbidden", "not your structure")}));
      }
      return caller.user.structure_id;
    case Role::mediateur:
      break;
  }
  throw ApiError(403, "forbidden", "statistics and exports of the server are for coordinators and administrators");
}

// The query as name -> value, without the structure (the scope); a name given twice is refused.
std::map<std::string, std::string> export_parameters(const httplib::Request& req) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : req.params) {
    // Control characters (a NUL, a line break) are in no parameter name or value: refused by
    // name, escaped, before anything reads them.
    const auto has_control = [](const std::string& text) {
      return std::any_of(text.begin(), text.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; });
    };
    if (has_control(name) || has_control(value)) {
      const auto shown = json(name).dump(-1, ' ', false, json::error_handler_t::replace);
      throw ApiError(400, "invalid_request", "the parameter " + shown + " holds a control character",
                     json::array({problem_json(name, "invalid", "control characters are not allowed")}));
    }
    if (name == "structure") continue;
    if (!out.emplace(name, value).second) {
      throw ApiError(400, "invalid_request", name + " is given twice",
                     json::array({problem_json(name, "duplicate", "give it once")}));
    }
  }
  return out;
}

ExportRequest parse_request_or_400(const std::map<std::string, std::string>& parameters, const Vocabulary& vocabulary) {
  try {
    return parse_export_request(parameters, vocabulary);
  } catch (const ExportParameterError& error) {
    throw ApiError(400, "invalid_request", error.what(),
                   json::array({problem_json(error.field(), error.code(), error.reason())}));
  }
}

std::string display_name(const User& user) { return user.prenom ? *user.prenom + " " + user.nom : user.nom; }

std::string_view content_type(exports::Format format) {
  switch (format) {
    case exports::Format::csv: return "text/csv; charset=utf-8";
    case exports::Format::xlsx: return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    case exports::Format::json: return "application/json";
  }
  return "application/octet-stream";
}

// The address a request comes from. Behind the documented reverse proxy (nginx on the same
// machine) every request comes from loopback: the client is then the last address nginx added
// to X-Forwarded-For (only a process of this machine can set that header here).
std::string client_address(const httplib::Request& req) {
  const auto& peer = req.remote_addr;
  const bool loopback = peer.rfind("127.", 0) == 0 || peer == "::1" || peer.rfind("::ffff:127.", 0) == 0;
  if (loopback && req.has_header("X-Forwarded-For")) {
    const auto forwarded = req.get_header_value("X-Forwarded-For");
    const auto comma = forwarded.rfind(',');
    auto last = trim(comma == std::string::npos ? std::string_view(forwarded) : std::string_view(forwarded).substr(comma + 1));
    if (!last.empty() && last.size() <= 64) return last;
  }
  return peer;
}

// Enrollment codes are 60 random bits, but guessing must still be slow and seen: 10 failures a
// minute per address, then 429 until the oldest leaves the minute (docs/server.md).
constexpr std::size_t kEnrollFailuresPerWindow = 10;
constexpr std::int64_t kEnrollWindowMs = 60'000;

}  // namespace

struct HttpServer::Impl {
  Impl(ServerStore& store_, const ImpactFactors& factors_, const HttpLimits& limits)
      : store(store_), factors(factors_), server(limits) {}
  void routes();

  ServerStore& store;
  const ImpactFactors& factors;
  AttemptThrottle enroll_throttle{kEnrollFailuresPerWindow, kEnrollWindowMs};
  GuardedServer server;
};


void HttpServer::Impl::routes() {
  server.set_payload_max_length(kMaxBodyBytes);
  // Answers go out at once: without this, Nagle's algorithm and the client's delayed ACK add
  // about 40 ms to every request whose answer is written in more than one piece.
  server.set_tcp_nodelay(true);
  server.set_default_headers({{"Relais-Protocol", std::string(kProtocolVersion)}});

  // Nothing a handler throws reaches httplib's default (a 500 with the exception's text in
  // a header): the handlers catch everything, and this is the net under them.
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& caught) {
      std::cerr << "relais-server: " << req.method << ' ' << req.path << ": " << caught.what() << '\n';
    } catch (...) {
      std::cerr << "relais-server: " << req.method << ' ' << req.path << ": unknown exception\n";
    }
    send_internal_error(res);
  });
  // Sizes are checked before any body is read, and the same when a client asks whether it may
  // send its body (Expect: 100-continue).
  server.set_pre_routing_handler(check_before_body);
  server.set_expect_100_continue_handler([](const httplib::Request& req, httplib::Response& res) {
    return check_before_body(req, res) == httplib::Server::HandlerResponse::Handled ? res.status : 100;
  });
  // The server's clock in every answer, errors included: a device whose own clock is wrong
  // corrects its versions by it and tells its user (docs/protocol.md, "Bounded clocks"). An
  // answer after which the connection ends (its request was not read whole, or failed) says so,
  // instead of httplib's Keep-Alive.
  server.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header(std::string(kServerTimeHeader), std::to_string(now_unix_ms()));
    if (t_stream != nullptr && !t_stream->reusable()) {
      res.headers.erase("Keep-Alive");
      res.set_header("Connection", "close");
    }
  });
  // Errors httplib makes itself (unknown route, unreadable request) get the protocol's shape.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const auto failure = t_stream != nullptr ? t_stream->failure() : ConnectionStream::Failure::none;
        if (failure == ConnectionStream::Failure::head_too_large) {
          send_json(res, 431, error_body("invalid_request", "the request line and headers are larger than " +
                                                                size_text(kMaxHeadBytes) + ", or more than " +
                                                                std::to_string(kMaxHeaderCount) + " headers"));
          return httplib::Server::HandlerResponse::Handled;
        }
        if (failure == ConnectionStream::Failure::timed_out) {
          send_json(res, 408, error_body("invalid_request", "the request was not sent in time"));
          return httplib::Server::HandlerResponse::Handled;
        }
        switch (res.status) {
          case 404: send_json(res, 404, error_body("not_found", "no such endpoint: " + req.method + " " + req.path)); break;
          case 413: send_json(res, 413, error_body("body_too_large", "the request body is larger than 16 MiB")); break;
          default:
            if (res.status >= 500) {
              send_internal_error(res);
            } else {
              send_json(res, res.status, error_body("invalid_request", "the request could not be read"));
            }
        }
        return httplib::Server::HandlerResponse::Handled;
      }));

  server.Get("/healthz", [this](const httplib::Request& req, httplib::Response& res) {
    try {
      send_json(res, 200, {{"status", "ok"}, {"schema", store.schema_version()}});
    } catch (const std::exception& error) {
      std::cerr << "relais-server: " << req.path << ": " << error.what() << '\n';
      send_json(res, 503, error_body("internal", "the store does not answer"));
    }
  });

  server.Post("/api/v1/enroll",
              [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                const auto address = client_address(req);
                if (const auto wait = enroll_throttle.wait_ms(address); wait > 0) {
                  const auto seconds = std::to_string((wait + 999) / 1000);
                  res.set_header("Retry-After", seconds);
                  send_json(res, 429, error_body("too_many_attempts",
                                                 "too many failed enrollments from this address: try again in " +
                                                     seconds + " s"));
                  return;
                }
                guarded(req, res, [&] {
                  const auto failed = [&](const std::string& why) {
                    const auto count = enroll_throttle.failed(address);
                    std::cerr << "relais-server: enrollment refused from " << address << ": " << why << " (" << count
                              << " failure" << (count > 1 ? "s" : "") << " in the last minute)\n";
                  };
                  try {
                    require_protocol(req);
                    const auto request = parse_enroll(read_body(req, res, reader, kMaxEnrollBodyBytes));
                    const auto enrolled = store.enroll(request);
                    if (!enrolled) {
                      throw ApiError(401, "enrollment_failed",
                                     "this enrollment code is unknown, already used or expired: ask an "
                                     "administrator for a new one");
                    }
                    enroll_throttle.succeeded(address);
                    send_json(res, 200,
                              {{"token", enrolled->token},
                               {"user", user_json(enrolled->user)},
                               {"server_time", format_timestamp_utc(now_unix_ms())}});
                  } catch (const ApiError& error) {
                    failed(error.code());
                    throw;
                  }
                });
              });

  server.Post("/api/v1/push",
              [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                guarded(req, res, [&] {
                  require_protocol(req);
                  // The token first: without one, nothing of the body is read, inflated or parsed.
                  const auto caller = authenticate(store, req);
                  auto request = parse_push(read_body(req, res, reader, kMaxBodyBytes));
                  if (request.device_id != caller.device_id) {
                    throw ApiError(400, "invalid_request", "device_id is not the device of this token",
                                   json::array({problem_json("device_id", "mismatch",
                                                             "the token belongs to device " + caller.device_id)}));
                  }
                  // The checks that need no lock first, beside another push being written.
                  const auto prechecked = store.precheck(request.changes);
                  send_json_text(req, res, wire::push_answer(store.push(caller, request.changes, &prechecked)));
                });
              });

  server.Get("/api/v1/pull", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      require_protocol(req);
      const auto caller = authenticate(store, req);
      const auto limit = parse_limit(req);
      std::optional<Cursor> cursor;
      if (const auto text = req.get_param_value("cursor"); !text.empty()) {
        cursor = decode_cursor(text);
        if (!cursor) {
          throw ApiError(400, "invalid_request", "this cursor was not made by a Relais server",
                         json::array({problem_json("cursor", "invalid", "not a cursor")}));
        }
      }
      const auto pulled = store.pull(caller, cursor, limit);
      send_json_text(req, res, dump(wire::pull_answer(pulled.records, pulled.cursor, pulled.more, pulled.vocabulary)));
    });
  });

  // The indicators of the caller's scope as JSON (docs/exports.md, "Statistics JSON").
  server.Get("/api/v1/stats", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      check_protocol_if_given(req);
      const auto caller = authenticate(store, req);
      const auto scope = export_scope(caller, req);
      auto parameters = export_parameters(req);
      parameters.emplace("format", "json");
      parameters.emplace("what", "stats");
      const auto request = parse_request_or_400(parameters, store.vocabulary());
      store.refresh_statistics();
      const ServerExportSource source(store.path(), store.vocabulary(), scope);
      auto filter = request.filter;
      filter.scope = scope;
      stats::Labels labels(source.vocabulary(), request.lang);
      source.name_codes(labels);
      send_json(res, 200, exports::to_json(source.indicators(filter, factors), labels));
    });
  });

  // An export file of the caller's scope: written to a temporary file first (so memory stays
  // flat and a failure is a clean error), then streamed and removed.
  server.Get("/api/v1/export", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      check_protocol_if_given(req);
      const auto caller = authenticate(store, req);
      const auto scope = export_scope(caller, req);
      const auto request = parse_request_or_400(export_parameters(req), store.vocabulary());
      exports::ExportInfo info;
      info.exported_by = display_name(caller.user);
      info.role = std::string(to_string(caller.user.role));
      if (!scope.empty()) info.structure = store.structure_name(scope).value_or(scope);
      const auto file = std::filesystem::temp_directory_path() / ("relais-export-" + make_uuid_v7());
      try {
        export_server_data(store, factors, request, scope, info, file);
      } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(file, ignored);
        throw;
      }
      const auto size = std::filesystem::file_size(file);
      auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
      res.status = 200;
      res.set_header("Content-Disposition",
                     "attachment; filename=\"" +
                         exports::default_file_name(request.what, request.format,
                                                    exports::Period{request.filter.from, request.filter.to}) +
                         "\"");
      res.set_content_provider(
          static_cast<std::size_t>(size), std::string(content_type(request.format)),
          [in](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            char buffer[64 * 1024];
            in->seekg(static_cast<std::streamoff>(offset));
            const auto want = std::min(length, sizeof buffer);
            in->read(buffer, static_cast<std::streamsize>(want));
            const auto got = in->gcount();
            if (got <= 0) return false;
            return sink.write(buffer, static_cast<std::size_t>(got));
          },
          [in, file](bool) {
            in->close();
            std::error_code ignored;
            std::filesystem::remove(file, ignored);
          });
    });
  });
}

HttpServer::HttpServer(ServerStore& store, const ImpactFactors& factors, HttpLimits limits)
    : impl_(std::make_unique<Impl>(store, factors, limits)) {
  impl_->routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = impl_->server.bind_to_any_port(host);
    if (bound > 0) {
      impl_->server.widen_listen_queue();
      return bound;
    }
  } else if (impl_->server.bind_to_port(host, port)) {
    impl_->server.widen_listen_queue();
    return port;
  }
  throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                           " (address in use, or not an address of this machine?)");
}

bool HttpServer::serve() { return impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace relais::server
