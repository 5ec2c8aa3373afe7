#include "relais/history.hpp"

#include <sqlite3.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <limits>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "relais/text.hpp"

namespace relais {

namespace {

// [SECTION] Search: case and accents folded (relais/text.hpp) -----------------------------------

// Reads the four hex digits of a \u escape at `text[i]`; nullopt when they are not there.
std::optional<char32_t> hex4(std::string_view text, std::size_t i) {
  if (i + 4 > text.size()) return std::nullopt;
  char32_t value = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = text[k];
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<char32_t>(digit);
  }
  return value;
}

// True when one of the string values in the JSON text `json` contains `needle` once folded.
// The JSON comes from SQLite's json_extract, so it is well formed; strings are read with their
// escapes undone, so that a quote or a line break in a note is searched as itself.
bool json_strings_contain(std::string_view json, std::string_view needle) {
  std::string value;
  std::string folded_value;
  std::size_t i = 0;
  while (i < json.size()) {
    if (json[i++] != '"') continue;  // numbers, null, brackets and commas between the strings
    value.clear();
    while (i < json.size() && json[i] != '"') {
      if (json[i] != '\\' || i + 1 >= json.size()) {
        value += json[i++];
        continue;
      }
      const char escaped = json[i + 1];
      i += 2;
      switch (escaped) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'u': {
          auto c = hex4(json, i).value_or(U'?');
          i += 4;
          // A surrogate pair: a code point beyond the first plane, written as two escapes.
          if (c >= 0xD800 && c < 0xDC00 && i + 1 < json.size() && json[i] == '\\' && json[i + 1] == 'u') {
            if (const auto low = hex4(json, i + 2); low && *low >= 0xDC00 && *low < 0xE000) {
              c = 0x10000 + ((c - 0xD800) << 10) + (*low - 0xDC00);
              i += 6;
            }
          }
          append_utf8(value, c);
          break;
        }
        default: value += escaped;  // \" \\ \/
      }
    }
    ++i;  // the closing quote
    folded_value.clear();
    append_folded(folded_value, value);
    if (folded_value.find(needle) != std::string::npos) return true;
  }
  return false;
}

constexpr const char* kMatchFunction = "relais_history_match";

// relais_history_match(needle, json...): 1 when the needle (already folded) is in one of the
// string values of the JSON arguments, each the result of one json_extract() with several
// paths (so always a JSON array): SQLite parses each record's JSON once for all the fields
// searched, where one json_extract() per field would parse it again for each. A SQL function, so
// that the search filters and pages in SQL like the other filters.
void match_function(sqlite3_context* context, int argc, sqlite3_value** argv) {
  const auto* needle_text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string_view needle(needle_text ? needle_text : "", static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  for (int i = 1; i < argc; ++i) {
    const auto* json = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    if (json == nullptr) continue;  // NULL: no such record (a session without a place)
    if (json_strings_contain(std::string_view(json, static_cast<std::size_t>(sqlite3_value_bytes(argv[i]))), needle)) {
      sqlite3_result_int(context, 1);
      return;
    }
  }
  sqlite3_result_int(context, 0);
}

// A statement prepared once per connection. The search function is registered on the
// connection the first time a statement needs it (the store's own code never does).
sqlite::Database::Lease prepared(const sqlite::Database& db, const std::string& sql) {
  try {
    return db.cached(sql);
  } catch (const sqlite::Error& error) {
    if (std::string_view(error.what()).find(std::string("no such function: ") + kMatchFunction) == std::string_view::npos) {
      throw;
    }
  }
  const int rc = sqlite3_create_function_v2(db.handle(), kMatchFunction, -1,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                            match_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw sqlite::Error(rc, std::string("register ") + kMatchFunction + ": " + sqlite3_errstr(rc));
  return db.cached(sql);
}

// [SECTION] The query, built from fixed fragments ----------------------------------------------

using Param = std::variant<std::int64_t, std::string>;

// SQL text and its parameters, in order. Only the fragments of the filters in use are added, so
// that the planner sees plain conditions (and can use the date, place and theme indexes); each
// combination is prepared once per connection.
struct Sql {
  std::string text;
  std::vector<Param> params;

  void add(std::string_view fragment) { text += fragment; }
  void add(std::string_view fragment, Param value) {
    text += fragment;
    params.push_back(std::move(value));
  }
  void bind(sqlite::Statement& statement) const {
    int index = 1;
    for (const auto& param : params) std::visit([&](const auto& value) { statement.bind(index++, value); }, param);
  }
};

// The last journal entry the server acknowledged (see LocalStore::acknowledge_push); evaluated
// once per statement.
constexpr const char* kPushedSeq =
    "(SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'sync_pushed_seq')";

std::string sync_state_sql(const std::string& id) {
  return "CASE WHEN EXISTS (SELECT 1 FROM journal j WHERE j.record_id = " + id + " AND j.seq > " + kPushedSeq +
         ") THEN 'pending'"
         " WHEN EXISTS (SELECT 1 FROM sync_records r WHERE r.record_id = " +
         id + " AND r.rejected_at IS NOT NULL) THEN 'quarantined' ELSE 'synced' END";
}

bool wants_sessions(const HistoryFilter& filter) { return filter.type != "collecte"; }
bool wants_lots(const HistoryFilter& filter) {
  return (filter.type.empty() || filter.type == "collecte") && filter.theme.empty();
}

std::string search_needle(const HistoryFilter& filter) {
  const auto begin = filter.search.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  const auto end = filter.search.find_last_not_of(" \t\r\n");
  return fold_for_search(std::string_view(filter.search).substr(begin, end - begin + 1));
}

// Conditions both tables have: date, place, sync state.
void add_shared_filters(Sql& sql, const HistoryFilter& filter, const std::string& alias) {
  if (filter.from) sql.add(" AND " + alias + ".date >= ?", format_date(*filter.from));
  if (filter.to) sql.add(" AND " + alias + ".date <= ?", format_date(*filter.to));
  if (!filter.lieu_id.empty()) sql.add(" AND " + alias + ".lieu_id = ?", filter.lieu_id);
  if (!filter.sync_state.empty()) sql.add(" AND " + sync_state_sql(alias + ".id") + " = ?", filter.sync_state);
}

// How the keys will be read: the first rows only (walking the date indexes in order finds them
// without sorting), or all of them (a plain scan then one sort of the matches is faster than
// visiting every row in date order, up to 3 times with a filter).
enum class KeyOrder { by_index, by_sort };

// The keys (kind, id, date, created_at, and with `with_rowid` the table's rowid) of the matching
// live records: narrow rows, so that counting, sorting and skipping never carry the JSON bodies
// along.
Sql keys_sql(const HistoryFilter& filter, KeyOrder order = KeyOrder::by_index, bool with_rowid = false) {
  Sql sql;
  const auto needle = search_needle(filter);
  // A unary + keeps SQLite from ordering by the index.
  const std::string sort_prefix = order == KeyOrder::by_sort ? "+" : "";
  const auto rowid = [&](const char* alias) { return with_rowid ? std::string(", ") + alias + ".rowid AS rowid" : ""; };
  if (wants_sessions(filter)) {
    sql.add("SELECT 'session' AS kind, s.id AS id, " + sort_prefix + "s.date AS date, s.created_at AS created_at" +
            rowid("s") + " FROM sessions s");
    if (!needle.empty()) sql.add(" LEFT JOIN places p ON p.id = s.lieu_id");
    sql.add(" WHERE s.deleted_at IS NULL");
    add_shared_filters(sql, filter, "s");
    if (!filter.type.empty()) sql.add(" AND s.type = ?", filter.type);
    if (!filter.theme.empty()) {
      sql.add(" AND EXISTS (SELECT 1 FROM session_codes c WHERE c.session_id = s.id AND c.field = 'thematiques'"
              " AND c.code = ?)",
              filter.theme);
    }
    if (!needle.empty()) {
      sql.add(std::string(" AND ") + kMatchFunction +
                  "(?, json_extract(s.body, '$.notes', '$.tags', '$.lieu_commune', '$.titre_atelier',"
                  " '$.precisions_demarche', '$.beneficiaire.commune'), json_extract(p.body, '$.nom', '$.commune'))",
              needle);
    }
  }
  if (wants_sessions(filter) && wants_lots(filter)) sql.add(" UNION ALL ");
  if (wants_lots(filter)) {
    sql.add("SELECT 'lot' AS kind, l.id AS id, " + sort_prefix + "l.date AS date, l.created_at AS created_at" +
            rowid("l") + " FROM lots l");
    if (!needle.empty()) sql.add(" LEFT JOIN places p ON p.id = l.lieu_id");
    sql.add(" WHERE l.deleted_at IS NULL");
    add_shared_filters(sql, filter, "l");
    if (!needle.empty()) {
      sql.add(std::string(" AND (") + kMatchFunction +
                  "(?, json_extract(l.body, '$.nom_donateur', '$.notes'), json_extract(p.body, '$.nom', '$.commune'))",
              needle);
      sql.add(std::string(" OR EXISTS (SELECT 1 FROM devices d WHERE d.lot_id = l.id AND d.deleted_at IS NULL AND ") +
                  kMatchFunction + "(?, json_extract(d.body, '$.marque', '$.modele', '$.numero_serie', '$.notes'))))",
              needle);
    }
  }
  return sql;
}

constexpr const char* kOrder = "date DESC, created_at DESC, id DESC";

// One HistoryRow per row of `source`, a subquery aliased k with an `id` column.
std::string rows_sql(const std::string& source, const std::string& order) {
  return "SELECT s.id IS NULL, k.id AS id, coalesce(s.date, l.date) AS date,"
         " coalesce(s.created_at, l.created_at) AS created_at, s.type, s.duree, s.participants, s.type_lieu,"
         " json_extract(s.body, '$.titre_atelier'), json_extract(s.body, '$.thematiques'),"
         " json_extract(s.body, '$.lieu_commune'), l.type_donateur, json_extract(l.body, '$.nom_donateur'),"
         " coalesce(s.lieu_id, l.lieu_id), p.nom, json_extract(p.body, '$.commune'),"
         " (SELECT count(*) FROM devices d WHERE d.lot_id = l.id AND d.deleted_at IS NULL), " +
         sync_state_sql("k.id") + " FROM " + source +
         " k LEFT JOIN sessions s ON s.id = k.id LEFT JOIN lots l ON l.id = k.id"
         " LEFT JOIN places p ON p.id = coalesce(s.lieu_id, l.lieu_id)"
         " WHERE s.id IS NOT NULL OR l.id IS NOT NULL ORDER BY " + order;
}

std::vector<std::string> themes_of(const std::optional<std::string>& json_text) {
  std::vector<std::string> out;
  if (!json_text) return out;
  const auto value = nlohmann::json::parse(*json_text, nullptr, false);
  if (!value.is_array()) return out;
  for (const auto& item : value) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

std::vector<HistoryRow> read_rows(sqlite::Statement& statement) {
  std::vector<HistoryRow> rows;
  while (statement.step()) {
    HistoryRow row;
    const bool lot = statement.column_int64(0) != 0;
    row.kind = lot ? RecordKind::lot : RecordKind::session;
    row.id = statement.column_text(1);
    row.date = statement.column_text(2);
    row.created_at_ms = statement.column_int64(3);
    if (lot) {
      row.type = "collecte";
      row.type_donateur = statement.column_text(11);
      row.title = statement.column_text(12);
      row.device_count = statement.column_int64(16);
    } else {
      row.type = statement.column_text(4);
      row.duree = statement.column_optional_int64(5);
      row.participants = statement.column_int64(6);
      row.type_lieu = statement.column_text(7);
      row.title = statement.column_text(8);
      row.themes = themes_of(statement.column_optional_text(9));
      row.commune = statement.column_optional_text(10);
    }
    row.lieu_id = statement.column_optional_text(13);
    row.lieu_nom = statement.column_optional_text(14);
    if (!row.commune) row.commune = statement.column_optional_text(15);
    row.sync_state = statement.column_text(17);
    rows.push_back(std::move(row));
  }
  return rows;
}

// With nothing to check row by row, walking the date indexes costs no more than a scan and
// spares the sort (and with a covering index, see docs/benchmarks.md, is 3 times as fast).
KeyOrder list_order(const HistoryFilter& filter) {
  const bool period_only = filter.type.empty() && filter.theme.empty() && filter.lieu_id.empty() &&
                           filter.sync_state.empty() && search_needle(filter).empty();
  return period_only ? KeyOrder::by_index : KeyOrder::by_sort;
}

}  // namespace

// [SECTION] Queries -----------------------------------------------------------------------------

std::int64_t history_count(const sqlite::Database& db, const HistoryFilter& filter) {
  if (!wants_sessions(filter) && !wants_lots(filter)) return 0;
  const auto keys = keys_sql(filter);
  const auto lease = prepared(db, "SELECT count(*) FROM (" + keys.text + ")");
  auto& statement = *lease;
  keys.bind(statement);
  return statement.step() ? statement.column_int64(0) : 0;
}

std::vector<HistoryRow> history_page(const sqlite::Database& db, const HistoryFilter& filter, std::int64_t offset,
                                     std::int64_t limit) {
  if ((!wants_sessions(filter) && !wants_lots(filter)) || limit <= 0) return {};
  auto sql = keys_sql(filter);
  // Sort and skip the narrow keys first; only the page's rows are then joined to their bodies.
  // All four key columns, or SQLite cannot merge the two date-ordered scans and sorts everything.
  sql.text = rows_sql("(SELECT kind, id, date, created_at FROM (" + sql.text + ") ORDER BY " + kOrder +
                          " LIMIT ? OFFSET ?)",
                      kOrder);
  sql.params.emplace_back(limit);
  sql.params.emplace_back(std::max<std::int64_t>(0, offset));
  const auto lease = prepared(db, sql.text);
  sql.bind(*lease);
  return read_rows(*lease);
}

std::vector<std::string> history_ids(const sqlite::Database& db, const HistoryFilter& filter) {
  std::vector<std::string> ids;
  if (!wants_sessions(filter) && !wants_lots(filter)) return ids;
  auto sql = keys_sql(filter, list_order(filter));
  sql.text = "SELECT kind, id, date, created_at FROM (" + sql.text + ") ORDER BY " + kOrder;  // see history_page
  const auto lease = prepared(db, sql.text);
  auto& statement = *lease;
  sql.bind(statement);
  while (statement.step()) ids.push_back(statement.column_text(1));
  return ids;
}

std::vector<HistoryKey> history_keys(const sqlite::Database& db, const HistoryFilter& filter) {
  std::vector<HistoryKey> keys;
  if (!wants_sessions(filter) && !wants_lots(filter)) return keys;
  auto sql = keys_sql(filter, list_order(filter), true);
  sql.text = "SELECT kind = 'lot', rowid, date, created_at, id FROM (" + sql.text + ") ORDER BY " + kOrder;
  const auto lease = prepared(db, sql.text);
  auto& statement = *lease;
  sql.bind(statement);
  while (statement.step()) {
    keys.emplace_back(statement.column_int64(0) != 0 ? RecordKind::lot : RecordKind::session, statement.column_int64(1));
  }
  keys.shrink_to_fit();  // the list is kept as long as the filter: no spare capacity
  return keys;
}

std::vector<HistoryRow> history_rows(const sqlite::Database& db, const std::vector<std::string>& ids) {
  if (ids.empty()) return {};
  // The ids as one JSON array parameter: one statement for any number of them.
  const auto lease = prepared(db, rows_sql("(SELECT key AS position, value AS id FROM json_each(?))", "k.position"));
  auto& statement = *lease;
  statement.bind(1, nlohmann::json(ids).dump());
  return read_rows(statement);
}

std::vector<HistoryRow> history_rows_by_key(const sqlite::Database& db, const std::vector<HistoryKey>& keys) {
  if (keys.empty()) return {};
  // The packed keys as one JSON array of integers; each finds its row's id by rowid.
  const auto lease = prepared(
      db, rows_sql("(SELECT j.key AS position, coalesce(ks.id, kl.id) AS id FROM json_each(?) j"
                   " LEFT JOIN sessions ks ON j.value % 2 = 0 AND ks.rowid = j.value / 2"
                   " LEFT JOIN lots kl ON j.value % 2 = 1 AND kl.rowid = j.value / 2)",
                   "k.position"));
  auto& statement = *lease;
  std::string packed = "[";
  for (const auto& key : keys) {
    if (packed.size() > 1) packed += ',';
    packed += std::to_string(key.packed());
  }
  packed += ']';
  statement.bind(1, packed);
  return read_rows(statement);
}

// [SECTION] HistoryReader -----------------------------------------------------------------------

namespace {

// A read transaction: the ids and the first pages of one run see the same state of the store.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite::Database& db) : db_(db) {
    // A rollback cut short by sqlite3_interrupt() leaves the previous read open: end it first.
    if (sqlite3_get_autocommit(db_.handle()) == 0) db_.exec("ROLLBACK");
    db_.exec("BEGIN");
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    // Nothing was written: ending the read is all a rollback does. A second try when a
    // request's sqlite3_interrupt() cut the first one short, so that an idle reader holds no
    // snapshot (it would keep the writer from checkpointing the WAL).
    for (int attempt = 0; attempt < 2 && sqlite3_get_autocommit(db_.handle()) == 0; ++attempt) {
      try {
        db_.exec("ROLLBACK");
      } catch (...) {
        // Never throw from a destructor; the constructor of the next one ends it at worst.
      }
    }
  }

 private:
  sqlite::Database& db_;
};

}  // namespace

const HistoryRow* HistorySnapshot::row(std::int64_t index) const {
  for (const auto& page : pages) {
    if (index >= page->first && index < page->first + static_cast<std::int64_t>(page->rows.size())) {
      return &page->rows[static_cast<std::size_t>(index - page->first)];
    }
  }
  return nullptr;
}

HistoryReader::HistoryReader(const std::filesystem::path& store_path, std::function<void()> on_ready)
    : db_(store_path, sqlite::Database::Mode::read_only), on_ready_(std::move(on_ready)), worker_([this] { run(); }) {}

HistoryReader::~HistoryReader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    sqlite3_interrupt(db_.handle());  // safe from another thread; makes a long query give up now
  }
  wake_.notify_all();
  worker_.join();
}

void HistoryReader::request(const HistoryFilter& filter, std::int64_t first, std::int64_t count) {
  {
    std::lock_guard lock(mutex_);
    // A window larger than the cache cannot be kept anyway; the bounds keep the sums below in range.
    const auto begin = std::clamp<std::int64_t>(first, 0, std::numeric_limits<std::int64_t>::max() / 2);
    const auto end = begin + std::clamp<std::int64_t>(count, 0, kPageSize * static_cast<std::int64_t>(kMaxPages));
    const bool new_filter = want_.epoch == 0 || !(filter == want_.filter);
    if (!new_filter && begin == want_.first && end == want_.end) return;  // every frame asks the same
    if (new_filter) {
      want_.filter = filter;
      ++want_.epoch;
      // Under the lock, so that it can only hit a query the worker started for an older epoch.
      sqlite3_interrupt(db_.handle());
    }
    want_.first = begin;
    want_.end = end;
  }
  wake_.notify_one();
}

void HistoryReader::refresh() {
  {
    std::lock_guard lock(mutex_);
    if (want_.epoch == 0) return;  // nothing asked yet
    ++want_.epoch;
    sqlite3_interrupt(db_.handle());
  }
  wake_.notify_one();
}

HistorySnapshot HistoryReader::snapshot() const {
  std::lock_guard lock(mutex_);
  auto out = published_;
  out.loading = has_work_locked();
  return out;
}

std::vector<std::int64_t> HistoryReader::pages_for(const Want& want, std::int64_t count) {
  // Half a page on each side, so that scrolling finds the next rows already there.
  const std::int64_t margin = kPageSize / 2;
  const auto begin = std::max<std::int64_t>(0, want.first - margin);
  const auto end = std::min(count, want.end + margin);
  std::vector<std::int64_t> pages;
  // Never more than the cache holds, or loading one page would evict another one wanted.
  for (auto page = begin / kPageSize; page * kPageSize < end && pages.size() < kMaxPages; ++page) {
    pages.push_back(page);
  }
  return pages;
}

std::vector<std::int64_t> HistoryReader::missing_pages_locked() const {
  auto pages = pages_for(want_, published_.count);
  std::erase_if(pages, [this](std::int64_t page) {
    return std::any_of(published_.pages.begin(), published_.pages.end(),
                       [&](const auto& cached) { return cached->first == page * kPageSize; });
  });
  return pages;
}

bool HistoryReader::has_work_locked() const {
  if (want_.epoch == 0 || failed_epoch_ == want_.epoch) return false;
  if (want_.epoch != published_.generation) return true;
  return !missing_pages_locked().empty();
}

void HistoryReader::trim_cache_locked() {
  auto& pages = published_.pages;
  if (pages.size() <= kMaxPages) return;
  // Distance in rows between a page and the wanted window: 0 when they overlap.
  const auto distance = [this](const std::shared_ptr<const HistoryPage>& page) {
    const auto end = page->first + static_cast<std::int64_t>(page->rows.size());
    if (end <= want_.first) return want_.first - end;
    if (page->first >= want_.end) return page->first - want_.end;
    return std::int64_t{0};
  };
  std::stable_sort(pages.begin(), pages.end(),
                   [&](const auto& a, const auto& b) { return distance(a) < distance(b); });
  pages.resize(kMaxPages);
}

void HistoryReader::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || has_work_locked(); });
    if (stop_) return;
    const Want want = want_;
    // A new filter or a refresh lists the ids and reads the window's pages in one transaction;
    // otherwise one missing page at a time, so that a window that moves on is followed at once.
    const bool fresh = want.epoch != published_.generation;
    std::vector<std::int64_t> pages;
    if (!fresh) pages = {missing_pages_locked().front()};
    lock.unlock();

    std::vector<HistoryKey> keys;
    const auto& list = fresh ? keys : keys_;  // keys_ changes only on this thread, below
    std::vector<std::shared_ptr<const HistoryPage>> loaded;
    std::string error;
    try {
      ReadTransaction transaction(db_);
      if (fresh) {
        keys_ = {};  // the old list is not needed any more: never two in memory at once
        keys = history_keys(db_, want.filter);
        pages = pages_for(want, static_cast<std::int64_t>(keys.size()));
      }
      for (const auto page : pages) {
        const auto begin = std::min(list.size(), static_cast<std::size_t>(page * kPageSize));
        const auto end = std::min(list.size(), begin + static_cast<std::size_t>(kPageSize));
        const std::vector<HistoryKey> slice(list.begin() + static_cast<std::ptrdiff_t>(begin),
                                            list.begin() + static_cast<std::ptrdiff_t>(end));
        loaded.push_back(
            std::make_shared<const HistoryPage>(HistoryPage{page * kPageSize, history_rows_by_key(db_, slice)}));
      }
    } catch (const std::exception& e) {
      error = e.what();
    }

    // What this result freed (the previous list, evicted pages, SQLite's sort and page cache)
    // stays in this thread's malloc arena unless given back: 4.6 MB of the app's resident memory
    // after browsing 100,000 records (docs/benchmarks.md). Here, between two requests, it costs
    // the UI nothing.
    sqlite3_db_release_memory(db_.handle());
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    lock.lock();
    if (stop_) return;
    if (want_.epoch != want.epoch) continue;  // a newer request came in: this result is stale
    if (!error.empty()) failed_epoch_ = want.epoch;
    if (fresh) {
      const auto count = static_cast<std::int64_t>(keys.size());
      keys_ = std::move(keys);
      published_ = HistorySnapshot{want.epoch, want.filter, count, std::move(loaded), false, error};
    } else {
      published_.error = error;
      for (auto& page : loaded) published_.pages.push_back(std::move(page));
      trim_cache_locked();
    }
    if (on_ready_) {
      lock.unlock();
      on_ready_();
      lock.lock();
    }
  }
}

}  // namespace relais
