#pragma once
// Reading the records a command is given: one JSON object or an array of them, from a file
// or standard input, turned into typed records with every problem found.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/records.hpp"

namespace relais::cli {

// Reads `source` ("-" or absent: standard input). On unreadable input returns nullopt and
// adds a problem with the parser's message (field "entrée"/"input" is left to the caller).
std::optional<nlohmann::json> read_json(const std::optional<std::string>& source, Problems& problems);

// The batch as a list of objects: an object alone is a batch of one.
std::vector<nlohmann::json> as_batch(const nlohmann::json& document);

struct DecodedBatch {
  std::vector<AnyRecord> records;
  std::vector<std::string> paths;  // where each record came from: "[0]", "[0].devices[1]"...
  Problems problems;               // decoding and validation problems, fields prefixed by path
};

// Help sessions: each object is a session ("kind" may say "session").
DecodedBatch decode_sessions(const std::vector<nlohmann::json>& batch, const ValidationContext& context);

// Equipment: each object has "kind": "lot", "device" or "event"; a lot may hold its devices
// in "devices" and a device its events in "events" (their lot_id / device_id are then implied).
DecodedBatch decode_equipment(const std::vector<nlohmann::json>& batch, const ValidationContext& context);

// Reference data of one kind (places, structures, advisors).
DecodedBatch decode_reference(RecordKind kind, const std::vector<nlohmann::json>& batch,
                              const ValidationContext& context);

// Rewrites the store's "[k]" problem prefixes (k = index in the flat batch) into the paths.
void restore_paths(Problems& problems, const std::vector<std::string>& paths);

// Removes a leading "[0]" when the input was a single object, so fields read naturally.
void drop_single_prefix(Problems& problems);

}  // namespace relais::cli
