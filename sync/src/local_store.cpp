#include "relais/local_store.hpp"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <set>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "migrations.hpp"
#include "relais/assets.hpp"
#include "relais/json_parse.hpp"
#include "relais/merge.hpp"
#include "relais/statistics.hpp"
#include "relais/uuid.hpp"
#include "relais/vocabulary.hpp"

namespace relais {

using nlohmann::json;

// [SECTION] Tables ------------------------------------------------------------------------------

namespace {

using SqlValue = std::variant<std::nullptr_t, std::int64_t, std::string>;

struct TableSpec {
  RecordKind kind;
  const char* table;
  std::vector<const char*> columns;  // the indexed columns besides id and the common ones
  const char* date_column;           // nullptr for kinds without a date
  const char* order_by;
};

const std::vector<TableSpec>& table_specs() {
  static const std::vector<TableSpec> specs{
      {RecordKind::session, "sessions", {"type", "date", "duree", "type_lieu", "lieu_id", "participants"}, "date",
       "date DESC, created_at DESC"},
      {RecordKind::lot, "lots", {"date", "type_donateur", "lieu_id"}, "date", "date DESC, created_at DESC"},
      {RecordKind::device, "devices", {"lot_id", "type", "serial_key"}, nullptr, "created_at DESC"},
      {RecordKind::device_event, "device_events", {"device_id", "type", "date"}, "date", "date DESC, created_at DESC"},
      {RecordKind::place, "places", {"nom", "code_postal"}, nullptr, "nom"},
      {RecordKind::structure, "structures", {"nom"}, nullptr, "nom"},
      {RecordKind::advisor, "advisors", {"structure_id", "nom", "role", "lieu_id"}, nullptr, "nom"},
  };
  return specs;
}

const TableSpec& spec_of(RecordKind kind) {
  for (const auto& spec : table_specs()) {
    if (spec.kind == kind) return spec;
  }
  throw std::logic_error("no table for record kind");
}

SqlValue optional_value(const std::optional<std::string>& value) {
  return value ? SqlValue{*value} : SqlValue{nullptr};
}

std::vector<SqlValue> index_values(const AnyRecord& record) {
  struct Visitor {
    std::vector<SqlValue> operator()(const Session& s) const {
      return {s.type, s.date, s.duree.value_or(0), s.type_lieu, optional_value(s.lieu_id), s.people_count()};
    }
    std::vector<SqlValue> operator()(const Lot& l) const {
      return {l.date, l.type_donateur, optional_value(l.lieu_id)};
    }
    std::vector<SqlValue> operator()(const Device& d) const { return {d.lot_id, d.type, serial_key(d.numero_serie)}; }
    std::vector<SqlValue> operator()(const DeviceEvent& e) const { return {e.device_id, e.type, e.date}; }
    std::vector<SqlValue> operator()(const Place& p) const { return {p.nom, p.code_postal}; }
    std::vector<SqlValue> operator()(const Structure& s) const { return {s.nom}; }
    std::vector<SqlValue> operator()(const Advisor& a) const {
      return {a.structure_id, a.nom, a.role, optional_value(a.lieu_id)};
    }
  };
  return std::visit(Visitor{}, record);
}

void bind_value(sqlite::Statement& statement, int index, const SqlValue& value) {
  std::visit([&](const auto& v) { statement.bind(index, v); }, value);
}

json parse_stored_json(const std::string& text) {
  try {
    return parse_json(text);
  } catch (const JsonSyntaxError&) {
    throw std::runtime_error("a stored record has unreadable JSON");
  }
}

// The vocabulary update last pulled from the server (JSON), merged into the assets' vocabulary.
constexpr const char* kVocabularyUpdateKey = "sync_vocabulary";
// The offset of this device's clock from the server's (LocalStore::learn_server_time).
constexpr const char* kClockOffsetKey = "clock_offset_ms";
// "1" once the statistics index holds every record (stores made before it are filled on open).
constexpr const char* kStatisticsIndexKey = "stats_index_version";

constexpr const char* kCommonColumns = "body, created_at, updated_at, deleted_at, version, version_device, field_versions, mediateur_id";

}  // namespace

struct LocalStore::StoredRow {
  RecordKind kind;
  std::string id;
  json body;
  std::int64_t created_at;
  std::int64_t updated_at;
  std::optional<std::int64_t> deleted_at;
  std::int64_t version;
  std::string version_device;
  json field_versions;
  std::optional<std::string> mediateur_id;
};

// [SECTION] Opening ---------------------------------------------------------------------------

std::filesystem::path default_store_path() { return user_data_directory() / "relais.db"; }

Vocabulary vocabulary_with_update(const Vocabulary& base, const std::filesystem::path& store_path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(store_path, error)) return base;
  try {
    sqlite::Database db(store_path, sqlite::Database::Mode::read_only);
    auto statement = db.prepare("SELECT value FROM meta WHERE key = ?");
    statement.bind(1, kVocabularyUpdateKey);
    if (!statement.step()) return base;
    return base.with_update(parse_stored_json(statement.column_text(0)));
  } catch (const std::exception&) {
    // Not a store, or an update this build cannot use: opening the store will say what is wrong.
    return base;
  }
}

LocalStore::LocalStore(const std::filesystem::path& path, const Vocabulary& vocabulary)
    : LocalStore(path, vocabulary, Options{}) {}

LocalStore::LocalStore(const std::filesystem::path& path, const Vocabulary& vocabulary, Options options)
    : db_(path), base_vocabulary_(vocabulary), options_(std::move(options)), clock_(0, [this] { return wall_now_ms(); }) {
  // Refuse a store from a newer Relais before writing anything: even the journal mode below
  // is written into the file's header.
  require_known_schema(db_);
  // WAL keeps readers and the writer apart; synchronous=FULL makes each commit durable even
  // on power loss, which is worth an fsync per saved record.
  db_.exec("PRAGMA journal_mode = WAL");
  db_.exec("PRAGMA synchronous = FULL");
  db_.exec("PRAGMA foreign_keys = ON");
  // A record's savepoint and the statement journals stay in memory instead of a temp file: a
  // few pages per save, and about 150 fewer page writes per session saved in a batch.
  db_.exec("PRAGMA temp_store = MEMORY");

  const int found = schema_version_of(db_);
  if (found > 0 && found < latest_schema_version() && options_.backup_before_migration) {
    auto backup = path;
    backup += ".before-v" + std::to_string(latest_schema_version()) + ".bak";
    std::error_code ignored;
    std::filesystem::remove(backup, ignored);
    sqlite::create_private_file(backup);  // as private as the store (VACUUM INTO takes an empty file)
    auto statement = db_.prepare("VACUUM INTO ?");
    statement.bind(1, backup.string());
    statement.run();
    migration_backup_ = backup;
  }
  migrate(db_);

  if (auto id = meta("device_id")) {
    device_id_ = *id;
  } else {
    device_id_ = make_uuid_v7();
    set_meta("device_id", device_id_);
    set_meta("created_at", std::to_string(now_unix_ms()));
  }
  // The device's own clock, as saved with its last change (trusted: this device made it; one
  // that ran ahead is corrected by restamp_future_versions at the next sync).
  refresh_clock();
  if (meta(kStatisticsIndexKey) != "1") rebuild_statistics();
  refresh_vocabulary();
}

bool LocalStore::refresh_vocabulary() {
  auto update = meta(kVocabularyUpdateKey);
  if (update.value_or("") == loaded_vocabulary_update_) return false;
  loaded_vocabulary_update_ = update.value_or("");
  try {
    auto fresh = std::make_unique<Vocabulary>(base_vocabulary_.with_update(parse_stored_json(loaded_vocabulary_update_)));
    // Whoever holds a reference to the one in use keeps a valid one (updates are a few a year).
    if (updated_vocabulary_) retired_vocabularies_.push_back(std::move(updated_vocabulary_));
    updated_vocabulary_ = std::move(fresh);
    return true;
  } catch (const std::exception&) {
    // Saved by a build whose vocabulary had a set this one lacks: its codes stay unknown here.
    return false;
  }
}

LocalStore::~LocalStore() = default;

int LocalStore::schema_version() const { return schema_version_of(db_); }

std::optional<std::string> LocalStore::meta(const std::string& key) const {
  const auto statement_lease = db_.cached("SELECT value FROM meta WHERE key = ?");
  auto& statement = *statement_lease;
  statement.bind(1, key);
  if (!statement.step()) return std::nullopt;
  return statement.column_text(0);
}

void LocalStore::set_meta(const std::string& key, const std::string& value) {
  const auto statement_lease = db_.cached("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  auto& statement = *statement_lease;
  statement.bind(1, key).bind(2, value);
  statement.run();
}

ValidationContext LocalStore::validation_context() const {
  return ValidationContext{vocabulary(), options_.today.value_or(today_local())};
}

std::int64_t LocalStore::next_version() { return clock_.tick(); }

std::int64_t LocalStore::wall_now_ms() const {
  return (options_.wall_clock ? options_.wall_clock() : now_unix_ms()) + clock_offset_ms_;
}

void LocalStore::refresh_clock() {
  const auto offset = meta(kClockOffsetKey);
  clock_offset_ms_ = offset ? std::stoll(*offset) : 0;
  // The clock saved with the last change of any connection is the store's: another one (the
  // sync's) may have taken pulled versions into it, or stamped this one's future versions again.
  if (const auto last = meta("hlc_last")) {
    const auto saved = std::stoll(*last);
    if (saved > clock_.last() || clock_.last() > HybridLogicalClock::ceiling(wall_now_ms())) clock_.reset(saved);
  }
}

std::int64_t LocalStore::clock_offset_ms() const { return clock_offset_ms_; }

void LocalStore::commit(sqlite::Transaction& transaction) {
  // The clock is saved with the changes it stamped, so versions keep growing after a restart.
  set_meta("hlc_last", std::to_string(clock_.last()));
  transaction.commit();
}

// [SECTION] Reading -----------------------------------------------------------------------------

std::optional<LocalStore::StoredRow> LocalStore::load_row(const std::string& id, std::optional<RecordKind> kind) const {
  for (const auto& spec : table_specs()) {
    if (kind && spec.kind != *kind) continue;
    const auto statement_lease = db_.cached(std::string("SELECT ") + kCommonColumns + " FROM " + spec.table + " WHERE id = ?");
    auto& statement = *statement_lease;
    statement.bind(1, id);
    if (!statement.step()) continue;
    return StoredRow{spec.kind,
                     id,
                     parse_stored_json(statement.column_text(0)),
                     statement.column_int64(1),
                     statement.column_int64(2),
                     statement.column_optional_int64(3),
                     statement.column_int64(4),
                     statement.column_text(5),
                     parse_stored_json(statement.column_text(6)),
                     statement.column_optional_text(7)};
  }
  return std::nullopt;
}

std::optional<LocalStore::StoredRow> LocalStore::load_live_row(const std::string& id, Problems& problems) const {
  auto row = load_row(id);
  if (!row) {
    problems.push_back({"id", "not_found", {{"value", id}}});
  } else if (row->deleted_at) {
    problems.push_back({"id", "deleted", {{"value", id}}});
    row.reset();
  }
  return row;
}

bool LocalStore::id_exists(const std::string& id) const {
  // One statement over every record table: ids are unique across kinds.
  static const std::string sql = [] {
    std::string text;
    for (const auto& spec : table_specs()) {
      text += (text.empty() ? "SELECT 1 FROM " : " UNION ALL SELECT 1 FROM ") + std::string(spec.table) + " WHERE id = ?1";
    }
    return text + " LIMIT 1";
  }();
  const auto lease = db_.cached(sql);
  auto& statement = *lease;
  statement.bind(1, id);
  return statement.step();
}

std::optional<RecordKind> LocalStore::kind_of_id(const std::string& id) const {
  const auto row = load_row(id);
  return row ? std::optional(row->kind) : std::nullopt;
}

json LocalStore::with_metadata(const StoredRow& row) const {
  json out = row.body;
  out["id"] = row.id;
  out["kind"] = std::string(to_string(row.kind));
  out["created_at"] = format_timestamp_utc(row.created_at);
  out["updated_at"] = format_timestamp_utc(row.updated_at);
  if (row.deleted_at) out["deleted_at"] = format_timestamp_utc(*row.deleted_at);
  out["version"] = row.version;
  if (row.mediateur_id) out["mediateur_id"] = *row.mediateur_id;
  if (row.kind == RecordKind::device) {
    // A device is shown with its event log, oldest first, and where it ended up.
    const auto statement_lease = db_.cached(
        "SELECT id, body FROM device_events WHERE device_id = ? AND deleted_at IS NULL ORDER BY date, created_at");
    auto& statement = *statement_lease;
    statement.bind(1, row.id);
    json events = json::array();
    std::vector<DeviceEvent> typed;
    while (statement.step()) {
      auto event = parse_stored_json(statement.column_text(1));
      event["id"] = statement.column_text(0);
      Problems ignored;
      typed.push_back(decode_device_event(event, ignored));
      events.push_back(std::move(event));
    }
    out["events"] = std::move(events);
    out["devenir"] = device_outcome(typed);
  }
  return out;
}

std::optional<json> LocalStore::get(const std::string& id) const {
  const auto row = load_row(id);
  if (!row) return std::nullopt;
  return with_metadata(*row);
}

std::vector<json> LocalStore::list(const ListQuery& query) const {
  std::vector<json> out;
  for (const auto kind : query.kinds) {
    const auto& spec = spec_of(kind);
    std::string sql = std::string("SELECT id, ") + kCommonColumns + " FROM " + spec.table + " WHERE 1 = 1";
    if (!query.include_deleted) sql += " AND deleted_at IS NULL";
    if (spec.date_column != nullptr) {
      if (query.from) sql += std::string(" AND ") + spec.date_column + " >= :from";
      if (query.to) sql += std::string(" AND ") + spec.date_column + " <= :to";
    } else if (kind == RecordKind::device && (query.from || query.to)) {
      // A device has no date of its own: it is dated by the lot it came in.
      sql += " AND lot_id IN (SELECT id FROM lots WHERE 1 = 1";
      if (query.from) sql += " AND date >= :from";
      if (query.to) sql += " AND date <= :to";
      sql += ")";
    }
    sql += std::string(" ORDER BY ") + spec.order_by + " LIMIT :limit OFFSET :offset";
    auto statement = db_.prepare(sql);
    int index = 1;
    if (spec.date_column != nullptr || kind == RecordKind::device) {
      if (query.from) statement.bind(index++, format_date(*query.from));
      if (query.to) statement.bind(index++, format_date(*query.to));
    }
    statement.bind(index++, query.limit);
    statement.bind(index, query.offset);
    while (statement.step()) {
      StoredRow row{kind,
                    statement.column_text(0),
                    parse_stored_json(statement.column_text(1)),
                    statement.column_int64(2),
                    statement.column_int64(3),
                    statement.column_optional_int64(4),
                    statement.column_int64(5),
                    statement.column_text(6),
                    parse_stored_json(statement.column_text(7)),
                    statement.column_optional_text(8)};
      out.push_back(with_metadata(row));
    }
  }
  return out;
}

std::int64_t LocalStore::count(RecordKind kind, bool include_deleted) const {
  std::string sql = std::string("SELECT count(*) FROM ") + spec_of(kind).table;
  if (!include_deleted) sql += " WHERE deleted_at IS NULL";
  return db_.query_int64(sql);
}

void LocalStore::for_each_session(const std::optional<Date>& from, const std::optional<Date>& to,
                                  const std::function<void(const ExportedSession&)>& visit) const {
  // Places and advisors are few: load them once rather than once per row.
  std::map<std::string, Place> places;
  {
    auto statement = db_.prepare("SELECT id, body FROM places");
    while (statement.step()) {
      auto body = parse_stored_json(statement.column_text(1));
      body["id"] = statement.column_text(0);
      Problems ignored;
      places.emplace(statement.column_text(0), decode_place(body, ignored));
    }
  }
  std::map<std::string, std::string> advisor_names;
  {
    auto statement = db_.prepare("SELECT id, body FROM advisors");
    while (statement.step()) {
      const auto body = parse_stored_json(statement.column_text(1));
      advisor_names[statement.column_text(0)] =
          (body.contains("prenom") ? body["prenom"].get<std::string>() + " " : std::string{}) +
          body.value("nom", std::string{});
    }
  }
  auto statement = db_.prepare(
      "SELECT id, body, created_at, updated_at, mediateur_id FROM sessions WHERE deleted_at IS NULL"
      " AND date >= ? AND date <= ? ORDER BY date, created_at");
  statement.bind(1, from ? format_date(*from) : std::string("0000-00-00"));
  statement.bind(2, to ? format_date(*to) : std::string("9999-99-99"));
  while (statement.step()) {
    auto body = parse_stored_json(statement.column_text(1));
    body["id"] = statement.column_text(0);
    Problems ignored;
    ExportedSession row{decode_session(body, ignored), statement.column_int64(2), statement.column_int64(3),
                        std::nullopt, {}};
    if (row.session.lieu_id) {
      if (const auto it = places.find(*row.session.lieu_id); it != places.end()) row.place = it->second;
    }
    if (const auto advisor = statement.column_optional_text(4)) {
      if (const auto it = advisor_names.find(*advisor); it != advisor_names.end()) row.mediateur = it->second;
    }
    visit(row);
  }
}

std::vector<JournalEntry> LocalStore::journal(std::int64_t after_seq, std::int64_t limit) const {
  auto statement = db_.prepare(
      "SELECT seq, kind, record_id, op, version, device_id, changes, created_at FROM journal WHERE seq > ? ORDER BY seq"
      " LIMIT ?");
  statement.bind(1, after_seq).bind(2, limit);
  std::vector<JournalEntry> out;
  while (statement.step()) {
    JournalEntry entry;
    entry.seq = statement.column_int64(0);
    entry.kind = parse_record_kind(statement.column_text(1)).value_or(RecordKind::session);
    entry.record_id = statement.column_text(2);
    entry.op = statement.column_text(3);
    entry.version = statement.column_int64(4);
    entry.device_id = statement.column_text(5);
    entry.changes = parse_stored_json(statement.column_text(6));
    entry.created_unix_ms = statement.column_int64(7);
    out.push_back(std::move(entry));
  }
  return out;
}

std::int64_t LocalStore::journal_size() const { return db_.query_int64("SELECT count(*) FROM journal"); }

// [SECTION] Rules that need other records -------------------------------------------------------

namespace {

bool is_live(const sqlite::Database& db, const char* table, const std::string& id) {
  const auto statement_lease = db.cached(std::string("SELECT 1 FROM ") + table + " WHERE id = ? AND deleted_at IS NULL");
  auto& statement = *statement_lease;
  statement.bind(1, id);
  return statement.step();
}

}  // namespace

void LocalStore::check_against_store(const AnyRecord& record, const json* previous, Problems& problems) {
  // On an update only the references that change are checked again: a record keeps pointing
  // at a place deleted elsewhere until someone changes that field.
  const auto changed = [&](const char* field, const std::optional<std::string>& value) {
    if (previous == nullptr) return true;
    const auto it = previous->find(field);
    const std::optional<std::string> before =
        it != previous->end() && it->is_string() ? std::optional(it->get<std::string>()) : std::nullopt;
    return before != value;
  };
  const auto place_exists = [&](const char* field, const std::optional<std::string>& lieu_id) {
    if (lieu_id && changed(field, lieu_id) && !is_live(db_, "places", *lieu_id)) {
      problems.push_back({field, "unknown_place", {{"value", *lieu_id}}});
    }
  };
  if (previous == nullptr) {
    const auto& id = id_of(record);
    if (id_exists(id)) problems.push_back({"id", "id_exists", {{"value", id}}});
  }
  if (const auto* session = std::get_if<Session>(&record)) {
    place_exists("lieu_id", session->lieu_id);
  } else if (const auto* lot = std::get_if<Lot>(&record)) {
    place_exists("lieu_id", lot->lieu_id);
  } else if (const auto* device = std::get_if<Device>(&record)) {
    if (changed("lot_id", device->lot_id) && !is_live(db_, "lots", device->lot_id)) {
      problems.push_back({"lot_id", "unknown_lot", {{"value", device->lot_id}}});
    }
    const auto key = serial_key(device->numero_serie);
    if (!key.empty()) {
      const auto statement_lease =
          db_.cached("SELECT id FROM devices WHERE serial_key = ? AND deleted_at IS NULL AND id <> ? LIMIT 1");
      auto& statement = *statement_lease;
      statement.bind(1, key).bind(2, device->id);
      if (statement.step()) {
        problems.push_back(
            {"numero_serie", "duplicate_serial", {{"value", *device->numero_serie}, {"other", statement.column_text(0)}}});
      }
    }
  } else if (const auto* event = std::get_if<DeviceEvent>(&record)) {
    if (changed("device_id", event->device_id) && !is_live(db_, "devices", event->device_id)) {
      problems.push_back({"device_id", "unknown_device", {{"value", event->device_id}}});
    }
  } else if (const auto* advisor = std::get_if<Advisor>(&record)) {
    if (changed("structure_id", advisor->structure_id) && !is_live(db_, "structures", advisor->structure_id)) {
      problems.push_back({"structure_id", "unknown_structure", {{"value", advisor->structure_id}}});
    }
    place_exists("lieu_id", advisor->lieu_id);
  }
}

void LocalStore::check_device_invariants(const std::string& device_id, Problems& problems) {
  // Décret 2022-190: no device that holds data is handed over or called refurbished before
  // a successful erasure of the previous users' data is recorded (on or before that day).
  const auto type_statement_lease = db_.cached("SELECT type FROM devices WHERE id = ?");
  auto& type_statement = *type_statement_lease;
  type_statement.bind(1, device_id);
  if (!type_statement.step()) return;
  const auto* type = vocabulary().set("type_appareil").find(type_statement.column_text(0));
  if (type != nullptr && !type->extra.value("holds_data", true)) return;

  const auto statement_lease = db_.cached(
      "SELECT e.type, e.date FROM device_events e WHERE e.device_id = ?1 AND e.deleted_at IS NULL"
      " AND e.type IN ('remis', 'reconditionne') AND NOT EXISTS ("
      "  SELECT 1 FROM device_events x WHERE x.device_id = ?1 AND x.deleted_at IS NULL AND x.type = 'efface'"
      "  AND json_extract(x.body, '$.resultat') = 'reussi' AND x.date <= e.date) LIMIT 1");
  auto& statement = *statement_lease;
  statement.bind(1, device_id);
  if (statement.step()) {
    problems.push_back({"type", "erasure_required",
                        {{"event", vocabulary().label("type_evenement", statement.column_text(0), Lang::fr)},
                         {"event_en", vocabulary().label("type_evenement", statement.column_text(0), Lang::en)},
                         {"date", statement.column_text(1)}}});
  }
}

void LocalStore::check_not_referenced(RecordKind kind, const std::string& id, Problems& problems) {
  const auto count_live = [&](const char* sql) {
    const auto statement_lease = db_.cached(sql);
    auto& statement = *statement_lease;
    statement.bind(1, id);
    return statement.step() ? statement.column_int64(0) : 0;
  };
  std::int64_t users = 0;
  switch (kind) {
    case RecordKind::lot:
      users = count_live("SELECT count(*) FROM devices WHERE lot_id = ? AND deleted_at IS NULL");
      break;
    case RecordKind::place:
      users = count_live(
          "SELECT (SELECT count(*) FROM sessions WHERE lieu_id = ?1 AND deleted_at IS NULL)"
          " + (SELECT count(*) FROM lots WHERE lieu_id = ?1 AND deleted_at IS NULL)"
          " + (SELECT count(*) FROM advisors WHERE lieu_id = ?1 AND deleted_at IS NULL)");
      break;
    case RecordKind::structure:
      users = count_live("SELECT count(*) FROM advisors WHERE structure_id = ? AND deleted_at IS NULL");
      break;
    default:
      break;
  }
  if (users > 0) problems.push_back({"id", "in_use", {{"count", std::to_string(users)}}});
}

// [SECTION] Writing -----------------------------------------------------------------------------

void LocalStore::write_row(const AnyRecord& record, const std::string& op, const json& changes,
                           const json& field_versions, std::int64_t version, std::int64_t created_unix_ms,
                           std::int64_t now_ms) {
  const auto kind = kind_of(record);
  const auto& spec = spec_of(kind);
  const auto& id = id_of(record);
  auto body = to_json(record);
  body.erase("id");  // the id is the row's key, not part of its body
  const auto values = index_values(record);

  std::string sql;
  if (op == "create") {
    sql = std::string("INSERT INTO ") + spec.table + " (id";
    for (const auto* column : spec.columns) sql += std::string(", ") + column;
    sql += std::string(", ") + kCommonColumns + ") VALUES (?";
    for (std::size_t i = 0; i < spec.columns.size() + 8; ++i) sql += ", ?";
    sql += ")";
  } else {
    sql = std::string("UPDATE ") + spec.table + " SET ";
    for (const auto* column : spec.columns) sql += std::string(column) + " = ?, ";
    sql += "body = ?, created_at = ?, updated_at = ?, deleted_at = ?, version = ?, version_device = ?,"
           " field_versions = ?, mediateur_id = coalesce(?, mediateur_id) WHERE id = ?";
  }
  const auto statement_lease = db_.cached(sql);
  auto& statement = *statement_lease;
  int index = 1;
  if (op == "create") statement.bind(index++, id);
  for (const auto& value : values) bind_value(statement, index++, value);
  statement.bind(index++, body.dump());
  statement.bind(index++, created_unix_ms);
  statement.bind(index++, now_ms);
  statement.bind(index++, nullptr);  // deleted_at: a written record is live
  statement.bind(index++, version);
  statement.bind(index++, device_id_);
  statement.bind(index++, field_versions.dump());
  const bool owned = kind == RecordKind::session || kind == RecordKind::lot || kind == RecordKind::device ||
                     kind == RecordKind::device_event;
  statement.bind(index++, owned ? meta("advisor_id") : std::nullopt);
  if (op != "create") statement.bind(index, id);
  statement.run();

  if (const auto* session = std::get_if<Session>(&record)) write_session_codes(*session);
  refresh_statistics(kind, id);
  append_journal(kind, id, op, version, changes, now_ms);
}

void LocalStore::write_session_codes(const Session& session) {
  const auto clear_lease = db_.cached("DELETE FROM session_codes WHERE session_id = ?");
  auto& clear = *clear_lease;
  clear.bind(1, session.id);
  clear.run();
  const auto insert_lease = db_.cached("INSERT OR IGNORE INTO session_codes (session_id, field, code) VALUES (?, ?, ?)");
  auto& insert = *insert_lease;
  for (const auto& [field, codes] : {std::pair{"thematiques", &session.thematiques}, std::pair{"materiel", &session.materiel}}) {
    for (const auto& code : *codes) {
      insert.bind(1, session.id).bind(2, field).bind(3, code);
      insert.run();
    }
  }
}

// [SECTION] Statistics index ------------------------------------------------------------------

class LocalStore::StatisticsSource final : public stats::RecordSource {
 public:
  explicit StatisticsSource(const LocalStore& store) : store_(store) {}

  std::optional<stats::SourceRecord> find(RecordKind kind, const std::string& id) const override {
    const auto row = store_.load_row(id, kind);
    if (!row) return std::nullopt;
    stats::SourceRecord record{row->body, row->deleted_at.has_value(), {row->mediateur_id.value_or(""), ""}};
    record.fields["id"] = id;
    return record;
  }

  std::vector<json> live_events(const std::string& device_id) const override {
    std::vector<json> events;
    const auto lease = store_.db_.cached(
        "SELECT id, body FROM device_events WHERE device_id = ? AND deleted_at IS NULL ORDER BY date, created_at");
    auto& select = *lease;
    select.bind(1, device_id);
    while (select.step()) {
      auto body = parse_stored_json(select.column_text(1));
      body["id"] = select.column_text(0);
      events.push_back(std::move(body));
    }
    return events;
  }

  std::vector<std::string> dependents(RecordKind kind, const std::string& id) const override {
    std::vector<std::string> ids;
    if (kind != RecordKind::lot && kind != RecordKind::place) return ids;
    const auto lease = store_.db_.cached(kind == RecordKind::lot ? "SELECT id FROM devices WHERE lot_id = ?"
                                                                 : "SELECT id FROM sessions WHERE lieu_id = ?");
    auto& select = *lease;
    select.bind(1, id);
    while (select.step()) ids.push_back(select.column_text(0));
    return ids;
  }

 private:
  const LocalStore& store_;
};

void LocalStore::refresh_statistics(RecordKind kind, const std::string& id) {
  stats::Index index(db_);
  stats::refresh(index, StatisticsSource(*this), kind, id);
}

void LocalStore::rebuild_statistics() {
  sqlite::Transaction transaction(db_);
  stats::Index(db_).clear();
  for (const auto kind : {RecordKind::session, RecordKind::device}) {
    std::vector<std::string> ids;
    {
      auto select = db_.prepare(std::string("SELECT id FROM ") + spec_of(kind).table + " WHERE deleted_at IS NULL");
      while (select.step()) ids.push_back(select.column_text(0));
    }
    for (const auto& id : ids) refresh_statistics(kind, id);
  }
  set_meta(kStatisticsIndexKey, "1");
  transaction.commit();
}

void LocalStore::append_journal(RecordKind kind, const std::string& id, const std::string& op, std::int64_t version,
                                const json& changes, std::int64_t now_ms) {
  const auto statement_lease = db_.cached(
      "INSERT INTO journal (kind, record_id, op, version, device_id, changes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  auto& statement = *statement_lease;
  statement.bind(1, std::string(to_string(kind)))
      .bind(2, id)
      .bind(3, op)
      .bind(4, version)
      .bind(5, device_id_)
      .bind(6, changes.dump())
      .bind(7, now_ms);
  statement.run();
}

WriteResult LocalStore::add(AnyRecord record) {
  std::vector<AnyRecord> batch;
  batch.push_back(std::move(record));
  auto result = add(std::move(batch));
  // A single record's problems name its fields directly.
  for (auto& problem : result.problems) {
    if (problem.field.rfind("[0]", 0) == 0) problem.field.erase(0, problem.field.size() > 3 && problem.field[3] == '.' ? 4 : 3);
  }
  return result;
}

namespace {

// The record a record hangs from, when it is a device (its lot) or an event (its device).
std::optional<std::string> parent_of(const AnyRecord& record) {
  if (const auto* device = std::get_if<Device>(&record)) return device->lot_id;
  if (const auto* event = std::get_if<DeviceEvent>(&record)) return event->device_id;
  return std::nullopt;
}

}  // namespace

WriteResult LocalStore::add(std::vector<AnyRecord> records) {
  WriteResult result;
  refresh_clock();
  refresh_vocabulary();
  const auto context = validation_context();
  // Ids of the batch's refused records: their children are refused with them, without a
  // second message saying the parent does not exist.
  std::set<std::string> refused;
  sqlite::Transaction transaction(db_);
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto& record = records[i];
    Problems problems = validate(record, context);
    if (id_of(record).empty()) set_id(record, make_uuid_v7());
    const auto parent = parent_of(record);
    const bool parent_refused = parent && refused.count(*parent) != 0;
    if (problems.empty() && !parent_refused) check_against_store(record, nullptr, problems);
    if (problems.empty() && !parent_refused) {
      if (auto* device = std::get_if<Device>(&record)) apply_default_weight(*device, vocabulary());
      const auto version = next_version();
      const auto now_ms = now_unix_ms();
      auto body = to_json(record);
      body.erase("id");
      // Each record is its own savepoint, so that a record refused after being written (an
      // event that breaks its device's rules) does not stay visible to the next ones.
      db_.exec("SAVEPOINT record");
      write_row(record, "create", body, json{{kCreationKey, to_json(FieldVersion{version, device_id_})}}, version,
                now_ms, now_ms);
      if (const auto* event = std::get_if<DeviceEvent>(&record)) check_device_invariants(event->device_id, problems);
      if (!problems.empty()) db_.exec("ROLLBACK TO record");
      db_.exec("RELEASE record");
    }
    if (!problems.empty() || parent_refused) refused.insert(id_of(record));
    if (problems.empty() && !parent_refused) result.ids.push_back(id_of(record));
    prefix_fields(problems, "[" + std::to_string(i) + "]");
    result.problems.insert(result.problems.end(), problems.begin(), problems.end());
  }
  if (!result.ok()) {
    result.ids.clear();
    return result;  // the transaction rolls back: nothing of the batch is kept
  }
  commit(transaction);
  return result;
}

WriteResult LocalStore::update(const std::string& id, const json& fields) {
  WriteResult result;
  refresh_clock();
  refresh_vocabulary();
  sqlite::Transaction transaction(db_);
  const auto row = load_live_row(id, result.problems);
  if (!row) return result;
  if (!fields.is_object()) {
    result.problems.push_back({"", "expected_object", {}});
    return result;
  }
  json merged = row->body;
  for (const auto& [key, value] : fields.items()) {
    if (key == "id") {
      if (!value.is_string() || value.get<std::string>() != id) {
        result.problems.push_back({"id", "id_mismatch", {{"value", value.dump()}, {"expected", id}}});
      }
      continue;
    }
    if (key == "kind" || !is_metadata_key(key)) {
      if (value.is_null()) {
        merged.erase(key);
      } else {
        merged[key] = value;
      }
    }
  }
  merged["id"] = id;
  auto checked = check_record(row->kind, merged, validation_context());
  result.problems.insert(result.problems.end(), checked.problems.begin(), checked.problems.end());
  if (result.ok()) check_against_store(checked.record, &row->body, result.problems);
  if (!result.ok()) return result;

  if (auto* device = std::get_if<Device>(&checked.record)) apply_default_weight(*device, vocabulary());
  auto body = to_json(checked.record);
  body.erase("id");
  json changes = json::object();
  for (const auto& [key, value] : body.items()) {
    if (!row->body.contains(key) || row->body[key] != value) changes[key] = value;
  }
  for (const auto& [key, value] : row->body.items()) {
    if (!body.contains(key)) changes[key] = nullptr;  // removed field
  }
  if (changes.empty()) {
    result.ids.push_back(id);
    result.unchanged = true;
    return result;
  }
  const auto version = next_version();
  json field_versions = row->field_versions;
  for (const auto& item : changes.items()) field_versions[item.key()] = to_json(FieldVersion{version, device_id_});
  write_row(checked.record, "update", changes, field_versions, version, row->created_at, now_unix_ms());
  if (const auto* device = std::get_if<Device>(&checked.record)) check_device_invariants(device->id, result.problems);
  if (const auto* event = std::get_if<DeviceEvent>(&checked.record)) {
    check_device_invariants(event->device_id, result.problems);
    if (event->device_id != row->body.value("device_id", std::string{})) {
      check_device_invariants(row->body.value("device_id", std::string{}), result.problems);
    }
  }
  if (!result.ok()) return result;
  commit(transaction);
  result.ids.push_back(id);
  return result;
}

void LocalStore::mark_deleted(RecordKind kind, const std::string& id) {
  const auto version = next_version();
  const auto now_ms = now_unix_ms();
  // The deletion is a field for sync ("_deleted"), with its own version.
  const auto lease = db_.cached(std::string("UPDATE ") + spec_of(kind).table +
                                " SET deleted_at = ?, updated_at = ?, version = ?, version_device = ?,"
                                " field_versions = json_set(field_versions, '$._deleted', json(?)) WHERE id = ?");
  auto& statement = *lease;
  statement.bind(1, now_ms).bind(2, now_ms).bind(3, version).bind(4, device_id_);
  statement.bind(5, to_json(FieldVersion{version, device_id_}).dump()).bind(6, id);
  statement.run();
  refresh_statistics(kind, id);
  append_journal(kind, id, "delete", version, json::object(), now_ms);
}

WriteResult LocalStore::remove(const std::string& id) {
  WriteResult result;
  refresh_clock();
  refresh_vocabulary();
  sqlite::Transaction transaction(db_);
  const auto row = load_live_row(id, result.problems);
  if (!row) return result;
  check_not_referenced(row->kind, id, result.problems);
  if (!result.ok()) return result;

  if (row->kind == RecordKind::device) {
    // A device's event log goes with it: each event is deleted (and journaled) too.
    std::vector<std::string> events;
    {
      const auto lease = db_.cached("SELECT id FROM device_events WHERE device_id = ? AND deleted_at IS NULL");
      auto& statement = *lease;
      statement.bind(1, id);
      while (statement.step()) events.push_back(statement.column_text(0));
    }
    for (const auto& event_id : events) mark_deleted(RecordKind::device_event, event_id);
  }
  mark_deleted(row->kind, id);
  if (row->kind == RecordKind::device_event) {
    Problems problems;
    check_device_invariants(row->body.value("device_id", std::string{}), problems);
    if (!problems.empty()) {
      // Removing this erasure would leave a handed-over device without one.
      result.problems.push_back({"id", "erasure_still_needed", problems.front().args});
      return result;
    }
  }
  commit(transaction);
  result.ids.push_back(id);
  return result;
}

}  // namespace relais

// [SECTION] Sync --------------------------------------------------------------------------------

namespace relais {

namespace {

constexpr const char* kPushedSeqKey = "sync_pushed_seq";
constexpr const char* kPullCursorKey = "sync_pull_cursor";

FieldVersions versions_or_empty(const json& stored) {
  return field_versions_from_json(stored).value_or(FieldVersions{});
}

// A stored record's versions (empty when they are not versions). Read straight from the text;
// through parse_stored_json when that fails, which throws when the text is not JSON at all.
FieldVersions stored_versions(const std::string& text) {
  if (auto versions = field_versions_from_text(text)) return std::move(*versions);
  return versions_or_empty(parse_stored_json(text));
}

// Syncing order of kinds: parents before children, so that a page never points at a record
// that is not there yet.
int dependency_rank(RecordKind kind) {
  switch (kind) {
    case RecordKind::structure: return 0;
    case RecordKind::advisor: return 1;
    case RecordKind::place: return 2;
    case RecordKind::lot: return 3;
    case RecordKind::device: return 4;
    case RecordKind::device_event: return 5;
    case RecordKind::session: return 6;
  }
  return 7;
}

}  // namespace

FieldVersions LocalStore::synced_versions(const std::string& id) const {
  const auto lease = db_.cached("SELECT synced_versions FROM sync_records WHERE record_id = ?");
  auto& statement = *lease;
  statement.bind(1, id);
  if (!statement.step()) return {};
  return stored_versions(statement.column_text(0));
}

void LocalStore::log_conflict(RecordKind kind, const std::string& id, const std::string& field, const json& kept_value,
                              const json& kept_version, const json& lost_value, const json& lost_version,
                              const char* source, std::int64_t now_ms) {
  const auto lease = db_.cached(
      "INSERT INTO conflicts (kind, record_id, field, kept_value, kept_version, lost_value, lost_version, source,"
      " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  auto& insert = *lease;
  insert.bind(1, std::string(to_string(kind)))
      .bind(2, id)
      .bind(3, field)
      .bind(4, kept_value.dump())
      .bind(5, kept_version.dump())
      .bind(6, lost_value.dump())
      .bind(7, lost_version.dump())
      .bind(8, source)
      .bind(9, now_ms);
  insert.run();
}

Outbox LocalStore::outbox(std::size_t max_records, const Outbox* in_flight) const {
  std::vector<const Outbox*> pushes;
  if (in_flight != nullptr) pushes.push_back(in_flight);
  return outbox(max_records, pushes);
}

Outbox LocalStore::outbox(std::size_t max_records, const std::vector<const Outbox*>& in_flight) const {
  Outbox out;
  const std::int64_t pushed =
      in_flight.empty() ? std::stoll(meta(kPushedSeqKey).value_or("0")) : in_flight.back()->up_to_seq;
  out.up_to_seq = pushed;
  // A push in flight that holds parents (lots, devices) is answered before anything else goes:
  // the server takes a child only once its parent is there, and may apply two pushes in either
  // order. (Sessions, the bulk of any push, have no such parent and stay two in flight.)
  for (const auto* push : in_flight) {
    if (std::any_of(push->changes.begin(), push->changes.end(), [](const OutgoingChange& change) {
          return change.kind == RecordKind::lot || change.kind == RecordKind::device;
        })) {
      return out;
    }
  }
  // Ids seen, as views of the strings held by the pushes in flight and by `records` (a deque:
  // its strings stay where they are as it grows).
  std::unordered_set<std::string_view> sending;
  for (const auto* push : in_flight) {
    for (const auto& change : push->changes) sending.insert(change.id);
  }
  // Journal order, until `max_records` distinct records: every entry up to up_to_seq belongs to
  // a record in the outbox, so the checkpoint can move there once the server has answered.
  // A session's row and what the server acknowledged of it come with its journal entry (one
  // query for the whole batch: most journaled records are sessions); the rows of other kinds
  // are read one by one after.
  struct Row {
    std::string body;
    bool deleted = false;
    std::string versions;
    std::optional<std::string> synced;
  };
  std::deque<std::pair<RecordKind, std::string>> records;
  std::vector<std::optional<Row>> rows;  // one per record, when read with the journal
  std::unordered_set<std::string_view> seen;
  {
    static const std::string kJournalWithSessions =
        std::string("SELECT j.seq, j.kind, j.record_id, r.id IS NOT NULL, r.body, r.deleted_at IS NOT NULL,"
                    " r.field_versions, s.synced_versions FROM journal j LEFT JOIN ") +
        spec_of(RecordKind::session).table + " r ON j.kind = '" + std::string(to_string(RecordKind::session)) +
        "' AND r.id = j.record_id LEFT JOIN sync_records s ON r.id IS NOT NULL AND s.record_id = j.record_id"
        " WHERE j.seq > ? ORDER BY j.seq";
    const auto lease = db_.cached(kJournalWithSessions);
    auto& statement = *lease;
    statement.bind(1, pushed);
    while (statement.step()) {
      auto id = statement.column_text(2);
      // A record of the push in flight, edited again: it goes out once that push is answered,
      // with the versions the server then acknowledged as bases. Stop before it.
      if (sending.count(id) != 0) break;
      if (seen.count(id) == 0) {
        if (records.size() == max_records) break;
        records.emplace_back(parse_record_kind(statement.column_text(1)).value_or(RecordKind::session), std::move(id));
        seen.insert(records.back().second);
        std::optional<Row> row;
        if (statement.column_int64(3) != 0) {
          row = Row{statement.column_text(4), statement.column_int64(5) != 0, statement.column_text(6),
                    statement.column_optional_text(7)};
        }
        rows.push_back(std::move(row));
      }
      out.up_to_seq = statement.column_int64(0);
    }
  }
  // A row of another kind (or none: the record is gone).
  const auto read_row = [this](RecordKind kind, const std::string& id) -> std::optional<Row> {
    const auto lease = db_.cached(std::string("SELECT r.body, r.deleted_at, r.field_versions, s.synced_versions FROM ") +
                                  spec_of(kind).table + " r LEFT JOIN sync_records s ON s.record_id = r.id WHERE r.id = ?");
    auto& statement = *lease;
    statement.bind(1, id);
    if (!statement.step()) return std::nullopt;
    return Row{statement.column_text(0), !statement.is_null(1), statement.column_text(2), statement.column_optional_text(3)};
  };
  for (std::size_t index = 0; index < records.size(); ++index) {
    const auto& [kind, id] = records[index];
    auto row = rows[index] ? std::move(rows[index]) : read_row(kind, id);
    if (!row) continue;
    const auto versions = stored_versions(row->versions);
    const auto synced = row->synced ? stored_versions(*row->synced) : FieldVersions{};
    const bool deleted = row->deleted;
    OutgoingChange change{kind, id, {}, {}, {}};

    // The common case, a new record pushed for the first time: every field goes out under the
    // creation's version, and the stored body is the fields object. It is sent as it is.
    const auto creation = versions.find(kCreationKey);
    if (synced.empty() && versions.size() == 1 && creation != versions.end() && !deleted &&
        creation->second.device == device_id_) {
      change.fields = std::move(row->body);
      change.versions.emplace(kCreationKey, creation->second);
      out.changes.push_back(std::move(change));
      continue;
    }

    auto body = parse_stored_json(row->body);
    std::set<std::string> names;
    for (const auto& item : body.items()) names.insert(item.key());
    for (const auto& [field, version] : versions) {
      if (field != kCreationKey) names.insert(field);
    }
    json fields = json::object();
    for (const auto& field : names) {
      const auto version = version_of(versions, field);
      const auto acknowledged = version_of(synced, field);
      if (!version || version == acknowledged) continue;
      // A device pushes its own changes only: another device's came from the server, and that
      // device pushes them itself (after a resync too). The server refuses any other.
      if (version->device != device_id_) continue;
      if (field == kDeletedField) {
        fields[field] = deleted;
      } else {
        const auto it = body.find(field);
        fields[field] = it == body.end() ? json(nullptr) : std::move(*it);
      }
      // A field still at the creation's version is sent under "*", as it is stored: a new
      // record goes out with one version instead of one per field. (Not when the server
      // acknowledged a version of that field of its own, which "*" would not replace.)
      if (creation != versions.end() && versions.count(field) == 0 && synced.count(field) == 0) {
        change.versions[kCreationKey] = creation->second;
      } else {
        change.versions[field] = *version;
      }
      if (acknowledged) change.bases[field] = *acknowledged;
    }
    if (fields.empty()) continue;
    change.fields = fields.dump();
    out.changes.push_back(std::move(change));
  }
  const auto by_rank = [](const OutgoingChange& a, const OutgoingChange& b) {
    return dependency_rank(a.kind) < dependency_rank(b.kind);
  };
  // (Usually one kind only: already in order.)
  if (!std::is_sorted(out.changes.begin(), out.changes.end(), by_rank)) {
    std::stable_sort(out.changes.begin(), out.changes.end(), by_rank);
  }
  return out;
}

void LocalStore::acknowledge_push(const Outbox& sent, const std::vector<PushResult>& results) {
  // Nothing sent and the checkpoint already there (a sync with nothing to push): no write.
  if (sent.changes.empty() && results.empty() &&
      sent.up_to_seq == std::stoll(meta(kPushedSeqKey).value_or("0"))) {
    return;
  }
  sqlite::Transaction transaction(db_);
  std::unordered_map<std::string_view, const OutgoingChange*> by_id;
  by_id.reserve(sent.changes.size());
  for (const auto& change : sent.changes) by_id.emplace(change.id, &change);
  const auto now_ms = now_unix_ms();
  for (const auto& result : results) {
    const auto it = by_id.find(result.id);
    if (it == by_id.end()) continue;
    const auto& change = *it->second;
    if (result.status == "rejected") {
      const auto lease = db_.cached(
          "INSERT INTO sync_records (record_id, kind, rejected_reason, rejected_at) VALUES (?1, ?2, ?3, ?4)"
          " ON CONFLICT (record_id) DO UPDATE SET rejected_reason = ?3, rejected_at = ?4");
      auto& statement = *lease;
      statement.bind(1, change.id).bind(2, to_string(change.kind)).bind(3, result.problems.dump()).bind(4, now_ms);
      statement.run();
      continue;
    }
    // The sent versions become the acknowledged ones, merged by SQLite into those already
    // acknowledged (json_patch replaces the entries it names and keeps the others).
    const auto lease = db_.cached(
        "INSERT INTO sync_records (record_id, kind, synced_versions) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (record_id) DO UPDATE SET synced_versions = json_patch(synced_versions, ?3),"
        " rejected_reason = NULL, rejected_at = NULL");
    auto& statement = *lease;
    statement.bind(1, change.id).bind(2, to_string(change.kind)).bind(3, to_json_text(change.versions));
    statement.run();
    for (const auto& conflict : result.conflicts) {
      log_conflict(change.kind, change.id, conflict.value("field", std::string{}), conflict.value("kept_value", json()),
                   conflict.value("kept_version", json()), conflict.value("lost_value", json()),
                   conflict.value("lost_version", json()), "push", now_ms);
    }
  }
  set_meta(kPushedSeqKey, std::to_string(sent.up_to_seq));
  transaction.commit();
}

void LocalStore::write_pulled(const PulledRecord& pulled, const RecordState& merged) {
  auto body = merged.fields;
  body["id"] = pulled.id;
  // Data from the server was validated there; decoding here only fills the query columns.
  auto record = check_record(pulled.kind, body, validation_context()).record;
  set_id(record, pulled.id);
  const auto& spec = spec_of(pulled.kind);
  const auto values = index_values(record);
  const auto now_ms = now_unix_ms();
  std::int64_t latest = 0;
  std::string latest_device;
  for (const auto& [field, version] : merged.versions) {
    if (version.clock > latest) {
      latest = version.clock;
      latest_device = version.device;
    }
  }
  std::string sql = std::string("INSERT INTO ") + spec.table + " (id";
  for (const auto* column : spec.columns) sql += std::string(", ") + column;
  sql += std::string(", ") + kCommonColumns + ") VALUES (?";
  for (std::size_t i = 0; i < spec.columns.size() + 8; ++i) sql += ", ?";
  sql += ") ON CONFLICT (id) DO UPDATE SET ";
  for (const auto* column : spec.columns) sql += std::string(column) + " = excluded." + column + ", ";
  sql += "body = excluded.body, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at,"
         " version = excluded.version, version_device = excluded.version_device,"
         " field_versions = excluded.field_versions, mediateur_id = coalesce(excluded.mediateur_id, mediateur_id)";
  const auto lease = db_.cached(sql);
  auto& statement = *lease;
  int index = 1;
  statement.bind(index++, pulled.id);
  for (const auto& value : values) bind_value(statement, index++, value);
  body.erase("id");
  statement.bind(index++, body.dump());
  statement.bind(index++, now_ms);  // created_at (kept on update)
  statement.bind(index++, now_ms);
  statement.bind(index++, merged.deleted ? std::optional<std::int64_t>(now_ms) : std::nullopt);
  statement.bind(index++, latest);
  statement.bind(index++, latest_device);
  statement.bind(index++, to_json(merged.versions).dump());
  statement.bind(index, pulled.mediateur_id);
  statement.run();
  if (const auto* session = std::get_if<Session>(&record)) write_session_codes(*session);
  refresh_statistics(pulled.kind, pulled.id);
}

namespace {

// The record a pulled record needs before it can be stored (foreign keys): a device's lot, an
// event's device. Empty for the other kinds.
std::string parent_id_of(const PulledRecord& pulled) {
  const char* field = pulled.kind == RecordKind::device         ? "lot_id"
                      : pulled.kind == RecordKind::device_event ? "device_id"
                                                                : nullptr;
  if (field == nullptr) return {};
  const auto it = pulled.state.fields.find(field);
  return it != pulled.state.fields.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

json held_json(const PulledRecord& pulled) {
  json out = {{"kind", std::string(to_string(pulled.kind))},
              {"id", pulled.id},
              {"fields", pulled.state.fields},
              {"versions", to_json(pulled.state.versions)},
              {"deleted", pulled.state.deleted}};
  if (pulled.mediateur_id) out["mediateur_id"] = *pulled.mediateur_id;
  return out;
}

std::optional<PulledRecord> held_from_json(const json& held) {
  const auto kind = parse_record_kind(held.value("kind", std::string{}));
  auto versions = field_versions_from_json(held.value("versions", json::object()));
  if (!kind || !versions) return std::nullopt;
  PulledRecord pulled;
  pulled.kind = *kind;
  pulled.id = held.value("id", std::string{});
  pulled.state = RecordState{held.value("fields", json::object()), std::move(*versions), held.value("deleted", false)};
  if (held.contains("mediateur_id")) pulled.mediateur_id = held["mediateur_id"].get<std::string>();
  return pulled;
}

}  // namespace

bool LocalStore::parent_is_here(const PulledRecord& pulled) const {
  const auto parent = parent_id_of(pulled);
  if (parent.empty()) return true;
  const auto lease = db_.cached(pulled.kind == RecordKind::device ? "SELECT 1 FROM lots WHERE id = ?"
                                                                   : "SELECT 1 FROM devices WHERE id = ?");
  auto& statement = *lease;
  statement.bind(1, parent);
  return statement.step();
}

void LocalStore::apply_one_pulled(const PulledRecord& pulled, PullApplied& applied, std::int64_t now_ms) {
  const auto row = load_row(pulled.id, pulled.kind);
  std::optional<RecordState> local;
  if (row) local = RecordState{row->body, versions_or_empty(row->field_versions), row->deleted_at.has_value()};
  auto synced = synced_versions(pulled.id);

  // The server's whole record, each field with its own version.
  IncomingChange incoming;
  for (const auto& item : pulled.state.fields.items()) {
    if (const auto version = version_of(pulled.state.versions, item.key())) {
      incoming.fields[item.key()] = item.value();
      incoming.versions[item.key()] = *version;
    }
  }
  for (const auto& [field, version] : pulled.state.versions) {
    if (field == kCreationKey || incoming.fields.contains(field)) continue;
    incoming.fields[field] = field == kDeletedField ? json(pulled.state.deleted) : json(nullptr);
    incoming.versions[field] = version;
  }
  for (const auto& [field, version] : incoming.versions) {
    if (const auto base = version_of(synced, field)) incoming.bases[field] = *base;
    clock_.observe(version.clock);
  }
  const auto outcome = merge(local, incoming);
  if (outcome.changed) {
    write_pulled(pulled, outcome.merged);
    ++applied.changed;
  }
  for (const auto& conflict : outcome.conflicts) {
    log_conflict(pulled.kind, pulled.id, conflict.field, conflict.kept_value, to_json(conflict.kept_version),
                 conflict.lost_value, to_json(conflict.lost_version), "pull", now_ms);
    ++applied.conflicts;
  }
  // What the server holds now is what this device has acknowledged, the creation's version
  // included: it is the base of a field the record never had, such as its deletion (without it,
  // deleting a record pulled from elsewhere was logged as a conflict with its creation).
  for (const auto& [field, version] : incoming.versions) synced[field] = version;
  if (const auto creation = pulled.state.versions.find(kCreationKey); creation != pulled.state.versions.end()) {
    synced[kCreationKey] = creation->second;
  }
  const auto lease = db_.cached(
      "INSERT INTO sync_records (record_id, kind, synced_versions) VALUES (?1, ?2, ?3)"
      " ON CONFLICT (record_id) DO UPDATE SET synced_versions = ?3");
  auto& statement = *lease;
  statement.bind(1, pulled.id).bind(2, std::string(to_string(pulled.kind))).bind(3, to_json(synced).dump());
  statement.run();
}

PullApplied LocalStore::apply_pulled(const std::vector<PulledRecord>& records, const std::string& next_cursor,
                                     const std::optional<json>& vocabulary_update) {
  PullApplied applied;
  // An empty page that leaves the cursor where it was (nothing changed): no write.
  if (records.empty() && !vocabulary_update && meta(kPullCursorKey) == next_cursor) return applied;
  sqlite::Transaction transaction(db_);
  // A vocabulary update is saved with the page, and used once the page is committed.
  std::unique_ptr<Vocabulary> new_vocabulary;
  if (vocabulary_update) {
    try {
      new_vocabulary = std::make_unique<Vocabulary>(base_vocabulary_.with_update(*vocabulary_update));
      set_meta(kVocabularyUpdateKey, vocabulary_update->dump());
      applied.vocabulary_version = new_vocabulary->update_version();
    } catch (const std::invalid_argument&) {
      // An update this build cannot use (a set it does not know): its codes stay unknown here.
    }
  }
  // A page may name a parent that comes later in it: foreign keys are checked at commit.
  db_.exec("PRAGMA defer_foreign_keys = ON");
  std::vector<const PulledRecord*> ordered;
  for (const auto& record : records) ordered.push_back(&record);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto* a, const auto* b) { return dependency_rank(a->kind) < dependency_rank(b->kind); });
  const auto now_ms = now_unix_ms();
  for (const auto* pulled : ordered) {
    if (parent_is_here(*pulled)) {
      apply_one_pulled(*pulled, applied, now_ms);
      // A newer state of a record held back earlier replaces it.
      (*db_.cached("DELETE FROM sync_held WHERE record_id = ?")).bind(1, pulled->id).run();
      continue;
    }
    // Its parent changed after it on the server, so comes in a later page: hold it until then
    // (saved with the cursor, so a crash loses nothing).
    (*db_.cached("INSERT OR REPLACE INTO sync_held (record_id, kind, parent_id, record) VALUES (?, ?, ?, ?)"))
        .bind(1, pulled->id)
        .bind(2, std::string(to_string(pulled->kind)))
        .bind(3, parent_id_of(*pulled))
        .bind(4, held_json(*pulled).dump())
        .run();
  }
  release_held(applied, now_ms);
  set_meta(kPullCursorKey, next_cursor);
  commit(transaction);
  if (new_vocabulary) {
    if (updated_vocabulary_) retired_vocabularies_.push_back(std::move(updated_vocabulary_));
    updated_vocabulary_ = std::move(new_vocabulary);
    loaded_vocabulary_update_ = vocabulary_update->dump();
  }
  return applied;
}

void LocalStore::release_held(PullApplied& applied, std::int64_t now_ms) {
  // Devices before events: an event may wait for a device that was itself waiting for its lot.
  for (const char* sql : {"SELECT h.record FROM sync_held h JOIN lots p ON p.id = h.parent_id WHERE h.kind = 'device'",
                          "SELECT h.record FROM sync_held h JOIN devices p ON p.id = h.parent_id WHERE h.kind = 'event'"}) {
    std::vector<PulledRecord> ready;
    {
      auto statement = db_.prepare(sql);
      while (statement.step()) {
        if (auto pulled = held_from_json(parse_stored_json(statement.column_text(0)))) ready.push_back(std::move(*pulled));
      }
    }
    for (const auto& pulled : ready) {
      apply_one_pulled(pulled, applied, now_ms);
      (*db_.cached("DELETE FROM sync_held WHERE record_id = ?")).bind(1, pulled.id).run();
    }
  }
}

std::int64_t LocalStore::pending_count() const {
  const std::int64_t pushed = std::stoll(meta(kPushedSeqKey).value_or("0"));
  // A few entries since the last push: read them by seq. Many (a store never synced, or offline
  // for long): count the ids in the journal_record index (about 40 bytes an entry, already in
  // id order) rather than read every entry with its JSON and sort the ids: 4 times less time
  // and I/O with 100,000 entries (docs/benchmarks.md). The index is read whole, so it is the
  // faster way only when the entries since the push are more than about a fifth of the journal.
  const std::int64_t last = db_.query_int64("SELECT coalesce(max(seq), 0) FROM journal");
  const auto lease = db_.cached((last - pushed) * 5 > last
                                    ? "SELECT count(DISTINCT record_id) FROM journal INDEXED BY journal_record WHERE seq > ?"
                                    : "SELECT count(DISTINCT record_id) FROM journal WHERE seq > ?");
  auto& statement = *lease;
  statement.bind(1, pushed);
  return statement.step() ? statement.column_int64(0) : 0;
}

std::vector<json> LocalStore::conflict_log() const {
  std::vector<json> out;
  auto statement = db_.prepare(
      "SELECT id, kind, record_id, field, kept_value, kept_version, lost_value, lost_version, source, detected_at"
      " FROM conflicts ORDER BY id DESC");
  while (statement.step()) {
    out.push_back({{"id", statement.column_int64(0)},
                   {"kind", statement.column_text(1)},
                   {"record_id", statement.column_text(2)},
                   {"field", statement.column_text(3)},
                   {"kept_value", parse_stored_json(statement.column_text(4))},
                   {"kept_version", parse_stored_json(statement.column_text(5))},
                   {"lost_value", parse_stored_json(statement.column_text(6))},
                   {"lost_version", parse_stored_json(statement.column_text(7))},
                   {"source", statement.column_text(8)},
                   {"detected_at", format_timestamp_utc(statement.column_int64(9))}});
  }
  return out;
}

std::vector<json> LocalStore::quarantined() const {
  std::vector<json> out;
  auto statement = db_.prepare(
      "SELECT record_id, kind, rejected_reason, rejected_at FROM sync_records WHERE rejected_at IS NOT NULL"
      " ORDER BY rejected_at");
  while (statement.step()) {
    out.push_back({{"record_id", statement.column_text(0)},
                   {"kind", statement.column_text(1)},
                   {"problems", parse_stored_json(statement.column_text(2))},
                   {"rejected_at", format_timestamp_utc(statement.column_int64(3))}});
  }
  return out;
}

std::int64_t LocalStore::learn_server_time(std::int64_t server_ms) {
  // Against this device's own clock (the system's, or the one a test gives), not corrected.
  const auto measured = server_ms - (options_.wall_clock ? options_.wall_clock() : now_unix_ms());
  // Ordinary drift (and the request's own time) is no reason to correct anything.
  const auto offset = measured >= kClockCorrectionThresholdMs || measured <= -kClockCorrectionThresholdMs ? measured : 0;
  refresh_clock();
  // Written only when it moved: not at every answer of every sync.
  if (offset == clock_offset_ms_ || (offset != 0 && clock_offset_ms_ != 0 &&
                                     std::abs(offset - clock_offset_ms_) < kClockCorrectionThresholdMs / 4)) {
    return clock_offset_ms_;
  }
  set_meta(kClockOffsetKey, std::to_string(offset));
  clock_offset_ms_ = offset;
  return offset;
}

std::size_t LocalStore::restamp_future_versions() {
  refresh_clock();
  const auto now_ms = wall_now_ms();
  const auto ceiling = HybridLogicalClock::ceiling(now_ms);
  if (clock_.last() <= ceiling) return 0;  // the clock never went that far: nothing to look at

  sqlite::Transaction transaction(db_);
  // From the corrected clock on; the versions kept below it are caught up with as they are read.
  clock_.reset(HybridLogicalClock::make(now_ms, 0));
  struct Restamped {
    RecordKind kind;
    std::string id;
    FieldVersions versions;
    std::vector<std::string> fields;  // those to stamp again
    json changes;
  };
  std::vector<Restamped> restamped;
  std::int64_t kept = 0;  // the greatest version left as it was
  for (const auto kind : {RecordKind::structure, RecordKind::advisor, RecordKind::place, RecordKind::lot,
                          RecordKind::device, RecordKind::device_event, RecordKind::session}) {
    const auto lease = db_.cached(std::string("SELECT r.id, r.body, r.field_versions, s.synced_versions FROM ") +
                                  spec_of(kind).table + " r LEFT JOIN sync_records s ON s.record_id = r.id");
    auto& statement = *lease;
    while (statement.step()) {
      Restamped record{kind, {}, stored_versions(statement.column_text(2)), {}, json::object()};
      const auto synced = stored_versions(statement.column_optional_text(3).value_or("{}"));
      for (const auto& [field, version] : record.versions) {
        const auto acknowledged = synced.find(field);
        const bool mine_unacknowledged = version.device == device_id_ &&
                                         (acknowledged == synced.end() || acknowledged->second != version);
        if (version.clock <= ceiling) {
          kept = std::max(kept, version.clock);
        } else if (mine_unacknowledged) {
          record.fields.push_back(field);
        }
      }
      if (record.fields.empty()) continue;
      record.id = statement.column_text(0);
      const auto body = parse_stored_json(statement.column_text(1));
      for (const auto& field : record.fields) {
        if (field == kCreationKey) {
          record.changes.update(body);
        } else if (field != kDeletedField) {
          record.changes[field] = body.contains(field) ? body[field] : json(nullptr);
        }
      }
      restamped.push_back(std::move(record));
    }
  }
  clock_.reset(std::max(clock_.last(), kept));
  for (auto& record : restamped) {
    const auto version = next_version();
    for (const auto& field : record.fields) record.versions[field] = FieldVersion{version, device_id_};
    const auto lease = db_.cached(std::string("UPDATE ") + spec_of(record.kind).table +
                                  " SET field_versions = ?1, version = ?2, version_device = ?3 WHERE id = ?4");
    (*lease).bind(1, to_json_text(record.versions)).bind(2, version).bind(3, device_id_).bind(4, record.id).run();
    // Out of quarantine, and journaled: it goes out again with its new versions.
    const auto unquarantine =
        db_.cached("UPDATE sync_records SET rejected_reason = NULL, rejected_at = NULL WHERE record_id = ?1");
    (*unquarantine).bind(1, record.id).run();
    append_journal(record.kind, record.id, "update", version, record.changes, now_unix_ms());
  }
  commit(transaction);
  return restamped.size();
}

void LocalStore::reset_sync_state() {
  sqlite::Transaction transaction(db_);
  db_.exec("UPDATE sync_records SET synced_versions = '{}'");
  db_.exec("DELETE FROM meta WHERE key IN ('sync_pushed_seq', 'sync_pull_cursor')");
  // Everything is pulled again, held records included.
  db_.exec("DELETE FROM sync_held");
  transaction.commit();
}

}  // namespace relais
