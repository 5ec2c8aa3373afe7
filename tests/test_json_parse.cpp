// relais::parse_json against nlohmann's parser: the same values for every valid text, a
// JsonSyntaxError (with the offending byte) for every invalid one, and a cursor that gives a
// nested value's offsets.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "relais/json_parse.hpp"

using nlohmann::json;
using relais::JsonParser;
using relais::JsonSyntaxError;
using relais::parse_json;

namespace {

// A number nlohmann reads as a double that parse_json makes an integer (canonical numbers).
bool integral_double(const json& value) {
  if (!value.is_number_float()) return false;
  const auto number = value.get<double>();
  return std::trunc(number) == number && std::fabs(number) <= 9007199254740992.0;
}

// Equal values, and numbers of the same kind (unsigned, signed or floating), at every level;
// `a` (parse_json's) holds an integer where `b` (nlohmann's) holds a whole double.
bool same(const json& a, const json& b) {
  if (integral_double(b)) return a.is_number_integer() && a.get<double>() == b.get<double>();
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(), other = b.begin(); it != a.end(); ++it, ++other) {
      if (it.key() != other.key() || !same(*it, *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

// What nlohmann makes of `text`, or discarded when it refuses it.
json nlohmann_parse(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return json(json::value_t::discarded);
  }
}

// Random strings that exercise escapes, control characters and multi-byte UTF-8.
std::string random_text(std::mt19937& random) {
  static const std::vector<std::string> pieces = {"a", "Z", " ", "é", "ç", "œ", "€", "’", "ễ", "😀", "\"", "\\",
                                                  "/", "\n", "\t", std::string(1, '\x01'), "\x7f", "0", "{", "]"};
  std::string out;
  const auto length = random() % 8;
  for (std::size_t i = 0; i < length; ++i) out += pieces[random() % pieces.size()];
  return out;
}

json random_value(std::mt19937& random, int depth) {
  switch (random() % (depth > 3 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return random() % 2 == 0;
    case 2: return static_cast<std::int64_t>(random()) - (1LL << 31);
    case 3: return static_cast<std::uint64_t>(random()) * 4294967296ULL + random();
    case 4: return (static_cast<double>(random()) - 2e9) / 7.0;
    case 5: return random_text(random);
    case 6: {
      json object = json::object();
      const auto size = random() % 5;
      for (std::size_t i = 0; i < size; ++i) object[random_text(random)] = random_value(random, depth + 1);
      return object;
    }
    default: {
      json array = json::array();
      const auto size = random() % 5;
      for (std::size_t i = 0; i < size; ++i) array.push_back(random_value(random, depth + 1));
      return array;
    }
  }
}

}  // namespace

TEST_CASE("parse_json gives nlohmann's values for valid texts", "[json]") {
  const std::vector<std::string> texts = {
      "null", "true", "false", "0", "-0", "7", "-7", "18446744073709551615", "18446744073709551616",
      "-9223372036854775808", "-9223372036854775809", "1.5", "-0.25e3", "1E2", "1e-400", "\"\"",
      R"("a\"b\\c\/d\b\f\n\r\t")", R"("\u00e9\u20AC\ud83d\ude00")", "\"é€😀\"", "[]", "{}", " [ 1 , [ 2 , [ ] ] ] ",
      R"({"b":1,"a":{"c":[true,null,"x"]},"d":-2.5})", "\t\r\n{\"k\" : \"v\"}\n",
      R"({"type":"individuel","duree":45,"thematiques":["email"],"beneficiaire":{"genre":"f"}})"};
  for (const auto& text : texts) {
    INFO(text);
    const auto expected = json::parse(text);
    const auto parsed = parse_json(text);
    CHECK(same(parsed, expected));
  }
  CHECK(parse_json("18446744073709551615").is_number_unsigned());
  CHECK(parse_json("-3").is_number_integer());
  CHECK(parse_json("-3").get<std::int64_t>() == -3);
  CHECK(parse_json("18446744073709551616").is_number_float());
}

TEST_CASE("parse_json writes numbers in canonical form: a whole number is an integer", "[json]") {
  for (const auto* text : {"3e1", "30.0", "300e-1", "3.0E1", "30"}) {
    INFO(text);
    const auto value = parse_json(text);
    CHECK(value.is_number_integer());
    CHECK(value.dump() == "30");
  }
  CHECK(parse_json("-0.0").dump() == "0");
  CHECK(parse_json("1.50").dump() == "1.5");
  CHECK(parse_json("1e300").is_number_float());
  CHECK(parse_json("9007199254740994.0").is_number_float());  // past 2^53: not every whole number is exact
  // The cursor says when a number was written otherwise than canonically.
  JsonParser plain(R"({"duree": 30, "poids": 2})");
  plain.value();
  CHECK_FALSE(plain.read_noncanonical_number());
  JsonParser written(R"({"duree": 3e1})");
  written.value();
  CHECK(written.read_noncanonical_number());
}

TEST_CASE("parse_json refuses invalid texts and names the byte", "[json]") {
  struct Case {
    std::string text;
    std::size_t byte;
  };
  const std::vector<Case> cases = {
      {"", 0},           {"   ", 3},        {"nul", 0},          {"[1,]", 3},       {"[1 2]", 3},
      {"{\"a\" 1}", 5},  {"{a:1}", 1},      {"{\"a\":1,}", 7},   {"01", 1},         {"-", 1},
      {"1.", 2},         {"1e", 2},         {".5", 0},           {"+1", 0},         {"\"abc", 4},
      {"\"a\nb\"", 2},   {"\"\\x\"", 1},    {"\"\\u12\"", 3},    {"\"\\ud800\"", 7}, {"\"\\udc00\"", 7},
      {"[1] x", 4},      {"1e400", 0},      {"\"\xc3\"", 1},     {"\"\xed\xa0\x80\"", 1}, {"\"\xc0\xaf\"", 1},
      {"{\"a\":1,\"a\":2}", 7},
  };
  for (const auto& [text, byte] : cases) {
    INFO(text);
    try {
      parse_json(text);
      FAIL("accepted");
    } catch (const JsonSyntaxError& error) {
      CHECK(error.byte() == byte);
      CHECK_FALSE(error.reason().empty());
    }
  }
}

TEST_CASE("parse_json limits the nesting", "[json]") {
  CHECK_NOTHROW(parse_json("[[[1]]]", 3));
  try {
    parse_json("[[[[1]]]]", 3);
    FAIL("accepted");
  } catch (const JsonSyntaxError& error) {
    CHECK(error.kind() == JsonSyntaxError::Kind::too_deep);
    CHECK(error.byte() == 3);
  }
  CHECK_THROWS_AS(parse_json(std::string(100000, '['), 64), JsonSyntaxError);
  CHECK_THROWS_AS(parse_json("{\"a\":{\"b\":{\"c\":{}}}}", 3), JsonSyntaxError);
}

TEST_CASE("parse_json and nlohmann agree on random values and on random damage to them", "[json]") {
  std::mt19937 random(20261123);
  int accepted = 0;
  int refused = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto value = random_value(random, 0);
    const auto text = value.dump(round % 3 == 0 ? 2 : -1, ' ', round % 2 == 0);
    INFO(text);
    REQUIRE(same(parse_json(text), json::parse(text)));

    // One byte removed, replaced or added: both parsers accept it (with the same value) or
    // both refuse it. nlohmann alone accepts a duplicate key (the last value wins).
    auto damaged = text;
    const auto at = damaged.empty() ? 0 : random() % damaged.size();
    static const std::string bytes = "{}[]\",:\\ 0-.eu\xc3\xa9tfn";
    switch (random() % 3) {
      case 0: if (!damaged.empty()) damaged.erase(at, 1); break;
      case 1: if (!damaged.empty()) damaged[at] = bytes[random() % bytes.size()]; break;
      default: damaged.insert(at, 1, bytes[random() % bytes.size()]); break;
    }
    INFO(damaged);
    const auto expected = nlohmann_parse(damaged);
    try {
      const auto parsed = parse_json(damaged);
      CHECK_FALSE(expected.is_discarded());
      CHECK(same(parsed, expected));
      ++accepted;
    } catch (const JsonSyntaxError& error) {
      if (!expected.is_discarded()) {
        CHECK(error.kind() == JsonSyntaxError::Kind::duplicate_key);
      }
      ++refused;
    }
  }
  // Both kinds were tried.
  CHECK(accepted > 100);
  CHECK(refused > 100);
}

TEST_CASE("JsonParser walks outer levels and gives a value's offsets", "[json]") {
  const std::string text = R"( {"changes": [ {"fields": {"a": 1} , "id":"x"} ] } )";
  JsonParser parser(text);
  parser.expect('{');
  CHECK(parser.string() == "changes");
  parser.expect(':');
  parser.expect('[');
  parser.expect('{');
  CHECK(parser.string() == "fields");
  parser.expect(':');
  const auto begin = parser.offset();
  const auto fields = parser.value();
  const auto end = parser.position();
  CHECK(fields == json{{"a", 1}});
  // The offsets hold the value's text as it came.
  CHECK(text.substr(begin, end - begin) == "{\"a\": 1}");
  CHECK(parser.consume(','));
  CHECK(parser.string() == "id");
  parser.expect(':');
  CHECK(parser.value() == "x");
  CHECK_FALSE(parser.consume(','));
  parser.expect('}');
  CHECK(parser.next_is(']'));
  parser.expect(']');
  parser.expect('}');
  parser.end();
  CHECK_THROWS_AS(parser.expect('}'), JsonSyntaxError);
}
