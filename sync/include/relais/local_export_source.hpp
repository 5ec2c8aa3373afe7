#pragma once
// The exports' data source over the advisor's local store (exports.hpp). It reads through its
// own read-only connection, so that the desktop app can export on a worker thread while the UI
// keeps writing; begin_snapshot() opens a read transaction so the row count printed at the top
// of an export is the number of rows that follow.
#include <filesystem>
#include <map>
#include <string>

#include "relais/exports.hpp"
#include "relais/sqlite.hpp"
#include "relais/vocabulary.hpp"

namespace relais {

class LocalExportSource final : public exports::ExportSource {
 public:
  // Opens the store at `store_path` read-only (throws sqlite::Error when it cannot). The store
  // must exist (LocalStore creates and migrates it). `vocabulary` labels codes: pass the
  // store's (LocalStore::vocabulary()), which has the updates pulled from the server.
  LocalExportSource(const std::filesystem::path& store_path, const Vocabulary& vocabulary);

  const Vocabulary& vocabulary() const override { return vocabulary_; }
  std::int64_t count_sessions(const exports::Period& period) const override;
  void for_each_session(const exports::Period& period,
                        const std::function<void(const ExportedSession&)>& visit) const override;
  std::int64_t count_devices(const exports::Period& period) const override;
  void for_each_device(const exports::Period& period,
                       const std::function<void(const ExportedDevice&)>& visit) const override;
  stats::Indicators indicators(const stats::Filter& filter, const ImpactFactors& factors) const override;
  void name_codes(stats::Labels& labels) const override;
  void begin_snapshot() const override;
  void end_snapshot() const override;

  const sqlite::Database& database() const { return db_; }

 private:
  std::map<std::string, Place> places() const;
  std::map<std::string, std::string> advisor_names() const;

  sqlite::Database db_;
  const Vocabulary& vocabulary_;
};

}  // namespace relais
