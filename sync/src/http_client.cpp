#include "relais/http_client.hpp"

#include <curl/curl.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace relais {

// [SECTION] Errors ------------------------------------------------------------------------------

std::string_view to_string(TransportError error) {
  switch (error) {
    case TransportError::none: return "none";
    case TransportError::cannot_resolve: return "cannot_resolve";
    case TransportError::cannot_connect: return "cannot_connect";
    case TransportError::timeout: return "timeout";
    case TransportError::tls: return "tls";
    case TransportError::cancelled: return "cancelled";
    case TransportError::other: return "other";
  }
  return "other";
}

namespace {

TransportError transport_error_of(CURLcode code) {
  switch (code) {
    case CURLE_OK: return TransportError::none;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return TransportError::cannot_resolve;
    case CURLE_COULDNT_CONNECT: return TransportError::cannot_connect;
    case CURLE_OPERATION_TIMEDOUT: return TransportError::timeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED: return TransportError::tls;
    case CURLE_ABORTED_BY_CALLBACK: return TransportError::cancelled;
    default: return TransportError::other;
  }
}

// [SECTION] libcurl plumbing --------------------------------------------------------------------

// Once per process, before the first handle; never cleaned up (other threads may still use it).
void ensure_curl_initialised() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) throw std::runtime_error(std::string("curl_global_init: ") + curl_easy_strerror(rc));
}

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void append_header(Slist& list, const std::string& line) {
  curl_slist* head = list.release();
  curl_slist* grown = curl_slist_append(head, line.c_str());  // the same head, or a new one for an empty list
  list.reset(grown != nullptr ? grown : head);
  if (grown == nullptr) throw std::bad_alloc();
}

bool has_line_break_or_nul(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// "Name: value"; an empty value needs "Name;" (curl drops a header written "Name:").
std::string header_line(const std::string& name, const std::string& value) {
  if (name.empty() || name.find(':') != std::string::npos || name.find(';') != std::string::npos ||
      name.find(' ') != std::string::npos || has_line_break_or_nul(name) || has_line_break_or_nul(value)) {
    throw std::invalid_argument("HttpClient: invalid request header \"" + name + "\"");
  }
  return value.empty() ? name + ";" : name + ": " + value;
}

std::string trimmed(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The callbacks run inside libcurl (C code): no exception may cross them.

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  try {
    static_cast<HttpResponse*>(user)->body.append(data, size * count);
    return size * count;
  } catch (...) {
    return 0;  // CURLE_WRITE_ERROR
  }
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  try {
    auto& response = *static_cast<HttpResponse*>(user);
    const std::string_view line(data, size * count);
    if (line.substr(0, 5) == "HTTP/") {
      response.headers.clear();  // a new response (after a 100 Continue): keep only the last one's headers
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos && colon > 0) {
      response.headers[lower_case(trimmed(line.substr(0, colon)))] = trimmed(line.substr(colon + 1));
    }
    return size * count;
  } catch (...) {
    return 0;
  }
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;  // non-zero aborts the transfer
}

std::uint64_t non_negative(curl_off_t value) { return value > 0 ? static_cast<std::uint64_t>(value) : 0; }

}  // namespace

// [SECTION] HttpClient --------------------------------------------------------------------------

struct HttpClient::Impl {
  HttpClientOptions options;
  std::string base_url;  // without a trailing '/'
  // The multi handle owns the connection cache; the easy handle stays in it only during a
  // transfer. Declared first, destroyed last.
  std::unique_ptr<CURLM, MultiDeleter> multi;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::atomic<bool> cancelled{false};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> received{0};
  char error_buffer[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  ensure_curl_initialised();
  impl_->options = std::move(options);
  impl_->base_url = impl_->options.base_url;
  while (!impl_->base_url.empty() && impl_->base_url.back() == '/') impl_->base_url.pop_back();
  impl_->multi.reset(curl_multi_init());
  impl_->easy.reset(curl_easy_init());
  if (!impl_->multi || !impl_->easy) throw std::runtime_error("HttpClient: cannot create a curl handle");
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResult HttpClient::get(const std::string& path, const HttpHeaders& headers) {
  return perform(path, headers, nullptr, false);
}

HttpResult HttpClient::post_json(const std::string& path, const std::string& body, const HttpHeaders& headers,
                                 bool gzip_body) {
  return perform(path, headers, &body, gzip_body);
}

void HttpClient::cancel() {
  if (!impl_) return;
  impl_->cancelled.store(true);
  curl_multi_wakeup(impl_->multi.get());  // thread-safe: ends the wait in perform() at once
}

void HttpClient::reset_cancel() {
  if (impl_) impl_->cancelled.store(false);
}

std::uint64_t HttpClient::bytes_sent() const { return impl_ ? impl_->sent.load() : 0; }
std::uint64_t HttpClient::bytes_received() const { return impl_ ? impl_->received.load() : 0; }

HttpResult HttpClient::perform(const std::string& path, const HttpHeaders& headers, const std::string* body,
                               bool gzip_body) {
  if (!impl_) throw std::logic_error("HttpClient: used after being moved from");
  Impl& impl = *impl_;
  HttpResult result;
  const auto fail = [&result](TransportError error, std::string message) {
    result.error = error;
    result.error_message = std::move(message);
    result.response = {};
    return result;
  };

  // Misuse is reported before anything goes on the wire.
  Slist header_list;
  if (body != nullptr) {
    append_header(header_list, "Content-Type: application/json");
    if (gzip_body) append_header(header_list, "Content-Encoding: gzip");
    append_header(header_list, "Expect:");  // no 100-continue round trip for large bodies
  }
  for (const auto& [name, value] : headers) append_header(header_list, header_line(name, value));

  if (impl.cancelled.load()) return fail(TransportError::cancelled, "cancelled");

  std::string compressed;
  const std::string* payload = body;
  if (body != nullptr && gzip_body) {
    compressed = gzip_compress(*body);
    payload = &compressed;
  }
  std::string url = impl.base_url;
  if (!path.empty() && path.front() != '/' && path.front() != '?') url += '/';
  url += path;

  // Every option of the previous request goes; the connection and DNS caches stay.
  CURL* easy = impl.easy.get();
  curl_easy_reset(easy);
  impl.error_buffer[0] = '\0';
  CURLcode rc = CURLE_OK;
  const auto set = [&rc, easy](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
  };
  set(CURLOPT_URL, url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_ERRORBUFFER, impl.error_buffer);
  set(CURLOPT_USERAGENT, impl.options.user_agent.c_str());
  // gzip only: it is what the protocol promises, and it is cheap for the server to produce
  // (cpp-httplib would otherwise pick Brotli at its slowest setting). curl decodes the body.
  set(CURLOPT_ACCEPT_ENCODING, "gzip");
  set(CURLOPT_CONNECTTIMEOUT_MS, impl.options.connect_timeout_ms);
  set(CURLOPT_TIMEOUT_MS, impl.options.total_timeout_ms);
  set(CURLOPT_LOW_SPEED_LIMIT, impl.options.low_speed_limit_bytes);
  set(CURLOPT_LOW_SPEED_TIME, impl.options.low_speed_time_s);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (impl.options.ca_file) set(CURLOPT_CAINFO, impl.options.ca_file->c_str());
  set(CURLOPT_HTTPHEADER, header_list.get());
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&result.response));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&result.response));
  set(CURLOPT_NOPROGRESS, 0L);
  set(CURLOPT_XFERINFOFUNCTION, &on_progress);
  set(CURLOPT_XFERINFODATA, static_cast<void*>(&impl.cancelled));
  if (payload != nullptr) {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
    set(CURLOPT_POSTFIELDS, payload->data());
  } else {
    set(CURLOPT_HTTPGET, 1L);
  }
  if (rc != CURLE_OK) return fail(TransportError::other, std::string("curl setup: ") + curl_easy_strerror(rc));

  // The transfer runs through the client's multi handle so that cancel() can wake it up at
  // once (curl_multi_wakeup) instead of waiting for the next progress callback.
  CURLM* multi = impl.multi.get();
  if (const CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
    return fail(TransportError::other, std::string("curl: ") + curl_multi_strerror(mc));
  }
  CURLMcode mc = CURLM_OK;
  bool cancelled_here = false;
  while (true) {
    int running = 0;
    mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK || running == 0) break;
    if (impl.cancelled.load()) {
      cancelled_here = true;
      break;
    }
    mc = curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    if (mc != CURLM_OK) break;
  }
  rc = CURLE_OK;
  if (cancelled_here) {
    rc = CURLE_ABORTED_BY_CALLBACK;
  } else if (mc == CURLM_OK) {
    int queued = 0;
    rc = CURLE_GOT_NOTHING;
    while (const CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg == CURLMSG_DONE && message->easy_handle == easy) rc = message->data.result;
    }
  }

  // What went over the wire, whatever the outcome.
  curl_off_t uploaded = 0;
  curl_off_t downloaded = 0;
  long request_headers = 0;
  long response_headers = 0;
  curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_headers);
  curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &downloaded);
  curl_easy_getinfo(easy, CURLINFO_HEADER_SIZE, &response_headers);
  impl.sent += non_negative(uploaded) + non_negative(request_headers);
  impl.received += non_negative(downloaded) + non_negative(response_headers);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(multi, easy);  // halts an unfinished transfer; keeps a reusable connection

  if (mc != CURLM_OK) return fail(TransportError::other, std::string("curl: ") + curl_multi_strerror(mc));
  if (rc != CURLE_OK) {
    const TransportError error = transport_error_of(rc);
    if (error == TransportError::cancelled) return fail(error, "cancelled");
    return fail(error, impl.error_buffer[0] != '\0' ? std::string(impl.error_buffer) : curl_easy_strerror(rc));
  }
  result.response.status = status;
  return result;
}

}  // namespace relais
