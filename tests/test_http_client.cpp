// The HTTP transport of the sync engine against a real in-process HTTP(S) server: round trips,
// gzip both ways, transport errors kept apart from HTTP statuses, timeouts, cancellation from
// another thread, TLS verification and the byte counters.
#include <httplib.h>  // the CPPHTTPLIB_*_SUPPORT definitions come from its pkg-config flags
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <catch2/catch.hpp>

#include "relais/http_client.hpp"

using relais::HttpClient;
using relais::HttpClientOptions;
using relais::HttpResult;
using relais::TransportError;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------------

// What a handler saw. Handlers run on the server's threads, where Catch2 assertions are not
// allowed: they record, and the test checks afterwards.
struct SeenRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;    // after the server's own gzip decoding
  httplib::Headers headers;
  int remote_port = -1;

  std::string header(const std::string& name) const {
    const auto found = headers.find(name);  // httplib compares names case-insensitively
    return found == headers.end() ? std::string() : found->second;
  }
  bool has_header(const std::string& name) const { return headers.find(name) != headers.end(); }
};

// A cpp-httplib server on 127.0.0.1 (or another loopback address) and a free port: add routes through http(), then start();
// stopped and joined at scope exit. Slow handlers wait in hold(), which the destructor ends
// first, so that no test waits for a sleeping handler.
class TestServer {
 public:
  enum class Scheme { http, https };

  explicit TestServer(Scheme scheme = Scheme::http, std::string host = "127.0.0.1")
      : scheme_(scheme), host_(std::move(host)) {
    if (scheme == Scheme::https) {
      const std::string dir = std::string(RELAIS_TEST_DATA_DIR) + "/tls/";
      server_ = std::make_unique<httplib::SSLServer>((dir + "server.pem").c_str(), (dir + "server.key").c_str());
    } else {
      server_ = std::make_unique<httplib::Server>();
    }
    server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      res.status = 599;  // a test bug, never a crash of the test binary
    });
  }
  ~TestServer() {
    release();
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  httplib::Server& http() { return *server_; }

  void start() {
    REQUIRE(server_->is_valid());
    port_ = server_->bind_to_any_port(host_);
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    const auto limit = std::chrono::steady_clock::now() + 5s;
    while (!server_->is_running() && std::chrono::steady_clock::now() < limit) std::this_thread::sleep_for(1ms);
    REQUIRE(server_->is_running());
  }

  int port() const { return port_; }
  std::string url() const {
    return std::string(scheme_ == Scheme::https ? "https" : "http") + "://" + host_ + ":" + std::to_string(port_);
  }

  void record(const httplib::Request& req) {
    std::lock_guard lock(mutex_);
    seen_.push_back({req.method, req.target, req.body, req.headers, req.remote_port});
  }
  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t seen_count() const { return seen().size(); }

  // Called by a slow handler: waits until release() or until `limit`.
  void hold(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    ++holding_;
    released_changed_.notify_all();
    released_changed_.wait_for(lock, limit, [this] { return released_; });
  }
  // Waits (up to 5 s) until a handler is in hold().
  bool wait_for_holder() {
    std::unique_lock lock(mutex_);
    return released_changed_.wait_for(lock, 5s, [this] { return holding_ > 0; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    released_changed_.notify_all();
  }

 private:
  Scheme scheme_;
  std::string host_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;
  std::condition_variable released_changed_;
  bool released_ = false;
  int holding_ = 0;
};

HttpClientOptions options_for(const std::string& base_url) {
  HttpClientOptions options;
  options.base_url = base_url;
  options.connect_timeout_ms = 5'000;
  options.total_timeout_ms = 20'000;
  return options;
}

std::string describe(const HttpResult& result) {
  return std::string(relais::to_string(result.error)) + ": " + result.error_message +
         " (status " + std::to_string(result.response.status) + ")";
}

// A loopback port where nothing listens: bound, never listening, so that no one else takes it
// while the test runs and a connection to it is refused.
class UnusedPort {
 public:
  UnusedPort() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~UnusedPort() { ::close(fd_); }
  UnusedPort(const UnusedPort&) = delete;
  UnusedPort& operator=(const UnusedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

bool has_upper_case(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// A JSON-looking body that compresses well.
std::string repetitive_json(std::size_t size) {
  std::string body = "[";
  for (int i = 0; body.size() < size; ++i) {
    body += R"({"kind": "session", "id": "0193a5c0-0000-7000-8000-)" + std::to_string(100000 + i % 1000) +
            R"(", "duree": 45, "theme": "demarches_en_ligne"},)";
  }
  body.back() = ']';
  return body;
}

// Bytes that do not compress (a fixed-seed xorshift).
std::string noise(std::size_t size) {
  std::string out(size, '\0');
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (char& c : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    c = static_cast<char>(state & 0xFF);
  }
  return out;
}

}  // namespace

// [SECTION] gzip --------------------------------------------------------------------------------

TEST_CASE("gzip_compress and gzip_decompress round trip", "[http]") {
  const std::string text = GENERATE(""s, "{\"a\": 1}"s, "é€ «» \0 binary"s,
                                    repetitive_json(1 << 20), noise(1 << 20));
  const std::string compressed = relais::gzip_compress(text);
  INFO("input size " << text.size() << ", compressed " << compressed.size());
  REQUIRE(compressed.size() >= 18);  // gzip header and trailer
  CHECK(static_cast<unsigned char>(compressed[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(compressed[1]) == 0x8b);
  CHECK(relais::gzip_decompress(compressed) == text);
}

TEST_CASE("gzip_compress shrinks repetitive JSON", "[http]") {
  const std::string body = repetitive_json(100'000);
  CHECK(relais::gzip_compress(body).size() < body.size() / 10);
}

TEST_CASE("gzip_decompress reads several gzip members one after the other", "[http]") {
  const std::string both = relais::gzip_compress("first, ") + relais::gzip_compress("second");
  CHECK(relais::gzip_decompress(both) == "first, second");
}

TEST_CASE("gzip_decompress rejects what is not whole gzip data", "[http]") {
  const std::string good = relais::gzip_compress(repetitive_json(10'000));
  CHECK_THROWS_AS(relais::gzip_decompress(""), std::runtime_error);
  CHECK_THROWS_AS(relais::gzip_decompress("this is not gzip at all"), std::runtime_error);
  CHECK_THROWS_AS(relais::gzip_decompress(noise(4096)), std::runtime_error);
  CHECK_THROWS_AS(relais::gzip_decompress(good.substr(0, good.size() / 2)), std::runtime_error);  // truncated
  CHECK_THROWS_AS(relais::gzip_decompress(good.substr(0, good.size() - 1)), std::runtime_error);  // no full trailer
  std::string corrupt = good;
  corrupt[corrupt.size() - 6] = static_cast<char>(corrupt[corrupt.size() - 6] ^ 0x55);  // CRC-32
  CHECK_THROWS_AS(relais::gzip_decompress(corrupt), std::runtime_error);
  CHECK_THROWS_AS(relais::gzip_decompress(good + "trailing garbage"), std::runtime_error);
}

TEST_CASE("to_string names every transport error", "[http]") {
  CHECK(relais::to_string(TransportError::none) == "none");
  CHECK(relais::to_string(TransportError::cannot_resolve) == "cannot_resolve");
  CHECK(relais::to_string(TransportError::cannot_connect) == "cannot_connect");
  CHECK(relais::to_string(TransportError::timeout) == "timeout");
  CHECK(relais::to_string(TransportError::tls) == "tls");
  CHECK(relais::to_string(TransportError::cancelled) == "cancelled");
  CHECK(relais::to_string(TransportError::other) == "other");
}

// [SECTION] Round trips -------------------------------------------------------------------------

TEST_CASE("GET sends the path, query and headers, and returns status, body and headers", "[http]") {
  TestServer server;
  server.http().Get("/api/v1/pull", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_header("X-Relais-Test", "first");
    res.set_header("X-Relais-Test", "last");
    res.set_header("Relais-Server", "stub");
    res.set_content(R"({"records": [], "cursor": "AAAA", "more": false})", "application/json");
  });
  server.start();

  HttpClientOptions options = options_for(server.url() + "/");  // a trailing slash is harmless
  options.user_agent = "relais-test/1.0";
  HttpClient client(options);
  const HttpResult result =
      client.get("/api/v1/pull?cursor=AAAA&limit=5", {{"Authorization", "Bearer rls_secret"}, {"Relais-Protocol", "1"}});

  INFO(describe(result));
  REQUIRE(result.ok());
  CHECK(result.error_message.empty());
  CHECK(result.response.status == 200);
  CHECK(result.response.body == R"({"records": [], "cursor": "AAAA", "more": false})");
  CHECK(result.response.headers.at("content-type") == "application/json");
  CHECK(result.response.headers.at("relais-server") == "stub");
  CHECK(result.response.headers.at("x-relais-test") == "last");  // lower-case names, the last value wins
  for (const auto& entry : result.response.headers) CHECK_FALSE(has_upper_case(entry.first));

  const auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/api/v1/pull?cursor=AAAA&limit=5");
  CHECK(seen[0].header("Authorization") == "Bearer rls_secret");
  CHECK(seen[0].header("Relais-Protocol") == "1");
  CHECK(seen[0].header("User-Agent") == "relais-test/1.0");
  CHECK(seen[0].header("Accept-Encoding").find("gzip") != std::string::npos);
  CHECK(seen[0].body.empty());
}

TEST_CASE("POST sends a JSON body; every HTTP status is a response, not a transport error", "[http]") {
  TestServer server;
  server.http().Post("/api/v1/push", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content(R"({"results": []})", "application/json");
  });
  server.http().Post("/api/v1/boom", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.status = 500;
    res.set_content(R"({"error": {"code": "internal", "message": "disk full"}})", "application/json");
  });
  server.http().Post("/api/v1/enroll", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.status = 401;
    res.set_content(R"({"error": {"code": "enrollment_failed", "message": "unknown code"}})", "application/json");
  });
  server.start();
  HttpClient client(options_for(server.url()));
  const std::string body = R"({"device_id": "0193a5c0", "changes": [{"kind": "session", "nom": "Benali é€"}]})";

  const HttpResult pushed = client.post_json("/api/v1/push", body, {{"Relais-Protocol", "1"}}, /*gzip_body=*/false);
  INFO(describe(pushed));
  REQUIRE(pushed.ok());
  CHECK(pushed.response.status == 200);
  CHECK(pushed.response.body == R"({"results": []})");

  const HttpResult failed = client.post_json("/api/v1/boom", body, {}, false);
  INFO(describe(failed));
  REQUIRE(failed.ok());  // the server answered: an HTTP status, not a transport error
  CHECK(failed.error == TransportError::none);
  CHECK(failed.response.status == 500);
  CHECK(failed.response.body.find("disk full") != std::string::npos);

  const HttpResult refused = client.post_json("/api/v1/enroll", "{}", {}, false);
  REQUIRE(refused.ok());
  CHECK(refused.response.status == 401);

  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/api/v1/push");
  CHECK(seen[0].body == body);
  CHECK(seen[0].header("Content-Type") == "application/json");
  CHECK(seen[0].header("Content-Length") == std::to_string(body.size()));
  CHECK(seen[0].header("Relais-Protocol") == "1");
  CHECK_FALSE(seen[0].has_header("Content-Encoding"));
  CHECK_FALSE(seen[0].has_header("Expect"));  // no 100-continue round trip
  CHECK(seen[2].body == "{}");
}

TEST_CASE("a gzip request body arrives intact and compressed", "[http]") {
  TestServer server;
  server.http().Post("/api/v1/push", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);  // httplib inflates a Content-Encoding: gzip body before the handler
    res.set_content("{}", "application/json");
  });
  server.start();
  HttpClient client(options_for(server.url()));

  const std::string body = GENERATE(repetitive_json(100'000) + "\"é€\"", "{}"s, ""s);
  const HttpResult result = client.post_json("/api/v1/push", body);  // gzip_body defaults to true
  INFO(describe(result));
  REQUIRE(result.ok());
  CHECK(result.response.status == 200);

  const auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].header("Content-Encoding") == "gzip");
  CHECK(seen[0].header("Content-Type") == "application/json");
  CHECK(seen[0].body == body);
  // What crossed the wire is the compressed form.
  CHECK(seen[0].header("Content-Length") == std::to_string(relais::gzip_compress(body).size()));
}

TEST_CASE("a compressed response arrives decompressed", "[http]") {
  const std::string payload = repetitive_json(200'000);
  TestServer server;
  // Compressed by hand, only when the request says it accepts gzip.
  server.http().Get("/by-hand", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    if (req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos) {
      res.set_header("Content-Encoding", "gzip");
      res.set_content(relais::gzip_compress(payload), "application/octet-stream");  // a type httplib leaves alone
    } else {
      res.set_content(payload, "application/octet-stream");
    }
  });
  // Compressed by httplib itself (gzip or Brotli, whichever it picks from Accept-Encoding).
  server.http().Get("/by-server", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content(payload, "application/json");
  });
  server.start();
  HttpClient client(options_for(server.url()));

  const std::uint64_t before = client.bytes_received();
  const HttpResult by_hand = client.get("/by-hand");
  INFO(describe(by_hand));
  REQUIRE(by_hand.ok());
  CHECK(by_hand.response.headers.at("content-encoding") == "gzip");
  CHECK(by_hand.response.body == payload);
  CHECK(client.bytes_received() - before < payload.size() / 5);  // counted as received on the wire

  const HttpResult by_server = client.get("/by-server");
  INFO(describe(by_server));
  REQUIRE(by_server.ok());
  REQUIRE(by_server.response.headers.count("content-encoding") == 1);
  CHECK_FALSE(by_server.response.headers.at("content-encoding").empty());
  CHECK(by_server.response.body == payload);
}

TEST_CASE("the connection is kept between requests, and each request starts from clean options", "[http]") {
  TestServer server;
  const auto echo = [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content(req.method, "text/plain");
  };
  server.http().Get("/echo", echo);
  server.http().Post("/echo", echo);
  server.start();
  HttpClient client(options_for(server.url()));

  const HttpResult posted = client.post_json("/echo", R"({"x": 1})", {{"Authorization", "Bearer rls_a"}}, false);
  const HttpResult got = client.get("echo");  // a path without its leading slash still goes under the base URL
  const HttpResult got_again = client.get("/echo", {{"Relais-Protocol", "1"}});
  REQUIRE(posted.ok());
  REQUIRE(got.ok());
  REQUIRE(got_again.ok());
  CHECK(posted.response.body == "POST");
  CHECK(got.response.body == "GET");
  CHECK(got_again.response.body == "GET");

  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].header("Authorization") == "Bearer rls_a");
  // Nothing of the POST leaks into the GETs that follow.
  for (const std::size_t i : {std::size_t{1}, std::size_t{2}}) {
    INFO("request " << i);
    CHECK(seen[i].method == "GET");
    CHECK(seen[i].body.empty());
    CHECK_FALSE(seen[i].has_header("Authorization"));
    CHECK_FALSE(seen[i].has_header("Content-Type"));
    CHECK_FALSE(seen[i].has_header("Content-Length"));
  }
  CHECK_FALSE(seen[1].has_header("Relais-Protocol"));
  CHECK(seen[2].header("Relais-Protocol") == "1");
  // One TCP connection for all three (the same client port on the server side).
  CHECK(seen[1].remote_port == seen[0].remote_port);
  CHECK(seen[2].remote_port == seen[0].remote_port);
}

TEST_CASE("a request header with a line break is a programming error, and nothing is sent", "[http]") {
  TestServer server;
  server.http().Get("/echo", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content("ok", "text/plain");
  });
  server.start();
  HttpClient client(options_for(server.url()));
  CHECK_THROWS_AS(client.get("/echo", {{"Authorization", "Bearer x\r\nX-Injected: 1"}}), std::invalid_argument);
  CHECK_THROWS_AS(client.get("/echo", {{"Bad: Name", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(client.post_json("/echo", "{}", {{"", "1"}}), std::invalid_argument);
  CHECK(server.seen_count() == 0);
  CHECK(client.get("/echo").ok());  // the client is still usable
}

// [SECTION] Transport errors --------------------------------------------------------------------

TEST_CASE("a port where nothing listens gives cannot_connect", "[http]") {
  const UnusedPort unused;
  HttpClient client(options_for("http://127.0.0.1:" + std::to_string(unused.port())));
  const HttpResult result = client.get("/healthz");
  INFO(describe(result));
  CHECK_FALSE(result.ok());
  CHECK(result.error == TransportError::cannot_connect);
  CHECK_FALSE(result.error_message.empty());
  CHECK(result.response.status == 0);
  const HttpResult posted = client.post_json("/api/v1/push", "{}");
  CHECK(posted.error == TransportError::cannot_connect);
}

TEST_CASE("a host name that does not resolve gives cannot_resolve", "[http]") {
  HttpClient client(options_for("http://relais.invalid"));  // .invalid never resolves (RFC 6761)
  const HttpResult result = client.get("/healthz");
  INFO(describe(result));
  CHECK(result.error == TransportError::cannot_resolve);
  CHECK(result.error_message.find("relais.invalid") != std::string::npos);
}

TEST_CASE("a server slower than the timeouts gives timeout", "[http]") {
  TestServer server;
  server.http().Get("/slow", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    server.hold(10s);
    res.set_content("too late", "text/plain");
  });
  server.start();
  HttpClientOptions options = options_for(server.url());
  SECTION("total timeout") { options.total_timeout_ms = 300; }
  SECTION("low speed limit") { options.low_speed_time_s = 1; }
  HttpClient client(options);

  const auto start = std::chrono::steady_clock::now();
  const HttpResult result = client.get("/slow");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO(describe(result));
  CHECK(result.error == TransportError::timeout);
  CHECK_FALSE(result.error_message.empty());
  CHECK(result.response.body.empty());
  CHECK(server.seen_count() == 1);
  CHECK(elapsed < 8s);  // well before the handler would have answered
}

TEST_CASE("cancel() from another thread ends the request at once, and reset_cancel() allows new ones", "[http]") {
  TestServer server;
  server.http().Get("/slow", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    server.hold(10s);
    res.set_content("too late", "text/plain");
  });
  server.http().Get("/fast", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content("ok", "text/plain");
  });
  server.start();
  HttpClient client(options_for(server.url()));  // timeouts far longer than the test
  CHECK(client.get("/fast").ok());  // an open connection, as in a sync session

  std::atomic<bool> handler_was_holding{false};
  std::thread canceller([&] {
    handler_was_holding = server.wait_for_holder();  // the request is in progress
    client.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  const HttpResult result = client.get("/slow");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();
  INFO(describe(result));
  CHECK(handler_was_holding);
  CHECK(result.error == TransportError::cancelled);
  CHECK(result.response.body.empty());
  CHECK(elapsed < 8s);  // not the 10 s hold, nor the 20 s timeout

  // Still cancelled: nothing more goes out until reset_cancel().
  const std::size_t sent_so_far = server.seen_count();
  CHECK(client.get("/fast").error == TransportError::cancelled);
  CHECK(client.post_json("/fast", "{}").error == TransportError::cancelled);
  CHECK(server.seen_count() == sent_so_far);

  client.reset_cancel();
  const HttpResult again = client.get("/fast");
  INFO(describe(again));
  REQUIRE(again.ok());
  CHECK(again.response.status == 200);
  CHECK(again.response.body == "ok");
}

// [SECTION] TLS ---------------------------------------------------------------------------------

TEST_CASE("TLS: the peer is always verified; a private CA is trusted through ca_file", "[http]") {
  const std::string ca_file = std::string(RELAIS_TEST_DATA_DIR) + "/tls/ca.pem";
  // The server certificate is for 127.0.0.1 and localhost (tests/data/tls/make-certs.sh).
  std::string host = "127.0.0.1";
  HttpClientOptions options;
  TransportError expected = TransportError::none;
  SECTION("signed by the CA given in ca_file") { options.ca_file = ca_file; }
  SECTION("unknown CA") { expected = TransportError::tls; }
  SECTION("certificate for another address") {
    host = "127.0.0.2";
    options.ca_file = ca_file;
    expected = TransportError::tls;
  }
  SECTION("ca_file that does not exist") {
    options.ca_file = std::string(RELAIS_TEST_DATA_DIR) + "/tls/missing.pem";
    expected = TransportError::tls;
  }
  TestServer server(TestServer::Scheme::https, host);
  server.http().Get("/healthz", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content(R"({"status": "ok", "schema": 1})", "application/json");
  });
  server.start();
  options.base_url = server.url();
  HttpClient client(options);

  const HttpResult result = client.get("/healthz");
  INFO(describe(result));
  REQUIRE(result.error == expected);
  if (expected == TransportError::none) {
    CHECK(result.response.status == 200);
    CHECK(result.response.body == R"({"status": "ok", "schema": 1})");
    CHECK(server.seen_count() == 1);
  } else {
    CHECK_FALSE(result.error_message.empty());
    CHECK(server.seen_count() == 0);  // no request went out over an unverified connection
  }
}

TEST_CASE("https to a plain HTTP port is a transport error, not a response", "[http]") {
  TestServer server;
  server.http().Get("/healthz", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content("ok", "text/plain");
  });
  server.start();
  HttpClient client(options_for("https://127.0.0.1:" + std::to_string(server.port())));
  const HttpResult result = client.get("/healthz");
  INFO(describe(result));
  CHECK_FALSE(result.ok());
  CHECK((result.error == TransportError::tls || result.error == TransportError::other));
  CHECK(server.seen_count() == 0);
}

TEST_CASE("only http and https URLs are fetched", "[http]") {
  HttpClient client(options_for("file:///etc"));
  const HttpResult result = client.get("/passwd");
  CHECK(result.error == TransportError::other);
  CHECK(result.response.body.empty());
}

// [SECTION] Counters, moves, threads ------------------------------------------------------------

TEST_CASE("the byte counters grow with each request, and a gzip body is smaller on the wire", "[http]") {
  TestServer server;
  server.http().Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  server.http().Post("/api/v1/push", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"results": []})", "application/json");
  });
  server.start();
  HttpClient client(options_for(server.url()));
  CHECK(client.bytes_sent() == 0);
  CHECK(client.bytes_received() == 0);

  REQUIRE(client.get("/healthz").ok());
  const std::uint64_t sent_get = client.bytes_sent();
  const std::uint64_t received_get = client.bytes_received();
  CHECK(sent_get > 20);        // "GET /healthz HTTP/1.1" and headers
  CHECK(received_get > 20);    // status line, headers and "ok"
  REQUIRE(client.get("/healthz").ok());
  CHECK(client.bytes_sent() == 2 * sent_get);  // per request, not cumulated twice
  CHECK(client.bytes_received() == 2 * received_get);

  const std::string body = repetitive_json(100'000);
  std::uint64_t before = client.bytes_sent();
  REQUIRE(client.post_json("/api/v1/push", body, {}, /*gzip_body=*/true).ok());
  const std::uint64_t gzipped = client.bytes_sent() - before;
  before = client.bytes_sent();
  REQUIRE(client.post_json("/api/v1/push", body, {}, /*gzip_body=*/false).ok());
  const std::uint64_t raw = client.bytes_sent() - before;
  INFO("gzip " << gzipped << " B, raw " << raw << " B, JSON " << body.size() << " B");
  CHECK(gzipped < body.size() / 5);
  CHECK(raw >= body.size());
  CHECK(raw < body.size() + 1'000);  // the body once, plus the request headers
  CHECK(client.bytes_received() > 2 * received_get);
}

TEST_CASE("a client can be moved and keeps its connection and counters", "[http]") {
  TestServer server;
  server.http().Get("/healthz", [&](const httplib::Request& req, httplib::Response& res) {
    server.record(req);
    res.set_content("ok", "text/plain");
  });
  server.start();
  HttpClient first(options_for(server.url()));
  REQUIRE(first.get("/healthz").ok());
  const std::uint64_t sent = first.bytes_sent();

  HttpClient second(std::move(first));
  CHECK(second.bytes_sent() == sent);
  REQUIRE(second.get("/healthz").ok());

  HttpClient third(options_for("http://relais.invalid"));
  third = std::move(second);
  const HttpResult result = third.get("/healthz");
  INFO(describe(result));
  REQUIRE(result.ok());
  CHECK(result.response.body == "ok");
  CHECK(third.bytes_sent() == 3 * sent);

  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[2].remote_port == seen[0].remote_port);

  // A moved-from client is empty: using it is a programming error.
  CHECK_THROWS_AS(first.get("/healthz"), std::logic_error);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("clients on several threads work independently", "[http]") {
  TestServer server;
  server.http().Get(R"(/echo/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.matches[1].str(), "text/plain");
  });
  server.start();
  constexpr int kThreads = 4;
  constexpr int kRequests = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(options_for(server.url()));  // one client per thread
      for (int i = 0; i < kRequests; ++i) {
        const std::string id = std::to_string(t * 1000 + i);
        const HttpResult result = client.get("/echo/" + id);
        if (result.ok() && result.response.status == 200 && result.response.body == id) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(good == kThreads * kRequests);
}
