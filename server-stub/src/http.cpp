// The only translation unit that includes httplib.h (a large header, and a compiled library
// whose configuration macros come from its pkg-config file).
#include "relais/server/http.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

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

// Reads the whole body, inflated when it came gzipped, refusing more than kMaxBodyBytes of
// inflated data as it arrives (so that a small gzip bomb cannot fill the memory).
std::string read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  std::string body;
  bool too_large = false;
  const bool ok = reader([&](const char* data, std::size_t size) {
    if (body.size() + size > kMaxBodyBytes) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  // httplib answers 413 itself for a Content-Length above the payload limit.
  if (too_large || res.status == 413) {
    throw ApiError(413, "body_too_large",
                   "the request body is larger than " + std::to_string(kMaxBodyBytes / (1024 * 1024)) +
                       " MiB after decompression");
  }
  if (!ok) {
    const auto encoding = req.get_header_value("Content-Encoding");
    if (res.status == 415 || (!encoding.empty() && encoding != "gzip")) {
      throw ApiError(415, "invalid_request", "unsupported Content-Encoding \"" + encoding + "\" (only gzip)");
    }
    throw ApiError(400, "invalid_request",
                   encoding.empty() ? "the request body could not be read"
                                    : "the request body could not be read or is not valid gzip");
  }
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
  Impl(ServerStore& store_, const ImpactFactors& factors_) : store(store_), factors(factors_) {}
  void routes();

  ServerStore& store;
  const ImpactFactors& factors;
  AttemptThrottle enroll_throttle{kEnrollFailuresPerWindow, kEnrollWindowMs};
  httplib::Server server;
};


void HttpServer::Impl::routes() {
  server.set_payload_max_length(kMaxBodyBytes);
  // Answers go out at once: without this, Nagle's algorithm and the client's delayed ACK add
  // about 40 ms to every request whose answer is written in more than one piece.
  server.set_tcp_nodelay(true);
  server.set_default_headers({{"Relais-Protocol", std::string(kProtocolVersion)}});
  // The server's clock in every answer, errors included: a device whose own clock is wrong
  // corrects its versions by it and tells its user (docs/protocol.md, "Bounded clocks").
  server.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header(std::string(kServerTimeHeader), std::to_string(now_unix_ms()));
  });

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
  // Errors httplib makes itself (unknown route, unreadable request) get the protocol's shape.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
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
                    const auto body = read_body(req, res, reader);
                    require_protocol(req);
                    const auto request = parse_enroll(body);
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
                  const auto body = read_body(req, res, reader);
                  require_protocol(req);
                  const auto caller = authenticate(store, req);
                  auto request = parse_push(body);
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

HttpServer::HttpServer(ServerStore& store, const ImpactFactors& factors)
    : impl_(std::make_unique<Impl>(store, factors)) {
  impl_->routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = impl_->server.bind_to_any_port(host);
    if (bound > 0) return bound;
  } else if (impl_->server.bind_to_port(host, port)) {
    return port;
  }
  throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                           " (address in use, or not an address of this machine?)");
}

bool HttpServer::serve() { return impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace relais::server
