#include "relais/vocabulary.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>

#include "relais/text.hpp"

namespace relais {

const VocabularyCode* VocabularySet::find(std::string_view code) const {
  for (const auto& entry : codes) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

Vocabulary Vocabulary::load_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open vocabulary file " + path.string());
  auto document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded()) throw std::runtime_error("vocabulary file " + path.string() + " is not valid JSON");
  try {
    return from_json(document);
  } catch (const std::exception& e) {
    throw std::runtime_error("vocabulary file " + path.string() + ": " + e.what());
  }
}

Vocabulary Vocabulary::from_json(const nlohmann::json& document) {
  Vocabulary vocabulary;
  vocabulary.version_ = document.at("version").get<int>();
  for (const auto& [name, body] : document.at("sets").items()) {
    VocabularySet set;
    set.name = name;
    set.label_fr = body.at("label").at("fr").get<std::string>();
    set.label_en = body.at("label").at("en").get<std::string>();
    for (const auto& item : body.at("codes")) {
      VocabularyCode code;
      code.code = item.at("code").get<std::string>();
      code.label_fr = item.at("fr").get<std::string>();
      code.label_en = item.at("en").get<std::string>();
      code.extra = item;
      code.extra.erase("code");
      code.extra.erase("fr");
      code.extra.erase("en");
      if (set.find(code.code) != nullptr) throw std::runtime_error("duplicate code " + code.code + " in set " + name);
      set.codes.push_back(std::move(code));
    }
    vocabulary.sets_.emplace(name, std::move(set));
  }
  return vocabulary;
}

namespace {

// A code is stored in every record that uses it: plain lower-case words, as in the assets.
bool is_code(const std::string& text) {
  if (text.empty() || text.size() > 60) return false;
  for (const char ch : text) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

const std::string& required_text(const nlohmann::json& item, const char* key, const std::string& path) {
  const auto it = item.find(key);
  if (it == item.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw std::invalid_argument(path + "." + key + ": a non-empty text is required");
  }
  return it->get_ref<const std::string&>();
}

}  // namespace

Vocabulary Vocabulary::with_update(const nlohmann::json& update) const {
  if (!update.is_object()) throw std::invalid_argument("a vocabulary update must be a JSON object");
  const auto version = update.find("version");
  if (version == update.end() || !version->is_number_integer() || version->get<std::int64_t>() < 1 ||
      version->get<std::int64_t>() > 1'000'000'000) {
    throw std::invalid_argument("version: a whole number from 1 up is required");
  }
  const auto sets = update.find("sets");
  if (sets == update.end() || !sets->is_object()) throw std::invalid_argument("sets: an object of sets is required");

  Vocabulary merged = *this;
  merged.update_version_ = version->get<int>();
  for (const auto& [name, body] : sets->items()) {
    const std::string path = "sets." + name;
    const auto target = merged.sets_.find(name);
    if (target == merged.sets_.end()) throw std::invalid_argument(path + ": no such vocabulary set");
    const auto codes = body.is_object() ? body.find("codes") : body.end();
    if (!body.is_object() || codes == body.end() || !codes->is_array()) {
      throw std::invalid_argument(path + ".codes: an array of codes is required");
    }
    std::vector<std::string> seen;
    for (std::size_t index = 0; index < codes->size(); ++index) {
      const auto& item = (*codes)[index];
      const std::string item_path = path + ".codes[" + std::to_string(index) + "]";
      if (!item.is_object()) throw std::invalid_argument(item_path + ": an object {code, fr, en} is required");
      const auto& code = required_text(item, "code", item_path);
      if (!is_code(code)) {
        throw std::invalid_argument(item_path + ".code: lower-case letters, digits and _ only (60 at most)");
      }
      if (std::find(seen.begin(), seen.end(), code) != seen.end()) {
        throw std::invalid_argument(item_path + ".code: " + code + " is listed twice");
      }
      seen.push_back(code);
      VocabularyCode entry{code, required_text(item, "fr", item_path), required_text(item, "en", item_path), item};
      entry.extra.erase("code");
      entry.extra.erase("fr");
      entry.extra.erase("en");
      auto& set = target->second;
      const auto existing = std::find_if(set.codes.begin(), set.codes.end(), [&](const auto& c) { return c.code == code; });
      if (existing == set.codes.end()) {
        set.codes.push_back(std::move(entry));
      } else {
        existing->label_fr = entry.label_fr;
        existing->label_en = entry.label_en;
        existing->extra.update(entry.extra);
      }
    }
  }
  return merged;
}

const VocabularySet& Vocabulary::set(std::string_view name) const {
  const auto it = sets_.find(name);
  if (it == sets_.end()) throw std::out_of_range("unknown vocabulary set " + std::string(name));
  return it->second;
}

bool Vocabulary::contains(std::string_view set_name, std::string_view code) const {
  const auto it = sets_.find(set_name);
  return it != sets_.end() && it->second.find(code) != nullptr;
}

std::string Vocabulary::label(std::string_view set_name, std::string_view code, Lang lang) const {
  const auto it = sets_.find(set_name);
  if (it == sets_.end()) return std::string(code);
  const auto* entry = it->second.find(code);
  return entry ? entry->label(lang) : std::string(code);
}

std::string Vocabulary::code_list(std::string_view set_name) const {
  std::vector<std::string> codes;
  for (const auto& entry : set(set_name).codes) codes.push_back(entry.code);
  return join(codes, ", ");
}

}  // namespace relais
