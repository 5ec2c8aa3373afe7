#include "relais/i18n.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "relais/text.hpp"

namespace relais {

std::optional<Lang> parse_lang(std::string_view code) {
  if (code == "fr") return Lang::fr;
  if (code == "en") return Lang::en;
  return std::nullopt;
}

Lang lang_from_environment() {
  for (const char* name : {"RELAIS_LANG", "LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    return std::string_view(value).substr(0, 2) == "en" ? Lang::en : Lang::fr;
  }
  return Lang::fr;
}

namespace {

void load_into(const std::filesystem::path& file, std::map<std::string, std::string, std::less<>>& out) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot open translation file " + file.string());
  const auto document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    throw std::runtime_error("translation file " + file.string() + " is not a JSON object");
  }
  for (const auto& [key, value] : document.items()) {
    if (!value.is_string()) throw std::runtime_error("translation " + key + " in " + file.string() + " is not a string");
    out[key] = value.get<std::string>();
  }
}

}  // namespace

Translator Translator::load_directory(const std::filesystem::path& directory) {
  Translator translator;
  load_into(directory / "fr.json", translator.fr_);
  load_into(directory / "en.json", translator.en_);
  return translator;
}

std::string Translator::text(Lang lang, std::string_view key,
                             const std::vector<std::pair<std::string, std::string>>& values) const {
  const auto& table = lang == Lang::fr ? fr_ : en_;
  const auto it = table.find(key);
  if (it == table.end()) return std::string(key);
  return format_named(it->second, values);
}

bool Translator::has(Lang lang, std::string_view key) const {
  const auto& table = lang == Lang::fr ? fr_ : en_;
  return table.find(key) != table.end();
}

void Translator::add(Lang lang, std::string key, std::string value) {
  (lang == Lang::fr ? fr_ : en_)[std::move(key)] = std::move(value);
}

}  // namespace relais
