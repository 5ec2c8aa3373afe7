// The server's statistics index: brought up to date from the records, in change order, before
// statistics or exports are read. Pushes stay as fast as they were: they never touch the index.
#include <iostream>
#include <tuple>

#include "relais/server/server_store.hpp"
#include "relais/statistics.hpp"
#include "relais/vocabulary.hpp"

namespace relais::server {

using nlohmann::json;

namespace {

// The change_seq up to which the index holds every record.
constexpr const char* kStatisticsSeqKey = "stats_seq";
// Records read per transaction: a push waits at most this many records' refresh.
constexpr std::int64_t kRefreshBatch = 2000;

// The server's records as the index reads them (stats::refresh holds the rule the devices share).
class ServerRecordSource final : public stats::RecordSource {
 public:
  explicit ServerRecordSource(sqlite::Database& db) : db_(db) {}

  std::optional<stats::SourceRecord> find(RecordKind kind, const std::string& id) const override {
    auto select = db_.cached(
        "SELECT fields, deleted, coalesce(owner_user_id, ''), coalesce(structure_id, '') FROM records"
        " WHERE id = ?1 AND kind = ?2");
    (*select).bind(1, id).bind(2, to_string(kind));
    if (!(*select).step()) return std::nullopt;
    stats::SourceRecord out;
    out.fields = json::parse((*select).column_text(0));
    out.fields["id"] = id;
    out.deleted = (*select).column_int64(1) != 0;
    out.owner = stats::SessionOwner{(*select).column_text(2), (*select).column_text(3)};
    return out;
  }

  std::vector<json> live_events(const std::string& device_id) const override {
    std::vector<json> events;
    auto select = db_.cached(
        "SELECT id, fields FROM records WHERE kind = 'event' AND json_extract(fields, '$.device_id') = ?1"
        " AND deleted = 0 ORDER BY json_extract(fields, '$.date'), created_at");
    (*select).bind(1, device_id);
    while ((*select).step()) {
      auto fields = json::parse((*select).column_text(1));
      fields["id"] = (*select).column_text(0);
      events.push_back(std::move(fields));
    }
    return events;
  }

  std::vector<std::string> dependents(RecordKind kind, const std::string& id) const override {
    std::vector<std::string> ids;
    if (kind == RecordKind::lot) {
      auto select = db_.cached("SELECT id FROM records WHERE kind = 'device' AND json_extract(fields, '$.lot_id') = ?1");
      (*select).bind(1, id);
      while ((*select).step()) ids.push_back((*select).column_text(0));
    } else if (kind == RecordKind::place) {
      // A place's sessions that are in the index. Places change rarely: a scan is fine.
      auto select = db_.cached("SELECT session_id FROM stat_sessions WHERE lieu_id = ?1");
      (*select).bind(1, id);
      while ((*select).step()) ids.push_back((*select).column_text(0));
    }
    return ids;
  }

 private:
  sqlite::Database& db_;
};

}  // namespace

void ServerStore::refresh_session_statistics(const std::string& id) {
  stats::Index index(db_);
  stats::refresh(index, ServerRecordSource(db_), RecordKind::session, id);
}

void ServerStore::refresh_device_statistics(const std::string& id) {
  stats::Index index(db_);
  stats::refresh(index, ServerRecordSource(db_), RecordKind::device, id);
}

void ServerStore::refresh_record_statistics(const std::string& kind, const std::string& id, const json&) {
  const auto parsed = parse_record_kind(kind);
  if (!parsed) return;
  stats::Index index(db_);
  stats::refresh(index, ServerRecordSource(db_), *parsed, id);
}

std::int64_t ServerStore::refresh_statistics(const std::atomic<bool>* stop) {
  std::int64_t read = 0;
  for (;;) {
    if (stop != nullptr && *stop) return read;
    std::lock_guard lock(mutex_);
    sqlite::Transaction transaction(db_);
    std::int64_t from_seq = 0;
    {
      auto select = db_.cached("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1");
      (*select).bind(1, kStatisticsSeqKey);
      if ((*select).step()) from_seq = (*select).column_int64(0);
    }
    std::vector<std::tuple<std::string, std::string, json, std::int64_t>> changed;
    {
      auto select = db_.cached(
          "SELECT kind, id, fields, change_seq FROM records WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2");
      (*select).bind(1, from_seq).bind(2, kRefreshBatch);
      while ((*select).step()) {
        changed.emplace_back((*select).column_text(0), (*select).column_text(1),
                             json::parse((*select).column_text(2)), (*select).column_int64(3));
      }
    }
    if (changed.empty()) return read;
    for (const auto& [kind, id, fields, seq] : changed) {
      try {
        refresh_record_statistics(kind, id, fields);
      } catch (const std::invalid_argument& error) {
        // A record the index cannot read (a date the server accepted long ago and this build
        // would refuse): left out of the figures and said once, never blocking the others.
        std::cerr << "relais-server: statistics leave out record " << id << ": " << error.what() << '\n';
      }
    }
    (*db_.cached("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"))
        .bind(1, kStatisticsSeqKey)
        .bind(2, std::to_string(std::get<3>(changed.back())))
        .run();
    transaction.commit();
    read += static_cast<std::int64_t>(changed.size());
    if (static_cast<std::int64_t>(changed.size()) < kRefreshBatch) return read;
  }
}

Vocabulary ServerStore::vocabulary() {
  std::lock_guard lock(mutex_);
  return current_vocabulary();
}

std::optional<User> ServerStore::user(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto select = db_.cached("SELECT id, structure_id, role, nom, prenom FROM users WHERE id = ?1");
  (*select).bind(1, id);
  if (!(*select).step()) return std::nullopt;
  User out;
  out.id = (*select).column_text(0);
  out.structure_id = (*select).column_text(1);
  out.role = parse_role((*select).column_text(2)).value_or(Role::mediateur);
  out.nom = (*select).column_text(3);
  out.prenom = (*select).column_optional_text(4);
  return out;
}

std::optional<std::string> ServerStore::structure_name(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto select = db_.cached("SELECT nom FROM structures WHERE id = ?1");
  (*select).bind(1, id);
  if (!(*select).step()) return std::nullopt;
  return (*select).column_text(0);
}

}  // namespace relais::server
