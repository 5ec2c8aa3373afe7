#include "relais/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "relais/text.hpp"

namespace relais {

ObjectReader::ObjectReader(const nlohmann::json& object, Problems& problems) : object_(object), problems_(problems) {
  if (!object_.is_object()) problems_.push_back({"", "expected_object", {}});
}

bool ObjectReader::has(std::string_view key) const {
  if (!object_.is_object()) return false;
  const auto it = object_.find(key);
  return it != object_.end() && !it->is_null();
}

const nlohmann::json* ObjectReader::get(std::string_view key) {
  if (!object_.is_object()) return nullptr;
  const auto it = object_.find(key);
  if (it == object_.end()) return nullptr;
  read_.push_back(&it.key());
  if (it->is_null()) return nullptr;
  return &*it;
}

void ObjectReader::type_problem(std::string_view key, const char* reason) {
  problems_.push_back({std::string(key), reason, {}});
}

namespace {

// Returns the cleaned text, or adds a problem and returns nullopt. `field()` names the field;
// it is called only for a problem (most texts have none, and a list item's name is built).
template <typename FieldName>
std::optional<std::string> clean_text(const std::string& raw, const FieldName& field, std::size_t max_length,
                                      Problems& problems) {
  if (!is_valid_utf8(raw)) {
    problems.push_back({field(), "invalid_utf8", {}});
    return std::nullopt;
  }
  auto value = trim(raw);
  const auto length = utf8_length(value);
  if (length > max_length) {
    problems.push_back({field(), "too_long", {{"length", std::to_string(length)}, {"max", std::to_string(max_length)}}});
    return std::nullopt;
  }
  for (const char raw_ch : value) {
    const auto ch = static_cast<unsigned char>(raw_ch);
    // Control characters other than newlines and tabs have no business in a record.
    if (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') {
      problems.push_back({field(), "control_character", {}});
      return std::nullopt;
    }
  }
  return value;
}

}  // namespace

std::optional<std::string> ObjectReader::text(std::string_view key, std::size_t max_length) {
  const auto* value = get(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    type_problem(key, "expected_text");
    return std::nullopt;
  }
  auto cleaned = clean_text(value->get_ref<const std::string&>(), [key] { return std::string(key); }, max_length, problems_);
  if (cleaned && cleaned->empty()) return std::nullopt;
  return cleaned;
}

std::vector<std::string> ObjectReader::text_list(std::string_view key, std::size_t max_items, std::size_t max_length) {
  std::vector<std::string> out;
  const auto* value = get(key);
  if (value == nullptr) return out;
  if (!value->is_array()) {
    type_problem(key, "expected_list");
    return out;
  }
  if (value->size() > max_items) {
    problems_.push_back({std::string(key), "too_many_items", {{"max", std::to_string(max_items)}}});
    return out;
  }
  for (std::size_t i = 0; i < value->size(); ++i) {
    const auto field = [key, i] { return std::string(key) + "[" + std::to_string(i) + "]"; };
    const auto& item = (*value)[i];
    if (!item.is_string()) {
      problems_.push_back({field(), "expected_text", {}});
      continue;
    }
    auto cleaned = clean_text(item.get_ref<const std::string&>(), field, max_length, problems_);
    if (cleaned && !cleaned->empty()) out.push_back(std::move(*cleaned));
  }
  return out;
}

std::optional<std::int64_t> ObjectReader::integer(std::string_view key) {
  const auto* value = get(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(
                                                                          std::numeric_limits<std::int64_t>::max())) {
      type_problem(key, "expected_integer");
      return std::nullopt;
    }
    return value->get<std::int64_t>();
  }
  if (value->is_number_float()) {
    // 30.0 is an integer written by a spreadsheet; 30.5 is not.
    const double number = value->get<double>();
    if (std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 9e15) {
      return static_cast<std::int64_t>(number);
    }
  }
  type_problem(key, "expected_integer");
  return std::nullopt;
}

std::optional<double> ObjectReader::number(std::string_view key) {
  const auto* value = get(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    type_problem(key, "expected_number");
    return std::nullopt;
  }
  const double number = value->get<double>();
  if (!std::isfinite(number)) {
    type_problem(key, "expected_number");
    return std::nullopt;
  }
  return number;
}

std::optional<bool> ObjectReader::boolean(std::string_view key) {
  const auto* value = get(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    type_problem(key, "expected_boolean");
    return std::nullopt;
  }
  return value->get<bool>();
}

const nlohmann::json* ObjectReader::object(std::string_view key) {
  const auto* value = get(key);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) {
    type_problem(key, "expected_object");
    return nullptr;
  }
  return value;
}

void ObjectReader::ignore(std::string_view key) {
  if (!object_.is_object()) return;
  if (const auto it = object_.find(key); it != object_.end()) read_.push_back(&it.key());
}

void ObjectReader::finish() {
  if (!object_.is_object()) return;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (std::find(read_.begin(), read_.end(), &it.key()) == read_.end()) {
      problems_.push_back({it.key(), "unknown_field", {}});
    }
  }
}

}  // namespace relais
