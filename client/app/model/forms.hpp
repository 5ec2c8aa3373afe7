#pragma once
// The desktop app's forms as plain data, with no UI code: what the advisor has typed so far,
// turned into the record JSON the store validates, kept as a draft, and reset for the next
// person. The ImGui screens bind their widgets to these fields.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/i18n.hpp"
#include "relais/problem.hpp"

namespace relais {
class Vocabulary;
}

namespace relais::app {

// Inline validation messages of a form, by field path ("duree", "beneficiaire.genre"...).
// Screens show each message next to its field and mark it as shown; whatever is left
// (a field the screen has no widget for) is listed above the Save button.
class FormMessages {
 public:
  void set(const Problems& problems, const Translator& translator, Lang lang);
  void clear() { messages_.clear(); shown_.clear(); }
  bool empty() const { return messages_.empty(); }
  std::size_t size() const { return messages_.size(); }
  // The messages of `field` and of the fields under it ("participants" covers
  // "participants.genre.feminin"); marks them as shown.
  std::vector<std::string> take(const std::string& field) const;
  // Messages not taken since the last reset_shown(), as "field : message".
  std::vector<std::string> not_shown(Lang lang) const;
  void reset_shown() const { shown_.clear(); }

 private:
  std::multimap<std::string, std::string> messages_;
  mutable std::set<std::string> shown_;
};

inline constexpr int kDurationPresets[] = {15, 30, 45, 60, 90, 120};

// One help session: an individual one (Nouvel accompagnement) or a workshop (Atelier collectif).
struct SessionForm {
  std::string editing_id;  // the session being edited, empty for a new one
  std::string type = "individuel";
  std::string date;
  int duree = 0;  // minutes; 0 until chosen
  std::string type_lieu = "lieu_activite";
  std::string lieu_id;
  std::string lieu_commune;
  std::string lieu_code_postal;
  std::string lieu_code_insee;
  std::set<std::string> materiel;
  std::set<std::string> thematiques;  // digital-mediation and administrative themes together
  std::string tags;                   // comma-separated
  std::string notes;
  // Individual sessions.
  std::string autonomie;
  bool oriente_vers_structure = false;
  std::string structure_de_redirection;
  std::string precisions_demarche;
  std::string genre{"non_communique"};
  std::string tranche_age{"non_communique"};
  std::string statut_social{"non_communique"};
  std::string commune;
  std::string commune_code_postal;
  std::string commune_code_insee;
  // Workshops.
  std::string titre_atelier;
  std::string niveau;
  int total = 0;
  int deja_accompagnes = 0;
  std::map<std::string, std::map<std::string, int>> counts;  // group -> code -> count

  bool is_workshop() const { return type == "collectif"; }
  bool administrative() const;
  // What is left for "non communiqué" in a group of a workshop's counts (never below 0).
  int non_communique(const std::string& group) const;

  // The record for the store. Administrative themes and details are left out when
  // "Aide aux démarches administratives" is not ticked, so unticking it never leaves
  // hidden values behind. Lists follow the vocabulary's order.
  nlohmann::json to_record_json(const Vocabulary& vocabulary) const;
  // The form as it was typed, for the crash-safe draft.
  nlohmann::json to_draft() const;
  static SessionForm from_draft(const nlohmann::json& draft);
  // A stored session, to edit it.
  static SessionForm from_record(const nlohmann::json& record);
  // Ready for the next person: keeps the type, date, place and duration, clears the rest.
  void prepare_next();
};

// A lot of collected equipment, the device being added to it, and the event being recorded.
struct LotForm {
  std::string editing_id;
  std::string date;
  std::string type_donateur{"particulier"};
  std::string nom_donateur;
  std::string lieu_id;
  std::string notes;

  nlohmann::json to_record_json() const;
  nlohmann::json to_draft() const;
  static LotForm from_draft(const nlohmann::json& draft);
  static LotForm from_record(const nlohmann::json& record);
};

struct DeviceForm {
  std::string type{"ordinateur_portable"};
  std::string marque;
  std::string modele;
  std::string numero_serie;
  std::string etat;
  std::string poids_kg;  // text as typed ("1,6" is accepted); empty: the type's default weight
  int demarre = 0;        // 0 unknown, 1 yes, 2 no
  std::string notes;

  // The device for the store; `weight_problem` is set when the weight is not a number.
  nlohmann::json to_record_json(const std::string& lot_id, std::optional<Problem>& weight_problem) const;
  nlohmann::json to_draft() const;
  static DeviceForm from_draft(const nlohmann::json& draft);
  // Ready for the next device of the same lot: keeps the type, brand and grade.
  void prepare_next();
};

struct EventForm {
  std::string type{"teste"};
  std::string date;
  std::string auteur;
  std::string methode{"purge"};
  std::string outil;
  std::string resultat{"reussi"};
  std::string certificat;
  std::string code_beneficiaire;
  bool vente_solidaire = false;
  std::string notes;

  nlohmann::json to_record_json(const std::string& device_id) const;
  nlohmann::json to_draft() const;
  static EventForm from_draft(const nlohmann::json& draft);
};

// "22/11/2026" (as the forms show dates) -> "2026-11-22" (as the store keeps them); other text
// is passed on unchanged for the model to judge.
std::string date_for_store(const std::string& typed);
std::string date_for_display(const std::string& stored);
// Parses a weight typed with a comma or a dot ("1,6", "0.8"); nothing when it is not a number.
std::optional<double> parse_decimal(const std::string& text);
// "a, b,, c " -> ["a", "b", "c"]
std::vector<std::string> split_tags(const std::string& text);

}  // namespace relais::app
