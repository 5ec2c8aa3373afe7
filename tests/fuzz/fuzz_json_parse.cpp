// parse_json (the strict parser) against nlohmann's parser as an oracle: whatever parse_json
// accepts, nlohmann accepts too, with an equal value; what it refuses and nlohmann accepts is
// refused for a documented reason only (a duplicate key, nesting deeper than max_depth), or for
// one of nlohmann's leniencies (it skips a byte order mark, and its lexer takes a NUL byte for
// the end of the text); numbers are compared in parse_json's canonical form (a whole number is
// an integer); the dump of a value parses back to the same value.
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "relais/json_parse.hpp"

namespace {

// nlohmann's value as parse_json writes numbers (canonical: a whole double that a double holds
// exactly is an integer).
nlohmann::json canonical(const nlohmann::json& value) {
  if (value.is_number_float()) {
    const auto number = value.get<double>();
    if (std::trunc(number) == number && std::fabs(number) <= 9007199254740992.0) {
      return static_cast<std::int64_t>(number);
    }
    return value;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : value) out.push_back(canonical(item));
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, item] : value.items()) out[key] = canonical(item);
    return out;
  }
  return value;
}

bool same_types(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_array()) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same_types(a[i], b[i])) return false;
    }
  } else if (a.is_object()) {
    for (auto it = a.begin(), other = b.begin(); it != a.end(); ++it, ++other) {
      if (it.key() != other.key() || !same_types(*it, *other)) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = relais::fuzz::as_text(data, size);
  const bool nlohmann_accepts = nlohmann::json::accept(text);
  nlohmann::json value;
  try {
    value = relais::parse_json(text);
  } catch (const relais::JsonSyntaxError& error) {
    FUZZ_CHECK(error.byte() <= text.size());
    const bool lenient = text.starts_with("\xEF\xBB\xBF") || text.find('\0') != std::string_view::npos;
    if (nlohmann_accepts && !lenient) {
      FUZZ_CHECK(error.kind() != relais::JsonSyntaxError::Kind::syntax);
    }
    return 0;
  }
  FUZZ_CHECK(nlohmann_accepts);
  const auto reference = canonical(nlohmann::json::parse(text));
  FUZZ_CHECK(value == reference);
  FUZZ_CHECK(same_types(value, reference));  // unsigned, signed and floating numbers alike, at every level
  const auto dumped = value.dump();
  FUZZ_CHECK(dumped == reference.dump());
  FUZZ_CHECK(relais::parse_json(dumped) == value);
  // JsonParser walked by hand (as parse_push walks a body) reads the same value.
  if (value.is_object()) {
    relais::JsonParser parser(text);
    nlohmann::json walked = nlohmann::json::object();
    parser.members([&](std::string key, std::size_t key_at) {
      const auto begin = parser.offset();
      auto member = parser.value();
      FUZZ_CHECK(relais::parse_json(text.substr(begin, parser.position() - begin)) == member);
      relais::JsonParser::add_member(walked, std::move(key), std::move(member), key_at);
    });
    parser.end();
    FUZZ_CHECK(walked == value);
  }
  return 0;
}
