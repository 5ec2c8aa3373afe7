// Schema migrations: a store written by an older Relais opens, keeps its data, is backed up
// first, and gains what the newer schemas add; a store from a newer Relais is left alone.
#include <algorithm>
#include <filesystem>

#include <catch2/catch.hpp>

#include "relais/sqlite.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::ListQuery;
using relais::RecordKind;
using relais::sqlite::Database;

namespace {

// [SECTION] The version 1 schema, frozen ------------------------------------------------------

// A copy of migration 1 as released (sync/src/migrations.cpp). It is a fixture: it must stay as
// Relais 1 wrote it, whatever later migrations change, so that upgrades are tested from real
// old files.
#define V1_RECORD_COLUMNS                                       \
  "body TEXT NOT NULL CHECK (json_valid(body)),"                \
  "created_at INTEGER NOT NULL,"                                \
  "updated_at INTEGER NOT NULL,"                                \
  "deleted_at INTEGER,"                                         \
  "version INTEGER NOT NULL,"                                   \
  "version_device TEXT NOT NULL,"                               \
  "field_versions TEXT NOT NULL CHECK (json_valid(field_versions)),"  \
  "mediateur_id TEXT"

constexpr const char* kSchemaV1 =
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

    "CREATE TABLE places (id TEXT PRIMARY KEY, nom TEXT NOT NULL, code_postal TEXT, " V1_RECORD_COLUMNS ");"
    "CREATE TABLE structures (id TEXT PRIMARY KEY, nom TEXT NOT NULL, " V1_RECORD_COLUMNS ");"
    "CREATE TABLE advisors (id TEXT PRIMARY KEY, structure_id TEXT NOT NULL, nom TEXT NOT NULL, role TEXT NOT NULL,"
    "  lieu_id TEXT, " V1_RECORD_COLUMNS ");"
    "CREATE INDEX advisors_structure ON advisors (structure_id);"

    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  date TEXT NOT NULL,"
    "  duree INTEGER NOT NULL,"
    "  type_lieu TEXT NOT NULL,"
    "  lieu_id TEXT,"
    "  participants INTEGER NOT NULL," V1_RECORD_COLUMNS ");"
    "CREATE INDEX sessions_date ON sessions (date);"
    "CREATE INDEX sessions_lieu ON sessions (lieu_id) WHERE lieu_id IS NOT NULL;"

    "CREATE TABLE lots (id TEXT PRIMARY KEY, date TEXT NOT NULL, type_donateur TEXT NOT NULL, lieu_id TEXT, "
    V1_RECORD_COLUMNS ");"
    "CREATE INDEX lots_date ON lots (date);"
    "CREATE TABLE devices (id TEXT PRIMARY KEY, lot_id TEXT NOT NULL REFERENCES lots (id), type TEXT NOT NULL,"
    "  serial_key TEXT NOT NULL DEFAULT '', " V1_RECORD_COLUMNS ");"
    "CREATE INDEX devices_lot ON devices (lot_id);"
    // Two live devices never share a serial number (checked with a clear message first).
    "CREATE UNIQUE INDEX devices_live_serial ON devices (serial_key) WHERE deleted_at IS NULL AND serial_key <> '';"
    "CREATE TABLE device_events (id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (id),"
    "  type TEXT NOT NULL, date TEXT NOT NULL, " V1_RECORD_COLUMNS ");"
    "CREATE INDEX device_events_device ON device_events (device_id, date);";

#undef V1_RECORD_COLUMNS

// [SECTION] A store as Relais 1 left it ---------------------------------------------------------

const std::string kDeviceId = "0193a5c0-0000-7000-8000-0000000000d1";
const std::string kIndividual = "0193a5c0-0000-7000-8000-000000000001";
const std::string kWorkshop = "0193a5c0-0000-7000-8000-000000000002";
const std::string kDeleted = "0193a5c0-0000-7000-8000-000000000003";
const std::string kLot = "0193a5c0-0000-7000-8000-00000000b001";
const std::string kDevice = "0193a5c0-0000-7000-8000-00000000c001";
constexpr std::int64_t kCreatedMs = 1'763'800'000'000;       // 2025-11-22
constexpr std::int64_t kLastVersion = 1'763'800'000'000 << 16;  // the HLC of the last change

json individual_body() {
  auto body = relais::test::valid_individual_session_json();
  body["tags"] = json::array({"permanence"});
  return body;
}

json workshop_body() { return relais::test::valid_workshop_json(); }

json lot_body() { return {{"date", "2026-11-10"}, {"type_donateur", "entreprise"}, {"nom_donateur", "Rhône Offset"}}; }

json device_body() {
  return {{"lot_id", kLot}, {"type", "ordinateur_portable"}, {"numero_serie", "PF-0XK2L9"}, {"poids_kg", 1.6}};
}

void insert_record(Database& db, const std::string& table, const std::string& id, const std::vector<std::string>& columns,
                   const std::vector<json>& values, const json& body, std::int64_t version, bool deleted = false) {
  std::string sql = "INSERT INTO " + table + " (id";
  for (const auto& column : columns) sql += ", " + column;
  sql += ", body, created_at, updated_at, deleted_at, version, version_device, field_versions) VALUES (?";
  for (std::size_t i = 0; i < columns.size() + 7; ++i) sql += ", ?";
  sql += ")";
  auto statement = db.prepare(sql);
  int index = 1;
  statement.bind(index++, id);
  for (const auto& value : values) {
    if (value.is_number_integer()) {
      statement.bind(index++, value.get<std::int64_t>());
    } else {
      statement.bind(index++, value.get<std::string>());
    }
  }
  json field_versions = json::object();
  for (const auto& item : body.items()) field_versions[item.key()] = version;
  statement.bind(index++, body.dump());
  statement.bind(index++, kCreatedMs);
  statement.bind(index++, kCreatedMs);
  if (deleted) {
    statement.bind(index++, kCreatedMs + 1000);
  } else {
    statement.bind(index++, nullptr);
  }
  statement.bind(index++, version);
  statement.bind(index++, kDeviceId);
  statement.bind(index, field_versions.dump());
  statement.run();

  auto journal = db.prepare(
      "INSERT INTO journal (kind, record_id, op, version, device_id, changes, created_at)"
      " VALUES (?, ?, 'create', ?, ?, ?, ?)");
  const std::string kind = table == "sessions" ? "session" : table == "lots" ? "lot" : "device";
  journal.bind(1, kind).bind(2, id).bind(3, version).bind(4, kDeviceId).bind(5, body.dump()).bind(6, kCreatedMs);
  journal.run();
}

// Writes a version 1 store at `path`: two live sessions and a deleted one, a lot and a device.
void write_v1_store(const std::filesystem::path& path) {
  Database db(path);
  db.exec(kSchemaV1);
  db.exec("PRAGMA user_version = 1");
  db.exec("INSERT INTO meta (key, value) VALUES ('device_id', '" + kDeviceId + "'), ('hlc_last', '" +
          std::to_string(kLastVersion) + "')");
  const std::vector<std::string> session_columns{"type", "date", "duree", "type_lieu", "participants"};
  insert_record(db, "sessions", kIndividual, session_columns, {"individuel", "2026-11-20", 45, "domicile", 1},
                individual_body(), kLastVersion - 4);
  insert_record(db, "sessions", kWorkshop, session_columns, {"collectif", "2026-11-18", 120, "autre", 8},
                workshop_body(), kLastVersion - 3);
  auto deleted = relais::test::valid_individual_session_json();
  deleted["date"] = "2026-11-02";
  deleted["materiel"] = json::array({"smartphone"});
  deleted["thematiques"] = json::array({"email"});
  deleted.erase("precisions_demarche");
  insert_record(db, "sessions", kDeleted, session_columns, {"individuel", "2026-11-02", 45, "domicile", 1}, deleted,
                kLastVersion - 2, /*deleted=*/true);
  insert_record(db, "lots", kLot, {"date", "type_donateur"}, {"2026-11-10", "entreprise"}, lot_body(),
                kLastVersion - 1);
  insert_record(db, "devices", kDevice, {"lot_id", "type", "serial_key"}, {kLot, "ordinateur_portable", "pf0xk2l9"},
                device_body(), kLastVersion);
}

std::vector<std::string> codes_of(Database& db, const std::string& session_id, const std::string& field) {
  auto statement = db.prepare("SELECT code FROM session_codes WHERE session_id = ? AND field = ? ORDER BY code");
  statement.bind(1, session_id).bind(2, field);
  std::vector<std::string> out;
  while (statement.step()) out.push_back(statement.column_text(0));
  return out;
}

bool has_table(const Database& db, const std::string& name) {
  auto statement = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  statement.bind(1, name);
  return statement.step();
}

std::filesystem::path backup_path_of(const std::filesystem::path& path) {
  auto backup = path;
  backup += ".before-v" + std::to_string(relais::latest_schema_version()) + ".bak";
  return backup;
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// The offset of the first byte that differs between two files' contents, or -1 when they are
// the same (a readable failure, rather than two binary files printed).
long first_difference(const std::string& a, const std::string& b) {
  const auto size = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return static_cast<long>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<long>(size);
}

// Checks that every field of `body` is shown by get() with the same value.
void check_fields(const json& shown, const json& body) {
  INFO("shown: " << shown.dump(2));
  for (const auto& [key, value] : body.items()) {
    INFO("field " << key);
    REQUIRE(shown.contains(key));
    CHECK(shown.at(key) == value);
  }
}

}  // namespace

// [SECTION] Upgrading ---------------------------------------------------------------------------

TEST_CASE("a version 1 store is upgraded on open, with its data intact", "[migration]") {
  REQUIRE(relais::latest_schema_version() >= 2);
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  write_v1_store(path);

  auto store = relais::test::open_store(path);
  CHECK(store->schema_version() == relais::latest_schema_version());
  CHECK(store->device_id() == kDeviceId);

  SECTION("the records read as before") {
    const auto individual = store->get(kIndividual);
    REQUIRE(individual);
    check_fields(*individual, individual_body());
    CHECK(individual->at("kind") == "session");
    CHECK(individual->at("version") == kLastVersion - 4);
    check_fields(*store->get(kWorkshop), workshop_body());
    check_fields(*store->get(kLot), lot_body());
    const auto device = store->get(kDevice);
    REQUIRE(device);
    check_fields(*device, device_body());
    CHECK(device->at("events") == json::array());
    CHECK(device->at("devenir") == "en_attente");
    CHECK(store->get(kDeleted)->contains("deleted_at"));

    std::vector<std::string> listed;
    for (const auto& session : store->list(ListQuery{})) listed.push_back(session.at("id").get<std::string>());
    CHECK(listed == std::vector<std::string>{kIndividual, kWorkshop});
    ListQuery with_deleted;
    with_deleted.include_deleted = true;
    CHECK(store->list(with_deleted).size() == 3);
    CHECK(store->journal().size() == 5);
  }
  SECTION("version 2's session codes are filled from the stored sessions") {
    auto& db = store->database();
    CHECK(codes_of(db, kIndividual, "thematiques") ==
          std::vector<std::string>{"aide_aux_demarches_administratives", "email", "logement"});
    CHECK(codes_of(db, kIndividual, "materiel") == std::vector<std::string>{"ordinateur"});
    CHECK(codes_of(db, kWorkshop, "thematiques") == std::vector<std::string>{"securite_numerique"});
    CHECK(codes_of(db, kWorkshop, "materiel") == std::vector<std::string>{"ordinateur", "tablette"});
    CHECK(codes_of(db, kDeleted, "materiel") == std::vector<std::string>{"smartphone"});
    CHECK(db.query_int64("SELECT count(*) FROM session_codes") == 9);
  }
  SECTION("the old file is backed up first, as it was") {
    REQUIRE(store->migration_backup());
    CHECK(*store->migration_backup() == backup_path_of(path));
    REQUIRE(std::filesystem::exists(backup_path_of(path)));
    Database backup(backup_path_of(path), Database::Mode::read_only);
    CHECK(backup.query_int64("PRAGMA user_version") == 1);
    CHECK_FALSE(has_table(backup, "session_codes"));
    CHECK(backup.query_int64("SELECT count(*) FROM sessions") == 3);
    CHECK(backup.query_int64("SELECT count(*) FROM devices") == 1);
    CHECK(backup.query_int64("SELECT count(*) FROM journal") == 5);
  }
  SECTION("new writes work and follow the store's rules") {
    const auto checked =
        relais::check_record(RecordKind::session, relais::test::valid_workshop_json(), relais::test::context());
    REQUIRE(checked.ok());
    const auto added = store->add(checked.record);
    INFO(relais::test::to_text(added.problems));
    REQUIRE(added.ok());
    CHECK(codes_of(store->database(), added.ids.at(0), "materiel") ==
          std::vector<std::string>{"ordinateur", "tablette"});
    // The clock carries on from the old store's last change.
    CHECK(store->get(added.ids.at(0))->at("version").get<std::int64_t>() > kLastVersion);
    CHECK(store->journal().size() == 6);

    const auto updated = store->update(kIndividual, {{"duree", 60}});
    REQUIRE(updated.ok());
    CHECK(store->journal().back().changes == json{{"duree", 60}});

    // The old device's serial still counts.
    const auto twin = relais::check_record(
        RecordKind::device, {{"lot_id", kLot}, {"type", "ordinateur_fixe"}, {"numero_serie", "pf 0xk2l9"}},
        relais::test::context());
    REQUIRE(twin.ok());
    CHECK(relais::test::has_problem(store->add(twin.record).problems, "numero_serie", "duplicate_serial"));
  }
}

TEST_CASE("the backup before a migration can be turned off", "[migration]") {
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  write_v1_store(path);
  relais::LocalStore::Options options;
  options.today = relais::test::kToday;
  options.backup_before_migration = false;
  relais::LocalStore store(path, relais::test::vocabulary(), options);
  CHECK(store.schema_version() == relais::latest_schema_version());
  CHECK_FALSE(store.migration_backup());
  CHECK_FALSE(std::filesystem::exists(backup_path_of(path)));
}

TEST_CASE("a store from a newer Relais is refused and left untouched", "[migration]") {
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  write_v1_store(path);
  {
    Database db(path);
    db.exec("PRAGMA user_version = " + std::to_string(relais::latest_schema_version() + 1));
  }
  const auto bytes = relais::test::read_file(path);
  const auto files = files_in(dir.path());

  CHECK_THROWS_AS(relais::test::open_store(path), std::runtime_error);
  CHECK_THROWS_WITH(relais::test::open_store(path), Catch::Contains("update Relais") && Catch::Contains(path.string()));
  CHECK(first_difference(relais::test::read_file(path), bytes) == -1);
  CHECK(files_in(dir.path()) == files);  // no backup, no journal file left behind
}

TEST_CASE("opening a new or an up-to-date store makes no backup", "[migration]") {
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  std::string id;
  {
    auto store = relais::test::open_store(path);
    CHECK(store->schema_version() == relais::latest_schema_version());
    CHECK_FALSE(store->migration_backup());
    const auto checked = relais::check_record(RecordKind::session, relais::test::valid_individual_session_json(),
                                              relais::test::context());
    REQUIRE(checked.ok());
    id = store->add(checked.record).ids.at(0);
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = relais::test::open_store(path);
    CHECK(store->schema_version() == relais::latest_schema_version());
    CHECK_FALSE(store->migration_backup());
    CHECK(store->get(id));
    CHECK(store->database().query_int64("SELECT count(*) FROM session_codes WHERE session_id = '" + id + "'") == 4);
  }
  for (const auto& file : files_in(dir.path())) CHECK(file.extension() != ".bak");
}
