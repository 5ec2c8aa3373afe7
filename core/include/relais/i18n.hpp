#pragma once
// Translations: flat JSON files of dotted keys (assets/i18n/fr.json, en.json).
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "relais/lang.hpp"

namespace relais {

class Translator {
 public:
  // Loads fr.json and en.json from `directory`; throws std::runtime_error when unusable.
  static Translator load_directory(const std::filesystem::path& directory);

  // The text for `key`, with "{name}" placeholders filled; the key itself when it is missing,
  // so a missing translation is visible rather than silent.
  std::string text(Lang lang, std::string_view key,
                   const std::vector<std::pair<std::string, std::string>>& values = {}) const;
  bool has(Lang lang, std::string_view key) const;

  void add(Lang lang, std::string key, std::string value);

 private:
  std::map<std::string, std::string, std::less<>> fr_;
  std::map<std::string, std::string, std::less<>> en_;
};

}  // namespace relais
