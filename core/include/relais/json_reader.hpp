#pragma once
// Reads a JSON object field by field, collecting a Problem for every missing or mistyped
// field instead of stopping at the first one. Null counts as absent; strings are trimmed
// and an empty string counts as absent too (what a blank form field sends).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/problem.hpp"

namespace relais {

class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& object, Problems& problems);

  bool is_object() const { return object_.is_object(); }
  bool has(std::string_view key) const;

  std::optional<std::string> text(std::string_view key, std::size_t max_length = 200);
  std::vector<std::string> text_list(std::string_view key, std::size_t max_items = 64, std::size_t max_length = 100);
  std::optional<std::int64_t> integer(std::string_view key);
  std::optional<double> number(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  // The nested object at `key`, or nullptr when absent (a problem is added when it is not an object).
  const nlohmann::json* object(std::string_view key);
  // A key that is accepted and not read (read-only metadata echoed back by `show`).
  void ignore(std::string_view key);
  // Adds an "unknown_field" problem for each key that was not read or ignored.
  void finish();

 private:
  const nlohmann::json* get(std::string_view key);
  void type_problem(std::string_view key, const char* reason);

  const nlohmann::json& object_;
  Problems& problems_;
  // The keys of the object read or ignored so far, as the object's own strings: finish() names
  // the others. (A few dozen per record: a vector beats a set of copies.)
  std::vector<const std::string*> read_;
};

}  // namespace relais
