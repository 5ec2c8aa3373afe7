#include "relais/wire.hpp"

#include "relais/json_parse.hpp"

namespace relais::wire {

using nlohmann::json;

namespace {

// Answers echo pushed values: valid UTF-8 whatever was sent.
std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

IncomingChange OutgoingChange::incoming() const { return IncomingChange{parse_json(fields), versions, bases}; }

std::string encode_push(std::string_view device_id, const std::vector<OutgoingChange>& changes) {
  std::string body = "{\"device_id\":" + dump(json(device_id)) + ",\"changes\":[";
  for (const auto& change : changes) {
    if (body.back() != '[') body += ',';
    body += "{\"kind\":\"";
    body += to_string(change.kind);
    body += "\",\"id\":";
    body += dump(json(change.id));
    body += ",\"fields\":";
    body += change.fields;
    body += ",\"versions\":";
    body += to_json_text(change.versions);
    if (!change.bases.empty()) {
      body += ",\"bases\":";
      body += to_json_text(change.bases);
    }
    body += '}';
  }
  body += "]}";
  return body;
}

std::string applied_result_text(std::string_view id, const FieldVersion& version) {
  std::string text = "{\"id\":\"";
  text += id;
  text += "\",\"status\":\"applied\",\"version\":";
  text += to_json_text(version);
  text += '}';
  return text;
}

json rejected_result(const std::string& id, json problems) {
  return {{"id", id}, {"status", kRejected}, {"problems", std::move(problems)}};
}

json conflict_json(const FieldConflict& conflict) {
  return {{"field", conflict.field},
          {"kept_value", conflict.kept_value},
          {"kept_version", to_json(conflict.kept_version)},
          {"lost_value", conflict.lost_value},
          {"lost_version", to_json(conflict.lost_version)},
          {"incoming_lost", conflict.incoming_lost}};
}

json conflict_result(const std::string& id, const FieldVersion& version, const std::vector<FieldConflict>& conflicts) {
  json list = json::array();
  for (const auto& conflict : conflicts) list.push_back(conflict_json(conflict));
  return {{"id", id}, {"status", kConflict}, {"version", to_json(version)}, {"conflicts", std::move(list)}};
}

std::string push_answer(std::string_view results_array_text) {
  std::string text = "{\"results\":";
  text += results_array_text;
  text += '}';
  return text;
}

std::optional<std::vector<PushResult>> parse_push_results(std::string_view text) {
  std::vector<PushResult> results;
  bool has_results = false;
  try {
    JsonParser parser(text);
    if (!parser.next_is('{')) return std::nullopt;
    parser.members([&](const std::string& key, std::size_t key_at) {
      if (key != "results" || !parser.next_is('[')) {
        parser.value();
        return;
      }
      if (has_results) throw JsonSyntaxError(key_at, "duplicate key", JsonSyntaxError::Kind::duplicate_key);
      has_results = true;
      parser.items([&] {
        if (!parser.next_is('{')) {
          parser.value();
          return;
        }
        PushResult& one = results.emplace_back();
        parser.members([&](const std::string& name, std::size_t) {
          if (name == "id") {
            one.id = parser.string();
          } else if (name == "status") {
            one.status = parser.string();
          } else if (name == "problems") {
            one.problems = parser.value();
          } else if (name == "conflicts") {
            one.conflicts = parser.value();
          } else {
            parser.value();
          }
        });
      });
    });
    parser.end();
  } catch (const JsonSyntaxError&) {
    return std::nullopt;
  }
  if (!has_results) return std::nullopt;
  return results;
}

json pulled_record_json(std::string_view kind, std::string id, json fields, json versions, bool deleted,
                        const std::optional<std::string>& owner) {
  json record = {{"kind", kind},
                 {"id", std::move(id)},
                 {"fields", std::move(fields)},
                 {"versions", std::move(versions)},
                 {"deleted", deleted}};
  if (owner) record["mediateur_id"] = *owner;
  return record;
}

json pull_answer(const json& records, const std::string& cursor, bool more, const std::optional<json>& vocabulary) {
  json body = {{"records", records}, {"cursor", cursor}, {"more", more}};
  if (vocabulary) body["vocabulary"] = *vocabulary;
  return body;
}

std::optional<PullPage> parse_pull_answer(std::string_view text) {
  json answer;
  try {
    answer = parse_json(text);
  } catch (const JsonSyntaxError&) {
    return std::nullopt;
  }
  if (!answer.is_object() || !answer.contains("records") || !answer["records"].is_array() ||
      !answer.contains("cursor") || !answer["cursor"].is_string()) {
    return std::nullopt;
  }
  PullPage page;
  for (auto& item : answer["records"]) {
    if (!item.is_object()) continue;
    const auto kind = parse_record_kind(item.value("kind", std::string{}));
    const auto versions = field_versions_from_json(item.value("versions", json::object()));
    const auto id = item.find("id");
    if (!kind || !versions || id == item.end() || !id->is_string()) continue;
    PulledRecord record;
    record.kind = *kind;
    record.id = id->get<std::string>();
    if (const auto fields = item.find("fields"); fields != item.end() && fields->is_object()) {
      record.state.fields = std::move(*fields);
    }
    record.state.versions = *versions;
    if (const auto deleted = item.find("deleted"); deleted != item.end() && deleted->is_boolean()) {
      record.state.deleted = deleted->get<bool>();
    }
    if (const auto owner = item.find("mediateur_id"); owner != item.end() && owner->is_string()) {
      record.mediateur_id = owner->get<std::string>();
    }
    page.records.push_back(std::move(record));
  }
  page.cursor = answer["cursor"].get<std::string>();
  if (const auto more = answer.find("more"); more != answer.end() && more->is_boolean()) page.more = more->get<bool>();
  if (const auto vocabulary = answer.find("vocabulary"); vocabulary != answer.end() && vocabulary->is_object()) {
    page.vocabulary = std::move(*vocabulary);
  }
  return page;
}

}  // namespace relais::wire
