#include "relais/merge.hpp"

#include <algorithm>

#include "relais/json_parse.hpp"

namespace relais {

using nlohmann::json;

json to_json(const FieldVersion& version) { return json::array({version.clock, version.device}); }

std::optional<FieldVersion> field_version_from_json(const json& value) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_integer() || !value[1].is_string()) {
    return std::nullopt;
  }
  FieldVersion version{value[0].get<std::int64_t>(), value[1].get<std::string>()};
  if (version.clock < 0 || version.device.empty()) return std::nullopt;
  return version;
}

namespace {

// A JSON string; the common case (ASCII, nothing to escape) without nlohmann's serializer.
void append_json_string(std::string& out, std::string_view text) {
  const bool plain = std::none_of(text.begin(), text.end(), [](char ch) {
    const auto byte = static_cast<unsigned char>(ch);
    return ch == '"' || ch == '\\' || byte < 0x20 || byte >= 0x80;
  });
  if (plain) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

void append_version(std::string& out, const FieldVersion& version) {
  out += '[';
  out += std::to_string(version.clock);
  out += ',';
  append_json_string(out, version.device);
  out += ']';
}

}  // namespace

std::string to_json_text(const FieldVersion& version) {
  std::string out;
  append_version(out, version);
  return out;
}

std::string to_json_text(const FieldVersions& versions) {
  std::string out = "{";
  for (const auto& [field, version] : versions) {
    if (out.size() > 1) out += ',';
    append_json_string(out, field);
    out += ':';
    append_version(out, version);
  }
  out += '}';
  return out;
}

std::optional<FieldVersions> field_versions_from_text(std::string_view text) {
  // The rules of field_version_from_json, checked as the values come; the text is read to its
  // end even once it is known not to be versions, so that its syntax is checked as well.
  FieldVersions versions;
  bool valid = true;
  try {
    JsonParser parser(text);
    if (!parser.next_is('{')) return std::nullopt;
    parser.members([&](std::string field, std::size_t) {
      if (!parser.next_is('[')) {
        parser.value();
        valid = false;
        return;
      }
      FieldVersion version;
      std::size_t count = 0;
      parser.items([&] {
        const auto item = parser.value();
        if (count == 0 && item.is_number_integer()) {
          version.clock = item.get<std::int64_t>();
        } else if (count == 1 && item.is_string()) {
          version.device = item.get<std::string>();
        } else {
          valid = false;
        }
        ++count;
      });
      if (count != 2 || version.clock < 0 || version.device.empty()) valid = false;
      // A duplicate key is a syntax error for parse_json: not versions either.
      if (valid && !versions.emplace(std::move(field), std::move(version)).second) valid = false;
    });
    parser.end();
  } catch (const JsonSyntaxError&) {
    return std::nullopt;
  }
  if (!valid) return std::nullopt;
  return versions;
}

json to_json(const FieldVersions& versions) {
  json out = json::object();
  for (const auto& [field, version] : versions) out[field] = to_json(version);
  return out;
}

std::optional<FieldVersions> field_versions_from_json(const json& value) {
  if (!value.is_object()) return std::nullopt;
  FieldVersions versions;
  for (const auto& [field, item] : value.items()) {
    auto version = field_version_from_json(item);
    if (!version) return std::nullopt;
    versions.emplace(field, std::move(*version));
  }
  return versions;
}

std::optional<FieldVersion> version_of(const FieldVersions& versions, const std::string& field) {
  if (const auto it = versions.find(field); it != versions.end()) return it->second;
  if (const auto it = versions.find(kCreationKey); it != versions.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> missing_versions(const IncomingChange& change) {
  std::vector<std::string> missing;
  for (const auto& item : change.fields.items()) {
    if (!version_of(change.versions, item.key())) missing.push_back(item.key());
  }
  return missing;
}

namespace {

json value_of(const RecordState& state, const std::string& field) {
  if (field == kDeletedField) return state.deleted;
  const auto it = state.fields.find(field);
  return it == state.fields.end() ? json(nullptr) : *it;
}

void set_value(RecordState& state, const std::string& field, const json& value) {
  if (field == kDeletedField) {
    state.deleted = value.is_boolean() && value.get<bool>();
  } else if (value.is_null()) {
    state.fields.erase(field);
  } else {
    state.fields[field] = value;
  }
}

}  // namespace

MergeOutcome merge_new(IncomingChange& incoming) {
  MergeOutcome outcome;
  outcome.changed = true;
  // The change's object becomes the record's, less its null fields and "_deleted": no field
  // is copied or moved one by one.
  outcome.merged.fields = std::move(incoming.fields);
  incoming.fields = json::object();
  auto& fields = outcome.merged.fields.get_ref<json::object_t&>();
  for (auto it = fields.begin(); it != fields.end();) {
    if (it->first == kDeletedField) {
      outcome.merged.deleted = it->second.is_boolean() && it->second.get<bool>();
      it = fields.erase(it);
    } else if (it->second.is_null()) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  outcome.merged.versions = incoming.versions;
  return outcome;
}

MergeOutcome merge(const std::optional<RecordState>& stored, const IncomingChange& incoming) {
  if (!stored) {
    // A record never seen: it is what the change says, each field with the version it came with.
    auto copy = incoming;
    return merge_new(copy);
  }
  MergeOutcome outcome;

  outcome.merged = *stored;
  for (const auto& [field, incoming_value] : incoming.fields.items()) {
    const auto incoming_version = *version_of(incoming.versions, field);
    const auto stored_version = version_of(stored->versions, field);
    if (stored_version && *stored_version == incoming_version) continue;  // the same change again

    const auto base = incoming.bases.find(field);
    // A device knows its own earlier changes, whatever base it sent: a creation whose answer was
    // lost, then edited on the same device, has no base but is no concurrent edit.
    const bool own_earlier = stored_version && stored_version->device == incoming_version.device;
    const bool knew_stored =
        stored_version && ((base != incoming.bases.end() && base->second == *stored_version) || own_earlier);
    const bool concurrent = stored_version && !knew_stored;
    const bool incoming_wins = !stored_version || incoming_version > *stored_version;

    if (incoming_wins) {
      const auto stored_value = value_of(*stored, field);
      // A field the other side never set (null) is no lost work: only real values are logged.
      if (concurrent && stored_value != incoming_value && !stored_value.is_null()) {
        outcome.conflicts.push_back({field, incoming_value, incoming_version, stored_value, *stored_version, false});
      }
      set_value(outcome.merged, field, incoming_value);
      outcome.merged.versions[field] = incoming_version;
      outcome.changed = true;
    } else if (!own_earlier && value_of(*stored, field) != incoming_value && !incoming_value.is_null()) {
      // (An older change of the device that made the stored one was replaced by it: no conflict.)
      outcome.conflicts.push_back({field, value_of(*stored, field), *stored_version, incoming_value, incoming_version, true});
    }
  }
  return outcome;
}

}  // namespace relais
