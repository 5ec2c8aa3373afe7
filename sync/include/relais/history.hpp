#pragma once
// The history screen's query: every help session and collection lot, newest first, filtered and
// read one page at a time; and HistoryReader, which runs it on its own thread and connection so
// that the UI thread never waits on SQLite. See docs/store.md, "The history query".
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "relais/dates.hpp"
#include "relais/records.hpp"
#include "relais/sqlite.hpp"

namespace relais {

struct HistoryFilter {
  std::optional<Date> from;  // inclusive, on the record's date
  std::optional<Date> to;    // inclusive
  std::string type;          // "" all | "individuel" | "collectif" (sessions) | "collecte" (lots)
  std::string theme;         // a `thematiques` code: the sessions with it (lots have none); "" all
  std::string lieu_id;       // a place's id; "" all
  std::string sync_state;    // "" all | "pending" | "synced" | "quarantined" (see HistoryRow)
  // Free text, ignoring case and accents ("medi" finds "Médiathèque"), found anywhere in the
  // record's own text: notes, tags, commune, workshop title, procedure, place name, donor name,
  // and for a lot its live devices' brand, model, serial number and notes. "" all.
  std::string search;

  bool operator==(const HistoryFilter&) const = default;
};

// One line of the history: enough to show a record without loading it.
struct HistoryRow {
  RecordKind kind = RecordKind::session;  // session or lot
  std::string id;
  std::string date;  // YYYY-MM-DD
  std::int64_t created_at_ms = 0;
  std::string type;                  // session type ("individuel", "collectif") or "collecte"
  std::optional<std::int64_t> duree;  // minutes, sessions only
  std::int64_t participants = 0;     // people helped (1 for an individual session), 0 for a lot
  std::string title;                 // workshop title or donor name; "" when there is none
  std::string type_donateur;         // lots only
  std::string type_lieu;             // sessions only
  std::optional<std::string> lieu_id, lieu_nom;
  std::optional<std::string> commune;  // the session's commune, or the place's
  std::vector<std::string> themes;     // `thematiques` codes, in the record's order
  std::int64_t device_count = 0;       // live devices of a lot
  // "pending": changed since the last push the server acknowledged, or never sent (also when
  // no server is configured: the app knows whether it is enrolled and can word it);
  // "quarantined": refused by the server, and not changed since;
  // "synced": what the server holds.
  std::string sync_state;
};

// Live records matching `filter` (sessions and lots; deleted ones never appear).
std::int64_t history_count(const sqlite::Database& db, const HistoryFilter& filter);
// Rows [offset, offset + limit) of the matching records, ordered by date, then creation time,
// newest first, then id (stable across pages). On first use, registers the SQL function the
// search needs on `db`. Skipping rows costs time: HistoryReader reads by key instead.
std::vector<HistoryRow> history_page(const sqlite::Database& db, const HistoryFilter& filter, std::int64_t offset,
                                     std::int64_t limit);
// The ids of the matching records, in the same order: the filter is evaluated once, and any
// page of the list is then read by id at the same cost (history_rows).
std::vector<std::string> history_ids(const sqlite::Database& db, const HistoryFilter& filter);
// The rows of these records, in the order given, deleted or not (they were live when listed);
// an id of no session or lot is skipped.
std::vector<HistoryRow> history_rows(const sqlite::Database& db, const std::vector<std::string>& ids);

// A record of the list by its table's rowid, in 8 bytes where its UUID takes 40 or more as a
// std::string (HistoryReader keeps one per matching record: 0.8 MB for 100,000, not 8 MB).
// A rowid stays the record's as long as the row exists (deletes are soft) and the store is not
// VACUUMed (Relais never does; VACUUM INTO, for backups, leaves the store as it is).
class HistoryKey {
 public:
  HistoryKey(RecordKind kind, std::int64_t rowid) : packed_(rowid * 2 + (kind == RecordKind::lot ? 1 : 0)) {}
  RecordKind kind() const { return (packed_ & 1) != 0 ? RecordKind::lot : RecordKind::session; }
  std::int64_t rowid() const { return packed_ >> 1; }
  std::int64_t packed() const { return packed_; }  // rowid * 2, plus 1 for a lot
  bool operator==(const HistoryKey&) const = default;

 private:
  std::int64_t packed_;
};
// history_ids as keys: the same records in the same order.
std::vector<HistoryKey> history_keys(const sqlite::Database& db, const HistoryFilter& filter);
// history_rows by key: the rows in the order given; a key of no session or lot is skipped.
std::vector<HistoryRow> history_rows_by_key(const sqlite::Database& db, const std::vector<HistoryKey>& keys);

// A page of rows as read by HistoryReader; immutable once published, so it is shared freely.
struct HistoryPage {
  std::int64_t first = 0;  // index of rows[0] in the whole list
  std::vector<HistoryRow> rows;
};

// What HistoryReader has to show at one moment. A copy: reading it needs no lock.
struct HistorySnapshot {
  // Which run of the query these results come from: it changes with each new filter and each
  // refresh(), never when only more pages arrive. 0: no result yet.
  std::uint64_t generation = 0;
  HistoryFilter filter;      // the filter of these results (the UI may have asked for a newer one)
  std::int64_t count = 0;    // matching records
  std::vector<std::shared_ptr<const HistoryPage>> pages;  // the cached pages, in no order
  bool loading = false;      // the reader is working on the latest request
  std::string error;         // why the latest query failed; "" when it did not

  // The row at `index` of the list, or nullptr when its page is not loaded (yet).
  const HistoryRow* row(std::int64_t index) const;
};

// Runs the history query on a worker thread with its own read-only connection to the store.
// The UI asks for the rows it shows (request() every frame, with ImGuiListClipper's window) and
// reads snapshot(); neither waits on a query. Only the newest request matters: a query for an
// older filter is interrupted and its result dropped. Each new filter (or refresh) lists the
// matching records once, in order (history_keys); pages of kPageSize rows are then read by key, at
// the same cost anywhere in the list. At most kMaxPages pages are kept, the farthest from the
// visible rows dropped first. Until refresh(), the list is the store as it was when listed.
class HistoryReader {
 public:
  static constexpr std::int64_t kPageSize = 200;
  static constexpr std::size_t kMaxPages = 8;

  // Opens the store read-only (throws sqlite::Error when it cannot) and starts the worker.
  // `on_ready` is called on the worker thread after each new result (the app wakes its event
  // loop with it); it may call snapshot(), request() and refresh(), and must not destroy the reader.
  explicit HistoryReader(const std::filesystem::path& store_path, std::function<void()> on_ready = {});
  // Interrupts the running query and joins the worker.
  ~HistoryReader();
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  // Wants rows [first, first + count) of `filter`'s list (at most kPageSize * kMaxPages rows).
  // Returns at once. A new filter lists the ids again and starts a fresh cache; the same filter
  // only loads the pages missing for the window, and nothing when the window has not changed.
  void request(const HistoryFilter& filter, std::int64_t first, std::int64_t count);
  // The store changed (a record saved, deleted or synced): runs the latest request again.
  void refresh();
  HistorySnapshot snapshot() const;

 private:
  // What the UI wants now. `epoch` changes with each new filter and each refresh().
  struct Want {
    std::uint64_t epoch = 0;
    HistoryFilter filter;
    std::int64_t first = 0;
    std::int64_t end = 0;
  };
  void run();
  // Indexes of the pages the window needs (with half a page of margin each side), given `count`.
  static std::vector<std::int64_t> pages_for(const Want& want, std::int64_t count);
  std::vector<std::int64_t> missing_pages_locked() const;
  bool has_work_locked() const;
  void trim_cache_locked();

  sqlite::Database db_;  // used by the worker thread only (sqlite3_interrupt excepted)
  std::function<void()> on_ready_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  Want want_;
  HistorySnapshot published_;  // loading is computed in snapshot()
  std::vector<HistoryKey> keys_;  // the published result's records, in order; the worker's alone
  std::uint64_t failed_epoch_ = 0;  // an epoch whose query failed: not retried until the next one
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace relais
