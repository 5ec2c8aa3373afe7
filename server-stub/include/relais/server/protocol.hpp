#pragma once
// The wire format of docs/protocol.md, without HTTP: parsing and checking request bodies,
// pull cursors, and the JSON of errors. Everything here is pure, so it needs no server to test.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/merge.hpp"
#include "relais/problem.hpp"
#include "relais/records.hpp"
#include "relais/wire.hpp"

namespace relais::server {

// The protocol's shared constants (core/include/relais/wire.hpp).
using wire::kMaxBodyBytes;
using wire::kMaxChangesPerPush;
using wire::kMaxEnrollBodyBytes;
using wire::kMaxHeadBytes;
using wire::kMaxHeaderCount;
using wire::kMaxJsonDepth;
using wire::kMaxPullLimit;
using wire::kProtocolVersion;
using wire::kServerTimeHeader;

// A request refused as a whole: the HTTP status, the protocol's error code, a message and,
// for bad input, the problems ({"field", "reason", "message"}).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           nlohmann::json problems = nlohmann::json::array())
      : std::runtime_error(message), status_(status), code_(std::move(code)), problems_(std::move(problems)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const nlohmann::json& problems() const { return problems_; }

 private:
  int status_;
  std::string code_;
  nlohmann::json problems_;
};

// {"error": {"code": ..., "message": ..., "problems": [...]}}
nlohmann::json error_body(const std::string& code, const std::string& message,
                          const nlohmann::json& problems = nlohmann::json::array());
nlohmann::json problem_json(const std::string& field, const std::string& reason, const std::string& message);

// Parses a JSON request body: throws ApiError 400 invalid_json (not JSON, or nested deeper
// than kMaxJsonDepth) or invalid_request (not an object).
nlohmann::json parse_body_object(std::string_view body);

// An enrollment body: a flat JSON object of strings ("code", "device_id" and the optional
// "device_name"), read member by member. Anything else (another key, a nested value, more than
// kMaxEnrollBodyBytes) is refused without being built: ApiError 400 invalid_json or
// invalid_request (with the problems), 413 body_too_large.
struct EnrollRequest {
  std::string code;
  std::string device_id;
  std::string device_name;
};
EnrollRequest parse_enroll(std::string_view body);

// One change of a push, checked for shape (not yet for the record's rules).
struct PushChange {
  RecordKind kind = RecordKind::session;
  std::string id;
  IncomingChange change;
  // change_key(): a resent change has the same key, so the server answers it with the result
  // it stored the first time.
  std::string key;
  // The text of "fields" as it was sent (valid JSON, no duplicate keys): a new record's fields
  // are stored as they came instead of being written again.
  std::string fields_text;
  // Set by ServerStore::precheck(): the problems of this change taken as a new record (empty
  // when it is a valid one).
  std::optional<Problems> problems_as_new;
};

// SHA-256 of the change's kind and of the version and base of each of its fields. A version
// stands for one value (a device never stamps two values with the same version), so the values
// themselves need not be hashed.
std::string change_key(RecordKind kind, const IncomingChange& change);

struct PushRequest {
  std::string device_id;
  std::vector<PushChange> changes;
};

// Throws ApiError: 400 invalid_json / invalid_request (every shape problem of every change is
// listed, with paths like "changes[3].versions.duree"), 413 too_many_records.
PushRequest parse_push(std::string_view body);

// The greatest version of a change: what a result reports as the change's version.
FieldVersion change_version(const IncomingChange& change);

// A pull position: the store's epoch (a UUID made when the store was created) and the last
// change sequence number the device has. Sent as opaque base64url text.
struct Cursor {
  std::string epoch;
  std::int64_t seq = 0;
};
std::string encode_cursor(const Cursor& cursor);
std::optional<Cursor> decode_cursor(std::string_view text);

}  // namespace relais::server
