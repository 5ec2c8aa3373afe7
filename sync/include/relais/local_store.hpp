#pragma once
// The advisor's local store: every record lives here first, offline, and every change is
// journaled in the same transaction for sync (the outbox). See docs/store.md.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/hlc.hpp"
#include "relais/wire.hpp"
#include "relais/merge.hpp"
#include "relais/records.hpp"
#include "relais/session_export.hpp"
#include "relais/sqlite.hpp"
#include "relais/vocabulary.hpp"

namespace relais {


// The newest schema this build knows; see migrations.cpp for what each version added.
int latest_schema_version();

// The outcome of a write: the ids written, or every problem found (and nothing written).
struct WriteResult {
  std::vector<std::string> ids;
  Problems problems;
  bool unchanged = false;  // an update whose fields were already the stored ones
  bool ok() const { return problems.empty(); }
};

struct JournalEntry {
  std::int64_t seq = 0;
  RecordKind kind = RecordKind::session;
  std::string record_id;
  std::string op;  // create | update | delete
  std::int64_t version = 0;
  std::string device_id;
  nlohmann::json changes;  // the fields written by this change (empty for a delete)
  std::int64_t created_unix_ms = 0;
};

struct ListQuery {
  std::vector<RecordKind> kinds{RecordKind::session};
  std::optional<Date> from;  // inclusive, on the record's date (sessions, lots, events)
  std::optional<Date> to;    // inclusive
  bool include_deleted = false;
  std::int64_t limit = -1;   // -1: no limit
  std::int64_t offset = 0;
};

// [sync] One record of the outbox, one result of a push, one record of a pull: the wire's
// (core/include/relais/wire.hpp).
using wire::OutgoingChange;
using wire::PulledRecord;
using wire::PushResult;

struct Outbox {
  std::vector<OutgoingChange> changes;
  std::int64_t up_to_seq = 0;  // every journal entry up to here is covered by `changes`
};

struct PullApplied {
  std::size_t changed = 0;    // records added or changed here
  std::size_t conflicts = 0;  // values that lost to a concurrent edit
  int vocabulary_version = 0;  // the vocabulary update applied with the page, if any
};

class LocalStore {
 public:
  struct Options {
    // Copy the store to "<path>.before-v<N>.bak" before upgrading an existing store.
    bool backup_before_migration = true;
    // Overrides the local date used by validation ("not in the future"); tests set it.
    std::optional<Date> today;
    HybridLogicalClock::WallClock wall_clock;  // defaults to the system clock
  };

  // Opens (creating if needed) and migrates the store. Throws sqlite::Error or
  // std::runtime_error with a message naming the file and the problem.
  LocalStore(const std::filesystem::path& path, const Vocabulary& vocabulary, Options options);
  LocalStore(const std::filesystem::path& path, const Vocabulary& vocabulary);
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  const std::string& device_id() const { return device_id_; }
  // The vocabulary records are checked with: the assets' one, with the update last pulled from
  // the server (docs/protocol.md) if any. Show labels from it too.
  const Vocabulary& vocabulary() const { return updated_vocabulary_ ? *updated_vocabulary_ : base_vocabulary_; }
  // Takes the vocabulary update another connection (the background sync's) saved since this one
  // last looked; true when it changed. Every write does it first; a reference to the previous
  // vocabulary stays valid.
  bool refresh_vocabulary();
  int schema_version() const;
  const std::filesystem::path& path() const { return db_.path(); }
  // The backup written by this open's migration, if any.
  const std::optional<std::filesystem::path>& migration_backup() const { return migration_backup_; }

  // Adds records, all or nothing: each one is validated against the model and against the
  // store (references exist, serials are unique, erasure before handing over...). Records may
  // refer to records earlier in the same batch. Problems name "[index].field".
  WriteResult add(std::vector<AnyRecord> records);
  WriteResult add(AnyRecord record);
  // Replaces the given top-level fields of a record (null removes an optional field).
  WriteResult update(const std::string& id, const nlohmann::json& fields);
  // Soft delete: the row stays, marked deleted, and the deletion is journaled. A device's
  // events are deleted with it; a lot, place or structure still in use is refused.
  WriteResult remove(const std::string& id);

  // The record with its metadata (kind, created_at, updated_at, deleted_at, version), or
  // nothing. A device also shows its events and its outcome ("devenir").
  std::optional<nlohmann::json> get(const std::string& id) const;
  std::optional<RecordKind> kind_of_id(const std::string& id) const;
  std::vector<nlohmann::json> list(const ListQuery& query) const;
  std::int64_t count(RecordKind kind, bool include_deleted = false) const;

  // Live sessions whose date is in [from, to], oldest first, one at a time (constant memory).
  void for_each_session(const std::optional<Date>& from, const std::optional<Date>& to,
                        const std::function<void(const ExportedSession&)>& visit) const;

  std::vector<JournalEntry> journal(std::int64_t after_seq = 0, std::int64_t limit = -1) const;
  std::int64_t journal_size() const;

  // [sync] See docs/protocol.md. The outbox holds at most `max_records` records; nothing is
  // marked as sent until acknowledge_push() is given the server's results.
  // With `in_flight`, a push sent and not answered yet: the outbox that follows it, to be sent
  // once it is acknowledged (none of its records; the journal read stops before the first entry
  // of one of them).
  Outbox outbox(std::size_t max_records, const Outbox* in_flight = nullptr) const;
  // The same after several pushes in flight, oldest first: it follows the last of them and
  // stops before a record that any of them holds.
  Outbox outbox(std::size_t max_records, const std::vector<const Outbox*>& in_flight) const;
  // Records what the server accepted (its versions become the synced ones), quarantines what it
  // refused, logs reported conflicts and moves the push checkpoint to `sent.up_to_seq`.
  void acknowledge_push(const Outbox& sent, const std::vector<PushResult>& results);
  // Merges pulled records by the protocol's rule (local unpushed changes are never overwritten
  // by older values; lost values go to the conflict log) and saves `next_cursor` with them.
  // A vocabulary update that came with the page is saved with it and used from then on.
  PullApplied apply_pulled(const std::vector<PulledRecord>& records, const std::string& next_cursor,
                           const std::optional<nlohmann::json>& vocabulary_update = std::nullopt);
  // Records with changes not acknowledged by the server yet.
  std::int64_t pending_count() const;
  std::vector<nlohmann::json> conflict_log() const;
  std::vector<nlohmann::json> quarantined() const;
  // Forget what the server acknowledged: the next sync pulls everything and pushes everything.
  void reset_sync_state();

  // [sync] Bounded clocks (docs/protocol.md). The versions of this device are made from the
  // system clock plus this offset (milliseconds, saved in meta.clock_offset_ms): the server's
  // time minus the system's, when they differ by kClockCorrectionThresholdMs or more, else 0.
  // Every connection to the store uses the saved offset from its next write on.
  std::int64_t clock_offset_ms() const;
  // Saves the offset learned from the server's clock reading `server_ms` now; returns the
  // offset in use.
  std::int64_t learn_server_time(std::int64_t server_ms);
  // This device's versions not acknowledged by the server and ahead of the (corrected) clock
  // by more than kMaxClockSkewMs, which the server would refuse, are stamped again with the
  // corrected clock, journaled to go out again, and taken out of quarantine; the clock starts
  // again from there. Returns the number of records restamped (0 at once when the clock has
  // never gone past that bound).
  std::size_t restamp_future_versions();

  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);

  sqlite::Database& database() { return db_; }

 private:
  struct StoredRow;
  std::optional<StoredRow> load_row(const std::string& id, std::optional<RecordKind> kind = std::nullopt) const;
  bool id_exists(const std::string& id) const;
  // The record if it exists and is not deleted; otherwise a not_found or deleted problem.
  std::optional<StoredRow> load_live_row(const std::string& id, Problems& problems) const;
  ValidationContext validation_context() const;
  // Rules that need other records; `previous` is the stored body on an update, null on a create.
  void check_against_store(const AnyRecord& record, const nlohmann::json* previous, Problems& problems);
  void check_device_invariants(const std::string& device_id, Problems& problems);
  void check_not_referenced(RecordKind kind, const std::string& id, Problems& problems);
  void write_session_codes(const Session& session);
  // Brings the statistics index in line with the stored record (stats::refresh, the rule the
  // server shares): called in the transaction of every write, local or pulled. A lot, an event
  // or a place refreshes the devices or sessions that depend on it.
  void refresh_statistics(RecordKind kind, const std::string& id);
  class StatisticsSource;  // this store's tables as a stats::RecordSource
  // Fills the statistics index from every record (a store made before it existed).
  void rebuild_statistics();
  FieldVersions synced_versions(const std::string& id) const;
  void log_conflict(RecordKind kind, const std::string& id, const std::string& field, const nlohmann::json& kept_value,
                    const nlohmann::json& kept_version, const nlohmann::json& lost_value,
                    const nlohmann::json& lost_version, const char* source, std::int64_t now_ms);
  void write_pulled(const PulledRecord& pulled, const RecordState& merged);
  // [sync] Whether the record a pulled device or event belongs to is in the store.
  bool parent_is_here(const PulledRecord& pulled) const;
  void apply_one_pulled(const PulledRecord& pulled, PullApplied& applied, std::int64_t now_ms);
  // Applies the held-back pulled records whose parent has arrived.
  void release_held(PullApplied& applied, std::int64_t now_ms);
  void write_row(const AnyRecord& record, const std::string& op, const nlohmann::json& changes,
                 const nlohmann::json& field_versions, std::int64_t version, std::int64_t created_unix_ms,
                 std::int64_t now_unix_ms);
  void append_journal(RecordKind kind, const std::string& id, const std::string& op, std::int64_t version,
                      const nlohmann::json& changes, std::int64_t now_unix_ms);
  std::int64_t next_version();
  // The wall clock of versions: the system's (or the test's) plus the saved offset.
  std::int64_t wall_now_ms() const;
  // Reads the offset and the clock another connection may have saved (at the start of each
  // write, and of a restamp).
  void refresh_clock();
  void commit(sqlite::Transaction& transaction);
  void mark_deleted(RecordKind kind, const std::string& id);
  nlohmann::json with_metadata(const StoredRow& row) const;

  sqlite::Database db_;
  const Vocabulary& base_vocabulary_;
  std::unique_ptr<Vocabulary> updated_vocabulary_;
  std::string loaded_vocabulary_update_;  // the meta.sync_vocabulary text it was made from
  std::vector<std::unique_ptr<Vocabulary>> retired_vocabularies_;
  Options options_;
  std::string device_id_;
  std::int64_t clock_offset_ms_ = 0;
  HybridLogicalClock clock_;
  std::optional<std::filesystem::path> migration_backup_;
};

// The default store location: $XDG_DATA_HOME/relais/relais.db, else ~/.local/share/relais/relais.db.
std::filesystem::path default_store_path();

// The vocabulary of the store at `store_path`, read without opening the store for writing: `base`
// with the update last pulled into it, or `base` when there is none (or no store yet). For
// checking input before the store is opened.
Vocabulary vocabulary_with_update(const Vocabulary& base, const std::filesystem::path& store_path);

}  // namespace relais
