#include "relais/statistics.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "relais/text.hpp"
#include "relais/vocabulary.hpp"

namespace relais::stats {

// Facts are written by the stores' write paths through Index; stat_daily follows them through
// the triggers, so the sums can never drift from the facts whatever writes them.
const char* const kStatisticsSchemaSql =
    "CREATE TABLE stat_sessions ("
    "  sid INTEGER PRIMARY KEY,"
    "  session_id TEXT NOT NULL UNIQUE,"
    "  day INTEGER NOT NULL,"  // days since 1970-01-01
    "  type TEXT NOT NULL,"
    "  minutes INTEGER NOT NULL,"
    "  people INTEGER NOT NULL,"
    "  mediateur_id TEXT NOT NULL,"
    "  structure_id TEXT NOT NULL,"
    "  lieu_id TEXT NOT NULL,"
    "  commune TEXT NOT NULL,"  // lower case, for the commune filter by name
    "  code_insee TEXT NOT NULL,"
    "  departement TEXT NOT NULL);"
    "CREATE INDEX stat_sessions_day ON stat_sessions (day);"
    "CREATE INDEX stat_sessions_mediateur ON stat_sessions (mediateur_id, day);"
    "CREATE INDEX stat_sessions_structure ON stat_sessions (structure_id, day);"
    "CREATE INDEX stat_sessions_lieu ON stat_sessions (lieu_id, day);"

    "CREATE TABLE stat_facts ("
    "  sid INTEGER NOT NULL,"
    "  dim TEXT NOT NULL,"
    "  code TEXT NOT NULL,"
    "  people INTEGER NOT NULL,"
    "  PRIMARY KEY (sid, dim, code)) WITHOUT ROWID;"
    "CREATE INDEX stat_facts_theme ON stat_facts (code, sid) WHERE dim = 'thematique';"

    "CREATE TABLE stat_daily ("
    "  scope TEXT NOT NULL,"
    "  dim TEXT NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  code TEXT NOT NULL,"
    "  activities INTEGER NOT NULL,"
    "  people INTEGER NOT NULL,"
    "  minutes INTEGER NOT NULL,"
    "  PRIMARY KEY (scope, dim, day, code)) WITHOUT ROWID;"

    "CREATE TRIGGER stat_facts_added AFTER INSERT ON stat_facts BEGIN"
    "  INSERT INTO stat_daily (scope, dim, day, code, activities, people, minutes)"
    "    SELECT '', NEW.dim, s.day, NEW.code, 1, NEW.people, s.minutes FROM stat_sessions s WHERE s.sid = NEW.sid"
    "    ON CONFLICT DO UPDATE SET activities = activities + 1, people = people + excluded.people,"
    "      minutes = minutes + excluded.minutes;"
    "  INSERT INTO stat_daily (scope, dim, day, code, activities, people, minutes)"
    "    SELECT s.structure_id, NEW.dim, s.day, NEW.code, 1, NEW.people, s.minutes FROM stat_sessions s"
    "    WHERE s.sid = NEW.sid AND s.structure_id <> ''"
    "    ON CONFLICT DO UPDATE SET activities = activities + 1, people = people + excluded.people,"
    "      minutes = minutes + excluded.minutes;"
    "END;"
    "CREATE TRIGGER stat_facts_removed AFTER DELETE ON stat_facts BEGIN"
    "  UPDATE stat_daily SET activities = activities - 1, people = people - OLD.people,"
    "    minutes = minutes - (SELECT minutes FROM stat_sessions WHERE sid = OLD.sid)"
    "  WHERE scope IN ('', (SELECT structure_id FROM stat_sessions WHERE sid = OLD.sid)) AND dim = OLD.dim"
    "    AND day = (SELECT day FROM stat_sessions WHERE sid = OLD.sid) AND code = OLD.code;"
    "  DELETE FROM stat_daily"
    "  WHERE scope IN ('', (SELECT structure_id FROM stat_sessions WHERE sid = OLD.sid)) AND dim = OLD.dim"
    "    AND day = (SELECT day FROM stat_sessions WHERE sid = OLD.sid) AND code = OLD.code AND activities <= 0;"
    "END;"

    "CREATE TABLE stat_devices ("
    "  device_id TEXT PRIMARY KEY,"
    "  collected_day INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  weight_kg REAL NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  handed_day INTEGER,"
    "  erased_day INTEGER,"
    "  lieu_id TEXT NOT NULL,"
    "  mediateur_id TEXT NOT NULL,"
    "  structure_id TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX stat_devices_collected ON stat_devices (collected_day);"
    "CREATE INDEX stat_devices_handed ON stat_devices (handed_day) WHERE handed_day IS NOT NULL;"
    "CREATE INDEX stat_devices_erased ON stat_devices (erased_day) WHERE erased_day IS NOT NULL;";

namespace {

// Internal dimensions: one row per session ("total") and workshop participants already helped.
constexpr std::string_view kTotal = "total";
constexpr std::string_view kAlreadyHelped = "deja_accompagnes";

Date date_of_day(std::int64_t days) {
  days += 719468;
  const auto era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = days - era * 146097;
  const auto yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const auto doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const auto mp = (5 * doy + 2) / 153;
  const auto d = doy - (153 * mp + 2) / 5 + 1;
  const auto m = mp < 10 ? mp + 3 : mp - 9;
  const auto y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return Date{static_cast<int>(y), static_cast<unsigned>(m), static_cast<unsigned>(d)};
}

std::int64_t day_of_text(std::string_view text) {
  const auto date = parse_date(text);
  if (!date) throw std::invalid_argument("not a date (YYYY-MM-DD): " + std::string(text));
  return day_number(*date);
}

// ISO 8601 week: "2026-W47". Day 0 (1970-01-01) was a Thursday.
std::string iso_week(std::int64_t day) {
  const auto weekday = ((day + 3) % 7 + 7) % 7;  // 0 = Monday
  const auto thursday = day - weekday + 3;       // the week belongs to its Thursday's year
  const auto year = date_of_day(thursday).year;
  const auto week = (thursday - day_number(Date{year, 1, 1})) / 7 + 1;
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-W%02d", year, static_cast<int>(week));
  return buffer;
}

std::string month_of(std::int64_t day) {
  const auto date = date_of_day(day);
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u", date.year, date.month);
  return buffer;
}

std::string commune_code(const std::optional<std::string>& name, const std::optional<std::string>& postal) {
  if (!name || name->empty()) return "";
  return postal && !postal->empty() ? *name + " (" + *postal + ")" : *name;
}

}  // namespace

// H. Hinnant's days_from_civil.
std::int64_t day_number(const Date& date) {
  const std::int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = y - era * 400;
  const std::int64_t m = date.month;
  const auto doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + date.day - 1;
  const auto doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string_view duration_bucket(std::int64_t minutes) {
  if (minutes < 30) return kDurationBuckets[0];
  if (minutes < 60) return kDurationBuckets[1];
  if (minutes < 120) return kDurationBuckets[2];
  return kDurationBuckets[3];
}

std::string departement_of(const std::optional<std::string>& code_insee, const std::optional<std::string>& code_postal) {
  const auto digits = [](std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (code_insee && code_insee->size() == 5) {
    const auto& code = *code_insee;
    if (code[0] == '2' && (code[1] == 'A' || code[1] == 'B' || code[1] == 'a' || code[1] == 'b')) {
      return std::string("2") + static_cast<char>(code[1] == 'a' || code[1] == 'A' ? 'A' : 'B');
    }
    if (digits(code)) return code.compare(0, 2, "97") == 0 ? code.substr(0, 3) : code.substr(0, 2);
  }
  if (code_postal && code_postal->size() == 5 && digits(*code_postal)) {
    const auto& code = *code_postal;
    if (code.compare(0, 2, "20") == 0) return code.compare(0, 3, "202") < 0 ? "2A" : "2B";
    return code.compare(0, 2, "97") == 0 ? code.substr(0, 3) : code.substr(0, 2);
  }
  return "";
}

DeviceFacts device_facts(const Lot& lot, const Device& device, const std::vector<DeviceEvent>& events,
                         const SessionOwner& owner) {
  DeviceFacts facts;
  facts.device_id = device.id;
  facts.collected_date = lot.date;
  facts.type = device.type;
  facts.weight_kg = device.poids_kg.value_or(0.0);
  facts.outcome = device_outcome(events);
  for (const auto& event : events) {
    if (event.type == "remis" && (!facts.handed_date || event.date < *facts.handed_date)) facts.handed_date = event.date;
    if (event.is_successful_erasure() && (!facts.erased_date || event.date < *facts.erased_date)) {
      facts.erased_date = event.date;
    }
  }
  facts.lieu_id = lot.lieu_id.value_or("");
  facts.owner = owner;
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Writing the index
// ---------------------------------------------------------------------------------------------

void Index::put_session(const Session& session, const SessionOwner& owner, const std::optional<Location>& place) {
  remove(session.id);

  const auto people = session.people_count();
  const auto minutes = session.duree.value_or(0);
  Location where;
  if (session.type_lieu == "lieu_activite" && place) {
    where = *place;
  } else {
    where.commune = session.lieu_commune.value_or("");
    where.code_postal = session.lieu_code_postal.value_or("");
    where.code_insee = session.lieu_code_insee.value_or("");
  }
  {
    const auto lease = db_.cached(
        "INSERT INTO stat_sessions (session_id, day, type, minutes, people, mediateur_id, structure_id, lieu_id,"
        " commune, code_insee, departement) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    auto& insert = *lease;
    insert.bind(1, session.id)
        .bind(2, day_of_text(session.date))
        .bind(3, session.type)
        .bind(4, minutes)
        .bind(5, people)
        .bind(6, owner.mediateur_id)
        .bind(7, owner.structure_id)
        .bind(8, session.lieu_id.value_or(""))
        .bind(9, fold_for_search(where.commune))
        .bind(10, where.code_insee)
        .bind(11, departement_of(where.code_insee.empty() ? std::nullopt : std::optional(where.code_insee),
                                 where.code_postal.empty() ? std::nullopt : std::optional(where.code_postal)));
    insert.run();
  }
  const auto sid = db_.last_insert_rowid();

  // One row per (dimension, code); a code met twice (a repeated theme) counts once.
  std::map<std::pair<std::string_view, std::string>, std::int64_t> facts;
  const auto add = [&](std::string_view dimension, std::string code, std::int64_t count) {
    if (count <= 0) return;
    facts.emplace(std::pair{dimension, std::move(code)}, count);
  };
  add(kTotal, "", people);
  add(kType, session.type, people);
  for (const auto& code : session.thematiques) add(kThematique, code, people);
  for (const auto& code : session.materiel) add(kMateriel, code, people);
  add(kCanal, session.type_lieu, people);
  add(kDuree, std::string(duration_bucket(minutes)), people);
  add(kLieu, session.lieu_id.value_or(""), people);
  add(kMediateur, owner.mediateur_id, people);
  if (session.is_workshop()) {
    const Participants empty;
    const auto& participants = session.participants ? *session.participants : empty;
    for (const auto group : {kGenre, kTrancheAge, kStatutSocial}) {
      for (const auto& [code, count] : participants.group(group)) add(group, code, count);
      add(group, std::string(kNotCommunicated), participants.non_communique(group));
    }
    add(kCommune, "", people);
    add(kAlreadyHelped, "", participants.deja_accompagnes);
  } else {
    const Beneficiaire anonymous;
    const auto& person = session.beneficiaire ? *session.beneficiaire : anonymous;
    add(kGenre, person.genre, 1);
    add(kTrancheAge, person.tranche_age, 1);
    add(kStatutSocial, person.statut_social, 1);
    add(kCommune, commune_code(person.commune, person.commune_code_postal), 1);
  }

  const auto lease = db_.cached("INSERT INTO stat_facts (sid, dim, code, people) VALUES (?, ?, ?, ?)");
  auto& insert = *lease;
  for (const auto& [key, count] : facts) {
    insert.bind(1, sid).bind(2, key.first).bind(3, key.second).bind(4, count);
    insert.run();
  }
}

void Index::put_device(const DeviceFacts& device) {
  remove(device.device_id);
  const auto optional_day = [](const std::optional<std::string>& date) -> std::optional<std::int64_t> {
    if (!date) return std::nullopt;
    return day_of_text(*date);
  };
  const auto lease = db_.cached(
      "INSERT INTO stat_devices (device_id, collected_day, type, weight_kg, outcome, handed_day, erased_day, lieu_id,"
      " mediateur_id, structure_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  auto& insert = *lease;
  insert.bind(1, device.device_id)
      .bind(2, day_of_text(device.collected_date))
      .bind(3, device.type)
      .bind(4, device.weight_kg)
      .bind(5, device.outcome)
      .bind(6, optional_day(device.handed_date))
      .bind(7, optional_day(device.erased_date))
      .bind(8, device.lieu_id)
      .bind(9, device.owner.mediateur_id)
      .bind(10, device.owner.structure_id);
  insert.run();
}

void Index::remove(std::string_view record_id) {
  std::optional<std::int64_t> sid;
  {
    const auto lease = db_.cached("SELECT sid FROM stat_sessions WHERE session_id = ?");
    auto& select = *lease;
    select.bind(1, record_id);
    if (select.step()) sid = select.column_int64(0);
  }
  if (sid) {
    // Facts first: their trigger reads the session row to take them out of the daily sums.
    auto facts = db_.cached("DELETE FROM stat_facts WHERE sid = ?");
    (*facts).bind(1, *sid).run();
    auto session = db_.cached("DELETE FROM stat_sessions WHERE sid = ?");
    (*session).bind(1, *sid).run();
    return;
  }
  auto device = db_.cached("DELETE FROM stat_devices WHERE device_id = ?");
  (*device).bind(1, record_id).run();
}

void Index::put(std::string_view record_id, const IndexEntry& entry) {
  if (const auto* session = std::get_if<SessionEntry>(&entry)) {
    put_session(session->session, session->owner, session->place);
  } else if (const auto* device = std::get_if<DeviceFacts>(&entry)) {
    put_device(*device);
  } else {
    remove(record_id);
  }
}

void Index::clear() {
  db_.exec("DELETE FROM stat_daily; DELETE FROM stat_facts; DELETE FROM stat_sessions; DELETE FROM stat_devices;");
}

// ---------------------------------------------------------------------------------------------
// What the index holds: the same rule for both stores
// ---------------------------------------------------------------------------------------------

namespace {

std::string text_field(const nlohmann::json& fields, const char* key) {
  const auto it = fields.find(key);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

IndexEntry index_entry(RecordKind kind, const SourceRecord& record, const RecordSource& source) {
  if (record.deleted) return std::monostate{};
  Problems ignored;  // the stores index what they hold: it was checked when it was written
  if (kind == RecordKind::session) {
    SessionEntry entry{decode_session(record.fields, ignored), record.owner, std::nullopt};
    // A deleted place still says where its sessions took place.
    if (entry.session.lieu_id) {
      if (const auto place = source.find(RecordKind::place, *entry.session.lieu_id)) {
        entry.place = Location{text_field(place->fields, "commune"), text_field(place->fields, "code_postal"),
                               text_field(place->fields, "code_insee")};
      }
    }
    return entry;
  }
  if (kind == RecordKind::device) {
    const auto device = decode_device(record.fields, ignored);
    // A deleted lot still dates its devices; an unknown one (not received yet) leaves them out.
    const auto lot_record = source.find(RecordKind::lot, device.lot_id);
    if (!lot_record) return std::monostate{};
    const auto lot = decode_lot(lot_record->fields, ignored);
    std::vector<DeviceEvent> events;
    for (const auto& fields : source.live_events(device.id)) events.push_back(decode_device_event(fields, ignored));
    return device_facts(lot, device, events, record.owner);
  }
  return std::monostate{};
}

void refresh(Index& index, const RecordSource& source, RecordKind kind, const std::string& id) {
  switch (kind) {
    case RecordKind::session:
    case RecordKind::device: {
      const auto record = source.find(kind, id);
      index.put(id, record ? index_entry(kind, *record, source) : IndexEntry{});
      return;
    }
    case RecordKind::device_event: {
      // Its device's outcome and dates; a deleted event is left out of them.
      if (const auto event = source.find(kind, id)) {
        const auto device_id = text_field(event->fields, "device_id");
        if (!device_id.empty()) refresh(index, source, RecordKind::device, device_id);
      }
      return;
    }
    case RecordKind::lot:
    case RecordKind::place: {
      // A lot's date and place are its devices' facts; a place's commune is its sessions'.
      const auto dependent_kind = kind == RecordKind::lot ? RecordKind::device : RecordKind::session;
      for (const auto& dependent : source.dependents(kind, id)) refresh(index, source, dependent_kind, dependent);
      return;
    }
    case RecordKind::structure:
    case RecordKind::advisor:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

std::optional<std::string> normalise_departement(std::string_view typed) {
  auto text = trim(typed);
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (text == "2A" || text == "2B") return text;
  // 01 to 95; Corsica is 2A and 2B, never 20.
  if (text.size() == 2 && digits && text != "00" && text != "20" && text < "96") return text;
  // Overseas: departement_of() keeps 3 digits for every INSEE code in 97.
  if (text.size() == 3 && digits && text >= "971" && text <= "978") return text;
  return std::nullopt;
}

Problems check_filter(Filter& filter, const Vocabulary& vocabulary) {
  for (auto* value : {&filter.mediateur_id, &filter.lieu_id, &filter.commune, &filter.departement, &filter.type,
                      &filter.thematique}) {
    if (!*value) continue;
    **value = trim(**value);
    if ((*value)->empty()) *value = std::nullopt;
  }
  Problems problems;
  if (filter.type && *filter.type != "individuel" && *filter.type != "collectif") {
    problems.push_back({filter_field::type, "unknown_code", {{"value", *filter.type}, {"allowed", "individuel, collectif"}}});
  }
  if (filter.thematique && !vocabulary.contains("thematiques", *filter.thematique) &&
      !vocabulary.contains("thematiques_administratives", *filter.thematique)) {
    problems.push_back({filter_field::theme, "unknown_theme", {{"value", *filter.thematique}}});
  }
  if (filter.departement) {
    if (auto normal = normalise_departement(*filter.departement)) {
      filter.departement = std::move(normal);
    } else {
      problems.push_back({filter_field::departement, "bad_departement", {{"value", *filter.departement}}});
    }
  }
  if (filter.from && filter.to && *filter.from > *filter.to) {
    problems.push_back({filter_field::to, "period_order", {{"from", format_date(*filter.from)}, {"to", format_date(*filter.to)}}});
  }
  return problems;
}

bool Filter::only_period() const {
  return !mediateur_id && !lieu_id && !commune && !departement && !type && !thematique;
}

const Breakdown* Indicators::breakdown(std::string_view dimension) const {
  for (const auto& entry : breakdowns) {
    if (entry.dimension == dimension) return &entry;
  }
  return nullptr;
}

namespace {

// The vocabulary sets that list a dimension's codes, in order.
std::vector<std::string_view> vocabulary_sets_of(std::string_view dimension) {
  if (dimension == kType) return {"type"};
  if (dimension == kThematique) return {"thematiques", "thematiques_administratives"};
  if (dimension == kMateriel) return {"materiel"};
  if (dimension == kCanal) return {"type_lieu"};
  if (dimension == kGenre) return {"genre"};
  if (dimension == kTrancheAge) return {"tranche_age"};
  if (dimension == kStatutSocial) return {"statut_social"};
  return {};
}

// A bound SQL fragment: text and values, added in order.
struct SqlWhere {
  std::string text;
  std::vector<std::string> texts;  // bound as text, in order, after the integer bounds
};

struct Sums {
  std::int64_t activities = 0;
  std::int64_t people = 0;
  std::int64_t minutes = 0;
};

// Sums per code, looked up by a view of the row's text.
struct ViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using CodeSums = std::unordered_map<std::string, Sums, ViewHash, std::equal_to<>>;

void add_to(CodeSums& codes, std::string_view code, std::int64_t activities, std::int64_t people, std::int64_t minutes) {
  auto hit = codes.find(code);
  if (hit == codes.end()) hit = codes.emplace(std::string(code), Sums{}).first;
  hit->second.activities += activities;
  hit->second.people += people;
  hit->second.minutes += minutes;
}

class Reader {
 public:
  Reader(const sqlite::Database& db, const Filter& filter) : db_(db), filter_(filter) {
    first_day_ = filter.from ? day_number(*filter.from) : std::numeric_limits<std::int32_t>::min();
    last_day_ = filter.to ? day_number(*filter.to) : std::numeric_limits<std::int32_t>::max();
  }

  // dimension -> code -> sums, and the day series, for the sessions the filter selects.
  void read_sessions(std::map<std::string, std::map<std::string, Sums>, std::less<>>& by_dimension,
                     std::map<std::int64_t, Sums>& per_day, bool& used_daily_sums) {
    if (filter_.only_period()) {
      used_daily_sums = true;
      // A year of a large store is a few hundred thousand rows (a row per day and code): they
      // are summed per code in a hash map looked up by the row's text, without an allocation.
      auto select = db_.prepare(
                          "SELECT day, code, activities, people, minutes FROM stat_daily"
                          " WHERE scope = ?1 AND dim = ?2 AND day BETWEEN ?3 AND ?4");
      std::vector<std::string_view> dimensions(std::begin(kBreakdownDimensions), std::end(kBreakdownDimensions));
      dimensions.push_back(kTotal);
      dimensions.push_back(kAlreadyHelped);
      CodeSums codes;
      for (const auto dimension : dimensions) {
        select.reset();
        select.bind(1, filter_.scope).bind(2, dimension).bind(3, first_day_).bind(4, last_day_);
        codes.clear();
        const bool total = dimension == kTotal;
        while (select.step()) {
          const Sums sums{select.column_int64(2), select.column_int64(3), select.column_int64(4)};
          if (total) per_day[select.column_int64(0)] = sums;
          add_to(codes, select.column_view(1), sums.activities, sums.people, sums.minutes);
        }
        auto& into = by_dimension[std::string(dimension)];
        for (auto& [code, sums] : codes) into.emplace(code, sums);
      }
      return;
    }

    used_daily_sums = false;
    // One pass over the chosen sessions and their facts (a session's facts come together, after
    // it): the day series from each session once, the breakdowns from the facts, summed per
    // (dimension, code) here rather than by a GROUP BY, which would first sort every fact in a
    // temporary b-tree. LEFT JOIN: a session without facts still counts in the series.
    const auto where = session_where();
    auto select = db_.prepare(
                        "SELECT s.sid, s.day, s.people, s.minutes, f.dim, f.code, f.people FROM stat_sessions s"
                        " LEFT JOIN stat_facts f ON f.sid = s.sid WHERE " + where.text);
    bind_where(select, where);
    std::unordered_map<std::string, CodeSums, ViewHash, std::equal_to<>> sums;
    std::string_view last_dimension;
    CodeSums* codes = nullptr;
    std::optional<std::int64_t> last_sid;
    std::int64_t minutes = 0;
    while (select.step()) {
      const auto sid = select.column_int64(0);
      if (sid != last_sid) {
        last_sid = sid;
        minutes = select.column_int64(3);
        auto& day = per_day[select.column_int64(1)];
        day.activities += 1;
        day.people += select.column_int64(2);
        day.minutes += minutes;
      }
      if (select.is_null(4)) continue;
      const auto dimension = select.column_view(4);
      if (codes == nullptr || dimension != last_dimension) {
        auto hit = sums.find(dimension);
        if (hit == sums.end()) hit = sums.emplace(std::string(dimension), CodeSums{}).first;
        codes = &hit->second;
        last_dimension = hit->first;  // the map's key stays put; the row's text does not
      }
      add_to(*codes, select.column_view(5), 1, select.column_int64(6), minutes);
    }
    for (auto& [dimension, codes_of] : sums) {
      auto& into = by_dimension[dimension];
      for (auto& [code, code_sums] : codes_of) into.emplace(code, code_sums);
    }
  }

  void read_equipment(EquipmentIndicators& out, const Vocabulary& vocabulary, const ImpactFactors& factors) {
    std::string where = " AND 1";
    std::vector<std::string> texts;
    if (!filter_.scope.empty()) {
      where += " AND structure_id = ?";
      texts.push_back(filter_.scope);
    }
    if (filter_.mediateur_id) {
      where += " AND mediateur_id = ?";
      texts.push_back(*filter_.mediateur_id);
    }
    if (filter_.lieu_id) {
      where += " AND lieu_id = ?";
      texts.push_back(*filter_.lieu_id);
    }
    const auto run = [&](const std::string& sql, const auto& visit) {
      auto select = db_.prepare(sql);
      select.bind(1, first_day_).bind(2, last_day_);
      int index = 3;
      for (const auto& text : texts) select.bind(index++, text);
      while (select.step()) visit(select);
    };

    std::map<std::string, EquipmentCount, std::less<>> by_type, by_outcome;
    run("SELECT type, count(*), total(weight_kg) FROM stat_devices WHERE collected_day BETWEEN ?1 AND ?2" + where +
            " GROUP BY type",
        [&](sqlite::Statement& row) {
          by_type[row.column_text(0)] = EquipmentCount{row.column_text(0), row.column_int64(1), row.column_double(2)};
        });
    run("SELECT outcome, count(*), total(weight_kg) FROM stat_devices WHERE collected_day BETWEEN ?1 AND ?2" + where +
            " GROUP BY outcome",
        [&](sqlite::Statement& row) {
          by_outcome[row.column_text(0)] = EquipmentCount{row.column_text(0), row.column_int64(1), row.column_double(2)};
        });
    std::map<std::string, std::int64_t, std::less<>> handed_by_type;
    run("SELECT type, count(*) FROM stat_devices WHERE handed_day BETWEEN ?1 AND ?2" + where + " GROUP BY type",
        [&](sqlite::Statement& row) { handed_by_type[row.column_text(0)] = row.column_int64(1); });
    run("SELECT count(*) FROM stat_devices WHERE erased_day BETWEEN ?1 AND ?2" + where,
        [&](sqlite::Statement& row) { out.erasures = row.column_int64(0); });

    const auto in_vocabulary_order = [&](const char* set_name, std::map<std::string, EquipmentCount, std::less<>>& found) {
      std::vector<EquipmentCount> rows;
      for (const auto& code : vocabulary.set(set_name).codes) {
        const auto hit = found.find(code.code);
        rows.push_back(hit == found.end() ? EquipmentCount{code.code, 0, 0.0} : hit->second);
        if (hit != found.end()) found.erase(hit);
      }
      for (auto& [code, count] : found) rows.push_back(count);  // codes from a newer vocabulary
      return rows;
    };
    for (const auto& [code, count] : by_type) {
      out.devices_collected += count.devices;
      out.weight_collected_kg += count.weight_kg;
    }
    for (const auto& [code, count] : by_outcome) {
      if (code == "reemploi" || code == "pieces") out.weight_diverted_kg += count.weight_kg;
    }
    out.by_type = in_vocabulary_order("type_appareil", by_type);
    out.by_outcome = in_vocabulary_order("devenir", by_outcome);

    for (const auto& [type, devices] : handed_by_type) {
      out.devices_handed_over += devices;
      ImpactRow row;
      row.type = type;
      row.devices_reused = devices;
      if (const auto* factor = factors.find(type)) {
        row.factor_kg_co2e = factor->manufacture_kg_co2e;
        row.avoided_kg_co2e = static_cast<double>(devices) * factor->manufacture_kg_co2e;
      }
      out.co2e_avoided_kg += row.avoided_kg_co2e;
      out.impact.push_back(row);
    }
    out.factors_version = factors.version();
  }

 private:
  SqlWhere session_where() const {
    SqlWhere where;
    // "+s.day" keeps SQLite from using the day index: a scan of the table in sid order, which
    // also reads the facts in order. See wide_period_without_index().
    where.text = wide_period_without_index() ? "+s.day BETWEEN ?1 AND ?2" : "s.day BETWEEN ?1 AND ?2";
    const auto add = [&](const char* condition, const std::string& value) {
      where.text += condition;
      where.texts.push_back(value);
    };
    if (!filter_.scope.empty()) add(" AND s.structure_id = ?", filter_.scope);
    if (filter_.mediateur_id) add(" AND s.mediateur_id = ?", *filter_.mediateur_id);
    if (filter_.lieu_id) add(" AND s.lieu_id = ?", *filter_.lieu_id);
    if (filter_.type) add(" AND s.type = ?", *filter_.type);
    if (filter_.departement) add(" AND s.departement = upper(?)", *filter_.departement);
    if (filter_.commune) {
      where.text += " AND (s.code_insee = upper(?) OR s.commune = ?)";
      where.texts.push_back(*filter_.commune);
      where.texts.push_back(fold_for_search(*filter_.commune));
    }
    if (filter_.thematique) {
      add(" AND s.sid IN (SELECT sid FROM stat_facts WHERE dim = 'thematique' AND code = ?)", *filter_.thematique);
    }
    return where;
  }

  // True when the sessions are chosen by columns without an index (type, département, commune)
  // over a period that covers a quarter or more of the days with sessions. Through the day index,
  // SQLite would then look up most of the table row by row, in day order, so at random places
  // in the table and in the facts (1,000,000 sessions: 2.8 s for a year against 0.2 s for a scan
  // of the table). A mediateur, place, scope or theme is looked up by its own index instead.
  bool wide_period_without_index() const {
    if (!filter_.scope.empty() || filter_.mediateur_id || filter_.lieu_id || filter_.thematique) return false;
    auto select = db_.prepare("SELECT (SELECT min(day) FROM stat_sessions), (SELECT max(day) FROM stat_sessions)");
    if (!select.step() || select.is_null(0)) return false;
    const auto first = select.column_int64(0);
    const auto last = select.column_int64(1);
    const auto overlap = std::min(last, last_day_) - std::max(first, first_day_) + 1;
    return overlap > 0 && overlap * 4 >= last - first + 1;
  }

  void bind_where(sqlite::Statement& statement, const SqlWhere& where) const {
    statement.bind(1, first_day_).bind(2, last_day_);
    int index = 3;
    for (const auto& text : where.texts) statement.bind(index++, text);
  }

  const sqlite::Database& db_;
  const Filter& filter_;
  std::int64_t first_day_;
  std::int64_t last_day_;
};

// A read transaction, so that every figure comes from the same state of the store.
class ReadTransaction {
 public:
  explicit ReadTransaction(const sqlite::Database& db) : db_(db) { db_.prepare("BEGIN").run(); }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    try {
      db_.prepare("COMMIT").run();
    } catch (...) {
      // Nothing was written; the connection ends the transaction when it closes.
    }
  }

 private:
  const sqlite::Database& db_;
};

std::vector<PeriodCount> series(const std::map<std::int64_t, Sums>& per_day, std::string (*period_of)(std::int64_t)) {
  std::vector<PeriodCount> out;
  for (const auto& [day, sums] : per_day) {
    auto period = period_of(day);
    if (out.empty() || out.back().period != period) out.push_back(PeriodCount{std::move(period), 0, 0, 0});
    out.back().activities += sums.activities;
    out.back().people += sums.people;
    out.back().minutes += sums.minutes;
  }
  return out;
}

std::string day_text(std::int64_t day) { return format_date(date_of_day(day)); }

}  // namespace

Indicators compute(const sqlite::Database& db, const Filter& filter, const Vocabulary& vocabulary,
                   const ImpactFactors& factors) {
  if (filter.from && filter.to && *filter.from > *filter.to) {
    throw std::invalid_argument("the period ends (" + format_date(*filter.to) + ") before it starts (" +
                                format_date(*filter.from) + ")");
  }
  Indicators out;
  out.filter = filter;
  std::map<std::string, std::map<std::string, Sums>, std::less<>> by_dimension;
  std::map<std::int64_t, Sums> per_day;
  {
    const ReadTransaction transaction(db);
    Reader reader(db, filter);
    reader.read_sessions(by_dimension, per_day, out.used_daily_sums);
    reader.read_equipment(out.equipment, vocabulary, factors);
  }

  const auto sums_of = [&](std::string_view dimension, std::string_view code) {
    const auto found = by_dimension.find(dimension);
    if (found == by_dimension.end()) return Sums{};
    const auto hit = found->second.find(std::string(code));
    return hit == found->second.end() ? Sums{} : hit->second;
  };
  const auto total = sums_of(kTotal, "");
  const auto individual = sums_of(kType, "individuel");
  const auto workshops = sums_of(kType, "collectif");
  out.totals.accompagnements = total.people;
  out.totals.minutes = total.minutes;
  out.totals.individual_sessions = individual.activities;
  out.totals.workshops = workshops.activities;
  out.totals.workshop_participants = workshops.people;
  out.totals.beneficiaires = total.people - sums_of(kAlreadyHelped, "").people;

  for (const auto dimension : kBreakdownDimensions) {
    Breakdown breakdown;
    breakdown.dimension = std::string(dimension);
    auto found = by_dimension[std::string(dimension)];
    const auto sets = vocabulary_sets_of(dimension);
    const auto take = [&](const std::string& code) {
      const auto hit = found.find(code);
      Count count{code, 0, 0, 0};
      if (hit != found.end()) {
        count.activities = hit->second.activities;
        count.people = hit->second.people;
        count.minutes = hit->second.minutes;
        found.erase(hit);
      }
      breakdown.rows.push_back(std::move(count));
    };
    if (dimension == kDuree) {
      for (const auto bucket : kDurationBuckets) take(std::string(bucket));
    } else {
      for (const auto set_name : sets) {
        for (const auto& code : vocabulary.set(set_name).codes) take(code.code);
      }
    }
    // Codes outside the vocabulary (names, communes, or a code from a newer vocabulary): most
    // people first, then by code so the order is stable.
    std::vector<Count> others;
    for (const auto& [code, sums] : found) others.push_back(Count{code, sums.activities, sums.people, sums.minutes});
    std::stable_sort(others.begin(), others.end(), [](const Count& a, const Count& b) { return a.people > b.people; });
    breakdown.rows.insert(breakdown.rows.end(), others.begin(), others.end());
    out.breakdowns.push_back(std::move(breakdown));
  }

  out.per_day = series(per_day, &day_text);
  out.per_week = series(per_day, &iso_week);
  out.per_month = series(per_day, &month_of);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

void Labels::set_name(std::string_view dimension, std::string code, std::string name) {
  names_[std::string(dimension)][std::move(code)] = std::move(name);
}

std::string Labels::dimension_title(std::string_view dimension) const {
  const bool fr = lang_ == Lang::fr;
  if (dimension == kType) return fr ? "Type d’accompagnement" : "Session type";
  if (dimension == kThematique) return fr ? "Thématiques" : "Topics";
  if (dimension == kMateriel) return fr ? "Matériel numérique utilisé" : "Equipment used";
  if (dimension == kCanal) return fr ? "Canaux d’accompagnement" : "Session settings";
  if (dimension == kDuree) return fr ? "Durée des accompagnements" : "Session length";
  if (dimension == kGenre) return fr ? "Genre" : "Gender";
  if (dimension == kTrancheAge) return fr ? "Tranche d’âge" : "Age group";
  if (dimension == kStatutSocial) return fr ? "Statut social" : "Social status";
  if (dimension == kCommune) return fr ? "Commune de résidence" : "Town of residence";
  if (dimension == kLieu) return fr ? "Lieu" : "Place";
  if (dimension == kMediateur) return fr ? "Médiateur·rice" : "Advisor";
  return std::string(dimension);
}

std::string Labels::code_label(std::string_view dimension, std::string_view code) const {
  const bool fr = lang_ == Lang::fr;
  if (dimension == kDuree) {
    if (code == kDurationBuckets[0]) return fr ? "Moins de 30 min" : "Under 30 min";
    if (code == kDurationBuckets[1]) return fr ? "30 min à 1 h" : "30 min to 1 h";
    if (code == kDurationBuckets[2]) return fr ? "1 h à 2 h" : "1 h to 2 h";
    if (code == kDurationBuckets[3]) return fr ? "2 h et plus" : "2 h and more";
  }
  for (const auto set_name : vocabulary_sets_of(dimension)) {
    if (vocabulary_.contains(set_name, code)) return vocabulary_.label(set_name, code, lang_);
  }
  // Any other vocabulary set by its own name (type_appareil, devenir... for equipment figures).
  if (vocabulary_.contains(dimension, code)) return vocabulary_.label(dimension, code, lang_);
  if (const auto names = names_.find(dimension); names != names_.end()) {
    if (const auto name = names->second.find(code); name != names->second.end()) return name->second;
  }
  if (code.empty()) {
    if (dimension == kCommune) return fr ? "Non communiqué" : "Not given";
    if (dimension == kLieu) return fr ? "Sans lieu d’activité" : "No place of activity";
    if (dimension == kMediateur) return fr ? "Non inscrit (appareil non enrôlé)" : "Unknown (device not enrolled)";
  }
  return std::string(code);
}

}  // namespace relais::stats
