#include "relais/session_export.hpp"

#include "relais/csv.hpp"
#include "relais/text.hpp"
#include "relais/vocabulary.hpp"

namespace relais {

std::vector<std::string> activity_export_header(bool with_mediateur) {
  std::vector<std::string> header{"Date", "Enregistré le", "Dernière modification le"};
  if (with_mediateur) header.emplace_back("Médiateur");
  for (const char* column :
       {"Type", "Participants", "Canaux d’accompagnement", "Nom du lieu", "Adresse", "Commune", "Code postal",
        "Code Insee", "Durée (min)", "Nom de l’atelier", "Matériel numérique utilisé",
        "Thématique(s) d’accompagnement", "Tags", "Nom de la démarche administrative",
        "Niveau d’autonomie (ou de l’atelier)", "Bénéficiaire réorienté", "Structure de redirection", "Commune",
        "Code postal", "Code Insee", "Genre", "Tranche d’âge", "Statut du bénéficiaire", "Notes supplémentaires",
        "ID CRA"}) {
    header.emplace_back(column);
  }
  return header;
}

std::vector<std::string> activity_export_row(const ExportedSession& row, const Vocabulary& vocabulary,
                                             bool with_mediateur) {
  const auto date = parse_date(row.session.date);
  std::vector<std::string> cells{date ? format_date_french(*date) : row.session.date,
                                 format_timestamp_local_french(row.created_unix_ms),
                                 format_timestamp_local_french(row.updated_unix_ms)};
  append_activity_export_columns(row, vocabulary, with_mediateur, cells);
  return cells;
}

void append_activity_export_columns(const ExportedSession& row, const Vocabulary& vocabulary, bool with_mediateur,
                                    std::vector<std::string>& cells) {
  const auto& s = row.session;
  const auto label = [&](const char* set, const std::string& code) { return vocabulary.label(set, code, Lang::fr); };
  const auto labels = [&](const char* set, const std::vector<std::string>& codes) {
    std::vector<std::string> out;
    for (const auto& code : codes) out.push_back(label(set, code));
    return join(out, "\n");  // multi-valued cells hold one value per line
  };
  const auto opt = [](const std::optional<std::string>& value) { return value.value_or(""); };

  std::vector<std::string> themes;
  for (const auto& code : s.thematiques) {
    themes.push_back(vocabulary.contains("thematiques", code) ? label("thematiques", code)
                                                              : label("thematiques_administratives", code));
  }

  std::string place_name, address, commune, postal, insee;
  if (row.place) {
    place_name = row.place->nom;
    address = opt(row.place->adresse);
    commune = row.place->commune;
    postal = row.place->code_postal;
    insee = opt(row.place->code_insee);
  } else {
    commune = opt(s.lieu_commune);
    postal = opt(s.lieu_code_postal);
    insee = opt(s.lieu_code_insee);
  }

  if (with_mediateur) cells.push_back(neutralize_formula(row.mediateur));

  std::string level;
  if (s.is_workshop()) {
    level = s.niveau ? label("niveau", *s.niveau) : "";
  } else {
    level = s.autonomie ? label("autonomie", *s.autonomie) : "";
  }
  std::string redirected;
  if (!s.is_workshop() && s.oriente_vers_structure) redirected = *s.oriente_vers_structure ? "Oui" : "Non";

  const auto* person = s.beneficiaire ? &*s.beneficiaire : nullptr;
  // One push_back per column: the strings move in (an initializer list would copy each one).
  const auto add = [&](std::string text) { cells.push_back(std::move(text)); };
  add(label("type", s.type));
  add(std::to_string(s.people_count()));
  add(label("type_lieu", s.type_lieu));
  add(neutralize_formula(place_name));
  add(neutralize_formula(address));
  add(neutralize_formula(commune));
  add(std::move(postal));
  add(std::move(insee));
  add(s.duree ? std::to_string(*s.duree) : "");
  add(neutralize_formula(opt(s.titre_atelier)));
  add(labels("materiel", s.materiel));
  add(join(themes, "\n"));
  add(neutralize_formula(join(s.tags, "\n")));
  add(neutralize_formula(opt(s.precisions_demarche)));
  add(std::move(level));
  add(std::move(redirected));
  add(s.structure_de_redirection ? label("structure_de_redirection", *s.structure_de_redirection) : "");
  add(person ? neutralize_formula(opt(person->commune)) : "");
  add(person ? opt(person->commune_code_postal) : "");
  add(person ? opt(person->commune_code_insee) : "");
  add(person ? label("genre", person->genre) : "");
  add(person ? label("tranche_age", person->tranche_age) : "");
  add(person ? label("statut_social", person->statut_social) : "");
  add(neutralize_formula(opt(s.notes)));
  add(s.id);
}

}  // namespace relais
