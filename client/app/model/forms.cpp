#include "forms.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "relais/dates.hpp"

#include "relais/records.hpp"
#include "relais/text.hpp"
#include "relais/vocabulary.hpp"

namespace relais::app {

using nlohmann::json;

namespace {

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Puts a text field only when something was typed: absent and empty are the same to the store.
void put_text(json& out, const char* key, const std::string& value) {
  auto text = trimmed(value);
  if (!text.empty()) out[key] = std::move(text);
}

std::string text_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

int int_of(const json& object, const char* key, int fallback = 0) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

bool bool_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::set<std::string> set_of(const json& object, const char* key) {
  std::set<std::string> out;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& item : *it) {
    if (item.is_string()) out.insert(item.get<std::string>());
  }
  return out;
}

// The codes of `chosen` that belong to `set_name`, in the vocabulary's display order.
json ordered_codes(const std::set<std::string>& chosen, const Vocabulary& vocabulary, const char* set_name) {
  json out = json::array();
  for (const auto& code : vocabulary.set(set_name).codes) {
    if (chosen.count(code.code) != 0) out.push_back(code.code);
  }
  return out;
}

}  // namespace

std::string date_for_store(const std::string& typed) {
  const auto text = trimmed(typed);
  // 22/11/2026 or 22/11/26, as French people write dates; anything else goes as typed and
  // the model's date rule names the problem.
  int day = 0, month = 0, year = 0;
  char slash1 = 0, slash2 = 0;
  std::istringstream in(text);
  if (in >> day >> slash1 >> month >> slash2 >> year && slash1 == '/' && slash2 == '/' && in.peek() == EOF) {
    if (year >= 0 && year < 100) year += 2000;
    // Out of range parts go as typed too: the date rule names them, and the text below never
    // needs more than four digits a part.
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31) return text;
    const auto padded = [](int value, std::size_t width) {
      auto digits = std::to_string(value);
      return std::string(width > digits.size() ? width - digits.size() : 0, '0') + digits;
    };
    return padded(year, 4) + '-' + padded(month, 2) + '-' + padded(day, 2);
  }
  return text;
}

std::string date_for_display(const std::string& stored) {
  if (const auto date = parse_date(stored)) return format_date_french(*date);
  return stored;
}

// ---------------------------------------------------------------------------------------------

void FormMessages::set(const Problems& problems, const Translator& translator, Lang lang) {
  clear();
  for (const auto& problem : problems) {
    messages_.emplace(problem.field, translator.text(lang, "problem." + problem.reason, problem.args));
  }
}

std::vector<std::string> FormMessages::take(const std::string& field) const {
  std::vector<std::string> out;
  for (const auto& [path, message] : messages_) {
    const bool same = path == field;
    const bool under = path.size() > field.size() && path.compare(0, field.size(), field) == 0 &&
                       (path[field.size()] == '.' || path[field.size()] == '[');
    if (same || under) {
      out.push_back(same ? message : path.substr(field.size() + 1) + " : " + message);
      shown_.insert(path);
    }
  }
  return out;
}

std::vector<std::string> FormMessages::not_shown(Lang lang) const {
  std::vector<std::string> out;
  for (const auto& [path, message] : messages_) {
    if (shown_.count(path) != 0) continue;
    out.push_back(path.empty() ? message : path + (lang == Lang::fr ? " : " : ": ") + message);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

bool SessionForm::administrative() const { return thematiques.count(std::string(kAdministrativeTheme)) != 0; }

int SessionForm::non_communique(const std::string& group) const {
  int known = 0;
  if (const auto it = counts.find(group); it != counts.end()) {
    for (const auto& [code, count] : it->second) {
      if (code != kNotCommunicated) known += count;
    }
  }
  return std::max(0, total - known);
}

json SessionForm::to_record_json(const Vocabulary& vocabulary) const {
  json out = json::object();
  if (!editing_id.empty()) out["id"] = editing_id;
  out["type"] = type;
  put_text(out, "date", date_for_store(date));
  if (duree > 0) out["duree"] = duree;
  put_text(out, "type_lieu", type_lieu);
  if (type_lieu == "lieu_activite") {
    put_text(out, "lieu_id", lieu_id);
  } else {
    put_text(out, "lieu_commune", lieu_commune);
    put_text(out, "lieu_code_postal", lieu_code_postal);
    put_text(out, "lieu_code_insee", lieu_code_insee);
  }
  out["materiel"] = ordered_codes(materiel, vocabulary, "materiel");
  json themes = ordered_codes(thematiques, vocabulary, "thematiques");
  if (administrative()) {
    for (const auto& code : ordered_codes(thematiques, vocabulary, "thematiques_administratives")) {
      themes.push_back(code);
    }
  }
  out["thematiques"] = std::move(themes);
  out["tags"] = split_tags(tags);
  put_text(out, "notes", notes);

  if (is_workshop()) {
    put_text(out, "titre_atelier", titre_atelier);
    put_text(out, "niveau", niveau);
    json participants{{"total", total}, {"deja_accompagnes", deja_accompagnes}};
    for (const auto group : Participants::kGroups) {
      json group_counts = json::object();
      if (const auto it = counts.find(std::string(group)); it != counts.end()) {
        for (const auto& [code, count] : it->second) {
          if (count != 0 && code != kNotCommunicated) group_counts[code] = count;
        }
      }
      participants[std::string(group)] = std::move(group_counts);
    }
    out["participants"] = std::move(participants);
  } else {
    put_text(out, "autonomie", autonomie);
    out["oriente_vers_structure"] = oriente_vers_structure;
    if (oriente_vers_structure) put_text(out, "structure_de_redirection", structure_de_redirection);
    if (administrative()) put_text(out, "precisions_demarche", precisions_demarche);
    json person{{"genre", genre}, {"tranche_age", tranche_age}, {"statut_social", statut_social}};
    put_text(person, "commune", commune);
    put_text(person, "commune_code_postal", commune_code_postal);
    put_text(person, "commune_code_insee", commune_code_insee);
    out["beneficiaire"] = std::move(person);
  }
  return out;
}

json SessionForm::to_draft() const {
  json counts_json = json::object();
  for (const auto& [group, codes] : counts) counts_json[group] = codes;
  return {{"editing_id", editing_id},
          {"type", type},
          {"date", date},
          {"duree", duree},
          {"type_lieu", type_lieu},
          {"lieu_id", lieu_id},
          {"lieu_commune", lieu_commune},
          {"lieu_code_postal", lieu_code_postal},
          {"lieu_code_insee", lieu_code_insee},
          {"materiel", materiel},
          {"thematiques", thematiques},
          {"tags", tags},
          {"notes", notes},
          {"autonomie", autonomie},
          {"oriente_vers_structure", oriente_vers_structure},
          {"structure_de_redirection", structure_de_redirection},
          {"precisions_demarche", precisions_demarche},
          {"genre", genre},
          {"tranche_age", tranche_age},
          {"statut_social", statut_social},
          {"commune", commune},
          {"commune_code_postal", commune_code_postal},
          {"commune_code_insee", commune_code_insee},
          {"titre_atelier", titre_atelier},
          {"niveau", niveau},
          {"total", total},
          {"deja_accompagnes", deja_accompagnes},
          {"counts", counts_json}};
}

SessionForm SessionForm::from_draft(const json& draft) {
  SessionForm form;
  if (!draft.is_object()) return form;
  form.editing_id = text_of(draft, "editing_id");
  form.type = text_of(draft, "type") == "collectif" ? "collectif" : "individuel";
  form.date = text_of(draft, "date");
  form.duree = int_of(draft, "duree");
  form.type_lieu = text_of(draft, "type_lieu");
  form.lieu_id = text_of(draft, "lieu_id");
  form.lieu_commune = text_of(draft, "lieu_commune");
  form.lieu_code_postal = text_of(draft, "lieu_code_postal");
  form.lieu_code_insee = text_of(draft, "lieu_code_insee");
  form.materiel = set_of(draft, "materiel");
  form.thematiques = set_of(draft, "thematiques");
  form.tags = text_of(draft, "tags");
  form.notes = text_of(draft, "notes");
  form.autonomie = text_of(draft, "autonomie");
  form.oriente_vers_structure = bool_of(draft, "oriente_vers_structure");
  form.structure_de_redirection = text_of(draft, "structure_de_redirection");
  form.precisions_demarche = text_of(draft, "precisions_demarche");
  form.genre = text_of(draft, "genre");
  form.tranche_age = text_of(draft, "tranche_age");
  form.statut_social = text_of(draft, "statut_social");
  form.commune = text_of(draft, "commune");
  form.commune_code_postal = text_of(draft, "commune_code_postal");
  form.commune_code_insee = text_of(draft, "commune_code_insee");
  form.titre_atelier = text_of(draft, "titre_atelier");
  form.niveau = text_of(draft, "niveau");
  form.total = int_of(draft, "total");
  form.deja_accompagnes = int_of(draft, "deja_accompagnes");
  if (const auto it = draft.find("counts"); it != draft.end() && it->is_object()) {
    for (const auto& [group, codes] : it->items()) {
      if (!codes.is_object()) continue;
      for (const auto& [code, count] : codes.items()) {
        if (count.is_number_integer()) form.counts[group][code] = count.get<int>();
      }
    }
  }
  if (form.genre.empty()) form.genre = kNotCommunicated;
  if (form.tranche_age.empty()) form.tranche_age = kNotCommunicated;
  if (form.statut_social.empty()) form.statut_social = kNotCommunicated;
  if (form.type_lieu.empty()) form.type_lieu = "lieu_activite";
  return form;
}

SessionForm SessionForm::from_record(const json& record) {
  SessionForm form = from_draft(record);  // the same field names, where they exist
  form.editing_id = text_of(record, "id");
  form.date = date_for_display(form.date);
  if (const auto it = record.find("tags"); it != record.end() && it->is_array()) {
    std::string joined;
    for (const auto& tag : *it) {
      if (!tag.is_string()) continue;
      if (!joined.empty()) joined += ", ";
      joined += tag.get<std::string>();
    }
    form.tags = joined;
  }
  if (const auto it = record.find("beneficiaire"); it != record.end() && it->is_object()) {
    form.genre = text_of(*it, "genre");
    form.tranche_age = text_of(*it, "tranche_age");
    form.statut_social = text_of(*it, "statut_social");
    form.commune = text_of(*it, "commune");
    form.commune_code_postal = text_of(*it, "commune_code_postal");
    form.commune_code_insee = text_of(*it, "commune_code_insee");
    if (form.genre.empty()) form.genre = kNotCommunicated;
    if (form.tranche_age.empty()) form.tranche_age = kNotCommunicated;
    if (form.statut_social.empty()) form.statut_social = kNotCommunicated;
  }
  if (const auto it = record.find("participants"); it != record.end() && it->is_object()) {
    form.total = int_of(*it, "total");
    form.deja_accompagnes = int_of(*it, "deja_accompagnes");
    form.counts.clear();
    for (const auto group : Participants::kGroups) {
      const auto counts = it->find(std::string(group));
      if (counts == it->end() || !counts->is_object()) continue;
      for (const auto& [code, count] : counts->items()) {
        if (count.is_number_integer() && code != kNotCommunicated) {
          form.counts[std::string(group)][code] = count.get<int>();
        }
      }
    }
  }
  return form;
}

void SessionForm::prepare_next() {
  SessionForm next;
  next.type = type;
  next.date = date;
  next.duree = duree;
  next.type_lieu = type_lieu;
  next.lieu_id = lieu_id;
  next.lieu_commune = lieu_commune;
  next.lieu_code_postal = lieu_code_postal;
  next.lieu_code_insee = lieu_code_insee;
  if (is_workshop()) next.niveau = niveau;
  *this = std::move(next);
}

// ---------------------------------------------------------------------------------------------

json LotForm::to_record_json() const {
  json out{{"kind", "lot"}};
  if (!editing_id.empty()) out["id"] = editing_id;
  put_text(out, "date", date_for_store(date));
  put_text(out, "type_donateur", type_donateur);
  put_text(out, "nom_donateur", nom_donateur);
  put_text(out, "lieu_id", lieu_id);
  put_text(out, "notes", notes);
  return out;
}

json LotForm::to_draft() const {
  return {{"editing_id", editing_id}, {"date", date},       {"type_donateur", type_donateur},
          {"nom_donateur", nom_donateur}, {"lieu_id", lieu_id}, {"notes", notes}};
}

LotForm LotForm::from_draft(const json& draft) {
  LotForm form;
  if (!draft.is_object()) return form;
  form.editing_id = text_of(draft, "editing_id");
  form.date = text_of(draft, "date");
  form.type_donateur = text_of(draft, "type_donateur");
  form.nom_donateur = text_of(draft, "nom_donateur");
  form.lieu_id = text_of(draft, "lieu_id");
  form.notes = text_of(draft, "notes");
  return form;
}

LotForm LotForm::from_record(const json& record) {
  LotForm form = from_draft(record);
  form.editing_id = text_of(record, "id");
  form.date = date_for_display(form.date);
  return form;
}

json DeviceForm::to_record_json(const std::string& lot_id, std::optional<Problem>& weight_problem) const {
  json out{{"kind", "device"}, {"lot_id", lot_id}};
  put_text(out, "type", type);
  put_text(out, "marque", marque);
  put_text(out, "modele", modele);
  put_text(out, "numero_serie", numero_serie);
  put_text(out, "etat", etat);
  weight_problem.reset();
  if (!trimmed(poids_kg).empty()) {
    if (const auto weight = parse_decimal(poids_kg)) {
      out["poids_kg"] = *weight;
    } else {
      weight_problem = Problem{"poids_kg", "expected_number", {}};
    }
  }
  if (demarre != 0) out["demarre"] = demarre == 1;
  put_text(out, "notes", notes);
  return out;
}

json DeviceForm::to_draft() const {
  return {{"type", type},   {"marque", marque},   {"modele", modele}, {"numero_serie", numero_serie},
          {"etat", etat},   {"poids_kg", poids_kg}, {"demarre", demarre}, {"notes", notes}};
}

DeviceForm DeviceForm::from_draft(const json& draft) {
  DeviceForm form;
  if (!draft.is_object()) return form;
  form.type = text_of(draft, "type");
  form.marque = text_of(draft, "marque");
  form.modele = text_of(draft, "modele");
  form.numero_serie = text_of(draft, "numero_serie");
  form.etat = text_of(draft, "etat");
  form.poids_kg = text_of(draft, "poids_kg");
  form.demarre = std::clamp(int_of(draft, "demarre"), 0, 2);
  form.notes = text_of(draft, "notes");
  if (form.type.empty()) form.type = "ordinateur_portable";
  return form;
}

void DeviceForm::prepare_next() {
  DeviceForm next;
  next.type = type;
  next.marque = marque;
  next.etat = etat;
  *this = std::move(next);
}

json EventForm::to_record_json(const std::string& device_id) const {
  json out{{"kind", "event"}, {"device_id", device_id}};
  put_text(out, "type", type);
  put_text(out, "date", date_for_store(date));
  put_text(out, "auteur", auteur);
  if (type == "efface") {
    put_text(out, "methode", methode);
    put_text(out, "outil", outil);
    put_text(out, "resultat", resultat);
    put_text(out, "certificat", certificat);
  }
  if (type == "remis") {
    put_text(out, "code_beneficiaire", code_beneficiaire);
    out["vente_solidaire"] = vente_solidaire;
  }
  put_text(out, "notes", notes);
  return out;
}

json EventForm::to_draft() const {
  return {{"type", type},     {"date", date},     {"auteur", auteur},         {"methode", methode},
          {"outil", outil},   {"resultat", resultat}, {"certificat", certificat},
          {"code_beneficiaire", code_beneficiaire}, {"vente_solidaire", vente_solidaire}, {"notes", notes}};
}

EventForm EventForm::from_draft(const json& draft) {
  EventForm form;
  if (!draft.is_object()) return form;
  form.type = text_of(draft, "type");
  form.date = text_of(draft, "date");
  form.auteur = text_of(draft, "auteur");
  form.methode = text_of(draft, "methode");
  form.outil = text_of(draft, "outil");
  form.resultat = text_of(draft, "resultat");
  form.certificat = text_of(draft, "certificat");
  form.code_beneficiaire = text_of(draft, "code_beneficiaire");
  form.vente_solidaire = bool_of(draft, "vente_solidaire");
  form.notes = text_of(draft, "notes");
  if (form.type.empty()) form.type = "teste";
  return form;
}

// ---------------------------------------------------------------------------------------------

std::optional<double> parse_decimal(const std::string& text) {
  std::string normalized = trimmed(text);
  std::replace(normalized.begin(), normalized.end(), ',', '.');
  if (normalized.empty()) return std::nullopt;
  double value = 0;
  const auto* end = normalized.data() + normalized.size();
  const auto [ptr, error] = std::from_chars(normalized.data(), end, value);
  if (error != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto end = comma == std::string::npos ? text.size() : comma;
    auto tag = trimmed(text.substr(start, end - start));
    if (!tag.empty() && std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(std::move(tag));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace relais::app
