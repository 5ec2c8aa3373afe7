#pragma once
// The code lists of the record model (vocabulary.md), loaded from assets/vocabulary.json.
// Codes are what is stored and sent; labels are what people see.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/lang.hpp"

namespace relais {

struct VocabularyCode {
  std::string code;
  std::string label_fr;
  std::string label_en;
  nlohmann::json extra;  // set-specific attributes (e.g. default_weight_kg for device types)

  const std::string& label(Lang lang) const { return lang == Lang::fr ? label_fr : label_en; }
};

struct VocabularySet {
  std::string name;
  std::string label_fr;
  std::string label_en;
  std::vector<VocabularyCode> codes;  // in display order

  const VocabularyCode* find(std::string_view code) const;
};

class Vocabulary {
 public:
  // Throws std::runtime_error naming the file and the problem when the file is unusable.
  static Vocabulary load_file(const std::filesystem::path& path);
  static Vocabulary from_json(const nlohmann::json& document);

  const VocabularySet& set(std::string_view name) const;  // throws std::out_of_range
  bool contains(std::string_view set_name, std::string_view code) const;
  // The label of `code`, or the code itself when it is unknown (never empty for display).
  std::string label(std::string_view set_name, std::string_view code, Lang lang) const;
  // "a, b, c": the codes of a set, for error messages.
  std::string code_list(std::string_view set_name) const;

  int version() const { return version_; }

  // This vocabulary with an update published by the server (docs/protocol.md, "Vocabulary
  // updates"): {"version": N, "sets": {"<set>": {"codes": [{"code", "fr", "en"}...]}}}. A code
  // already known gets the new labels, a new one is added at the end of its set; nothing is
  // removed, so that every stored record stays valid. Throws std::invalid_argument with a
  // message naming the field for an update that is malformed or names a set that is not here.
  Vocabulary with_update(const nlohmann::json& update) const;
  // The version of the update merged by with_update(); 0 for the assets' vocabulary alone.
  int update_version() const { return update_version_; }

 private:
  int version_ = 0;
  int update_version_ = 0;
  std::map<std::string, VocabularySet, std::less<>> sets_;
};

}  // namespace relais
