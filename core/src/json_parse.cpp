#include "relais/json_parse.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <system_error>

#include "relais/text.hpp"

namespace relais {

using nlohmann::json;

JsonSyntaxError::JsonSyntaxError(std::size_t byte, const std::string& reason, Kind kind)
    : std::runtime_error("JSON syntax error at byte " + std::to_string(byte) + ": " + reason),
      byte_(byte),
      reason_(reason),
      kind_(kind) {}

json parse_json(std::string_view text, int max_depth) {
  JsonParser parser(text, max_depth);
  auto value = parser.value();
  parser.end();
  return value;
}

void JsonParser::fail(const std::string& reason) const { throw JsonSyntaxError(at_, reason); }

void JsonParser::skip_whitespace() {
  while (at_ < text_.size()) {
    const char ch = text_[at_];
    if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') return;
    ++at_;
  }
}

std::size_t JsonParser::offset() {
  skip_whitespace();
  return at_;
}

bool JsonParser::next_is(char token) {
  skip_whitespace();
  return at_ < text_.size() && text_[at_] == token;
}

bool JsonParser::consume(char token) {
  if (!next_is(token)) return false;
  ++at_;
  return true;
}

void JsonParser::expect(char token) {
  if (!consume(token)) {
    if (at_ >= text_.size()) fail(std::string("expected '") + token + "', found the end of the text");
    fail(std::string("expected '") + token + "'");
  }
}

void JsonParser::end() {
  skip_whitespace();
  if (at_ != text_.size()) fail("unexpected text after the value");
}

json JsonParser::value() { return parse_value(0); }

std::string JsonParser::string() { return string_or_fail("expected a string"); }

std::string JsonParser::key() { return string_or_fail("expected a key (a string)"); }

std::string JsonParser::string_or_fail(const char* reason) {
  skip_whitespace();
  if (at_ >= text_.size() || text_[at_] != '"') fail(reason);
  std::string out;
  parse_string_into(out);
  return out;
}

void JsonParser::add_member(json& object, std::string key, json value, std::size_t key_at) {
  auto& members = object.get_ref<json::object_t&>();
  const auto size = members.size();
  // Keys usually come sorted (nlohmann writes them so): the hint makes that O(1).
  members.emplace_hint(members.end(), std::move(key), std::move(value));
  if (members.size() == size) {
    throw JsonSyntaxError(key_at, "duplicate key in an object", JsonSyntaxError::Kind::duplicate_key);
  }
}

void JsonParser::expect_literal(std::string_view literal) {
  if (text_.substr(at_, literal.size()) != literal) fail("invalid literal");
  at_ += literal.size();
}

void JsonParser::check_depth(int depth) const {
  if (depth >= max_depth_) {
    throw JsonSyntaxError(at_, "nested more than " + std::to_string(max_depth_) + " levels deep",
                          JsonSyntaxError::Kind::too_deep);
  }
}

json JsonParser::parse_value(int depth) {
  skip_whitespace();
  if (at_ >= text_.size()) fail("expected a value, found the end of the text");
  switch (text_[at_]) {
    case '{': {
      check_depth(depth);
      json object(json::value_t::object);
      members([&](std::string name, std::size_t key_at) {
        auto member = parse_value(depth + 1);
        add_member(object, std::move(name), std::move(member), key_at);
      });
      return object;
    }
    case '[': {
      check_depth(depth);
      json array(json::value_t::array);
      auto& items_of_array = array.get_ref<json::array_t&>();
      items([&] { items_of_array.push_back(parse_value(depth + 1)); });
      return array;
    }
    case '"': {
      json value(json::value_t::string);
      parse_string_into(value.get_ref<std::string&>());
      return value;
    }
    case 't': expect_literal("true"); return true;
    case 'f': expect_literal("false"); return false;
    case 'n': expect_literal("null"); return nullptr;
    default: return parse_number();
  }
}

namespace {

int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

// The length of the valid UTF-8 sequence starting at `text[at]` (a byte >= 0x80), or 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto lead = byte(at);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

void JsonParser::parse_string_into(std::string& out) {
  ++at_;  // the opening quote
  for (;;) {
    // A run of plain characters is appended at once.
    const auto run_start = at_;
    while (at_ < text_.size()) {
      const auto ch = static_cast<unsigned char>(text_[at_]);
      if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80) break;
      ++at_;
    }
    out.append(text_.data() + run_start, at_ - run_start);
    if (at_ >= text_.size()) fail("unterminated string");
    const auto ch = static_cast<unsigned char>(text_[at_]);
    if (ch == '"') {
      ++at_;
      return;
    }
    if (ch < 0x20) fail("control character in a string (it must be escaped)");
    if (ch >= 0x80) {
      const auto length = utf8_sequence_length(text_, at_);
      if (length == 0) fail("invalid UTF-8 in a string");
      out.append(text_.data() + at_, length);
      at_ += length;
      continue;
    }
    // A backslash escape.
    if (at_ + 1 >= text_.size()) fail("unterminated string");
    const char escaped = text_[at_ + 1];
    at_ += 2;
    switch (escaped) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        const auto read_hex4 = [&]() -> std::uint32_t {
          if (at_ + 4 > text_.size()) fail("\\u needs four hexadecimal digits");
          std::uint32_t code = 0;
          for (int i = 0; i < 4; ++i) {
            const int digit = hex_digit(text_[at_ + static_cast<std::size_t>(i)]);
            if (digit < 0) fail("\\u needs four hexadecimal digits");
            code = (code << 4) | static_cast<std::uint32_t>(digit);
          }
          at_ += 4;
          return code;
        };
        auto code = read_hex4();
        if (code >= 0xD800 && code <= 0xDBFF) {
          // A high surrogate: a low one must follow, and the two make one code point.
          if (text_.substr(at_, 2) != "\\u") fail("a high surrogate without its low surrogate");
          at_ += 2;
          const auto low = read_hex4();
          if (low < 0xDC00 || low > 0xDFFF) fail("a high surrogate without its low surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          fail("a low surrogate without its high surrogate");
        }
        append_utf8(out, static_cast<char32_t>(code));
        break;
      }
      default: at_ -= 2; fail("invalid escape in a string");
    }
  }
}

json JsonParser::parse_number() {
  const auto start = at_;
  const auto digit_at = [&](std::size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
  const bool negative = at_ < text_.size() && text_[at_] == '-';
  if (negative) ++at_;
  if (!digit_at(at_)) fail(at_ == start ? "expected a value" : "expected a digit after '-'");
  // Integer part: 0, or a digit 1-9 and more digits.
  std::uint64_t magnitude = 0;
  bool overflow = false;
  if (text_[at_] == '0') {
    ++at_;
  } else {
    while (digit_at(at_)) {
      const auto digit = static_cast<std::uint64_t>(text_[at_] - '0');
      if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) overflow = true;
      magnitude = magnitude * 10 + digit;
      ++at_;
    }
  }
  bool integer = true;
  if (at_ < text_.size() && text_[at_] == '.') {
    integer = false;
    ++at_;
    if (!digit_at(at_)) fail("expected a digit after '.'");
    while (digit_at(at_)) ++at_;
  }
  if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
    integer = false;
    ++at_;
    if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
    if (!digit_at(at_)) fail("expected a digit in the exponent");
    while (digit_at(at_)) ++at_;
  }
  if (integer && !overflow) {
    if (!negative) return magnitude;
    constexpr auto kMinMagnitude = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
    if (magnitude < kMinMagnitude) return -static_cast<std::int64_t>(magnitude);
    if (magnitude == kMinMagnitude) return std::numeric_limits<std::int64_t>::min();
  }
  // A fraction, an exponent, or an integer too large for 64 bits: a double, as nlohmann does.
  double value = 0;
  const auto [end, error] = std::from_chars(text_.data() + start, text_.data() + at_, value);
  if (error == std::errc::result_out_of_range) {
    // Too small (1e-400 is 0, as strtod makes it) or too large (refused below).
    value = std::strtod(std::string(text_.substr(start, at_ - start)).c_str(), nullptr);
  } else if (error != std::errc() || end != text_.data() + at_) {
    at_ = start;
    fail("invalid number");
  }
  if (!std::isfinite(value)) {
    at_ = start;
    fail("number out of range");
  }
  noncanonical_number_ = true;
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  if (std::trunc(value) == value && std::fabs(value) <= kExactIntegers) return static_cast<std::int64_t>(value);
  return value;
}

}  // namespace relais
