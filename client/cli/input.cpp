#include "input.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "relais/uuid.hpp"

namespace relais::cli {

using nlohmann::json;

std::optional<json> read_json(const std::optional<std::string>& source, Problems& problems) {
  std::string text;
  if (!source || *source == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(*source, std::ios::binary);
    if (!in) {
      problems.push_back({*source, "cannot_read_file", {}});
      return std::nullopt;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  try {
    return json::parse(text);
  } catch (const json::parse_error& error) {
    // nlohmann's message names the byte offset and what it expected there.
    std::string detail = error.what();
    if (const auto colon = detail.find("parse error"); colon != std::string::npos) detail = detail.substr(colon);
    problems.push_back({"", "invalid_json", {{"detail", detail}}});
    return std::nullopt;
  }
}

std::vector<json> as_batch(const json& document) {
  if (document.is_array()) return document.get<std::vector<json>>();
  return {document};
}

namespace {

void add_checked(RecordKind kind, const json& object, const std::string& path, const ValidationContext& context,
                 DecodedBatch& out) {
  auto checked = check_record(kind, object, context);
  prefix_fields(checked.problems, path);
  out.problems.insert(out.problems.end(), checked.problems.begin(), checked.problems.end());
  out.records.push_back(std::move(checked.record));
  out.paths.push_back(path);
}

// Nested children get their parent's id; a child that names another parent is an error.
json with_parent(const json& child, const char* parent_field, const std::string& parent_id, const std::string& path,
                 Problems& problems) {
  if (!child.is_object()) return child;
  json copy = child;
  if (copy.contains(parent_field) && copy[parent_field] != parent_id) {
    problems.push_back({path + "." + parent_field, "nested_parent_mismatch", {{"value", parent_id}}});
  }
  copy[parent_field] = parent_id;
  copy.erase("kind");
  return copy;
}

std::string ensure_id(json& object) {
  if (!object.is_object()) return {};
  if (!object.contains("id") || object["id"].is_null()) object["id"] = make_uuid_v7();
  return object["id"].is_string() ? object["id"].get<std::string>() : std::string{};
}

void decode_device_with_events(json device, const std::string& path, const ValidationContext& context,
                               DecodedBatch& out) {
  json events = json::array();
  if (device.is_object() && device.contains("events")) {
    events = device["events"];
    device.erase("events");
    if (!events.is_array()) {
      out.problems.push_back({path + ".events", "expected_list", {}});
      events = json::array();
    }
  }
  const auto device_id = ensure_id(device);
  add_checked(RecordKind::device, device, path, context, out);
  for (std::size_t e = 0; e < events.size(); ++e) {
    const auto event_path = path + ".events[" + std::to_string(e) + "]";
    add_checked(RecordKind::device_event, with_parent(events[e], "device_id", device_id, event_path, out.problems),
                event_path, context, out);
  }
}

}  // namespace

DecodedBatch decode_sessions(const std::vector<json>& batch, const ValidationContext& context) {
  DecodedBatch out;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    add_checked(RecordKind::session, batch[i], "[" + std::to_string(i) + "]", context, out);
  }
  return out;
}

DecodedBatch decode_equipment(const std::vector<json>& batch, const ValidationContext& context) {
  DecodedBatch out;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto path = "[" + std::to_string(i) + "]";
    const auto& object = batch[i];
    const std::string kind =
        object.is_object() && object.contains("kind") && object["kind"].is_string() ? object["kind"].get<std::string>() : "";
    if (kind == "lot") {
      json lot = object;
      json devices = json::array();
      if (lot.contains("devices")) {
        devices = lot["devices"];
        lot.erase("devices");
        if (!devices.is_array()) {
          out.problems.push_back({path + ".devices", "expected_list", {}});
          devices = json::array();
        }
      }
      const auto lot_id = ensure_id(lot);
      add_checked(RecordKind::lot, lot, path, context, out);
      for (std::size_t d = 0; d < devices.size(); ++d) {
        const auto device_path = path + ".devices[" + std::to_string(d) + "]";
        decode_device_with_events(with_parent(devices[d], "lot_id", lot_id, device_path, out.problems), device_path,
                                  context, out);
      }
    } else if (kind == "device") {
      decode_device_with_events(object, path, context, out);
    } else if (kind == "event") {
      add_checked(RecordKind::device_event, object, path, context, out);
    } else {
      out.problems.push_back({path + ".kind", kind.empty() ? "equipment_kind_required" : "unknown_code",
                              {{"value", kind}, {"allowed", "lot, device, event"}}});
    }
  }
  return out;
}

DecodedBatch decode_reference(RecordKind kind, const std::vector<json>& batch, const ValidationContext& context) {
  DecodedBatch out;
  for (std::size_t i = 0; i < batch.size(); ++i) add_checked(kind, batch[i], "[" + std::to_string(i) + "]", context, out);
  return out;
}

void restore_paths(Problems& problems, const std::vector<std::string>& paths) {
  for (auto& problem : problems) {
    if (problem.field.empty() || problem.field.front() != '[') continue;
    const auto close = problem.field.find(']');
    if (close == std::string::npos) continue;
    std::size_t index = 0;
    try {
      index = std::stoul(problem.field.substr(1, close - 1));
    } catch (...) {
      continue;
    }
    if (index < paths.size()) problem.field = paths[index] + problem.field.substr(close + 1);
  }
}

void drop_single_prefix(Problems& problems) {
  for (auto& problem : problems) {
    if (problem.field.rfind("[0]", 0) != 0) continue;
    problem.field.erase(0, 3);
    if (!problem.field.empty() && problem.field.front() == '.') problem.field.erase(0, 1);
  }
}

}  // namespace relais::cli
