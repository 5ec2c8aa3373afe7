#pragma once
// A strict JSON parser that builds nlohmann::json values, about twice as fast as nlohmann's own
// (which reads a character at a time through an input adapter and keeps a copy of each token).
// The sync server parses every pushed record with it, and keeps the text of a record's fields
// as it came (JsonParser's cursor gives the offsets) instead of writing it again.
//
// Strict: RFC 8259 only (no comments, no trailing commas), valid UTF-8 in strings, no duplicate
// keys in an object (which value would count is not agreed between parsers), numbers that fit
// a double. Non-negative integers become number_unsigned and negative ones number_integer, as
// nlohmann does, so values compare equal to nlohmann's.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace relais {

class JsonSyntaxError : public std::runtime_error {
 public:
  enum class Kind { syntax, too_deep, duplicate_key };
  JsonSyntaxError(std::size_t byte, const std::string& reason, Kind kind = Kind::syntax);
  std::size_t byte() const { return byte_; }  // offset of the offending character
  const std::string& reason() const { return reason_; }
  Kind kind() const { return kind_; }

 private:
  std::size_t byte_;
  std::string reason_;
  Kind kind_;
};

// The whole text as one value; only whitespace may follow it. Throws JsonSyntaxError. Numbers
// are canonical: one with a fraction or an exponent whose value is a whole number that a
// double holds exactly (|n| <= 2^53) is an integer ("3e1" and "30.0" are 30), so that a value is
// stored and sent back as one text whatever way a device wrote it.
nlohmann::json parse_json(std::string_view text, int max_depth = 64);

// A cursor over a JSON text, for callers that walk the outer levels themselves (to note where a
// value starts and ends) and parse the inner values with value(). Every method skips the
// whitespace before what it reads and throws JsonSyntaxError on anything else.
class JsonParser {
 public:
  // `max_depth` limits the nesting of the values that value() reads.
  explicit JsonParser(std::string_view text, int max_depth = 64) : text_(text), max_depth_(max_depth) {}

  nlohmann::json value();
  std::string string();           // a string value
  // An object, member by member: `on_member(key, key_offset)` reads the member's value (with
  // value(), or by walking it). An array, item by item: `on_item()` reads the item.
  template <typename OnMember>
  void members(OnMember&& on_member);
  template <typename OnItem>
  void items(OnItem&& on_item);
  // Adds a member to an object being built, refusing a key it already has (duplicate_key, at
  // the key's offset).
  static void add_member(nlohmann::json& object, std::string key, nlohmann::json value, std::size_t key_at);
  void expect(char token);        // one of { } [ ] : ,
  bool consume(char token);       // true (and consumed) when `token` comes next
  bool next_is(char token);       // true when `token` comes next (not consumed)
  void end();                     // only whitespace is left
  // The offset of the next character that is not whitespace (where a value starts).
  std::size_t offset();
  // The offset right after what was read last (where a value ends).
  std::size_t position() const { return at_; }
  std::string_view text() const { return text_; }
  // Whether a number read so far was written otherwise than its canonical form (a fraction or
  // an exponent: "3e1", "30.0", "1.50"); such a text is not kept as it came.
  bool read_noncanonical_number() const { return noncanonical_number_; }
  void forget_noncanonical_number() { noncanonical_number_ = false; }

 private:
  nlohmann::json parse_value(int depth);
  void check_depth(int depth) const;  // before an object or array at `depth`
  std::string key();
  std::string string_or_fail(const char* reason);  // a string next, or `reason`
  nlohmann::json parse_number();
  void parse_string_into(std::string& out);
  void skip_whitespace();
  void expect_literal(std::string_view literal);
  [[noreturn]] void fail(const std::string& reason) const;

  std::string_view text_;
  std::size_t at_ = 0;
  int max_depth_;
  bool noncanonical_number_ = false;
};

template <typename OnMember>
void JsonParser::members(OnMember&& on_member) {
  expect('{');
  if (consume('}')) return;
  do {
    const auto key_at = offset();
    auto name = key();
    expect(':');
    on_member(std::move(name), key_at);
  } while (consume(','));
  expect('}');
}

template <typename OnItem>
void JsonParser::items(OnItem&& on_item) {
  expect('[');
  if (consume(']')) return;
  do {
    on_item();
  } while (consume(','));
  expect(']');
}

}  // namespace relais
