#pragma once
// The HTTP transport of the sync engine: one libcurl easy handle per client, one client per
// thread. A request ends either with an HTTP response (any status, 200 or 500) or with a
// transport error (no response at all); the two are kept apart so that the engine can retry the
// second and report the first. Nothing here throws for a network problem; a misuse (a header
// with a line break, a moved-from client) throws.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relais/gzip.hpp"  // gzip_compress: request bodies

namespace relais {

struct HttpResponse {
  long status = 0;
  std::string body;                             // already decompressed
  std::map<std::string, std::string> headers;  // lower-case names; the last value wins
};

enum class TransportError { none, cannot_resolve, cannot_connect, timeout, tls, cancelled, other };
std::string_view to_string(TransportError error);

struct HttpResult {
  TransportError error = TransportError::none;  // set when no HTTP response was received
  std::string error_message;                    // curl's message, for the log / status
  HttpResponse response;                        // valid when error == none (any status, 200 or 500)
  bool ok() const { return error == TransportError::none; }
};

struct HttpClientOptions {
  std::string base_url;                // "http://127.0.0.1:8080" or "https://relais.example.org"; paths are appended
  std::optional<std::string> ca_file;  // private CA bundle (CURLOPT_CAINFO); TLS peer and host verification always on
  long connect_timeout_ms = 10'000;
  long total_timeout_ms = 120'000;
  long low_speed_limit_bytes = 1;  // abort when slower than this...
  long low_speed_time_s = 30;      // ...for this long (CURLOPT_LOW_SPEED_*)
  std::string user_agent = "relais";
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One per thread: a client is not safe to use from two threads at once, except for cancel() and
// reset_cancel(). The connection is kept between requests (keep-alive). Move-only; a moved-from
// client may only be destroyed or assigned to.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `path` is appended to the base URL ("/api/v1/pull?cursor=…", already escaped).
  // headers: extra request headers, e.g. {"Authorization", "Bearer rls_..."}, {"Relais-Protocol", "1"}.
  HttpResult get(const std::string& path, const HttpHeaders& headers = {});
  // POSTs a JSON body (Content-Type: application/json); gzip_body compresses it with zlib (gzip
  // format) and sends Content-Encoding: gzip.
  HttpResult post_json(const std::string& path, const std::string& body, const HttpHeaders& headers = {},
                       bool gzip_body = true);

  // Thread-safe, callable from another thread: the request in progress (and any started later)
  // ends with TransportError::cancelled until reset_cancel().
  void cancel();
  void reset_cancel();

  // Bytes sent and received on the wire (compressed, headers included) since construction.
  std::uint64_t bytes_sent() const;
  std::uint64_t bytes_received() const;

 private:
  struct Impl;
  HttpResult perform(const std::string& path, const HttpHeaders& headers, const std::string* body, bool gzip_body);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais
