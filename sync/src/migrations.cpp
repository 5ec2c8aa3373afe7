#include "migrations.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "relais/local_store.hpp"
#include "relais/statistics.hpp"

namespace relais {

namespace {

// Columns every record table has. Timestamps are Unix milliseconds; `version` is the hybrid
// logical clock of the last change and `field_versions` the version of each field's last
// change (for field-level merges during sync).
#define RELAIS_RECORD_COLUMNS                                   \
  "body TEXT NOT NULL CHECK (json_valid(body)),"                \
  "created_at INTEGER NOT NULL,"                                \
  "updated_at INTEGER NOT NULL,"                                \
  "deleted_at INTEGER,"                                         \
  "version INTEGER NOT NULL,"                                   \
  "version_device TEXT NOT NULL,"                               \
  "field_versions TEXT NOT NULL CHECK (json_valid(field_versions)),"  \
  "mediateur_id TEXT"

// Append only: a released migration is never edited, a new one is added below it.
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> kMigrations{
    // 1: the first schema: reference data, help sessions, equipment collection, the journal.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"

    "CREATE TABLE journal ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  op TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete')),"
    "  version INTEGER NOT NULL,"
    "  device_id TEXT NOT NULL,"
    "  changes TEXT NOT NULL CHECK (json_valid(changes)),"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX journal_record ON journal (record_id);"

    "CREATE TABLE places (id TEXT PRIMARY KEY, nom TEXT NOT NULL, code_postal TEXT, " RELAIS_RECORD_COLUMNS ");"
    "CREATE TABLE structures (id TEXT PRIMARY KEY, nom TEXT NOT NULL, " RELAIS_RECORD_COLUMNS ");"
    "CREATE TABLE advisors (id TEXT PRIMARY KEY, structure_id TEXT NOT NULL, nom TEXT NOT NULL, role TEXT NOT NULL,"
    "  lieu_id TEXT, " RELAIS_RECORD_COLUMNS ");"
    "CREATE INDEX advisors_structure ON advisors (structure_id);"

    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  date TEXT NOT NULL,"
    "  duree INTEGER NOT NULL,"
    "  type_lieu TEXT NOT NULL,"
    "  lieu_id TEXT,"
    "  participants INTEGER NOT NULL," RELAIS_RECORD_COLUMNS ");"
    "CREATE INDEX sessions_date ON sessions (date);"
    "CREATE INDEX sessions_lieu ON sessions (lieu_id) WHERE lieu_id IS NOT NULL;"

    "CREATE TABLE lots (id TEXT PRIMARY KEY, date TEXT NOT NULL, type_donateur TEXT NOT NULL, lieu_id TEXT, "
    RELAIS_RECORD_COLUMNS ");"
    "CREATE INDEX lots_date ON lots (date);"
    "CREATE TABLE devices (id TEXT PRIMARY KEY, lot_id TEXT NOT NULL REFERENCES lots (id), type TEXT NOT NULL,"
    "  serial_key TEXT NOT NULL DEFAULT '', " RELAIS_RECORD_COLUMNS ");"
    "CREATE INDEX devices_lot ON devices (lot_id);"
    // Two live devices never share a serial number (checked with a clear message first).
    "CREATE UNIQUE INDEX devices_live_serial ON devices (serial_key) WHERE deleted_at IS NULL AND serial_key <> '';"
    "CREATE TABLE device_events (id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (id),"
    "  type TEXT NOT NULL, date TEXT NOT NULL, " RELAIS_RECORD_COLUMNS ");"
    "CREATE INDEX device_events_device ON device_events (device_id, date);",

    // 2: the codes of multi-valued session fields (thematiques, materiel) as rows, so that
    // statistics group by them in SQL. Existing sessions are filled from their JSON body.
    "CREATE TABLE session_codes ("
    "  session_id TEXT NOT NULL REFERENCES sessions (id),"
    "  field TEXT NOT NULL,"
    "  code TEXT NOT NULL,"
    "  PRIMARY KEY (session_id, field, code)) WITHOUT ROWID;"
    "CREATE INDEX session_codes_code ON session_codes (field, code);"
    "INSERT OR IGNORE INTO session_codes (session_id, field, code)"
    "  SELECT s.id, 'thematiques', t.value FROM sessions s, json_each(s.body, '$.thematiques') t;"
    "INSERT OR IGNORE INTO session_codes (session_id, field, code)"
    "  SELECT s.id, 'materiel', m.value FROM sessions s, json_each(s.body, '$.materiel') m;",

    // 3: sync state. What the server has acknowledged of each record (its field versions as last
    // pushed or pulled), records the server refused (quarantined, with the reason), and the
    // conflict log: values that lost to a concurrent edit, kept for people to review.
    "CREATE TABLE sync_records ("
    "  record_id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  synced_versions TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(synced_versions)),"
    "  rejected_reason TEXT,"
    "  rejected_at INTEGER) WITHOUT ROWID;"
    "CREATE INDEX sync_records_rejected ON sync_records (rejected_at) WHERE rejected_at IS NOT NULL;"
    "CREATE TABLE conflicts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  record_id TEXT NOT NULL,"
    "  field TEXT NOT NULL,"
    "  kept_value TEXT NOT NULL,"
    "  kept_version TEXT NOT NULL,"
    "  lost_value TEXT NOT NULL,"
    "  lost_version TEXT NOT NULL,"
    "  source TEXT NOT NULL CHECK (source IN ('push', 'pull')),"
    "  detected_at INTEGER NOT NULL);"
    "CREATE INDEX conflicts_record ON conflicts (record_id);",

    // 4: pulled records held back until their parent arrives (a device whose lot, or an event
    // whose device, comes in a later page of the pull), as the server sent them.
    "CREATE TABLE sync_held ("
    "  record_id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  parent_id TEXT NOT NULL,"
    "  record TEXT NOT NULL CHECK (json_valid(record))) WITHOUT ROWID;"
    "CREATE INDEX sync_held_parent ON sync_held (parent_id);",

    // 5: the history screen's order as indexes (newest first without sorting), and the statistics
    // index (core/statistics.hpp), filled from the records when the store is opened.
    std::string("CREATE INDEX sessions_history ON sessions (date DESC, created_at DESC, id DESC)"
                "  WHERE deleted_at IS NULL;"
                "CREATE INDEX lots_history ON lots (date DESC, created_at DESC, id DESC) WHERE deleted_at IS NULL;") +
        stats::kStatisticsSchemaSql,
  };
  return kMigrations;
}

#undef RELAIS_RECORD_COLUMNS

}  // namespace

int latest_schema_version() { return static_cast<int>(migrations().size()); }

int schema_version_of(const sqlite::Database& db) {
  return static_cast<int>(db.query_int64("PRAGMA user_version"));
}

void require_known_schema(const sqlite::Database& db) {
  const int found = schema_version_of(db);
  if (found > latest_schema_version()) {
    throw std::runtime_error(db.path().string() + " was written by a newer Relais (schema " + std::to_string(found) +
                             ", this build knows up to " + std::to_string(latest_schema_version()) +
                             "): update Relais to open it");
  }
}

int migrate(sqlite::Database& db) {
  require_known_schema(db);
  const int found = schema_version_of(db);
  for (int version = found; version < latest_schema_version(); ++version) {
    sqlite::Transaction transaction(db);
    db.exec(migrations()[static_cast<std::size_t>(version)]);
    db.exec("PRAGMA user_version = " + std::to_string(version + 1));
    transaction.commit();
  }
  return found;
}

}  // namespace relais
