#pragma once
// Indicators for coordinators and administrators (vocabulary.md, "Statistics that coordinators
// expect"; equipment and CO2e from the impact factor table), computed in SQL over a statistics
// index that both the local store and the server keep beside their records. docs/statistics.md
// explains every figure.
//
// The index has three tables (see kStatisticsSchemaSql):
//   stat_sessions  one row per live session: its day, type, minutes, people and filter columns;
//   stat_facts     one row per (session, dimension, code) with the number of people it counts;
//   stat_daily     the facts summed per (scope, day, dimension, code), kept up to date by triggers,
//                  so that a period without other filters reads a few hundred rows per day
//                  whatever the number of sessions.
// and stat_devices, one row per live collected device with its outcome and key dates.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/dates.hpp"
#include "relais/impact.hpp"
#include "relais/lang.hpp"
#include "relais/records.hpp"
#include "relais/sqlite.hpp"

namespace relais::stats {

// The statistics tables and triggers, version 1. Stores embed it in a migration (their own
// numbering), then fill the index with Index::put_* (see rebuild notes in docs/statistics.md).
extern const char* const kStatisticsSchemaSql;

// Breakdown dimensions, in the order they are shown and exported.
inline constexpr std::string_view kType = "type";                  // individuel | collectif
inline constexpr std::string_view kThematique = "thematique";      // thematiques and administrative themes
inline constexpr std::string_view kMateriel = "materiel";
inline constexpr std::string_view kCanal = "canal";                // type_lieu
inline constexpr std::string_view kDuree = "duree";                // duration bucket, see duration_bucket()
inline constexpr std::string_view kGenre = "genre";
inline constexpr std::string_view kTrancheAge = "tranche_age";
inline constexpr std::string_view kStatutSocial = "statut_social";
inline constexpr std::string_view kCommune = "commune";            // commune of residence of the people helped
inline constexpr std::string_view kLieu = "lieu";                  // lieu_id, "" when the session has none
inline constexpr std::string_view kMediateur = "mediateur";        // mediateur_id, "" before enrollment
inline constexpr std::string_view kBreakdownDimensions[] = {kType,  kThematique,   kMateriel,     kCanal,
                                                            kDuree, kGenre,        kTrancheAge,   kStatutSocial,
                                                            kCommune, kLieu,       kMediateur};

// Days since 1970-01-01: the statistics tables' `day` columns.
std::int64_t day_number(const Date& date);

// "moins_30" (< 30 min), "30_60" (30 to 59), "60_120" (60 to 119), "120_plus" (120 and more).
std::string_view duration_bucket(std::int64_t minutes);
inline constexpr std::string_view kDurationBuckets[] = {"moins_30", "30_60", "60_120", "120_plus"};

// The département of a commune: "2A"/"2B" for Corsica, 3 characters overseas (971...), else the
// first 2. From the INSEE code when known, else from the postal code; "" when neither is usable.
std::string departement_of(const std::optional<std::string>& code_insee, const std::optional<std::string>& code_postal);

// Where a session took place, for the commune and département filters: the place's commune for a
// session at a place of activity, the session's own commune otherwise.
struct Location {
  std::string commune;
  std::string code_postal;
  std::string code_insee;
};

struct SessionOwner {
  std::string mediateur_id;  // "" before the device is enrolled
  std::string structure_id;  // "" in a local store; the record's structure on the server
};

// What the index keeps of a collected device.
struct DeviceFacts {
  std::string device_id;
  std::string collected_date;  // the lot's date, YYYY-MM-DD
  std::string type;            // type_appareil
  double weight_kg = 0;        // as recorded (weighed or the type's default)
  std::string outcome;         // device_outcome(): reemploi | recyclage | pieces | en_attente
  std::optional<std::string> handed_date;  // first "remis" event
  std::optional<std::string> erased_date;  // first successful erasure
  std::string lieu_id;         // the lot's place
  SessionOwner owner;
};
DeviceFacts device_facts(const Lot& lot, const Device& device, const std::vector<DeviceEvent>& events,
                         const SessionOwner& owner);

// [SECTION] What the index holds: one rule for the local store and the server.
//
// Both stores keep the index with refresh() below; only the reading of their own tables differs
// (a RecordSource). The rule for a parent that is deleted (docs/statistics.md, "Deleted
// records"): a session or device counts while it is live, whatever became of its place or lot;
// a deleted place still gives its sessions the commune where they took place, and a deleted
// lot still gives its devices their collection date and place. Only a parent this store does
// not have changes a figure: a session at an unknown place has no commune, and a device of an
// unknown lot is left out until the lot arrives.

// A record as a store holds it: its fields (with "id"), whether it is deleted, and its owner.
struct SourceRecord {
  nlohmann::json fields;
  bool deleted = false;
  SessionOwner owner;
};

// How the index reads a store's records.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The record of this kind with this id, deleted or not; nullopt when the store has none.
  virtual std::optional<SourceRecord> find(RecordKind kind, const std::string& id) const = 0;
  // The live events of a device, by date then by creation.
  virtual std::vector<nlohmann::json> live_events(const std::string& device_id) const = 0;
  // The records whose index rows depend on this lot (its devices) or place (its sessions); any
  // superset is fine (a deleted one is forgotten again).
  virtual std::vector<std::string> dependents(RecordKind kind, const std::string& id) const = 0;
};

// The index rows of a session, a device, or none (a deleted record, a device of an unknown lot).
struct SessionEntry {
  Session session;
  SessionOwner owner;
  std::optional<Location> place;  // the place's, when the session has a place this store has
};
using IndexEntry = std::variant<std::monostate, SessionEntry, DeviceFacts>;
// `record` is of `kind` (session or device; other kinds have no rows of their own).
IndexEntry index_entry(RecordKind kind, const SourceRecord& record, const RecordSource& source);

// Writes to the index, inside the caller's transaction (the store's write of the record).
class Index {
 public:
  explicit Index(sqlite::Database& db) : db_(db) {}

  // Replaces what the index holds for this session. `location` is the place's when the session
  // is at a place of activity (nullopt when the place is unknown here).
  void put_session(const Session& session, const SessionOwner& owner, const std::optional<Location>& place);
  void put_device(const DeviceFacts& device);
  // Writes an entry: put_session, put_device, or remove(id) for none.
  void put(std::string_view record_id, const IndexEntry& entry);
  // Forgets a session or a device (deleted record); nothing happens for other ids.
  void remove(std::string_view record_id);
  // Empties every statistics table (before a rebuild).
  void clear();

 private:
  sqlite::Database& db_;
};

// Brings the index up to date after the record `id` of `kind` was written, deleted or received:
// its own rows (a session, a device), or those of the records it is part of (an event's device,
// a lot's devices, a place's sessions). Inside the caller's transaction.
void refresh(Index& index, const RecordSource& source, RecordKind kind, const std::string& id);

struct Filter {
  std::optional<Date> from;  // inclusive
  std::optional<Date> to;    // inclusive
  std::string scope;         // "" for everything in the store; a structure id on the server
  std::optional<std::string> mediateur_id;
  std::optional<std::string> lieu_id;
  std::optional<std::string> commune;      // INSEE code or name of the commune where sessions took place
  std::optional<std::string> departement;  // "75", "2A", "971"
  std::optional<std::string> type;         // individuel | collectif
  std::optional<std::string> thematique;   // sessions with this theme

  // True when only the period and scope are set: the daily sums answer it.
  bool only_period() const;
};

// [SECTION] Checking a filter: one rule for relais-cli, the app and the server.
//
// The names of a filter's fields in problems: relais-cli's options (--from, --theme...) and the
// server's query parameters (from=, theme=...) without their dashes.
namespace filter_field {
inline constexpr const char* from = "from";
inline constexpr const char* to = "to";
inline constexpr const char* advisor = "advisor";
inline constexpr const char* place = "place";
inline constexpr const char* type = "type";
inline constexpr const char* theme = "theme";
inline constexpr const char* commune = "commune";
inline constexpr const char* departement = "departement";
}  // namespace filter_field

// A département as filters take it: "01" to "95" (not "20"), "2A", "2B", or "971" to "978"
// (what departement_of() gives); lower case and spaces around are accepted. Nullopt otherwise.
std::optional<std::string> normalise_departement(std::string_view text);

// Tidies `filter` (text trimmed, an empty one dropped, the département in capitals) and checks
// it. Each problem names its field (filter_field) and reason:
//   type         "unknown_code"     neither individuel nor collectif ({value}, {allowed})
//   theme        "unknown_theme"    not a code of thematiques or thematiques_administratives ({value})
//   departement  "bad_departement"  see normalise_departement ({value})
//   to           "period_order"     the period ends before it starts ({from}, {to}, YYYY-MM-DD)
// Translations: "problem.<reason>". Empty: the filter can be computed.
Problems check_filter(Filter& filter, const class Vocabulary& vocabulary);

struct Count {
  std::string code;
  std::int64_t activities = 0;  // sessions with this code
  std::int64_t people = 0;      // accompagnements (people) with this code
  std::int64_t minutes = 0;     // time of the sessions with this code
};

struct Breakdown {
  std::string dimension;
  // Vocabulary dimensions list every code in vocabulary order, zeros included; lieu, mediateur
  // and commune list the codes found, most people first.
  std::vector<Count> rows;
};

struct Totals {
  std::int64_t accompagnements = 0;        // one per person per session
  std::int64_t beneficiaires = 0;          // accompagnements less workshop participants already helped
  std::int64_t individual_sessions = 0;
  std::int64_t workshops = 0;
  std::int64_t workshop_participants = 0;
  std::int64_t minutes = 0;                // time spent (each session's duration once)
};

struct PeriodCount {
  std::string period;  // 2026-11-22, 2026-W47 (ISO week) or 2026-11
  std::int64_t activities = 0;
  std::int64_t people = 0;
  std::int64_t minutes = 0;
};

struct EquipmentCount {
  std::string code;
  std::int64_t devices = 0;
  double weight_kg = 0;
};

struct ImpactRow {
  std::string type;  // type_appareil
  std::int64_t devices_reused = 0;
  std::optional<double> factor_kg_co2e;  // nullopt: the table has no factor for this type
  double avoided_kg_co2e = 0;
};

// Devices collected in the period (by their lot's date), and what happened in it.
struct EquipmentIndicators {
  std::int64_t devices_collected = 0;
  double weight_collected_kg = 0;
  double weight_diverted_kg = 0;      // collected in the period and reused or taken for parts
  std::int64_t devices_handed_over = 0;  // handed to a person in the period ("remis")
  std::int64_t erasures = 0;          // devices whose data erasure succeeded in the period
  std::vector<EquipmentCount> by_type;     // every type_appareil code, in vocabulary order
  std::vector<EquipmentCount> by_outcome;  // every devenir code, in vocabulary order
  // CO2e avoided: devices handed over in the period, each counted once with the manufacture factor
  // of its type (a reused device spares making a new one).
  std::vector<ImpactRow> impact;
  double co2e_avoided_kg = 0;
  std::string factors_version;
};

struct Indicators {
  Filter filter;
  Totals totals;
  std::vector<Breakdown> breakdowns;  // in kBreakdownDimensions order
  std::vector<PeriodCount> per_day;   // days with sessions only
  std::vector<PeriodCount> per_week;
  std::vector<PeriodCount> per_month;
  EquipmentIndicators equipment;
  bool used_daily_sums = false;  // how it was computed (tests and benchmarks look)

  const Breakdown* breakdown(std::string_view dimension) const;
};

// Reads only; runs in one read transaction so the figures are consistent with each other.
// Throws std::invalid_argument for a filter with from > to.
Indicators compute(const sqlite::Database& db, const Filter& filter, const class Vocabulary& vocabulary,
                   const ImpactFactors& factors);

// Labels for people: dimension titles, code labels (vocabulary, duration buckets, names of places
// and advisors given by the caller, "Non communiqué" for an empty commune). code_label() also takes
// any vocabulary set's name as the dimension (e.g. "type_appareil", "devenir").
class Labels {
 public:
  Labels(const class Vocabulary& vocabulary, Lang lang) : vocabulary_(vocabulary), lang_(lang) {}
  void set_name(std::string_view dimension, std::string code, std::string name);
  std::string dimension_title(std::string_view dimension) const;
  std::string code_label(std::string_view dimension, std::string_view code) const;
  Lang lang() const { return lang_; }

 private:
  const class Vocabulary& vocabulary_;
  Lang lang_;
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> names_;
};

}  // namespace relais::stats
