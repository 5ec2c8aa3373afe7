#pragma once
// The merge rule of sync (docs/protocol.md), shared by the devices and the server so that every
// node computes the same result: for each field, the value with the greatest version wins; the
// same version is the same change; a value that loses against a concurrent edit is reported as
// a conflict, never dropped silently.
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace relais {

// A change's version: hybrid-logical-clock value, then device id to break ties.
struct FieldVersion {
  std::int64_t clock = 0;
  std::string device;

  auto operator<=>(const FieldVersion&) const = default;
  bool operator==(const FieldVersion&) const = default;
};

nlohmann::json to_json(const FieldVersion& version);                      // [clock, "device"]
std::optional<FieldVersion> field_version_from_json(const nlohmann::json& json);

// Field name -> version. "*" is the creation's version and stands for every field not listed.
using FieldVersions = std::map<std::string, FieldVersion>;
inline constexpr const char* kCreationKey = "*";
inline constexpr const char* kDeletedField = "_deleted";

nlohmann::json to_json(const FieldVersions& versions);
// The same as to_json(...).dump(), written directly (every pushed record's versions are).
std::string to_json_text(const FieldVersion& version);
std::string to_json_text(const FieldVersions& versions);
// Nullopt when `json` is not an object of valid versions.
std::optional<FieldVersions> field_versions_from_json(const nlohmann::json& json);
// The same read straight from a JSON text (no nlohmann document in between: every record pushed
// has its stored versions read). Nullopt also when `text` is not JSON.
std::optional<FieldVersions> field_versions_from_text(std::string_view text);
// The version of `field`: its own entry, else the creation's, else none.
std::optional<FieldVersion> version_of(const FieldVersions& versions, const std::string& field);

// A record as sync sees it: its fields (the canonical JSON body, without "id"), their versions
// and whether it is deleted.
struct RecordState {
  nlohmann::json fields = nlohmann::json::object();
  FieldVersions versions;
  bool deleted = false;
};

// What one node sends about one record: the fields it changed, their versions, and the version
// each one replaced (its base) when it had one. "_deleted" is a field like the others. A field
// without a version of its own has the "*" version, as in a stored record.
struct IncomingChange {
  nlohmann::json fields = nlohmann::json::object();
  FieldVersions versions;
  FieldVersions bases;
};

struct FieldConflict {
  std::string field;
  nlohmann::json kept_value;  // null when the field was absent
  FieldVersion kept_version;
  nlohmann::json lost_value;
  FieldVersion lost_version;
  bool incoming_lost = false;  // true: the incoming value lost; false: the stored one did
};

struct MergeOutcome {
  RecordState merged;
  bool changed = false;  // something of the stored record changed
  std::vector<FieldConflict> conflicts;
};

// Merges `incoming` into `stored` (absent for a record never seen). Every field of `incoming`
// must have a version in `incoming.versions`, its own or "*" (check with `missing_versions` first).
MergeOutcome merge(const std::optional<RecordState>& stored, const IncomingChange& incoming);
// The same for a record never seen, taking the change's field values instead of copying them
// (the server's hot path: most pushed records are new). `incoming.fields` is left empty.
MergeOutcome merge_new(IncomingChange& incoming);

// The fields of `change` that have no version: a malformed change.
std::vector<std::string> missing_versions(const IncomingChange& change);

}  // namespace relais
