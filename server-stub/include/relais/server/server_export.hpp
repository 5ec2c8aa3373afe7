#pragma once
// Exports and statistics over the server's records (exports.hpp's ExportSource): everything for
// an administrator, one structure's records for a coordinator. Reads on its own read-only
// connection, from the statistics index that ServerStore::refresh_statistics() brought up to date.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "relais/exports.hpp"
#include "relais/sqlite.hpp"
#include "relais/vocabulary.hpp"

namespace relais::server {

class ServerStore;

class ServerExportSource : public exports::ExportSource {
 public:
  // `scope`: "" for every structure, else a structure id. `vocabulary`: the server's (with the
  // published update), copied.
  ServerExportSource(const std::filesystem::path& db_path, Vocabulary vocabulary, std::string scope);

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

 private:
  const std::optional<Place>& place(const std::string& id) const;
  const std::string& advisor_name(const std::string& user_id) const;

  mutable sqlite::Database db_;
  Vocabulary vocabulary_;
  std::string scope_;
  mutable std::map<std::string, std::optional<Place>, std::less<>> places_;
  mutable std::map<std::string, std::string, std::less<>> advisors_;
};

// What to export, from the options of `relais-server export` or the query of GET /api/v1/export
// (docs/server.md): format, what, period and filters, by name.
struct ExportRequest {
  exports::Format format = exports::Format::csv;
  exports::What what = exports::What::activities;
  stats::Filter filter;  // period and filters; scope set by the caller from who asks
  Lang lang = Lang::fr;
};

// A parameter that cannot be used: `field` names it ("from", "format"...), `code` says why
// (a filter's problems have stats::check_filter's reasons; anything else is "invalid").
class ExportParameterError : public std::invalid_argument {
 public:
  ExportParameterError(std::string field, std::string reason, std::string code = "invalid")
      : std::invalid_argument(field + ": " + reason),
        field_(std::move(field)),
        reason_(std::move(reason)),
        code_(std::move(code)) {}
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }  // the message without the field
  const std::string& code() const { return code_; }

 private:
  std::string field_;
  std::string reason_;
  std::string code_;
};

// Reads format, what, from, to, advisor, place, type, theme, commune, departement and lang;
// `format` and `what` are required. The filter is checked by stats::check_filter (the rule
// relais-cli and the app share) against `vocabulary`, the server's. Throws ExportParameterError
// for a missing or bad value or an unknown name.
ExportRequest parse_export_request(const std::map<std::string, std::string>& parameters, const Vocabulary& vocabulary);

// Brings the statistics index up to date, then writes the export of `scope` ("" for all) to
// `out` (through `out.part`, renamed at the end). `info` goes in the "Informations export" block.
exports::Result export_server_data(ServerStore& store, const ImpactFactors& factors, const ExportRequest& request,
                                   const std::string& scope, const exports::ExportInfo& info,
                                   const std::filesystem::path& out);

}  // namespace relais::server
