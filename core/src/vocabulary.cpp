#include "relais/vocabulary.hpp"

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
