#include "relais/server/protocol.hpp"

#include <algorithm>
#include <set>

#include "relais/json_parse.hpp"
#include "relais/server/crypto.hpp"
#include "relais/uuid.hpp"

namespace relais::server {

using nlohmann::json;

namespace {

// Collects the shape problems of a request body; at most kMaxProblems are listed.
class ProblemList {
 public:
  static constexpr std::size_t kMaxProblems = 100;
  void add(const std::string& field, const std::string& reason, const std::string& message) {
    ++count_;
    if (problems_.size() < kMaxProblems) problems_.push_back(problem_json(field, reason, message));
  }
  bool empty() const { return count_ == 0; }
  [[noreturn]] void raise() const {
    std::string message = "the request is malformed: " + std::to_string(count_) + " problem" + (count_ > 1 ? "s" : "");
    if (count_ > problems_.size()) message += " (the first " + std::to_string(problems_.size()) + " are listed)";
    throw ApiError(400, "invalid_request", message, problems_);
  }

 private:
  json problems_ = json::array();
  std::size_t count_ = 0;
};

const char* type_name(const json& value) { return value.type_name(); }

}  // namespace

json problem_json(const std::string& field, const std::string& reason, const std::string& message) {
  return {{"field", field}, {"reason", reason}, {"message", message}};
}

json error_body(const std::string& code, const std::string& message, const json& problems) {
  return {{"error", {{"code", code}, {"message", message}, {"problems", problems}}}};
}

namespace {

ApiError invalid_json(const JsonSyntaxError& error) {
  if (error.kind() == JsonSyntaxError::Kind::too_deep) {
    return ApiError(400, "invalid_json", "body is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
  }
  return ApiError(400, "invalid_json",
                  "body is not valid JSON: " + error.reason() + " (byte " + std::to_string(error.byte()) + ")");
}

ApiError not_an_object(const json& document) {
  return ApiError(400, "invalid_request", std::string("body must be a JSON object, not ") + type_name(document));
}

}  // namespace

json parse_body_object(std::string_view body) {
  json document;
  try {
    document = parse_json(body, kMaxJsonDepth);
  } catch (const JsonSyntaxError& error) {
    throw invalid_json(error);
  }
  if (!document.is_object()) throw not_an_object(document);
  return document;
}

EnrollRequest parse_enroll(std::string_view body) {
  if (body.size() > kMaxEnrollBodyBytes) {
    throw ApiError(413, "body_too_large",
                   "an enrollment body is larger than " + std::to_string(kMaxEnrollBodyBytes / 1024) + " KiB");
  }
  // The three members, in the order their problems are listed.
  struct Member {
    const char* key;
    bool required;
    std::string* out;
    enum class State { absent, text, wrong_type } state = State::absent;
  };
  EnrollRequest request;
  Member members[] = {{"code", true, &request.code},
                      {"device_id", true, &request.device_id},
                      {"device_name", false, &request.device_name}};
  ProblemList problems;
  std::vector<std::string> unknown;
  std::set<std::string> seen;
  try {
    JsonParser parser(body, kMaxJsonDepth);
    if (!parser.next_is('{')) {
      // Not an object: parsed whole to say what it is (or where it is not JSON), which the
      // size limit above keeps small.
      const auto document = parser.value();
      parser.end();
      throw not_an_object(document);
    }
    parser.members([&](std::string key, std::size_t key_at) {
      if (!seen.insert(key).second) {
        throw JsonSyntaxError(key_at, "duplicate key in an object", JsonSyntaxError::Kind::duplicate_key);
      }
      Member* member = nullptr;
      for (auto& candidate : members) {
        if (key == candidate.key) member = &candidate;
      }
      // A nested value is not read at all: nothing of an enrollment is an object or an array.
      if (parser.next_is('{') || parser.next_is('[')) {
        problems.add(key, member ? "wrong_type" : "unknown_field",
                     member ? key + " must be a string" : "an enrollment is a flat object of code, device_id and device_name");
        problems.raise();
      }
      if (member && parser.next_is('"')) {
        *member->out = parser.string();
        member->state = Member::State::text;
        return;
      }
      const auto scalar = parser.value();  // a number, true, false or null: a few bytes at most
      if (!member) {
        unknown.push_back(std::move(key));
      } else if (!scalar.is_null()) {
        member->state = Member::State::wrong_type;
      }
    });
    parser.end();
  } catch (const JsonSyntaxError& error) {
    throw invalid_json(error);
  }
  for (const auto& member : members) {
    const std::string key = member.key;
    if (member.state == Member::State::wrong_type) {
      problems.add(key, "wrong_type", key + " must be a string");
    } else if (member.state == Member::State::absent && member.required) {
      problems.add(key, "required", key + " is required");
    }
  }
  for (const auto& key : unknown) {
    problems.add(key, "unknown_field", "an enrollment has code, device_id and device_name only");
  }
  // Sent as a string, it must be a UUID, even an empty one (found by fuzz_enroll).
  if (members[1].state == Member::State::text && !is_uuid(request.device_id)) {
    problems.add("device_id", "invalid_id", "device_id must be a lower-case UUID");
  }
  if (request.device_name.size() > 200) problems.add("device_name", "too_long", "device_name has more than 200 bytes");
  if (!problems.empty()) problems.raise();
  return request;
}

namespace {

// Appends `text` with its length first, so that no two different lists of texts give the same
// string (a field name may hold any character).
void append_counted(std::string& out, std::string_view text) {
  out += std::to_string(text.size());
  out += ':';
  out += text;
}

void append_version(std::string& out, const FieldVersion& version) {
  out += std::to_string(version.clock);
  out += ',';
  append_counted(out, version.device);
}

}  // namespace

std::string change_key(RecordKind kind, const IncomingChange& change) {
  std::string text(to_string(kind));
  for (const auto& [field, version] : change.versions) {
    text += '|';
    append_counted(text, field);
    append_version(text, version);
    if (const auto base = change.bases.find(field); base != change.bases.end()) {
      text += '<';
      append_version(text, base->second);
    }
  }
  return sha256_hex(text);
}

namespace {

// The push body as a JSON object, and the text of each change's "fields" as it came: the
// server stores a new record's fields as they were sent instead of writing them again. The
// outer levels (the body, "changes" and each change) are walked here, the values parsed by
// JsonParser.
json parse_push_document(std::string_view body, std::vector<std::string>& fields_texts) {
  constexpr int kOuterLevels = 3;
  JsonParser parser(body, kMaxJsonDepth - kOuterLevels);
  if (!parser.next_is('{')) {
    JsonParser whole(body, kMaxJsonDepth);
    const auto document = whole.value();
    whole.end();
    throw not_an_object(document);
  }
  // One change: an object whose "fields" text is kept; anything else is left to the checks.
  const auto read_change = [&](json& changes) {
    std::string fields_text;
    if (!parser.next_is('{')) {
      changes.push_back(parser.value());
    } else {
      json item = json::object();
      parser.members([&](std::string member, std::size_t member_at) {
        const auto begin = parser.offset();
        parser.forget_noncanonical_number();
        auto value = parser.value();
        // Kept as sent only when that is how it would be written (numbers in canonical form).
        if (member == "fields" && !parser.read_noncanonical_number()) {
          fields_text = std::string(body.substr(begin, parser.position() - begin));
        }
        JsonParser::add_member(item, std::move(member), std::move(value), member_at);
      });
      changes.push_back(std::move(item));
    }
    fields_texts.push_back(std::move(fields_text));
  };
  json document = json::object();
  parser.members([&](std::string key, std::size_t key_at) {
    if (key != "changes" || !parser.next_is('[')) {
      auto value = parser.value();
      JsonParser::add_member(document, std::move(key), std::move(value), key_at);
      return;
    }
    json changes = json::array();
    fields_texts.clear();
    parser.items([&] { read_change(changes); });
    JsonParser::add_member(document, std::move(key), std::move(changes), key_at);
  });
  parser.end();
  return document;
}

}  // namespace

PushRequest parse_push(std::string_view body) {
  std::vector<std::string> fields_texts;
  json document;
  try {
    document = parse_push_document(body, fields_texts);
  } catch (const JsonSyntaxError& error) {
    throw invalid_json(error);
  }
  ProblemList problems;
  PushRequest request;

  if (const auto it = document.find("device_id"); it == document.end() || !it->is_string()) {
    problems.add("device_id", it == document.end() ? "required" : "wrong_type", "device_id must be a string");
  } else {
    request.device_id = it->get<std::string>();
  }
  const auto changes = document.find("changes");
  if (changes == document.end() || !changes->is_array()) {
    problems.add("changes", changes == document.end() ? "required" : "wrong_type", "changes must be an array");
    problems.raise();
  }
  if (changes->size() > kMaxChangesPerPush) {
    throw ApiError(413, "too_many_records",
                   "a push holds at most " + std::to_string(kMaxChangesPerPush) + " changes, this one has " +
                       std::to_string(changes->size()));
  }

  request.changes.reserve(changes->size());
  for (std::size_t index = 0; index < changes->size(); ++index) {
    json& item = (*changes)[index];
    const std::string path = "changes[" + std::to_string(index) + "]";
    if (!item.is_object()) {
      problems.add(path, "wrong_type", "each change must be an object");
      continue;
    }
    PushChange change;
    // kind and id
    const auto kind = item.find("kind");
    if (kind == item.end() || !kind->is_string()) {
      problems.add(path + ".kind", kind == item.end() ? "required" : "wrong_type", "kind must be a string");
    } else if (const auto parsed = parse_record_kind(kind->get_ref<const std::string&>())) {
      change.kind = *parsed;
    } else {
      problems.add(path + ".kind", "unknown_kind",
                   "unknown kind \"" + kind->get<std::string>() +
                       "\" (session, lot, device, event, place, structure or advisor)");
    }
    const auto id = item.find("id");
    if (id == item.end() || !id->is_string()) {
      problems.add(path + ".id", id == item.end() ? "required" : "wrong_type", "id must be a string");
    } else if (!is_uuid(id->get_ref<const std::string&>())) {
      problems.add(path + ".id", "invalid_id", "id must be a lower-case UUID");
    } else {
      change.id = id->get<std::string>();
    }
    // fields
    const auto fields = item.find("fields");
    if (fields == item.end() || !fields->is_object()) {
      problems.add(path + ".fields", fields == item.end() ? "required" : "wrong_type", "fields must be an object");
      continue;
    }
    if (fields->empty()) problems.add(path + ".fields", "empty", "fields must name at least one field");
    for (const auto& [name, value] : fields->items()) {
      if (name == "id" || name == kCreationKey || name.empty() || is_metadata_key(name)) {
        problems.add(path + ".fields." + name, "reserved_field", "\"" + name + "\" is not a field that can be pushed");
      } else if (name == kDeletedField && !value.is_boolean()) {
        problems.add(path + ".fields." + name, "wrong_type", "_deleted must be true or false");
      }
    }
    // versions: exactly one per field
    const auto versions = item.find("versions");
    if (versions == item.end() || !versions->is_object()) {
      problems.add(path + ".versions", versions == item.end() ? "required" : "wrong_type",
                   "versions must be an object of [clock, \"device\"] pairs");
    } else {
      for (const auto& [name, value] : versions->items()) {
        if (name != kCreationKey && !fields->contains(name)) {
          problems.add(path + ".versions." + name, "unexpected_version", "a version for a field that is not in fields");
        } else if (auto version = field_version_from_json(value)) {
          change.change.versions.emplace(name, std::move(*version));
        } else {
          problems.add(path + ".versions." + name, "invalid_version",
                       "a version is [clock, \"device\"] with a clock of 0 or more");
        }
      }
      // "*" stands for every field without a version of its own (a new record's fields).
      if (!versions->contains(kCreationKey)) {
        for (const auto& [name, value] : fields->items()) {
          if (!versions->contains(name)) problems.add(path + ".versions." + name, "missing_version", "this field has no version");
        }
      }
    }
    // bases: optional, the version each field replaced
    if (const auto it = item.find("bases"); it != item.end() && !it->is_null()) {
      if (!it->is_object()) {
        problems.add(path + ".bases", "wrong_type", "bases must be an object of [clock, \"device\"] pairs");
      } else {
        for (const auto& [name, value] : it->items()) {
          if (auto version = field_version_from_json(value)) {
            change.change.bases.emplace(name, std::move(*version));
          } else {
            problems.add(path + ".bases." + name, "invalid_version",
                         "a version is [clock, \"device\"] with a clock of 0 or more");
          }
        }
      }
    }
    if (!problems.empty()) continue;
    // The values are moved, not copied, out of the parsed body: it is not used again.
    change.change.fields = std::move(*fields);
    if (index < fields_texts.size()) change.fields_text = std::move(fields_texts[index]);
    change.key = change_key(change.kind, change.change);
    request.changes.push_back(std::move(change));
  }
  if (!problems.empty()) problems.raise();
  return request;
}

FieldVersion change_version(const IncomingChange& change) {
  FieldVersion greatest;
  for (const auto& [field, version] : change.versions) greatest = std::max(greatest, version);
  return greatest;
}

std::string encode_cursor(const Cursor& cursor) {
  // 16 bytes of the epoch UUID, then the sequence number in 8 big-endian bytes.
  std::string bytes;
  for (std::size_t i = 0; i + 1 < cursor.epoch.size(); ++i) {
    if (cursor.epoch[i] == '-') continue;
    bytes += static_cast<char>(std::stoi(cursor.epoch.substr(i, 2), nullptr, 16));
    ++i;
  }
  const auto seq = static_cast<std::uint64_t>(cursor.seq);
  for (int shift = 56; shift >= 0; shift -= 8) bytes += static_cast<char>((seq >> shift) & 0xFF);
  return base64url_encode(bytes);
}

std::optional<Cursor> decode_cursor(std::string_view text) {
  std::string bytes;
  if (!base64url_decode(text, bytes) || bytes.size() != 24) return std::nullopt;
  static constexpr char hex[] = "0123456789abcdef";
  Cursor cursor;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) cursor.epoch += '-';
    const auto byte = static_cast<std::uint8_t>(bytes[i]);
    cursor.epoch += hex[byte >> 4];
    cursor.epoch += hex[byte & 0x0F];
  }
  std::uint64_t seq = 0;
  for (std::size_t i = 16; i < 24; ++i) seq = (seq << 8) | static_cast<std::uint8_t>(bytes[i]);
  if (seq > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  cursor.seq = static_cast<std::int64_t>(seq);
  return cursor;
}

}  // namespace relais::server
