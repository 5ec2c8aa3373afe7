#include "relais/records.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <set>

#include "relais/json_reader.hpp"
#include "relais/text.hpp"
#include "relais/uuid.hpp"
#include "relais/vocabulary.hpp"

namespace relais {

using nlohmann::json;

// [SECTION] Kinds and shared formats ------------------------------------------------------------

namespace {

constexpr std::array<std::pair<RecordKind, std::string_view>, 7> kKindNames{{
    {RecordKind::session, "session"},
    {RecordKind::lot, "lot"},
    {RecordKind::device, "device"},
    {RecordKind::device_event, "event"},
    {RecordKind::place, "place"},
    {RecordKind::structure, "structure"},
    {RecordKind::advisor, "advisor"},
}};

constexpr std::array<std::string_view, 8> kMetadataKeys{
    "kind", "created_at", "updated_at", "deleted_at", "mediateur_id", "version", "origin_device", "sync_state"};

// Text lengths (in characters) beyond which a field is refused.
constexpr std::size_t kShortText = 200;
constexpr std::size_t kNotesLength = 2000;

// Adds non-negative counts from the input without overflowing (absurd counts stay absurd).
std::int64_t add_count(std::int64_t sum, std::int64_t count) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  return count > kMax - sum ? kMax : sum + count;
}

}  // namespace

std::string_view to_string(RecordKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "unknown";
}

std::optional<RecordKind> parse_record_kind(std::string_view text) {
  for (const auto& [value, name] : kKindNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool is_metadata_key(std::string_view key) {
  return std::find(kMetadataKeys.begin(), kMetadataKeys.end(), key) != kMetadataKeys.end();
}

bool is_code_insee(std::string_view text) {
  if (text.size() != 5) return false;
  const bool corsica = text[0] == '2' && (text[1] == 'A' || text[1] == 'B');
  for (std::size_t i = 0; i < 5; ++i) {
    if (corsica && i == 1) continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

bool is_code_postal(std::string_view text) {
  return text.size() == 5 && std::all_of(text.begin(), text.end(), [](char ch) {
           return std::isdigit(static_cast<unsigned char>(ch));
         });
}

bool is_luhn_valid(std::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!std::isdigit(static_cast<unsigned char>(*it))) return false;
    int digit = *it - '0';
    if (double_it) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double_it = !double_it;
  }
  return !digits.empty() && sum % 10 == 0;
}

namespace {

// Small helpers that add one problem each; they keep the rules below one line per rule.
class Checker {
 public:
  Checker(const ValidationContext& context, Problems& problems) : context_(context), problems_(problems) {}

  void add(std::string field, std::string reason, std::vector<std::pair<std::string, std::string>> args = {}) {
    problems_.push_back({std::move(field), std::move(reason), std::move(args)});
  }

  bool required(const std::string& field, bool present) {
    if (!present) add(field, "required");
    return present;
  }

  void code(const std::string& field, const std::string& value, std::string_view set) {
    if (!context_.vocabulary.contains(set, value)) {
      add(field, "unknown_code", {{"value", value}, {"allowed", context_.vocabulary.code_list(set)}});
    }
  }

  void optional_code(const std::string& field, const std::optional<std::string>& value, std::string_view set) {
    if (value) code(field, *value, set);
  }

  void code_list(const std::string& field, const std::vector<std::string>& values, std::string_view set) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto item_field = field + "[" + std::to_string(i) + "]";
      if (!seen.insert(values[i]).second) add(item_field, "duplicate_value", {{"value", values[i]}});
      code(item_field, values[i], set);
    }
  }

  // A date that exists and is not after today.
  void past_date(const std::string& field, const std::string& value) {
    if (!required(field, !value.empty())) return;
    const auto date = parse_date(value);
    if (!date) {
      add(field, "invalid_date", {{"value", value}});
    } else if (*date > context_.today) {
      add(field, "future_date", {{"value", value}});
    }
  }

  void insee(const std::string& field, const std::optional<std::string>& value) {
    if (value && !is_code_insee(*value)) add(field, "invalid_insee", {{"value", *value}});
  }

  void postal(const std::string& field, const std::optional<std::string>& value) {
    if (value && !is_code_postal(*value)) add(field, "invalid_postal_code", {{"value", *value}});
  }

  void reference(const std::string& field, const std::optional<std::string>& value) {
    if (value && !is_uuid(*value)) add(field, "invalid_uuid", {{"value", *value}});
  }

  void id(const std::string& value) {
    if (!value.empty() && !is_uuid(value)) add("id", "invalid_uuid", {{"value", value}});
  }

  void range(const std::string& field, std::int64_t value, std::int64_t min, std::int64_t max) {
    if (value < min || value > max) {
      add(field, "out_of_range", {{"min", std::to_string(min)}, {"max", std::to_string(max)}, {"value", std::to_string(value)}});
    }
  }

  void free_text_without_contact(const std::string& field, const std::optional<std::string>& value) {
    if (value && (contains_email_address(*value) || contains_phone_number(*value))) add(field, "contact_details");
  }

  const ValidationContext& context() const { return context_; }

 private:
  const ValidationContext& context_;
  Problems& problems_;
};

void put(json& out, const char* key, const std::optional<std::string>& value) {
  if (value) out[key] = *value;
}

void put(json& out, const char* key, const std::optional<double>& value) {
  if (value) out[key] = *value;
}

void put(json& out, const char* key, const std::optional<bool>& value) {
  if (value) out[key] = *value;
}

void put_id(json& out, const std::string& id) {
  if (!id.empty()) out["id"] = id;
}

// Reads the fields every record shares and ignores the store's metadata keys. The "kind" key,
// when present, must name the expected kind.
std::string read_id_and_metadata(ObjectReader& reader, RecordKind kind, Problems& problems) {
  for (const auto key : kMetadataKeys) {
    if (key != "kind") reader.ignore(key);
  }
  if (const auto kind_text = reader.text("kind"); kind_text && *kind_text != to_string(kind)) {
    problems.push_back({"kind", "wrong_kind", {{"value", *kind_text}, {"expected", std::string(to_string(kind))}}});
  }
  return reader.text("id", 36).value_or(std::string{});
}

}  // namespace

// [SECTION] Sessions ------------------------------------------------------------------------------

const std::map<std::string, std::int64_t>& Participants::group(std::string_view name) const {
  if (name == "genre") return genre;
  if (name == "tranche_age") return tranche_age;
  return statut_social;
}

std::map<std::string, std::int64_t>& Participants::group(std::string_view name) {
  return const_cast<std::map<std::string, std::int64_t>&>(std::as_const(*this).group(name));
}

std::int64_t Participants::non_communique(std::string_view group_name) const {
  std::int64_t known = 0;
  for (const auto& [code, count] : group(group_name)) {
    if (code != kNotCommunicated && count > 0) known = add_count(known, count);
  }
  return known >= total ? 0 : total - known;
}

std::int64_t Session::people_count() const {
  if (is_workshop()) return participants ? participants->total : 0;
  return 1;
}

namespace {

Beneficiaire decode_beneficiaire(const json& input, Problems& problems) {
  Problems local;
  ObjectReader reader(input, local);
  Beneficiaire out;
  if (auto v = reader.text("genre", 40)) out.genre = *v;
  if (auto v = reader.text("tranche_age", 40)) out.tranche_age = *v;
  if (auto v = reader.text("statut_social", 40)) out.statut_social = *v;
  out.commune = reader.text("commune", kShortText);
  out.commune_code_postal = reader.text("commune_code_postal", 10);
  out.commune_code_insee = reader.text("commune_code_insee", 10);
  reader.finish();
  prefix_fields(local, "beneficiaire");
  problems.insert(problems.end(), local.begin(), local.end());
  return out;
}

Participants decode_participants(const json& input, Problems& problems) {
  Problems local;
  ObjectReader reader(input, local);
  Participants out;
  if (!reader.has("total")) local.push_back({"total", "required", {}});
  out.total = reader.integer("total").value_or(0);
  out.deja_accompagnes = reader.integer("deja_accompagnes").value_or(0);
  for (const auto group : Participants::kGroups) {
    const auto* counts = reader.object(group);
    if (counts == nullptr) continue;
    for (const auto& [code, value] : counts->items()) {
      if (!value.is_number_integer()) {
        local.push_back({std::string(group) + "." + code, "expected_integer", {}});
        continue;
      }
      out.group(group)[code] = value.get<std::int64_t>();
    }
  }
  // The counts list known categories only (see Participants). An explicit "non_communique" equal
  // to what remains of the total adds nothing (to_json writes exactly that), so it is dropped and
  // a session decodes the same from its own JSON; one that does not match is kept for
  // validation to report (counts_must_equal_total).
  for (const auto group : Participants::kGroups) {
    auto& counts = out.group(group);
    const auto unknown = counts.find(std::string(kNotCommunicated));
    if (unknown != counts.end() && unknown->second == out.non_communique(group)) counts.erase(unknown);
  }
  reader.finish();
  prefix_fields(local, "participants");
  problems.insert(problems.end(), local.begin(), local.end());
  return out;
}

json participants_to_json(const Participants& participants) {
  json out{{"total", participants.total}, {"deja_accompagnes", participants.deja_accompagnes}};
  for (const auto group : Participants::kGroups) {
    json counts = json::object();
    for (const auto& [code, count] : participants.group(group)) {
      if (code != kNotCommunicated) counts[code] = count;
    }
    counts[std::string(kNotCommunicated)] = participants.non_communique(group);
    out[std::string(group)] = std::move(counts);
  }
  return out;
}

void validate_participants(const Participants& participants, Checker& check) {
  check.range("participants.total", participants.total, 1, 10000);
  check.range("participants.deja_accompagnes", participants.deja_accompagnes, 0, 10000);
  // Without a usable total (missing, mistyped or out of range, which is reported above or by
  // decoding), comparing the other counts with it would only add misleading problems.
  const bool total_ok = participants.total >= 1 && participants.total <= 10000;
  if (total_ok && participants.deja_accompagnes > participants.total) {
    check.add("participants.deja_accompagnes", "exceeds_total",
              {{"value", std::to_string(participants.deja_accompagnes)}, {"total", std::to_string(participants.total)}});
  }
  for (const auto group : Participants::kGroups) {
    const auto& counts = participants.group(group);
    std::int64_t sum = 0;
    bool has_explicit_unknown = false;
    for (const auto& [code, count] : counts) {
      const auto field = "participants." + std::string(group) + "." + code;
      check.code(field, code, group);
      if (count < 0) {
        check.range(field, count, 0, participants.total);
        continue;
      }
      sum = add_count(sum, count);
      if (code == kNotCommunicated) has_explicit_unknown = true;
    }
    const auto field = "participants." + std::string(group);
    if (!total_ok) continue;
    if (sum > participants.total) {
      check.add(field, "counts_exceed_total", {{"sum", std::to_string(sum)}, {"total", std::to_string(participants.total)}});
    } else if (has_explicit_unknown && sum != participants.total) {
      check.add(field, "counts_must_equal_total",
                {{"sum", std::to_string(sum)}, {"total", std::to_string(participants.total)}});
    }
  }
}

void validate_beneficiaire(const Beneficiaire& person, Checker& check) {
  check.code("beneficiaire.genre", person.genre, "genre");
  check.code("beneficiaire.tranche_age", person.tranche_age, "tranche_age");
  check.code("beneficiaire.statut_social", person.statut_social, "statut_social");
  check.postal("beneficiaire.commune_code_postal", person.commune_code_postal);
  check.insee("beneficiaire.commune_code_insee", person.commune_code_insee);
  const bool any_commune = person.commune || person.commune_code_postal || person.commune_code_insee;
  if (any_commune) {
    // A commune of residence is a name with its codes, as the national tool records it.
    check.required("beneficiaire.commune", person.commune.has_value());
    check.required("beneficiaire.commune_code_postal", person.commune_code_postal.has_value());
    check.required("beneficiaire.commune_code_insee", person.commune_code_insee.has_value());
  }
}

}  // namespace

Session decode_session(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Session out;
  out.id = read_id_and_metadata(reader, RecordKind::session, problems);
  out.type = reader.text("type", 40).value_or("");
  out.date = reader.text("date", 40).value_or("");
  out.duree = reader.integer("duree");
  out.type_lieu = reader.text("type_lieu", 40).value_or("");
  out.lieu_id = reader.text("lieu_id", 64);
  out.lieu_commune = reader.text("lieu_commune", kShortText);
  out.lieu_code_postal = reader.text("lieu_code_postal", 10);
  out.lieu_code_insee = reader.text("lieu_code_insee", 10);
  out.materiel = reader.text_list("materiel");
  out.thematiques = reader.text_list("thematiques");
  out.tags = reader.text_list("tags", 20, 50);
  out.notes = reader.text("notes", kNotesLength);
  out.autonomie = reader.text("autonomie", 40);
  out.oriente_vers_structure = reader.boolean("oriente_vers_structure");
  out.structure_de_redirection = reader.text("structure_de_redirection", 60);
  out.precisions_demarche = reader.text("precisions_demarche", kShortText);
  if (const auto* person = reader.object("beneficiaire")) out.beneficiaire = decode_beneficiaire(*person, problems);
  out.titre_atelier = reader.text("titre_atelier", kShortText);
  out.niveau = reader.text("niveau", 40);
  if (const auto* attendance = reader.object("participants")) {
    out.participants = decode_participants(*attendance, problems);
  }
  reader.finish();
  return out;
}

Problems validate(const Session& session, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(session.id);

  if (check.required("type", !session.type.empty())) check.code("type", session.type, "type");
  check.past_date("date", session.date);
  if (check.required("duree", session.duree.has_value())) check.range("duree", *session.duree, 1, kMaxSessionMinutes);

  // Where it took place, and what that requires.
  if (check.required("type_lieu", !session.type_lieu.empty())) {
    check.code("type_lieu", session.type_lieu, "type_lieu");
    const std::vector<std::pair<std::string, std::string>> because{{"other", "type_lieu"}, {"value", session.type_lieu}};
    if (session.type_lieu == "lieu_activite") {
      if (!session.lieu_id) check.add("lieu_id", "required_when", because);
    } else if (session.lieu_id) {
      check.add("lieu_id", "forbidden_when", because);
    }
    if (session.type_lieu == "domicile" || session.type_lieu == "autre") {
      if (!session.lieu_commune) check.add("lieu_commune", "required_when", because);
      if (!session.lieu_code_postal) check.add("lieu_code_postal", "required_when", because);
      if (!session.lieu_code_insee) check.add("lieu_code_insee", "required_when", because);
    }
  }
  check.reference("lieu_id", session.lieu_id);
  check.postal("lieu_code_postal", session.lieu_code_postal);
  check.insee("lieu_code_insee", session.lieu_code_insee);

  // Equipment used: "aucun" stands alone.
  check.code_list("materiel", session.materiel, "materiel");
  if (session.materiel.size() > 1 &&
      std::find(session.materiel.begin(), session.materiel.end(), "aucun") != session.materiel.end()) {
    check.add("materiel", "none_with_others");
  }

  // Themes: at least one; administrative themes only under "aide aux démarches administratives".
  if (session.thematiques.empty()) check.add("thematiques", "at_least_one");
  const bool administrative = std::find(session.thematiques.begin(), session.thematiques.end(),
                                        kAdministrativeTheme) != session.thematiques.end();
  std::set<std::string> seen_themes;
  for (std::size_t i = 0; i < session.thematiques.size(); ++i) {
    const auto& code = session.thematiques[i];
    const auto field = "thematiques[" + std::to_string(i) + "]";
    if (!seen_themes.insert(code).second) check.add(field, "duplicate_value", {{"value", code}});
    if (context.vocabulary.contains("thematiques", code)) continue;
    if (context.vocabulary.contains("thematiques_administratives", code)) {
      if (!administrative) check.add(field, "administrative_theme_alone", {{"value", code}});
      continue;
    }
    check.add(field, "unknown_code",
              {{"value", code},
               {"allowed", context.vocabulary.code_list("thematiques") + ", " +
                               context.vocabulary.code_list("thematiques_administratives")}});
  }
  std::set<std::string> seen_tags;
  for (std::size_t i = 0; i < session.tags.size(); ++i) {
    if (!seen_tags.insert(session.tags[i]).second) {
      check.add("tags[" + std::to_string(i) + "]", "duplicate_value", {{"value", session.tags[i]}});
    }
  }
  check.free_text_without_contact("notes", session.notes);

  // Fields that belong to one type of session only.
  const bool individual = session.type == "individuel";
  const bool workshop = session.type == "collectif";
  if (workshop) {
    for (const auto& [field, present] :
         {std::pair{"autonomie", session.autonomie.has_value()},
          std::pair{"oriente_vers_structure", session.oriente_vers_structure.has_value()},
          std::pair{"structure_de_redirection", session.structure_de_redirection.has_value()},
          std::pair{"precisions_demarche", session.precisions_demarche.has_value()},
          std::pair{"beneficiaire", session.beneficiaire.has_value()}}) {
      if (present) check.add(field, "individual_only");
    }
  }
  if (individual) {
    for (const auto& [field, present] : {std::pair{"titre_atelier", session.titre_atelier.has_value()},
                                         std::pair{"niveau", session.niveau.has_value()},
                                         std::pair{"participants", session.participants.has_value()}}) {
      if (present) check.add(field, "workshop_only");
    }
    check.optional_code("autonomie", session.autonomie, "autonomie");
    check.optional_code("structure_de_redirection", session.structure_de_redirection, "structure_de_redirection");
    if (session.oriente_vers_structure.value_or(false)) {
      if (!session.structure_de_redirection) {
        check.add("structure_de_redirection", "required_when", {{"other", "oriente_vers_structure"}, {"value", "true"}});
      }
    } else if (session.structure_de_redirection) {
      check.add("structure_de_redirection", "required_redirection_flag");
    }
    if (session.precisions_demarche && !administrative) {
      check.add("precisions_demarche", "needs_administrative_theme");
    }
    if (session.beneficiaire) validate_beneficiaire(*session.beneficiaire, check);
  }
  if (workshop) {
    check.optional_code("niveau", session.niveau, "niveau");
    if (!session.participants) {
      check.add("participants", "required_when", {{"other", "type"}, {"value", "collectif"}});
    } else {
      validate_participants(*session.participants, check);
    }
  }
  return problems;
}

json to_json(const Session& session) {
  json out = json::object();
  put_id(out, session.id);
  out["type"] = session.type;
  out["date"] = session.date;
  if (session.duree) out["duree"] = *session.duree;
  out["type_lieu"] = session.type_lieu;
  put(out, "lieu_id", session.lieu_id);
  put(out, "lieu_commune", session.lieu_commune);
  put(out, "lieu_code_postal", session.lieu_code_postal);
  put(out, "lieu_code_insee", session.lieu_code_insee);
  out["materiel"] = session.materiel;
  out["thematiques"] = session.thematiques;
  out["tags"] = session.tags;
  put(out, "notes", session.notes);
  put(out, "autonomie", session.autonomie);
  put(out, "oriente_vers_structure", session.oriente_vers_structure);
  put(out, "structure_de_redirection", session.structure_de_redirection);
  put(out, "precisions_demarche", session.precisions_demarche);
  if (session.beneficiaire) {
    const auto& person = *session.beneficiaire;
    json profile{{"genre", person.genre}, {"tranche_age", person.tranche_age}, {"statut_social", person.statut_social}};
    put(profile, "commune", person.commune);
    put(profile, "commune_code_postal", person.commune_code_postal);
    put(profile, "commune_code_insee", person.commune_code_insee);
    out["beneficiaire"] = std::move(profile);
  }
  put(out, "titre_atelier", session.titre_atelier);
  put(out, "niveau", session.niveau);
  if (session.participants) out["participants"] = participants_to_json(*session.participants);
  return out;
}

// [SECTION] Equipment ---------------------------------------------------------------------------

std::string serial_key(const std::optional<std::string>& numero_serie) {
  std::string key;
  if (!numero_serie) return key;
  for (char ch : *numero_serie) {
    if (ch == ' ' || ch == '-' || ch == '.' || ch == '\t') continue;
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return key;
}

bool requires_prior_erasure(std::string_view event_type) {
  return event_type == "remis" || event_type == "reconditionne";
}

std::string device_outcome(const std::vector<DeviceEvent>& events) {
  // A device handed to a person was reused, whatever else was recorded; otherwise the latest
  // of "recycled" and "dismantled for parts" (events come oldest first) decides.
  std::string outcome = "en_attente";
  for (const auto& event : events) {
    if (event.type == "remis") return "reemploi";
    if (event.type == "recycle") outcome = "recyclage";
    if (event.type == "demonte") outcome = "pieces";
  }
  return outcome;
}

Lot decode_lot(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Lot out;
  out.id = read_id_and_metadata(reader, RecordKind::lot, problems);
  out.date = reader.text("date", 40).value_or("");
  out.type_donateur = reader.text("type_donateur", 40).value_or("");
  out.nom_donateur = reader.text("nom_donateur", kShortText);
  out.lieu_id = reader.text("lieu_id", 64);
  out.notes = reader.text("notes", kNotesLength);
  reader.ignore("devices");  // nested devices are read by the caller (see docs/records.md)
  reader.finish();
  return out;
}

Device decode_device(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Device out;
  out.id = read_id_and_metadata(reader, RecordKind::device, problems);
  out.lot_id = reader.text("lot_id", 64).value_or("");
  out.type = reader.text("type", 40).value_or("");
  out.marque = reader.text("marque", 100);
  out.modele = reader.text("modele", 100);
  out.numero_serie = reader.text("numero_serie", 64);
  out.etat = reader.text("etat", 40);
  out.poids_kg = reader.number("poids_kg");
  out.poids_estime = reader.boolean("poids_estime").value_or(false);
  out.demarre = reader.boolean("demarre");
  out.notes = reader.text("notes", kNotesLength);
  reader.ignore("events");      // nested events are read by the caller
  reader.ignore("devenir");     // derived, shown by `show`
  reader.ignore("dernier_evenement");
  reader.finish();
  return out;
}

DeviceEvent decode_device_event(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  DeviceEvent out;
  out.id = read_id_and_metadata(reader, RecordKind::device_event, problems);
  out.device_id = reader.text("device_id", 64).value_or("");
  out.type = reader.text("type", 40).value_or("");
  out.date = reader.text("date", 40).value_or("");
  out.auteur = reader.text("auteur", kShortText).value_or("");
  out.methode = reader.text("methode", 40);
  out.outil = reader.text("outil", kShortText);
  out.resultat = reader.text("resultat", 40);
  out.certificat = reader.text("certificat", kShortText);
  out.code_beneficiaire = reader.text("code_beneficiaire", 32);
  out.vente_solidaire = reader.boolean("vente_solidaire");
  out.notes = reader.text("notes", kNotesLength);
  reader.finish();
  return out;
}

Problems validate(const Lot& lot, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(lot.id);
  check.past_date("date", lot.date);
  if (check.required("type_donateur", !lot.type_donateur.empty())) {
    check.code("type_donateur", lot.type_donateur, "type_donateur");
  }
  check.reference("lieu_id", lot.lieu_id);
  return problems;
}

Problems validate(const Device& device, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(device.id);
  if (check.required("lot_id", !device.lot_id.empty())) check.reference("lot_id", device.lot_id);
  if (check.required("type", !device.type.empty())) check.code("type", device.type, "type_appareil");
  check.optional_code("etat", device.etat, "etat_appareil");
  if (device.poids_kg && (*device.poids_kg <= 0.0 || *device.poids_kg > 500.0)) {
    check.add("poids_kg", "out_of_range", {{"min", "0"}, {"max", "500"}, {"value", std::to_string(*device.poids_kg)}});
  }
  if (device.numero_serie) {
    const auto key = serial_key(device.numero_serie);
    // An IMEI is 15 digits with a Luhn check digit; a typo in one is common and costly.
    const bool phone_like = device.type == "smartphone" || device.type == "telephone_basique" || device.type == "tablette";
    const bool all_digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
      return std::isdigit(static_cast<unsigned char>(ch));
    });
    if (phone_like && all_digits && key.size() == 15 && !is_luhn_valid(key)) {
      check.add("numero_serie", "invalid_imei", {{"value", *device.numero_serie}});
    }
    if (key.empty()) check.add("numero_serie", "required");
  }
  return problems;
}

void apply_default_weight(Device& device, const Vocabulary& vocabulary) {
  if (device.poids_kg || !vocabulary.contains("type_appareil", device.type)) return;
  const auto* entry = vocabulary.set("type_appareil").find(device.type);
  if (entry == nullptr || !entry->extra.contains("default_weight_kg")) return;
  device.poids_kg = entry->extra.at("default_weight_kg").get<double>();
  device.poids_estime = true;
}

Problems validate(const DeviceEvent& event, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(event.id);
  if (check.required("device_id", !event.device_id.empty())) check.reference("device_id", event.device_id);
  if (check.required("type", !event.type.empty())) check.code("type", event.type, "type_evenement");
  check.past_date("date", event.date);
  check.required("auteur", !event.auteur.empty());

  const std::vector<std::pair<std::string, std::string>> because{{"other", "type"}, {"value", event.type}};
  const bool erasure = event.type == "efface";
  const bool handover = event.type == "remis";
  if (erasure) {
    if (!event.methode) check.add("methode", "required_when", because);
    if (!event.outil) check.add("outil", "required_when", because);
    if (!event.resultat) check.add("resultat", "required_when", because);
  } else {
    for (const auto& [field, present] :
         {std::pair{"methode", event.methode.has_value()}, std::pair{"outil", event.outil.has_value()},
          std::pair{"resultat", event.resultat.has_value()}, std::pair{"certificat", event.certificat.has_value()}}) {
      if (present) check.add(field, "forbidden_when", because);
    }
  }
  check.optional_code("methode", event.methode, "methode_effacement");
  check.optional_code("resultat", event.resultat, "resultat_effacement");

  if (handover) {
    if (!event.code_beneficiaire) {
      check.add("code_beneficiaire", "required_when", because);
    }
  } else {
    if (event.code_beneficiaire) check.add("code_beneficiaire", "forbidden_when", because);
    if (event.vente_solidaire) check.add("vente_solidaire", "forbidden_when", because);
  }
  if (event.code_beneficiaire) {
    // A pseudonymous code: letters, digits and dashes, never a name with spaces or an address.
    const auto& code = *event.code_beneficiaire;
    const bool shape_ok = code.size() >= 3 && std::all_of(code.begin(), code.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
    });
    if (!shape_ok || contains_email_address(code) || contains_phone_number(code)) {
      check.add("code_beneficiaire", "invalid_pseudonymous_code", {{"value", code}});
    }
  }
  check.free_text_without_contact("notes", event.notes);
  return problems;
}

json to_json(const Lot& lot) {
  json out = json::object();
  put_id(out, lot.id);
  out["date"] = lot.date;
  out["type_donateur"] = lot.type_donateur;
  put(out, "nom_donateur", lot.nom_donateur);
  put(out, "lieu_id", lot.lieu_id);
  put(out, "notes", lot.notes);
  return out;
}

json to_json(const Device& device) {
  json out = json::object();
  put_id(out, device.id);
  out["lot_id"] = device.lot_id;
  out["type"] = device.type;
  put(out, "marque", device.marque);
  put(out, "modele", device.modele);
  put(out, "numero_serie", device.numero_serie);
  put(out, "etat", device.etat);
  put(out, "poids_kg", device.poids_kg);
  if (device.poids_estime) out["poids_estime"] = true;
  put(out, "demarre", device.demarre);
  put(out, "notes", device.notes);
  return out;
}

json to_json(const DeviceEvent& event) {
  json out = json::object();
  put_id(out, event.id);
  out["device_id"] = event.device_id;
  out["type"] = event.type;
  out["date"] = event.date;
  out["auteur"] = event.auteur;
  put(out, "methode", event.methode);
  put(out, "outil", event.outil);
  put(out, "resultat", event.resultat);
  put(out, "certificat", event.certificat);
  put(out, "code_beneficiaire", event.code_beneficiaire);
  put(out, "vente_solidaire", event.vente_solidaire);
  put(out, "notes", event.notes);
  return out;
}

// [SECTION] Reference data ----------------------------------------------------------------------

Place decode_place(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Place out;
  out.id = read_id_and_metadata(reader, RecordKind::place, problems);
  out.nom = reader.text("nom", kShortText).value_or("");
  out.pivot = reader.text("pivot", 20);
  out.adresse = reader.text("adresse", kShortText);
  out.complement_adresse = reader.text("complement_adresse", kShortText);
  out.commune = reader.text("commune", kShortText).value_or("");
  out.code_postal = reader.text("code_postal", 10).value_or("");
  out.code_insee = reader.text("code_insee", 10);
  out.latitude = reader.number("latitude");
  out.longitude = reader.number("longitude");
  out.telephone = reader.text("telephone", 40);
  out.courriels = reader.text("courriels", kShortText);
  out.site_web = reader.text("site_web", kShortText);
  out.horaires = reader.text("horaires", 500);
  out.services = reader.text_list("services", 64, 100);
  out.date_maj = reader.text("date_maj", 40);
  reader.finish();
  return out;
}

Structure decode_structure(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Structure out;
  out.id = read_id_and_metadata(reader, RecordKind::structure, problems);
  out.nom = reader.text("nom", kShortText).value_or("");
  out.pivot = reader.text("pivot", 20);
  out.commune = reader.text("commune", kShortText);
  out.code_postal = reader.text("code_postal", 10);
  out.code_insee = reader.text("code_insee", 10);
  reader.finish();
  return out;
}

Advisor decode_advisor(const json& input, Problems& problems) {
  ObjectReader reader(input, problems);
  Advisor out;
  out.id = read_id_and_metadata(reader, RecordKind::advisor, problems);
  out.nom = reader.text("nom", kShortText).value_or("");
  out.prenom = reader.text("prenom", kShortText);
  out.structure_id = reader.text("structure_id", 64).value_or("");
  out.role = reader.text("role", 40).value_or("");
  out.lieu_id = reader.text("lieu_id", 64);
  out.email = reader.text("email", kShortText);
  reader.finish();
  return out;
}

namespace {

bool is_siret_or_rna(std::string_view pivot) {
  const auto digits = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
  };
  if (pivot.size() == 14 && digits(pivot)) return true;                         // SIRET
  if (pivot.size() == 10 && pivot[0] == 'W' && digits(pivot.substr(1))) return true;  // RNA
  return false;
}

}  // namespace

Problems validate(const Place& place, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(place.id);
  check.required("nom", !place.nom.empty());
  check.required("commune", !place.commune.empty());
  if (check.required("code_postal", !place.code_postal.empty())) check.postal("code_postal", place.code_postal);
  check.insee("code_insee", place.code_insee);
  if (place.pivot && !is_siret_or_rna(*place.pivot)) check.add("pivot", "invalid_pivot", {{"value", *place.pivot}});
  if (place.latitude && (*place.latitude < -90.0 || *place.latitude > 90.0)) {
    check.add("latitude", "out_of_range", {{"min", "-90"}, {"max", "90"}, {"value", std::to_string(*place.latitude)}});
  }
  if (place.longitude && (*place.longitude < -180.0 || *place.longitude > 180.0)) {
    check.add("longitude", "out_of_range",
              {{"min", "-180"}, {"max", "180"}, {"value", std::to_string(*place.longitude)}});
  }
  if (place.date_maj && !parse_date(*place.date_maj)) check.add("date_maj", "invalid_date", {{"value", *place.date_maj}});
  return problems;
}

Problems validate(const Structure& structure, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(structure.id);
  check.required("nom", !structure.nom.empty());
  if (structure.pivot && !is_siret_or_rna(*structure.pivot)) {
    check.add("pivot", "invalid_pivot", {{"value", *structure.pivot}});
  }
  check.postal("code_postal", structure.code_postal);
  check.insee("code_insee", structure.code_insee);
  return problems;
}

Problems validate(const Advisor& advisor, const ValidationContext& context) {
  Problems problems;
  Checker check(context, problems);
  check.id(advisor.id);
  check.required("nom", !advisor.nom.empty());
  if (check.required("structure_id", !advisor.structure_id.empty())) check.reference("structure_id", advisor.structure_id);
  if (check.required("role", !advisor.role.empty())) check.code("role", advisor.role, "role");
  check.reference("lieu_id", advisor.lieu_id);
  if (advisor.email && !contains_email_address(*advisor.email)) {
    check.add("email", "invalid_email", {{"value", *advisor.email}});
  }
  return problems;
}

json to_json(const Place& place) {
  json out = json::object();
  put_id(out, place.id);
  out["nom"] = place.nom;
  put(out, "pivot", place.pivot);
  put(out, "adresse", place.adresse);
  put(out, "complement_adresse", place.complement_adresse);
  out["commune"] = place.commune;
  out["code_postal"] = place.code_postal;
  put(out, "code_insee", place.code_insee);
  put(out, "latitude", place.latitude);
  put(out, "longitude", place.longitude);
  put(out, "telephone", place.telephone);
  put(out, "courriels", place.courriels);
  put(out, "site_web", place.site_web);
  put(out, "horaires", place.horaires);
  if (!place.services.empty()) out["services"] = place.services;
  put(out, "date_maj", place.date_maj);
  return out;
}

json to_json(const Structure& structure) {
  json out = json::object();
  put_id(out, structure.id);
  out["nom"] = structure.nom;
  put(out, "pivot", structure.pivot);
  put(out, "commune", structure.commune);
  put(out, "code_postal", structure.code_postal);
  put(out, "code_insee", structure.code_insee);
  return out;
}

json to_json(const Advisor& advisor) {
  json out = json::object();
  put_id(out, advisor.id);
  out["nom"] = advisor.nom;
  put(out, "prenom", advisor.prenom);
  out["structure_id"] = advisor.structure_id;
  out["role"] = advisor.role;
  put(out, "lieu_id", advisor.lieu_id);
  put(out, "email", advisor.email);
  return out;
}

}  // namespace relais

namespace relais {

// [SECTION] Any record --------------------------------------------------------------------------

RecordKind kind_of(const AnyRecord& record) {
  return std::visit(
      [](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, Session>) return RecordKind::session;
        if constexpr (std::is_same_v<T, Lot>) return RecordKind::lot;
        if constexpr (std::is_same_v<T, Device>) return RecordKind::device;
        if constexpr (std::is_same_v<T, DeviceEvent>) return RecordKind::device_event;
        if constexpr (std::is_same_v<T, Place>) return RecordKind::place;
        if constexpr (std::is_same_v<T, Structure>) return RecordKind::structure;
        if constexpr (std::is_same_v<T, Advisor>) return RecordKind::advisor;
      },
      record);
}

const std::string& id_of(const AnyRecord& record) {
  return std::visit([](const auto& value) -> const std::string& { return value.id; }, record);
}

void set_id(AnyRecord& record, std::string id) {
  std::visit([&](auto& value) { value.id = std::move(id); }, record);
}

json to_json(const AnyRecord& record) {
  return std::visit([](const auto& value) { return to_json(value); }, record);
}

Problems validate(const AnyRecord& record, const ValidationContext& context) {
  return std::visit([&](const auto& value) { return validate(value, context); }, record);
}

CheckedRecord check_record(RecordKind kind, const json& input, const ValidationContext& context) {
  Problems decode_problems;
  AnyRecord record = [&]() -> AnyRecord {
    switch (kind) {
      case RecordKind::session: return decode_session(input, decode_problems);
      case RecordKind::lot: return decode_lot(input, decode_problems);
      case RecordKind::device: return decode_device(input, decode_problems);
      case RecordKind::device_event: return decode_device_event(input, decode_problems);
      case RecordKind::place: return decode_place(input, decode_problems);
      case RecordKind::structure: return decode_structure(input, decode_problems);
      case RecordKind::advisor: return decode_advisor(input, decode_problems);
    }
    return Session{};
  }();
  CheckedRecord checked{std::move(record), decode_problems};
  if (!input.is_object()) return checked;  // nothing more to say than "not an object"
  for (auto& problem : validate(checked.record, context)) {
    if (!has_problem_for(decode_problems, problem.field)) checked.problems.push_back(std::move(problem));
  }
  return checked;
}

}  // namespace relais
