#include "relais/server/server_store.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "relais/hlc.hpp"
#include "relais/i18n.hpp"
#include "relais/server/crypto.hpp"
#include "relais/statistics.hpp"
#include "relais/uuid.hpp"
#include "relais/vocabulary.hpp"
#include "relais/wire.hpp"

namespace relais::server {

using nlohmann::json;

namespace {

constexpr std::int64_t kDayMs = 24 * 60 * 60 * 1000;
constexpr std::int64_t kEnrollCodeLifetimeMs = 7 * kDayMs;
// A device resends a push whose answer it did not get within minutes; results older than
// this are forgotten (a change sent again after that is merged again, which changes nothing).
constexpr std::int64_t kPushResultLifetimeMs = 90 * kDayMs;

}  // namespace

// Append only: a released migration is never edited, a new one is added below it.
const std::vector<std::string>& server_migrations() {
  static const std::vector<std::string> kMigrations{
    // 1: accounts, records, the conflict log and the results of pushes.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"

    "CREATE TABLE structures (id TEXT PRIMARY KEY, nom TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE users ("
    "  id TEXT PRIMARY KEY,"
    "  structure_id TEXT NOT NULL REFERENCES structures (id),"
    "  role TEXT NOT NULL CHECK (role IN ('mediateur', 'coordinateur', 'admin')),"
    "  nom TEXT NOT NULL,"
    "  prenom TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX users_structure ON users (structure_id);"
    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  name TEXT NOT NULL,"
    "  token_sha256 TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER);"
    "CREATE INDEX devices_user ON devices (user_id);"
    "CREATE TABLE enroll_codes ("
    "  code_sha256 TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users (id),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  device_id TEXT) WITHOUT ROWID;"

    // Every synced record, whatever its kind. change_seq is a store-wide sequence number given
    // to each change (the newest change of a record is its row's), which pull cursors follow.
    "CREATE TABLE records ("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  owner_user_id TEXT,"  // the user who first pushed it (mediateur_id); none for reference data
    "  structure_id TEXT,"   // the structure it belongs to; none for places, which everyone sees
    "  fields TEXT NOT NULL CHECK (json_valid(fields)),"
    "  versions TEXT NOT NULL CHECK (json_valid(versions)),"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  change_seq INTEGER NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX records_owner ON records (owner_user_id, change_seq);"
    "CREATE INDEX records_structure ON records (structure_id, change_seq);"

    "CREATE TABLE conflicts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  record_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  field TEXT NOT NULL,"
    "  kept_value TEXT NOT NULL CHECK (json_valid(kept_value)),"
    "  kept_version TEXT NOT NULL CHECK (json_valid(kept_version)),"
    "  lost_value TEXT NOT NULL CHECK (json_valid(lost_value)),"
    "  lost_version TEXT NOT NULL CHECK (json_valid(lost_version)),"
    "  incoming_lost INTEGER NOT NULL,"
    "  device_id TEXT NOT NULL,"  // the device whose push revealed the conflict
    "  user_id TEXT NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX conflicts_record ON conflicts (record_id);"

    // The result given to each change, so that a resent change gets exactly the same answer.
    "CREATE TABLE push_results ("
    "  record_id TEXT NOT NULL,"
    "  change_key TEXT NOT NULL,"
    "  result TEXT NOT NULL CHECK (json_valid(result)),"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (record_id, change_key)) WITHOUT ROWID;"
    "CREATE INDEX push_results_created ON push_results (created_at);",

    // 2: the device that made every field of a record, when one device did: a pull by that
    // device skips the record, which it has already (docs/protocol.md, pull).
    "ALTER TABLE records ADD COLUMN sole_device TEXT;",

    // 3: the statistics index (core/statistics.hpp), brought up to date from the records before
    // statistics and exports are read (refresh_statistics); a device's events and a lot's
    // devices found by their parent, for the equipment figures.
    std::string("CREATE INDEX records_device_lot ON records (json_extract(fields, '$.lot_id')) WHERE kind = 'device';"
                "CREATE INDEX records_event_device ON records (json_extract(fields, '$.device_id'))"
                "  WHERE kind = 'event';") +
        stats::kStatisticsSchemaSql,

    // 4: records rebuilt (same rows and indexes) with two changes that make a pushed record
    // cheaper to store (docs/benchmarks.md, "Sync end to end"):
    //  - creation_key, the key of the change that created the record. A resend of that change
    //    is recognised by it and answered as it was (applied: a new record has no conflict), so
    //    a new record needs no push_results row;
    //  - no CHECK (json_valid(...)) on fields and versions: SQLite parsed every record's JSON
    //    again (6 % of a push's instructions), while the server only stores text it wrote
    //    itself or that parse_json accepted.
    "CREATE TABLE records_v4 ("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  owner_user_id TEXT,"
    "  structure_id TEXT,"
    "  fields TEXT NOT NULL,"
    "  versions TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  change_seq INTEGER NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  sole_device TEXT,"
    "  creation_key TEXT);"
    "INSERT INTO records_v4 (id, kind, owner_user_id, structure_id, fields, versions, deleted, change_seq,"
    "  created_at, updated_at, sole_device)"
    "  SELECT id, kind, owner_user_id, structure_id, fields, versions, deleted, change_seq, created_at, updated_at,"
    "  sole_device FROM records ORDER BY rowid;"
    "DROP TABLE records;"
    "ALTER TABLE records_v4 RENAME TO records;"
    "CREATE INDEX records_owner ON records (owner_user_id, change_seq);"
    "CREATE INDEX records_structure ON records (structure_id, change_seq);"
    "CREATE INDEX records_device_lot ON records (json_extract(fields, '$.lot_id')) WHERE kind = 'device';"
    "CREATE INDEX records_event_device ON records (json_extract(fields, '$.device_id')) WHERE kind = 'event';",
  };
  return kMigrations;
}

namespace {

int latest_schema_version() { return static_cast<int>(server_migrations().size()); }

// Throws when the store was written by a newer relais-server; only reads.
void require_known_schema(const sqlite::Database& db) {
  const auto found = db.query_int64("PRAGMA user_version");
  if (found > latest_schema_version()) {
    throw std::runtime_error(db.path().string() + " was written by a newer relais-server (schema " +
                             std::to_string(found) + ", this build knows up to " +
                             std::to_string(latest_schema_version()) + "): update relais-server to open it");
  }
}

void migrate(sqlite::Database& db) {
  require_known_schema(db);
  const auto found = static_cast<int>(db.query_int64("PRAGMA user_version"));
  for (int version = found; version < latest_schema_version(); ++version) {
    sqlite::Transaction transaction(db);
    db.exec(server_migrations()[static_cast<std::size_t>(version)]);
    db.exec("PRAGMA user_version = " + std::to_string(version + 1));
    transaction.commit();
  }
}

bool is_reference(RecordKind kind) {
  return kind == RecordKind::place || kind == RecordKind::structure || kind == RecordKind::advisor;
}

std::int64_t system_now_ms() { return now_unix_ms(); }

User read_user(const sqlite::Statement& statement, int first) {
  User user;
  user.id = statement.column_text(first);
  user.structure_id = statement.column_text(first + 1);
  user.role = parse_role(statement.column_text(first + 2)).value_or(Role::mediateur);
  user.nom = statement.column_text(first + 3);
  user.prenom = statement.column_optional_text(first + 4);
  return user;
}

// The device that stamped every version of a record, when a single one did.
std::optional<std::string> sole_device(const FieldVersions& versions) {
  if (versions.empty()) return std::nullopt;
  const auto& first = versions.begin()->second.device;
  for (const auto& [field, version] : versions) {
    if (version.device != first) return std::nullopt;
  }
  return first;
}

json rejected(const std::string& id, json problems) { return wire::rejected_result(id, std::move(problems)); }

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::mediateur: return "mediateur";
    case Role::coordinateur: return "coordinateur";
    case Role::admin: return "admin";
  }
  return "mediateur";
}

std::optional<Role> parse_role(std::string_view text) {
  for (const Role role : {Role::mediateur, Role::coordinateur, Role::admin}) {
    if (to_string(role) == text) return role;
  }
  return std::nullopt;
}

Date latest_today() {
  using namespace std::chrono;
  const year_month_day day{floor<days>(system_clock::now() + hours(14))};
  return Date{static_cast<int>(day.year()), static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day())};
}

struct ServerStore::StoredRecord {
  std::string kind;
  std::optional<std::string> owner;
  std::optional<std::string> structure_id;
  RecordState state;
  std::optional<std::string> creation_key;
};

ServerStore::~ServerStore() = default;

ServerStore::ServerStore(const std::filesystem::path& path, const Vocabulary& vocabulary,
                         const Translator& translator, Options options)
    : db_(path), vocabulary_(vocabulary), translator_(translator), options_(std::move(options)) {
  if (!options_.today) options_.today = latest_today;
  if (!options_.now_ms) options_.now_ms = system_now_ms;
  // Refuse a newer store before writing anything (the journal mode is written in the header).
  require_known_schema(db_);
  // WAL: pulls never wait for a push's fsync; synchronous=FULL: a push is answered only once
  // its transaction is on disk, even across a power cut.
  db_.exec("PRAGMA journal_mode = WAL");
  db_.exec("PRAGMA synchronous = FULL");
  db_.exec("PRAGMA foreign_keys = ON");
  migrate(db_);

  sqlite::Transaction transaction(db_);
  auto insert = db_.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)");
  insert.bind(1, "epoch").bind(2, make_uuid_v7()).run();
  insert.bind(1, "server_device").bind(2, make_uuid_v7()).run();
  insert.bind(1, "hlc_last").bind(2, "0").run();
  db_.prepare("DELETE FROM push_results WHERE created_at < ?1").bind(1, options_.now_ms() - kPushResultLifetimeMs).run();
  transaction.commit();
  epoch_ = meta("epoch");
  server_device_ = meta("server_device");
  if (!is_uuid(epoch_)) throw std::runtime_error(path.string() + ": meta.epoch is not a lower-case UUID");
  // The assets' vocabulary outlives the store: a view that owns nothing.
  vocabulary_in_use_ = std::shared_ptr<const Vocabulary>(std::shared_ptr<const Vocabulary>(), &vocabulary_);
  checkpointer_ = std::make_unique<sqlite::WalCheckpointer>(db_);
}

std::string ServerStore::meta(const std::string& key) {
  auto statement = db_.cached("SELECT value FROM meta WHERE key = ?1");
  (*statement).bind(1, key);
  if (!(*statement).step()) throw std::runtime_error("the store has no " + key + " in its meta table");
  return (*statement).column_text(0);
}

int ServerStore::schema_version() {
  std::lock_guard lock(mutex_);
  return static_cast<int>(db_.query_int64("PRAGMA user_version"));
}

// [SECTION] Versions and sequence numbers ------------------------------------------------------

std::int64_t ServerStore::next_change_seq() {
  return db_.query_int64("SELECT coalesce(max(change_seq), 0) + 1 FROM records");
}

FieldVersion ServerStore::next_server_version(std::int64_t now) {
  const std::int64_t last = std::stoll(meta("hlc_last"));
  const auto clock = std::max(now << 16, last + 1);
  (*db_.cached("UPDATE meta SET value = ?1 WHERE key = 'hlc_last'")).bind(1, std::to_string(clock)).run();
  return FieldVersion{clock, server_device_};
}

namespace {

// A version the server accepts: at most kMaxClockSkewMs ahead of its own clock (push_one
// refuses the others, so none drags the server's versions or anyone else's).
bool plausible_clock(std::int64_t clock, std::int64_t now) { return clock <= HybridLogicalClock::ceiling(now); }

}  // namespace

void ServerStore::observe_clock(std::int64_t clock, std::int64_t now) {
  if (!plausible_clock(clock, now)) return;
  (*db_.cached("UPDATE meta SET value = ?1 WHERE key = 'hlc_last' AND CAST(value AS INTEGER) < ?2"))
      .bind(1, std::to_string(clock))
      .bind(2, clock)
      .run();
}

// [SECTION] Admin ------------------------------------------------------------------------------

json ServerStore::problems_json(const Problems& problems) const {
  json out = json::array();
  for (const auto& problem : problems) {
    out.push_back(problem_json(problem.field, problem.reason, describe(problem, translator_, Lang::fr)));
  }
  return out;
}

namespace {

void throw_if_invalid(RecordKind kind, const json& record, const Vocabulary& vocabulary, const Translator& translator,
                      const Date& today) {
  const auto checked = check_record(kind, record, ValidationContext{vocabulary, today});
  if (checked.ok()) return;
  std::string message;
  for (const auto& problem : checked.problems) {
    if (!message.empty()) message += "; ";
    message += describe(problem, translator, Lang::en);
  }
  throw AdminError(message);
}

}  // namespace

void ServerStore::write_reference_record(RecordKind kind, const std::string& id, const std::string& structure_id,
                                         const json& fields, std::int64_t now) {
  const FieldVersions versions{{kCreationKey, next_server_version(now)}};
  const auto seq = next_change_seq();
  (*db_.cached("INSERT INTO records (id, kind, owner_user_id, structure_id, fields, versions, deleted, change_seq,"
               " created_at, updated_at) VALUES (?1, ?2, NULL, ?3, ?4, ?5, 0, ?6, ?7, ?7)"))
      .bind(1, id)
      .bind(2, to_string(kind))
      .bind(3, structure_id)
      .bind(4, fields.dump())
      .bind(5, to_json(versions).dump())
      .bind(6, seq)
      .bind(7, now)
      .run();
}

std::string ServerStore::add_structure(const std::string& nom) {
  const auto id = make_uuid_v7();
  const json fields = {{"nom", nom}};
  json record = fields;
  record["id"] = id;
  throw_if_invalid(RecordKind::structure, record, vocabulary_, translator_, options_.today());

  std::lock_guard lock(mutex_);
  const auto now = options_.now_ms();
  sqlite::Transaction transaction(db_);
  db_.prepare("INSERT INTO structures (id, nom, created_at) VALUES (?1, ?2, ?3)").bind(1, id).bind(2, nom).bind(3, now).run();
  write_reference_record(RecordKind::structure, id, id, fields, now);
  transaction.commit();
  return id;
}

std::string ServerStore::add_user(const std::string& structure_id, Role role, const std::string& nom,
                                  const std::optional<std::string>& prenom) {
  const auto id = make_uuid_v7();
  json fields = {{"nom", nom}, {"structure_id", structure_id}, {"role", std::string(to_string(role))}};
  if (prenom) fields["prenom"] = *prenom;
  json record = fields;
  record["id"] = id;

  std::lock_guard lock(mutex_);
  sqlite::Transaction transaction(db_);
  if (!db_.prepare("SELECT 1 FROM structures WHERE id = ?1").bind(1, structure_id).step()) {
    throw AdminError("unknown structure " + structure_id);
  }
  throw_if_invalid(RecordKind::advisor, record, vocabulary_, translator_, options_.today());
  const auto now = options_.now_ms();
  db_.prepare("INSERT INTO users (id, structure_id, role, nom, prenom, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, id)
      .bind(2, structure_id)
      .bind(3, to_string(role))
      .bind(4, nom)
      .bind(5, prenom)
      .bind(6, now)
      .run();
  write_reference_record(RecordKind::advisor, id, structure_id, fields, now);
  transaction.commit();
  return id;
}

std::string ServerStore::make_enroll_code(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  sqlite::Transaction transaction(db_);
  if (!db_.prepare("SELECT 1 FROM users WHERE id = ?1").bind(1, user_id).step()) {
    throw AdminError("unknown user " + user_id);
  }
  const auto code = server::make_enroll_code();
  const auto now = options_.now_ms();
  db_.prepare("INSERT INTO enroll_codes (code_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, sha256_hex(normalize_enroll_code(code)))
      .bind(2, user_id)
      .bind(3, now)
      .bind(4, now + kEnrollCodeLifetimeMs)
      .run();
  transaction.commit();
  return code;
}

bool ServerStore::revoke_device(const std::string& device_id) {
  std::lock_guard lock(mutex_);
  sqlite::Transaction transaction(db_);
  {
    auto found = db_.prepare("SELECT revoked_at FROM devices WHERE id = ?1");
    if (!found.bind(1, device_id).step()) throw AdminError("unknown device " + device_id);
    if (!found.is_null(0)) return false;
  }
  db_.prepare("UPDATE devices SET revoked_at = ?1 WHERE id = ?2").bind(1, options_.now_ms()).bind(2, device_id).run();
  transaction.commit();
  return true;
}

// [SECTION] Vocabulary updates -------------------------------------------------------------------

namespace {

// The published vocabulary update is one row of `records`, so that pulls carry it like any change.
constexpr const char* kVocabularyId = "vocabulary";

}  // namespace

const Vocabulary& ServerStore::current_vocabulary() {
  // Published by an admin command, maybe while this server runs: checked at each push.
  auto statement = db_.cached("SELECT change_seq, fields FROM records WHERE id = ?1");
  (*statement).bind(1, kVocabularyId);
  if (!(*statement).step()) return vocabulary_;
  const auto seq = (*statement).column_int64(0);
  if (!published_ || published_seq_ != seq) {
    try {
      published_ = std::make_shared<const Vocabulary>(vocabulary_.with_update(json::parse((*statement).column_text(1))));
      published_seq_ = seq;
      std::lock_guard in_use(vocabulary_in_use_mutex_);
      vocabulary_in_use_ = published_;
    } catch (const std::exception& error) {
      // Checked when published; only a store edited by hand gets here.
      std::cerr << "relais-server: the published vocabulary is unusable, ignored: " << error.what() << '\n';
      return vocabulary_;
    }
  }
  return *published_;
}

int ServerStore::publish_vocabulary(const json& update) {
  Vocabulary merged = [&] {
    try {
      return vocabulary_.with_update(update);
    } catch (const std::invalid_argument& error) {
      throw AdminError(std::string("vocabulary update: ") + error.what());
    }
  }();
  std::lock_guard lock(mutex_);
  const auto now = options_.now_ms();
  sqlite::Transaction transaction(db_);
  {
    auto statement = db_.cached("SELECT json_extract(fields, '$.version') FROM records WHERE id = ?1");
    (*statement).bind(1, kVocabularyId);
    if ((*statement).step() && (*statement).column_int64(0) >= merged.update_version()) {
      throw AdminError("vocabulary update: version " + std::to_string(merged.update_version()) +
                       " is not above the published version " + std::to_string((*statement).column_int64(0)));
    }
  }
  const FieldVersions versions{{kCreationKey, next_server_version(now)}};
  (*db_.cached("INSERT INTO records (id, kind, owner_user_id, structure_id, fields, versions, deleted, change_seq,"
               " created_at, updated_at) VALUES (?1, 'vocabulary', NULL, NULL, ?2, ?3, 0, ?4, ?5, ?5)"
               " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, versions = excluded.versions,"
               " change_seq = excluded.change_seq, updated_at = excluded.updated_at"))
      .bind(1, kVocabularyId)
      .bind(2, update.dump())
      .bind(3, to_json(versions).dump())
      .bind(4, next_change_seq())
      .bind(5, now)
      .run();
  transaction.commit();
  return merged.update_version();
}

std::string ServerStore::reset_epoch() {
  std::lock_guard lock(mutex_);
  sqlite::Transaction transaction(db_);
  const auto epoch = make_uuid_v7();
  (*db_.cached("UPDATE meta SET value = ?1 WHERE key = 'epoch'")).bind(1, epoch).run();
  transaction.commit();
  epoch_ = epoch;
  return epoch;
}

// [SECTION] Enrollment and authentication --------------------------------------------------------

std::optional<EnrollResult> ServerStore::enroll(const EnrollRequest& request) {
  const auto code = normalize_enroll_code(request.code);
  if (code.empty()) return std::nullopt;
  const auto code_hash = sha256_hex(code);

  std::lock_guard lock(mutex_);
  const auto now = options_.now_ms();
  sqlite::Transaction transaction(db_);
  std::string user_id;
  {
    auto statement = db_.cached("SELECT user_id, expires_at, used_at FROM enroll_codes WHERE code_sha256 = ?1");
    (*statement).bind(1, code_hash);
    if (!(*statement).step()) return std::nullopt;
    if (!(*statement).is_null(2) || (*statement).column_int64(1) <= now) return std::nullopt;
    user_id = (*statement).column_text(0);
  }
  // A device id belongs to the user it was first enrolled for: another user's code cannot take
  // it over (and its owner's token with it). The code stays unused.
  {
    auto statement = db_.cached("SELECT user_id FROM devices WHERE id = ?1");
    (*statement).bind(1, request.device_id);
    if ((*statement).step() && (*statement).column_text(0) != user_id) {
      throw ApiError(409, "device_taken",
                     "this device id is already enrolled for another user: a store copied from another "
                     "person's computer cannot be enrolled; start with a new store (relais-cli --db NEW.db)",
                     json::array({problem_json("device_id", "taken", "enrolled for another user")}));
    }
  }
  (*db_.cached("UPDATE enroll_codes SET used_at = ?1, device_id = ?2 WHERE code_sha256 = ?3"))
      .bind(1, now)
      .bind(2, request.device_id)
      .bind(3, code_hash)
      .run();

  EnrollResult result;
  result.token = make_device_token();
  // Enrolling again with the same device id, for the same user, replaces its token (and lifts
  // a revocation: an administrator made the new code).
  (*db_.cached("INSERT INTO devices (id, user_id, name, token_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
               " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
               " token_sha256 = excluded.token_sha256, created_at = excluded.created_at, revoked_at = NULL"))
      .bind(1, request.device_id)
      .bind(2, user_id)
      .bind(3, request.device_name)
      .bind(4, sha256_hex(result.token))
      .bind(5, now)
      .run();
  {
    auto statement = db_.cached("SELECT id, structure_id, role, nom, prenom FROM users WHERE id = ?1");
    (*statement).bind(1, user_id);
    if (!(*statement).step()) throw std::runtime_error("enrollment code of a missing user " + user_id);
    result.user = read_user(*statement, 0);
  }
  transaction.commit();
  return result;
}

std::optional<Caller> ServerStore::authenticate(const std::string& token) {
  const auto hash = sha256_hex(token);
  std::lock_guard lock(mutex_);
  auto statement = db_.cached(
      "SELECT d.id, u.id, u.structure_id, u.role, u.nom, u.prenom FROM devices d JOIN users u ON u.id = d.user_id"
      " WHERE d.token_sha256 = ?1 AND d.revoked_at IS NULL");
  (*statement).bind(1, hash);
  if (!(*statement).step()) return std::nullopt;
  return Caller{(*statement).column_text(0), read_user(*statement, 1)};
}

// [SECTION] Push ---------------------------------------------------------------------------------

std::optional<ServerStore::StoredRecord> ServerStore::load_record(const std::string& id) {
  auto statement =
      db_.cached("SELECT kind, owner_user_id, structure_id, fields, versions, deleted, creation_key FROM records"
                 " WHERE id = ?1");
  (*statement).bind(1, id);
  if (!(*statement).step()) return std::nullopt;
  StoredRecord record;
  record.kind = (*statement).column_text(0);
  record.owner = (*statement).column_optional_text(1);
  record.structure_id = (*statement).column_optional_text(2);
  record.state.fields = json::parse((*statement).column_text(3));
  auto versions = field_versions_from_json(json::parse((*statement).column_text(4)));
  if (!versions) throw std::runtime_error("record " + id + " has unreadable versions");
  record.state.versions = std::move(*versions);
  record.state.deleted = (*statement).column_int64(5) != 0;
  record.creation_key = (*statement).column_optional_text(6);
  return record;
}

namespace {

// The problems of a record's fields (which never hold "id") under the model's rules, checked in
// place with its id for a moment rather than copied.
Problems problems_of_record(RecordKind kind, const std::string& id, json& fields, const ValidationContext& context) {
  fields["id"] = id;
  auto problems = check_record(kind, fields, context).problems;
  fields.erase("id");
  return problems;
}

}  // namespace

ServerStore::Prechecked ServerStore::precheck(std::vector<PushChange>& changes) const {
  Prechecked prechecked;
  {
    std::lock_guard in_use(vocabulary_in_use_mutex_);
    prechecked.vocabulary = vocabulary_in_use_;
  }
  prechecked.today = options_.today();
  const ValidationContext context{*prechecked.vocabulary, prechecked.today};
  for (auto& change : changes) {
    // As a new record, the change's fields are the record's, unless merge_new() would drop or
    // take out some of them (null values, "_deleted").
    auto& fields = change.change.fields;
    const bool as_sent = std::none_of(fields.begin(), fields.end(), [](const json& value) { return value.is_null(); }) &&
                         !fields.contains(kDeletedField);
    if (!as_sent) continue;
    change.problems_as_new = problems_of_record(change.kind, change.id, fields, context);
  }
  return prechecked;
}

std::string ServerStore::push(const Caller& caller, std::vector<PushChange>& changes, const Prechecked* prechecked) {
  std::lock_guard lock(mutex_);
  PushBatch batch{options_.today(), options_.now_ms(), 0, 0, current_vocabulary()};
  batch.prechecked = prechecked != nullptr && prechecked->vocabulary.get() == &batch.vocabulary &&
                     prechecked->today == batch.today;
  std::string results = "[";
  sqlite::Transaction transaction(db_);
  // Pushes are serialized by the mutex and the write lock: the sequence numbers of this one can
  // be counted from the greatest at its start.
  batch.next_seq = next_change_seq();
  for (auto& change : changes) {
    if (results.size() > 1) results += ',';
    results += push_one(caller, change, batch);
  }
  results += ']';
  if (batch.max_clock > 0) observe_clock(batch.max_clock, batch.now);
  transaction.commit();
  return results;
}

namespace {

// Results echo pushed values: valid UTF-8 whatever was sent.
std::string result_text(const json& result) { return result.dump(-1, ' ', false, json::error_handler_t::replace); }

// The fields of a record as stored. A new record's are the text it was sent with, when that
// says the same (merge() drops null fields and takes "_deleted" out): not written again.
std::string stored_fields_text(bool existed, const PushChange& change, std::size_t sent_fields,
                               const RecordState& merged) {
  if (!existed && !change.fields_text.empty() && merged.fields.size() == sent_fields) {
    return change.fields_text;
  }
  return merged.fields.dump();
}

// The answer to a change applied without conflict, written directly (keys in order, as
// nlohmann writes them).
std::string applied_result_text(const PushChange& change) {
  return wire::applied_result_text(change.id, change_version(change.change));
}

}  // namespace

namespace {

// The problems of a change's versions, before anything is read: each must be the pushing
// device's own (a device pushes the changes it made), with a clock no more than
// kMaxClockSkewMs ahead of the server's (docs/protocol.md, "Bounded clocks").
json version_problems(const IncomingChange& change, const std::string& device_id, std::int64_t now_ms) {
  json problems = json::array();
  const auto ceiling = HybridLogicalClock::ceiling(now_ms);
  std::int64_t ahead = 0;
  for (const auto& [field, version] : change.versions) {
    if (version.device != device_id) {
      problems.push_back(problem_json("versions." + field, "foreign_device",
                                      "cette modification porte la version d’un autre appareil : un appareil "
                                      "n'envoie que ses propres modifications"));
    } else if (version.clock > ceiling) {
      ahead = std::max(ahead, version.clock);
    }
  }
  if (ahead > 0) {
    const auto offset = HybridLogicalClock::physical_ms(ahead) - now_ms;
    problems.push_back(problem_json("versions", "clock_ahead",
                                    "l’horloge de l’appareil qui a fait cette modification avance de " +
                                        describe_clock_offset(offset, Lang::fr) +
                                        " sur celle du serveur : corrigez sa date et son heure, puis synchronisez"));
  }
  return problems;
}

}  // namespace

const char* ServerStore::parent_field_of(RecordKind kind) {
  switch (kind) {
    case RecordKind::device: return "lot_id";
    case RecordKind::device_event: return "device_id";
    default: return nullptr;
  }
}

json ServerStore::parent_problems(RecordKind kind, const json& fields, const Caller& caller) {
  const std::string field = parent_field_of(kind);
  const char* parent_kind = kind == RecordKind::device ? "lot" : "device";
  const auto value = fields.find(field);
  // A missing or malformed reference is the model's rule to name (validation, just after).
  if (value == fields.end() || !value->is_string()) return json::array();
  auto statement = db_.cached("SELECT kind, owner_user_id FROM records WHERE id = ?1");
  (*statement).bind(1, value->get_ref<const std::string&>());
  if (!(*statement).step() || (*statement).column_text(0) != parent_kind) {
    return json::array({problem_json(field, "parent_not_found",
                                     kind == RecordKind::device
                                         ? "le lot de ce matériel n'est pas sur le serveur : envoyez le lot d'abord"
                                         : "le matériel de cet événement n'est pas sur le serveur : envoyez-le d'abord")});
  }
  if (caller.user.role != Role::admin && (*statement).column_optional_text(1) != caller.user.id) {
    return json::array({problem_json(field, "forbidden",
                                     kind == RecordKind::device
                                         ? "ce lot appartient à un autre conseiller : on n'y ajoute pas de matériel"
                                         : "ce matériel appartient à un autre conseiller : on n'y ajoute pas "
                                           "d'événement")});
  }
  return json::array();
}

std::string ServerStore::push_one(const Caller& caller, PushChange& change, PushBatch& batch) {
  const auto& today = batch.today;
  const auto now = batch.now;
  const std::string kind(to_string(change.kind));
  if (auto problems = version_problems(change.change, caller.device_id, now); !problems.empty()) {
    return result_text(rejected(change.id, std::move(problems)));
  }
  auto stored = load_record(change.id);
  if (stored && stored->kind != kind) {
    return result_text(
        rejected(change.id, problems_json({{"kind", "wrong_kind", {{"value", kind}, {"expected", stored->kind}}}})));
  }

  // Scope of writes: reference data is the administrators'; any other record is its owner's
  // (and the administrators').
  const bool admin = caller.user.role == Role::admin;
  if (is_reference(change.kind) && !admin) {
    return result_text(rejected(change.id, json::array({problem_json(
                                               "", "forbidden",
                                               "seuls les administrateurs peuvent modifier les lieux, les structures et "
                                               "les conseillers")})));
  }
  if (stored && !admin && stored->owner != caller.user.id) {
    return result_text(rejected(
        change.id, json::array({problem_json("", "forbidden",
                                             "cet enregistrement appartient à un autre conseiller : seul son auteur "
                                             "peut le modifier")})));
  }

  // A change already answered gets the same answer. (Records are never removed: a record not
  // here yet has had no change answered.)
  if (stored) {
    auto statement = db_.cached("SELECT result FROM push_results WHERE record_id = ?1 AND change_key = ?2");
    (*statement).bind(1, change.id).bind(2, change.key);
    if ((*statement).step()) return (*statement).column_text(0);
    if (stored->creation_key == change.key) return applied_result_text(change);
  }

  // A new record's values are moved into it (merge_new empties change.change.fields).
  const auto sent_fields = change.change.fields.size();
  const bool only_deletion = sent_fields == 1 && change.change.fields.contains(kDeletedField);
  auto outcome = stored ? merge(std::optional<RecordState>(std::move(stored->state)), change.change)
                        : merge_new(change.change);

  // A child (a device in a lot, an event on a device) hangs only from a parent in the pusher's
  // scope of writes: no advisor can put an erasure on another structure's device, or a device in
  // another's lot (and read its donor through it). Checked when the parent is set.
  if (const auto* parent_field = parent_field_of(change.kind);
      parent_field != nullptr && (!stored || change.change.fields.contains(parent_field))) {
    if (auto problems = parent_problems(change.kind, outcome.merged.fields, caller); !problems.empty()) {
      return result_text(rejected(change.id, std::move(problems)));
    }
  }

  // The merged record must pass the model's rules, unless the change only deletes it (a
  // deletion is never refused, even of a record that the rules of today would refuse).
  if (!(only_deletion && outcome.merged.deleted)) {
    // A new record whose fields are those precheck() checked: its problems are known.
    Problems problems;
    if (!stored && batch.prechecked && change.problems_as_new) {
      problems = std::move(*change.problems_as_new);
    } else {
      problems = problems_of_record(change.kind, change.id, outcome.merged.fields,
                                    ValidationContext{batch.vocabulary, today});
    }
    if (!problems.empty()) return result_text(rejected(change.id, problems_json(problems)));
  }

  if (outcome.changed) {
    std::optional<std::string> owner;
    std::optional<std::string> structure_id;
    if (stored) {
      owner = stored->owner;
      structure_id = stored->structure_id;
    } else if (!is_reference(change.kind)) {
      owner = caller.user.id;
      structure_id = caller.user.structure_id;
    }
    // Reference data belongs to the structure it describes; places to everyone.
    if (change.kind == RecordKind::structure) structure_id = change.id;
    if (change.kind == RecordKind::advisor) {
      const auto it = outcome.merged.fields.find("structure_id");
      structure_id = it != outcome.merged.fields.end() && it->is_string() ? std::optional(it->get<std::string>())
                                                                         : std::nullopt;
    }
    if (change.kind == RecordKind::place) structure_id.reset();

    (*db_.cached("INSERT INTO records (id, kind, owner_user_id, structure_id, fields, versions, deleted, change_seq,"
                 " created_at, updated_at, sole_device, creation_key)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)"
                 " ON CONFLICT (id) DO UPDATE SET structure_id = excluded.structure_id, fields = excluded.fields,"
                 " versions = excluded.versions, deleted = excluded.deleted, change_seq = excluded.change_seq,"
                 " updated_at = excluded.updated_at, sole_device = excluded.sole_device"))
        .bind(1, change.id)
        .bind(2, kind)
        .bind(3, owner)
        .bind(4, structure_id)
        .bind(5, stored_fields_text(stored.has_value(), change, sent_fields, outcome.merged))
        .bind(6, to_json_text(outcome.merged.versions))
        .bind(7, outcome.merged.deleted ? 1 : 0)
        .bind(8, batch.next_seq++)
        .bind(9, now)
        .bind(10, sole_device(outcome.merged.versions))
        .bind(11, stored ? std::optional<std::string>() : std::optional<std::string>(change.key))
        .run();
  }

  const auto version = change_version(change.change);
  if (plausible_clock(version.clock, now)) batch.max_clock = std::max(batch.max_clock, version.clock);
  // A new record (never in conflict): its creation_key answers a resend (above).
  if (!stored && outcome.changed) return applied_result_text(change);
  std::string text;
  if (outcome.conflicts.empty()) {
    text = applied_result_text(change);
  } else {
    for (const auto& conflict : outcome.conflicts) {
      (*db_.cached("INSERT INTO conflicts (record_id, kind, field, kept_value, kept_version, lost_value, lost_version,"
                   " incoming_lost, device_id, user_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"))
          .bind(1, change.id)
          .bind(2, kind)
          .bind(3, conflict.field)
          .bind(4, conflict.kept_value.dump())
          .bind(5, to_json(conflict.kept_version).dump())
          .bind(6, conflict.lost_value.dump())
          .bind(7, to_json(conflict.lost_version).dump())
          .bind(8, conflict.incoming_lost ? 1 : 0)
          .bind(9, caller.device_id)
          .bind(10, caller.user.id)
          .bind(11, now)
          .run();
    }
    text = result_text(wire::conflict_result(change.id, version, outcome.conflicts));
  }
  (*db_.cached("INSERT OR IGNORE INTO push_results (record_id, change_key, result, created_at) VALUES (?1, ?2, ?3, ?4)"))
      .bind(1, change.id)
      .bind(2, change.key)
      .bind(3, text)
      .bind(4, now)
      .run();
  return text;
}

// [SECTION] Pull ---------------------------------------------------------------------------------

PullResult ServerStore::pull(const Caller& caller, const std::optional<Cursor>& cursor, std::int64_t limit) {
  // Scope of reads: an advisor sees its own records, the places and its structure's reference
  // data; a coordinator its structure's records and the places; an administrator everything.
  // A record whose every field this device made is one it has already: it is not sent back.
  static const std::string kSelect =
      "SELECT kind, id, owner_user_id, fields, versions, deleted, change_seq FROM records"
      " WHERE change_seq > ?1 AND change_seq <= ?2 AND (sole_device IS NULL OR sole_device <> ?6) AND ";
  static const std::string kOrder = " ORDER BY change_seq LIMIT ?3";
  std::string scope;
  switch (caller.user.role) {
    case Role::admin: scope = "1"; break;
    case Role::coordinateur: scope = "(structure_id = ?5 OR kind IN ('place', 'vocabulary'))"; break;
    case Role::mediateur:
      scope =
          "(owner_user_id = ?4 OR kind IN ('place', 'vocabulary') OR (kind IN ('structure', 'advisor') AND structure_id = ?5))";
      break;
  }

  std::lock_guard lock(mutex_);
  // Read again each time: `admin reset-epoch` may have changed it while the server runs.
  epoch_ = meta("epoch");
  // The last change now: the scan stops there, and it is the cursor when nothing more is left.
  const auto last = db_.query_int64("SELECT coalesce(max(change_seq), 0) FROM records");
  std::int64_t after = 0;
  if (cursor) {
    if (cursor->epoch != epoch_ || cursor->seq > last) {
      throw ApiError(410, "resync_required",
                     "this cursor belongs to another state of the server store (restored or reset): pull again "
                     "without a cursor, then push every local record again");
    }
    after = cursor->seq;
  }

  PullResult result;
  auto statement = db_.cached(kSelect + scope + kOrder);
  (*statement).bind(1, after).bind(2, last).bind(3, limit + 1);
  if (caller.user.role != Role::admin) (*statement).bind(4, caller.user.id).bind(5, caller.user.structure_id);
  (*statement).bind(6, caller.device_id);
  std::int64_t last_sent = after;
  std::int64_t count = 0;
  while ((*statement).step()) {
    if (count == limit) {
      result.more = true;
      break;
    }
    ++count;
    last_sent = (*statement).column_int64(6);
    auto kind = (*statement).column_text(0);
    if (kind == "vocabulary") {
      result.vocabulary = json::parse((*statement).column_text(3));
      continue;
    }
    result.records.push_back(wire::pulled_record_json(kind, (*statement).column_text(1),
                                                      json::parse((*statement).column_text(3)),
                                                      json::parse((*statement).column_text(4)),
                                                      (*statement).column_int64(5) != 0,
                                                      (*statement).column_optional_text(2)));
  }
  result.cursor = encode_cursor(Cursor{epoch_, result.more ? last_sent : last});
  return result;
}

}  // namespace relais::server
