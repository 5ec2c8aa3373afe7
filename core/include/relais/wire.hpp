#pragma once
// The sync protocol as the devices and the server both speak it (docs/protocol.md), in one
// place: its constants, and the encodings of what one side writes and the other reads — a push's
// changes (written by the device; the server's checks of them are server::parse_push), a push's
// results (written by the server, read by the device) and a pull's records (the same). Both
// sides include this header; neither restates a value or a key. tests/test_wire.cpp checks that
// what one side writes the other reads back the same.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/merge.hpp"
#include "relais/records.hpp"

namespace relais::wire {

inline constexpr std::string_view kProtocolVersion = "1";
inline constexpr std::string_view kProtocolHeader = "Relais-Protocol";
// Unix milliseconds of the server's clock, in every answer (docs/protocol.md, "Bounded clocks").
inline constexpr std::string_view kServerTimeHeader = "Relais-Server-Time";

inline constexpr std::size_t kMaxBodyBytes = 16 * 1024 * 1024;  // a push's, as sent and after decompression
// An enrollment is three short strings: its body is refused past this, as sent and inflated.
inline constexpr std::size_t kMaxEnrollBodyBytes = 4 * 1024;
// The request line and headers of any request, read before anything else (431 past either).
inline constexpr std::size_t kMaxHeadBytes = 16 * 1024;
inline constexpr std::size_t kMaxHeaderCount = 64;
inline constexpr std::size_t kMaxChangesPerPush = 1000;
inline constexpr std::int64_t kMaxPullLimit = 1000;
// Deeper JSON is refused before it is parsed: no record nests more than a few levels, and
// deep nesting would exhaust the stack of the recursive algorithms (comparison, dump).
inline constexpr int kMaxJsonDepth = 32;

// [SECTION] Push: device -> server --------------------------------------------------------------

// One change of a push: the fields changed since the server last acknowledged the record.
struct OutgoingChange {
  RecordKind kind = RecordKind::session;
  std::string id;
  // The changed fields as the text of a JSON object, as it goes on the wire. A record never
  // pushed and not edited since its creation goes out with its stored body as it is: the push
  // neither parses nor writes it again.
  std::string fields;
  FieldVersions versions;  // one per field, or "*" for the fields still at the creation's version
  FieldVersions bases;     // the acknowledged version each field replaces
  // The same change with its fields parsed (what merge() takes).
  IncomingChange incoming() const;
};

// {"device_id": ..., "changes": [{"kind", "id", "fields", "versions", "bases"?}, ...]}, written
// around each change's fields text.
std::string encode_push(std::string_view device_id, const std::vector<OutgoingChange>& changes);

// [SECTION] Push results: server -> device -------------------------------------------------------

inline constexpr std::string_view kApplied = "applied";
inline constexpr std::string_view kConflict = "conflict";
inline constexpr std::string_view kRejected = "rejected";

struct PushResult {
  std::string id;
  std::string status;  // applied | conflict | rejected
  nlohmann::json problems = nlohmann::json::array();   // [{field, reason, message}]
  nlohmann::json conflicts = nlohmann::json::array();  // [{field, kept_value, kept_version, lost_value, lost_version, incoming_lost}]
};

// A change applied without conflict: {"id","status":"applied","version"} written directly (the
// server answers most changes so). `id` is a checked lower-case UUID: nothing to escape.
std::string applied_result_text(std::string_view id, const FieldVersion& version);
nlohmann::json rejected_result(const std::string& id, nlohmann::json problems);
nlohmann::json conflict_result(const std::string& id, const FieldVersion& version,
                               const std::vector<FieldConflict>& conflicts);
// The JSON of one conflict, as results and the conflict log show it.
nlohmann::json conflict_json(const FieldConflict& conflict);
// {"results": [...]} around the results' texts.
std::string push_answer(std::string_view results_array_text);

// The results of a push's answer, read straight from its text: one per object in the list
// (anything else there is skipped). Nullopt when the answer is not JSON, has no list of results,
// or has a result whose id or status is not text.
std::optional<std::vector<PushResult>> parse_push_results(std::string_view text);

// [SECTION] Pull: server -> device --------------------------------------------------------------

struct PulledRecord {
  RecordKind kind = RecordKind::session;
  std::string id;
  RecordState state;
  std::optional<std::string> mediateur_id;
};

// One record of a pull page: {"kind","id","fields","versions","deleted","mediateur_id"?}.
nlohmann::json pulled_record_json(std::string_view kind, std::string id, nlohmann::json fields,
                                  nlohmann::json versions, bool deleted, const std::optional<std::string>& owner);

struct PullPage {
  std::vector<PulledRecord> records;
  std::string cursor;
  bool more = false;
  std::optional<nlohmann::json> vocabulary;  // the vocabulary update, when it changed in this page
};
nlohmann::json pull_answer(const nlohmann::json& records, const std::string& cursor, bool more,
                           const std::optional<nlohmann::json>& vocabulary);
// Nullopt when the answer is not a page (no records list, no cursor). A record that is not
// well formed (unknown kind, versions that are not versions) is skipped.
std::optional<PullPage> parse_pull_answer(std::string_view text);

}  // namespace relais::wire
