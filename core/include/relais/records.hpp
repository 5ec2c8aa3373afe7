#pragma once
// The record model: help sessions, equipment collection (lots, devices, device events) and
// reference data (places, structures, advisors). Field names and codes follow vocabulary.md;
// docs/records.md shows the JSON of each kind.
//
// Each kind has three free functions:
//   decode_X(json, problems)  -> X     JSON types and unknown fields
//   validate(X, context)      -> Problems   every rule of the model (codes, requirements, ranges)
//   to_json(X)                -> json  the canonical JSON (what is stored, shown and sent)
// Rules that need other records (a place exists, a serial is unique, an erasure came first)
// are the store's, because only the store knows the other records.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/dates.hpp"
#include "relais/problem.hpp"

namespace relais {

class Vocabulary;

enum class RecordKind { session, lot, device, device_event, place, structure, advisor };

std::string_view to_string(RecordKind kind);  // "session", "lot", "device", "event", ...
std::optional<RecordKind> parse_record_kind(std::string_view text);

struct ValidationContext {
  const Vocabulary& vocabulary;
  Date today;  // the advisor's local date: records cannot be dated after it
};

// ---------------------------------------------------------------------------------------------
// Help sessions
// ---------------------------------------------------------------------------------------------

inline constexpr std::int64_t kMaxSessionMinutes = 23 * 60 + 59;
inline constexpr std::string_view kAdministrativeTheme = "aide_aux_demarches_administratives";
inline constexpr std::string_view kNotCommunicated = "non_communique";

// The anonymous profile of the person helped in an individual session.
struct Beneficiaire {
  std::string genre{kNotCommunicated};
  std::string tranche_age{kNotCommunicated};
  std::string statut_social{kNotCommunicated};
  std::optional<std::string> commune;
  std::optional<std::string> commune_code_postal;
  std::optional<std::string> commune_code_insee;

  bool operator==(const Beneficiaire&) const = default;
};

// Workshop attendance. Per-category counts list the known categories only; the
// "non communiqué" count of each group is what remains of the total.
struct Participants {
  std::int64_t total = 0;
  std::int64_t deja_accompagnes = 0;
  std::map<std::string, std::int64_t> genre;
  std::map<std::string, std::int64_t> tranche_age;
  std::map<std::string, std::int64_t> statut_social;

  static constexpr std::string_view kGroups[] = {"genre", "tranche_age", "statut_social"};
  const std::map<std::string, std::int64_t>& group(std::string_view name) const;
  std::map<std::string, std::int64_t>& group(std::string_view name);
  std::int64_t non_communique(std::string_view group_name) const;

  bool operator==(const Participants&) const = default;
};

struct Session {
  std::string id;
  std::string type;  // individuel | collectif
  std::string date;  // YYYY-MM-DD
  std::optional<std::int64_t> duree;  // minutes
  std::string type_lieu;
  std::optional<std::string> lieu_id;
  std::optional<std::string> lieu_commune;
  std::optional<std::string> lieu_code_postal;
  std::optional<std::string> lieu_code_insee;
  std::vector<std::string> materiel;
  std::vector<std::string> thematiques;  // digital-mediation and administrative themes
  std::vector<std::string> tags;
  std::optional<std::string> notes;
  // Individual sessions only.
  std::optional<std::string> autonomie;
  std::optional<bool> oriente_vers_structure;
  std::optional<std::string> structure_de_redirection;
  std::optional<std::string> precisions_demarche;
  std::optional<Beneficiaire> beneficiaire;
  // Workshops only.
  std::optional<std::string> titre_atelier;
  std::optional<std::string> niveau;
  std::optional<Participants> participants;

  bool is_workshop() const { return type == "collectif"; }
  // "Accompagnements": one per person per session.
  std::int64_t people_count() const;

  bool operator==(const Session&) const = default;
};

Session decode_session(const nlohmann::json& json, Problems& problems);
Problems validate(const Session& session, const ValidationContext& context);
nlohmann::json to_json(const Session& session);

// ---------------------------------------------------------------------------------------------
// Equipment collection
// ---------------------------------------------------------------------------------------------

struct Lot {
  std::string id;
  std::string date;
  std::string type_donateur;
  std::optional<std::string> nom_donateur;
  std::optional<std::string> lieu_id;
  std::optional<std::string> notes;

  bool operator==(const Lot&) const = default;
};

struct Device {
  std::string id;
  std::string lot_id;
  std::string type;  // type_appareil
  std::optional<std::string> marque;
  std::optional<std::string> modele;
  std::optional<std::string> numero_serie;  // serial number or IMEI
  std::optional<std::string> etat;          // etat_appareil grade
  std::optional<double> poids_kg;
  bool poids_estime = false;  // true when the weight is the type's default, not weighed
  std::optional<bool> demarre;  // powers on at intake
  std::optional<std::string> notes;

  bool operator==(const Device&) const = default;
};

// The key under which two devices are "the same serial": lower-case, without spaces,
// dashes or dots. Empty when the device has no serial.
std::string serial_key(const std::optional<std::string>& numero_serie);

struct DeviceEvent {
  std::string id;
  std::string device_id;
  std::string type;  // type_evenement
  std::string date;
  std::string auteur;
  // Data erasure (type "efface").
  std::optional<std::string> methode;
  std::optional<std::string> outil;
  std::optional<std::string> resultat;
  std::optional<std::string> certificat;
  // Handing over (type "remis"): the person is known only by a pseudonymous code.
  std::optional<std::string> code_beneficiaire;
  std::optional<bool> vente_solidaire;
  std::optional<std::string> notes;

  bool is_successful_erasure() const { return type == "efface" && resultat == "reussi"; }

  bool operator==(const DeviceEvent&) const = default;
};

// Event types that need a successful data erasure recorded before them (décret 2022-190).
bool requires_prior_erasure(std::string_view event_type);
// The outcome code (set "devenir") a device's events lead to.
std::string device_outcome(const std::vector<DeviceEvent>& events);

Lot decode_lot(const nlohmann::json& json, Problems& problems);
Device decode_device(const nlohmann::json& json, Problems& problems);
DeviceEvent decode_device_event(const nlohmann::json& json, Problems& problems);
Problems validate(const Lot& lot, const ValidationContext& context);
Problems validate(const Device& device, const ValidationContext& context);
// Records the device type's default weight (marked as estimated) when none was weighed.
void apply_default_weight(Device& device, const Vocabulary& vocabulary);
Problems validate(const DeviceEvent& event, const ValidationContext& context);
nlohmann::json to_json(const Lot& lot);
nlohmann::json to_json(const Device& device);
nlohmann::json to_json(const DeviceEvent& event);

// ---------------------------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------------------------

// A place of activity, with the fields of the "Lieux de médiation numérique" standard (v1.0.2).
struct Place {
  std::string id;
  std::string nom;
  std::optional<std::string> pivot;
  std::optional<std::string> adresse;
  std::optional<std::string> complement_adresse;
  std::string commune;
  std::string code_postal;
  std::optional<std::string> code_insee;
  std::optional<double> latitude;
  std::optional<double> longitude;
  std::optional<std::string> telephone;
  std::optional<std::string> courriels;
  std::optional<std::string> site_web;
  std::optional<std::string> horaires;
  std::vector<std::string> services;
  std::optional<std::string> date_maj;

  bool operator==(const Place&) const = default;
};

// A team (structure): a France Services, a library, an association...
struct Structure {
  std::string id;
  std::string nom;
  std::optional<std::string> pivot;  // SIRET (14 digits) or RNA (W + 9 digits)
  std::optional<std::string> commune;
  std::optional<std::string> code_postal;
  std::optional<std::string> code_insee;

  bool operator==(const Structure&) const = default;
};

struct Advisor {
  std::string id;
  std::string nom;
  std::optional<std::string> prenom;
  std::string structure_id;
  std::string role;  // mediateur | coordinateur | admin
  std::optional<std::string> lieu_id;  // usual place of activity
  std::optional<std::string> email;

  bool operator==(const Advisor&) const = default;
};

Place decode_place(const nlohmann::json& json, Problems& problems);
Structure decode_structure(const nlohmann::json& json, Problems& problems);
Advisor decode_advisor(const nlohmann::json& json, Problems& problems);
Problems validate(const Place& place, const ValidationContext& context);
Problems validate(const Structure& structure, const ValidationContext& context);
Problems validate(const Advisor& advisor, const ValidationContext& context);
nlohmann::json to_json(const Place& place);
nlohmann::json to_json(const Structure& structure);
nlohmann::json to_json(const Advisor& advisor);

// Field formats shared by several kinds.
bool is_code_insee(std::string_view text);   // 5 characters: digits, or 2A/2B then 3 digits
bool is_code_postal(std::string_view text);  // 5 digits
bool is_luhn_valid(std::string_view digits);  // IMEI check digit

// Metadata keys the store adds to a record's JSON (accepted and ignored on input, so that
// the output of `show` can be edited and sent back).
bool is_metadata_key(std::string_view key);

}  // namespace relais

// ---------------------------------------------------------------------------------------------
// Any record
// ---------------------------------------------------------------------------------------------
#include <variant>

namespace relais {

using AnyRecord = std::variant<Session, Lot, Device, DeviceEvent, Place, Structure, Advisor>;

RecordKind kind_of(const AnyRecord& record);
const std::string& id_of(const AnyRecord& record);
void set_id(AnyRecord& record, std::string id);
nlohmann::json to_json(const AnyRecord& record);

// Decodes then validates; a field with a type problem is not reported again by validation.
struct CheckedRecord {
  AnyRecord record;
  Problems problems;
  bool ok() const { return problems.empty(); }
};
CheckedRecord check_record(RecordKind kind, const nlohmann::json& json, const ValidationContext& context);
Problems validate(const AnyRecord& record, const ValidationContext& context);

}  // namespace relais
