#pragma once
// The server's SQLite store: accounts (structures, users, devices, enrollment codes), the
// records every device syncs, the conflict log and the results of pushes. See docs/server.md.
//
// Thread safety: one connection, one mutex. Every public method takes the mutex for its whole
// database work, so the HTTP worker threads can share one ServerStore. Other processes (the
// admin commands) may use the same file at the same time: SQLite's locks and the 5 s busy
// timeout order them, and every write is a BEGIN IMMEDIATE transaction.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/dates.hpp"
#include "relais/server/protocol.hpp"
#include "relais/sqlite.hpp"

namespace relais {
class Translator;
class Vocabulary;
}  // namespace relais

namespace relais::server {

// An admin command refers to something that does not exist or gives an invalid value:
// reported in one line, exit code 2.
class AdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Role { mediateur, coordinateur, admin };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);

struct User {
  std::string id;
  std::string structure_id;
  Role role = Role::mediateur;
  std::string nom;
  std::optional<std::string> prenom;
};

// Who is calling: the device its token belongs to, and that device's user.
struct Caller {
  std::string device_id;
  User user;
};

struct EnrollResult {
  std::string token;  // shown once; the store keeps its SHA-256
  User user;
};

struct PullResult {
  nlohmann::json records = nlohmann::json::array();
  std::optional<nlohmann::json> vocabulary;  // the vocabulary update, when it changed in this page
  std::string cursor;
  bool more = false;
};

// The SQL of each schema version, in order (the store's PRAGMA user_version counts those
// applied). For tests that make a store of an older version.
const std::vector<std::string>& server_migrations();

class ServerStore {
 public:
  struct Options {
    // The date records may not be after. Default: today in the earliest time zone (UTC+14),
    // so that no device's local "today" is ever refused as the future.
    std::function<Date()> today;
    std::function<std::int64_t()> now_ms;  // Unix milliseconds; default: the system clock
  };

  // Opens (creating if needed) and migrates the store. Throws sqlite::Error or
  // std::runtime_error naming the file.
  ServerStore(const std::filesystem::path& path, const Vocabulary& vocabulary, const Translator& translator,
              Options options = {});
  ~ServerStore();
  ServerStore(const ServerStore&) = delete;
  ServerStore& operator=(const ServerStore&) = delete;

  const std::filesystem::path& path() const { return db_.path(); }
  std::string epoch() const {
    std::lock_guard lock(mutex_);
    return epoch_;
  }
  // PRAGMA user_version; throws when the database does not answer.
  int schema_version();

  // [Admin] Each throws AdminError for an unknown id or an invalid value.
  std::string add_structure(const std::string& nom);
  std::string add_user(const std::string& structure_id, Role role, const std::string& nom,
                       const std::optional<std::string>& prenom);
  // A one-time code, valid 7 days.
  std::string make_enroll_code(const std::string& user_id);
  // False when the device was already revoked.
  bool revoke_device(const std::string& device_id);
  // A new epoch (returned): every cursor made before is refused with 410, so every device pulls
  // and pushes everything again, once. For a store restored from a backup.
  std::string reset_epoch();
  // Publishes a vocabulary update (Vocabulary::with_update) that devices get with their next
  // pull, and that validates pushes from now on. Its version must be above the published one.
  // Returns that version; throws AdminError naming the problem.
  int publish_vocabulary(const nlohmann::json& update);

  // [Protocol]
  // Nullopt when the code is unknown, used or expired. Throws ApiError 409 device_taken when the
  // device id is enrolled for another user (the code stays unused).
  std::optional<EnrollResult> enroll(const EnrollRequest& request);
  // Nullopt when the token is unknown or its device revoked.
  std::optional<Caller> authenticate(const std::string& token);
  // One result per change, in order, as the text of a JSON array (each result is written once:
  // kept for a resend and put in the answer as it is); one transaction, committed before
  // returning. A new record's values are moved out of its change.
  //
  // `prechecked`: what precheck() was called with, for these changes.
  struct Prechecked {
    std::shared_ptr<const Vocabulary> vocabulary;
    Date today;
  };
  std::string push(const Caller& caller, std::vector<PushChange>& changes, const Prechecked* prechecked = nullptr);
  // Checks each change, without the store lock, as the new record most pushed changes are
  // (PushChange::problems_as_new): push() then only looks the result up, which shortens the
  // part of a push that other pushes wait for. A change that sets a field to null or says
  // "_deleted" is left to push(), and so is every change when the vocabulary or the day is no
  // longer the same by then.
  Prechecked precheck(std::vector<PushChange>& changes) const;
  // Throws ApiError 410 resync_required for a cursor of another store or from the future.
  PullResult pull(const Caller& caller, const std::optional<Cursor>& cursor, std::int64_t limit);

  // The conflict log, oldest first (for tests and administrators).
  nlohmann::json conflicts();

  // [Statistics and exports] Brings the statistics index (core/statistics.hpp) up to date with
  // the records changed since the last call, in transactions of a few thousand records so that
  // pushes wait at most one of them. Returns the number of records read. Statistics and exports
  // read the index on their own connection after calling this. With `stop`, returns early
  // (between two transactions) once it turns true.
  std::int64_t refresh_statistics(const std::atomic<bool>* stop = nullptr);
  // The vocabulary pushes are checked with (the assets' one with the published update).
  Vocabulary vocabulary();
  // A user by id, or nullopt.
  std::optional<User> user(const std::string& id);
  // A structure's name, or nullopt for an unknown id.
  std::optional<std::string> structure_name(const std::string& id);

 private:
  struct StoredRecord;
  std::optional<StoredRecord> load_record(const std::string& id);
  // What the changes of one push share.
  struct PushBatch {
    Date today;
    std::int64_t now = 0;
    std::int64_t next_seq = 0;   // the change sequence number of the next record written
    std::int64_t max_clock = 0;  // the greatest version clock applied, for the server's clock
    const Vocabulary& vocabulary;  // with the published update
    bool prechecked = false;       // the changes' problems_as_new hold for this batch
  };
  std::string push_one(const Caller& caller, PushChange& change, PushBatch& batch);
  // The field naming a record's parent (a device's lot, an event's device), or null.
  static const char* parent_field_of(RecordKind kind);
  // The problems of the parent `fields` name: it must be on the server, of the right kind, and
  // in the caller's scope of writes (its own, or any for an administrator).
  nlohmann::json parent_problems(RecordKind kind, const nlohmann::json& fields, const Caller& caller);
  std::int64_t next_change_seq();
  FieldVersion next_server_version(std::int64_t now);
  void observe_clock(std::int64_t clock, std::int64_t now);
  void write_reference_record(RecordKind kind, const std::string& id, const std::string& structure_id,
                              const nlohmann::json& fields, std::int64_t now);
  nlohmann::json problems_json(const Problems& problems) const;
  // [Statistics] What the index holds of one session or device, from its record.
  void refresh_session_statistics(const std::string& id);
  void refresh_device_statistics(const std::string& id);
  void refresh_record_statistics(const std::string& kind, const std::string& id, const nlohmann::json& fields);
  std::string meta(const std::string& key);
  // The vocabulary pushes are checked with: the assets' one with the published update, if any.
  const Vocabulary& current_vocabulary();

  mutable std::mutex mutex_;
  sqlite::Database db_;
  const Vocabulary& vocabulary_;
  std::shared_ptr<const Vocabulary> published_;  // vocabulary_ with the published update
  std::int64_t published_seq_ = -1;               // the change_seq of that update
  // The vocabulary the last push was checked with, for precheck() (which does not take mutex_).
  mutable std::mutex vocabulary_in_use_mutex_;
  std::shared_ptr<const Vocabulary> vocabulary_in_use_;
  const Translator& translator_;
  Options options_;
  std::string epoch_;
  std::string server_device_;  // the device id of the versions the server itself stamps
  // Copies the log into the database beside the pushes rather than inside one of them (after
  // db_: stopped before it closes).
  std::unique_ptr<sqlite::WalCheckpointer> checkpointer_;
};

// Today in the earliest time zone on Earth (UTC+14): the latest "today" any device can have.
Date latest_today();

}  // namespace relais::server
