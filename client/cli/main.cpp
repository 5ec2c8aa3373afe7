// relais-cli: the headless command line over the advisor's local store.
// Exit codes: 0 success, 2 invalid input (usage, JSON, validation; nothing stored),
// 1 any other failure (unreadable store, disk full...).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>
#include <pwd.h>
#include <unistd.h>

#include "arguments.hpp"
#include "input.hpp"
#include "relais/assets.hpp"
#include "relais/csv.hpp"
#include "relais/exports.hpp"
#include "relais/impact.hpp"
#include "relais/local_export_source.hpp"
#include "relais/local_store.hpp"
#include "relais/statistics.hpp"
#include "relais/session_export.hpp"
#include "relais/hlc.hpp"
#include "relais/sync_engine.hpp"
#include "relais/text.hpp"
#include "table.hpp"

namespace relais::cli {
namespace {

using nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitInvalidInput = 2;

// Everything a command needs: the loaded assets, the language and the parsed arguments.
struct Context {
  const Assets& assets;
  Lang lang;
  Arguments& args;
  std::optional<std::string> db_option;

  std::string text(const std::string& key, const std::vector<std::pair<std::string, std::string>>& values = {}) const {
    return assets.translator.text(lang, key, values);
  }

  std::filesystem::path store_path() const {
    if (db_option) return *db_option;
    auto path = default_store_path();
    std::filesystem::create_directories(path.parent_path());
    return path;
  }

  std::unique_ptr<LocalStore> open_store() const {
    const auto path = store_path();
    if (path.has_parent_path() && !std::filesystem::is_directory(path.parent_path())) {
      throw UsageError("cli.usage.no_such_directory", {{"path", path.parent_path().string()}});
    }
    return std::make_unique<LocalStore>(path, assets.vocabulary);
  }

  // The assets' vocabulary with the update the store last pulled from the server, if any.
  const Vocabulary& vocabulary() const {
    if (!vocabulary_cache) vocabulary_cache = vocabulary_with_update(assets.vocabulary, store_path());
    return *vocabulary_cache;
  }
  mutable std::optional<Vocabulary> vocabulary_cache;

  ValidationContext validation() const { return ValidationContext{vocabulary(), today_local()}; }
};

int report_problems(const Context& context, const Problems& problems) {
  for (const auto& problem : problems) std::cerr << describe(problem, context.assets.translator, context.lang) << '\n';
  return kExitInvalidInput;
}

// Input that could not be read at all: a missing file is named as such, bad JSON by the parser.
int report_unreadable(const Context& context, const Problems& problems) {
  for (const auto& problem : problems) {
    if (problem.reason == "cannot_read_file") {
      std::cerr << context.text("cli.cannot_read_file", {{"path", problem.field}}) << '\n';
      return kExitInvalidInput;
    }
  }
  return report_problems(context, problems);
}

std::optional<Date> date_option(Context& context, const std::string& name) {
  const auto value = context.args.option(name);
  if (!value) return std::nullopt;
  const auto date = parse_date(*value);
  if (!date) throw UsageError("cli.usage.bad_date", {{"option", "--" + name}, {"value", *value}});
  return date;
}

std::string expect_one_id(Context& context, std::size_t position, const char* command) {
  const auto& words = context.args.positional();
  if (words.size() != position + 1) throw UsageError("cli.usage.needs_id", {{"command", command}});
  return words[position];
}

// [SECTION] Adding records ----------------------------------------------------------------------

enum class AddWhat { sessions, equipment, reference };

int add_records(Context& context, AddWhat what, RecordKind reference_kind = RecordKind::place) {
  const auto source = context.args.option("json");
  context.args.reject_unused();
  if (context.args.positional().size() != 2) throw UsageError("cli.usage.extra_words");

  Problems problems;
  const auto document = read_json(source, problems);
  if (!document) return report_unreadable(context, problems);
  const auto batch = as_batch(*document);
  if (batch.empty()) return report_problems(context, {{"", "empty_batch", {}}});

  const auto validation = context.validation();
  DecodedBatch decoded;
  switch (what) {
    case AddWhat::sessions: decoded = decode_sessions(batch, validation); break;
    case AddWhat::equipment: decoded = decode_equipment(batch, validation); break;
    case AddWhat::reference: decoded = decode_reference(reference_kind, batch, validation); break;
  }
  const bool single = !document->is_array();
  // The model's rules first: if any record breaks them, the store is not even opened for writing.
  if (!decoded.problems.empty()) {
    if (single) drop_single_prefix(decoded.problems);
    return report_problems(context, decoded.problems);
  }
  auto store = context.open_store();
  auto result = store->add(std::move(decoded.records));
  if (!result.ok()) {
    restore_paths(result.problems, decoded.paths);
    if (single) drop_single_prefix(result.problems);
    return report_problems(context, result.problems);
  }
  for (const auto& id : result.ids) std::cout << id << '\n';
  return kExitOk;
}

int update_session(Context& context) {
  const auto id = expect_one_id(context, 2, "session update");
  const auto source = context.args.option("json");
  context.args.reject_unused();
  Problems problems;
  const auto fields = read_json(source, problems);
  if (!fields) return report_unreadable(context, problems);
  auto store = context.open_store();
  const auto kind = store->kind_of_id(id);
  if (!kind) return report_problems(context, {{"id", "not_found", {{"value", id}}}});
  if (*kind != RecordKind::session) {
    return report_problems(context, {{"id", "wrong_kind", {{"value", std::string(to_string(*kind))}, {"expected", "session"}}}});
  }
  const auto result = store->update(id, *fields);
  if (!result.ok()) return report_problems(context, result.problems);
  std::cout << id << '\n';
  return kExitOk;
}

// [SECTION] Reading -----------------------------------------------------------------------------

std::vector<std::string> table_row(const json& record, const Context& context) {
  const auto& vocabulary = context.vocabulary();
  const auto text = [](const json& object, const char* key) {
    return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : std::string{};
  };
  const auto kind = text(record, "kind");
  const auto label = [&](const char* set, const std::string& code) {
    return code.empty() ? std::string{} : vocabulary.label(set, code, context.lang);
  };
  std::string state = record.contains("deleted_at") ? context.text("cli.table.deleted") : "";
  if (kind == "session") {
    std::vector<std::string> themes;
    for (const auto& code : record.value("thematiques", json::array())) {
      const auto c = code.get<std::string>();
      themes.push_back(vocabulary.contains("thematiques", c) ? label("thematiques", c) : label("thematiques_administratives", c));
    }
    const auto people = record.contains("participants") ? record["participants"].value("total", 0) : 1;
    return {record["id"], text(record, "date"), label("type", text(record, "type")),
            std::to_string(record.value("duree", 0)) + " min", label("type_lieu", text(record, "type_lieu")),
            std::to_string(people), join(themes, ", "), state};
  }
  if (kind == "lot") {
    auto donor = label("type_donateur", text(record, "type_donateur"));
    if (!text(record, "nom_donateur").empty()) donor += " – " + text(record, "nom_donateur");
    return {record["id"], text(record, "date"), context.text("cli.table.lot"), donor, "", "", "", state};
  }
  if (kind == "device") {
    return {record["id"], "", label("type_appareil", text(record, "type")),
            text(record, "marque") + " " + text(record, "modele"), text(record, "numero_serie"),
            label("devenir", text(record, "devenir")), std::to_string(record.value("events", json::array()).size()),
            state};
  }
  if (kind == "advisor") {
    return {record["id"], trim(text(record, "prenom") + " " + text(record, "nom")), label("role", text(record, "role")),
            text(record, "structure_id"), "", "", "", state};
  }
  return {record["id"], text(record, "nom"), text(record, "commune"), text(record, "code_postal"), "", "", "", state};
}

std::vector<std::string> table_header(const std::string& kind, const Context& context) {
  if (kind == "session") {
    return {"ID", context.text("cli.table.date"), context.text("cli.table.type"), context.text("cli.table.duration"),
            context.text("cli.table.place"), context.text("cli.table.people"), context.text("cli.table.themes"), ""};
  }
  if (kind == "equipment") {
    return {"ID", context.text("cli.table.date"), context.text("cli.table.type"), context.text("cli.table.detail"),
            context.text("cli.table.serial"), context.text("cli.table.outcome"), context.text("cli.table.events"), ""};
  }
  if (kind == "advisor") {
    return {"ID", context.text("cli.table.name"), context.text("cli.table.role"), context.text("cli.table.structure"),
            "", "", "", ""};
  }
  return {"ID", context.text("cli.table.name"), context.text("cli.table.commune"), context.text("cli.table.postal"),
          "", "", "", ""};
}

int list_records(Context& context) {
  const auto kind = context.args.option("kind").value_or("session");
  const auto format = context.args.option("format").value_or("table");
  ListQuery query;
  query.from = date_option(context, "from");
  query.to = date_option(context, "to");
  query.include_deleted = context.args.flag("include-deleted");
  if (const auto limit = context.args.option("limit")) {
    std::int64_t value = -1;
    const auto* end = limit->data() + limit->size();
    const auto [stop, error] = std::from_chars(limit->data(), end, value);
    if (error != std::errc{} || stop != end || value < 0) {
      throw UsageError("cli.usage.bad_number", {{"option", "--limit"}, {"value", *limit}});
    }
    query.limit = value;
  }
  context.args.reject_unused();
  if (kind == "session") {
    query.kinds = {RecordKind::session};
  } else if (kind == "equipment") {
    query.kinds = {RecordKind::lot, RecordKind::device};
  } else if (const auto reference = parse_record_kind(kind);
             reference == RecordKind::place || reference == RecordKind::structure || reference == RecordKind::advisor) {
    query.kinds = {*reference};
  } else {
    throw UsageError("cli.usage.bad_choice",
                     {{"option", "--kind"}, {"value", kind}, {"allowed", "session, equipment, place, structure, advisor"}});
  }
  if (format != "table" && format != "json") {
    throw UsageError("cli.usage.bad_choice", {{"option", "--format"}, {"value", format}, {"allowed", "table, json"}});
  }
  auto store = context.open_store();
  const auto records = store->list(query);
  if (format == "json") {
    std::cout << json(records).dump(2) << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& record : records) rows.push_back(table_row(record, context));
  print_table(std::cout, table_header(kind, context), rows);
  std::cout << context.text("cli.table.count", {{"count", std::to_string(records.size())}}) << '\n';
  return kExitOk;
}

int show_record(Context& context) {
  const auto id = expect_one_id(context, 1, "show");
  context.args.reject_unused();
  auto store = context.open_store();
  const auto record = store->get(id);
  if (!record) return report_problems(context, {{"id", "not_found", {{"value", id}}}});
  std::cout << record->dump(2) << '\n';
  return kExitOk;
}

int delete_record(Context& context) {
  const auto id = expect_one_id(context, 1, "delete");
  context.args.reject_unused();
  auto store = context.open_store();
  const auto result = store->remove(id);
  if (!result.ok()) return report_problems(context, result.problems);
  std::cout << id << '\n';
  return kExitOk;
}

int show_journal(Context& context) {
  context.args.reject_unused();
  auto store = context.open_store();
  json entries = json::array();
  for (const auto& entry : store->journal()) {
    entries.push_back({{"seq", entry.seq},
                       {"kind", std::string(to_string(entry.kind))},
                       {"record_id", entry.record_id},
                       {"op", entry.op},
                       {"version", entry.version},
                       {"device_id", entry.device_id},
                       {"changes", entry.changes},
                       {"created_at", format_timestamp_utc(entry.created_unix_ms)}});
  }
  std::cout << entries.dump(2) << '\n';
  return kExitOk;
}

// [SECTION] Statistics and exports --------------------------------------------------------------

ImpactFactors load_impact_factors(const Context& context) {
  return ImpactFactors::load_file(context.assets.directory / "impact_factors.json");
}

// The period and the statistics filters, checked before anything is opened.
stats::Filter read_filter(Context& context, bool with_stats_filters) {
  stats::Filter filter;
  filter.from = date_option(context, "from");
  filter.to = date_option(context, "to");
  if (with_stats_filters) {
    filter.mediateur_id = context.args.option("advisor");
    filter.lieu_id = context.args.option("place");
    filter.commune = context.args.option("commune");
    filter.departement = context.args.option("departement");
    filter.type = context.args.option("type");
    filter.thematique = context.args.option("theme");
  }
  // The rule the app and the server share; the first problem is said as the option's usage error.
  const auto problems = stats::check_filter(filter, context.vocabulary());
  if (!problems.empty()) {
    const auto& problem = problems.front();
    const auto option = "--" + problem.field;
    const auto value = [&] {
      for (const auto& [key, text] : problem.args) {
        if (key == "value") return text;
      }
      return std::string{};
    }();
    if (problem.reason == "unknown_code") {
      throw UsageError("cli.usage.bad_choice", {{"option", option}, {"value", value}, {"allowed", "individuel, collectif"}});
    }
    if (problem.reason == "unknown_theme") throw UsageError("cli.usage.bad_theme", {{"option", option}, {"value", value}});
    if (problem.reason == "bad_departement") {
      throw UsageError("cli.usage.bad_departement", {{"option", option}, {"value", value}});
    }
    if (problem.reason == "period_order") {
      throw UsageError("cli.usage.bad_period", {{"from", format_date(*filter.from)}, {"to", format_date(*filter.to)}});
    }
    throw UsageError("cli.usage.bad_filter", {{"option", option}, {"value", value}});
  }
  return filter;
}

std::string period_line(const Context& context, const stats::Filter& filter) {
  if (!filter.from && !filter.to) return context.text("cli.stats.all_dates");
  return context.text("cli.stats.period_range", {{"from", filter.from ? format_date_french(*filter.from) : "…"},
                                                 {"to", filter.to ? format_date_french(*filter.to) : "…"}});
}

std::string kg(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

int show_stats(Context& context) {
  const auto format = context.args.option("format").value_or("table");
  const auto filter = read_filter(context, true);
  context.args.reject_unused();
  if (format != "table" && format != "json") {
    throw UsageError("cli.usage.bad_choice", {{"option", "--format"}, {"value", format}, {"allowed", "table, json"}});
  }
  const auto factors = load_impact_factors(context);
  auto store = context.open_store();
  LocalExportSource source(store->path(), store->vocabulary());
  const auto indicators = source.indicators(filter, factors);
  stats::Labels labels(store->vocabulary(), context.lang);
  source.name_codes(labels);
  if (format == "json") {
    std::cout << exports::to_json(indicators, labels).dump(2) << '\n';
    return kExitOk;
  }
  const auto number = [](std::int64_t value) { return std::to_string(value); };
  const auto& t = indicators.totals;
  std::cout << context.text("cli.stats.title", {{"period", period_line(context, filter)}}) << "\n\n";
  print_table(std::cout, {context.text("cli.stats.totals"), ""},
              {{context.text("cli.stats.accompagnements"), number(t.accompagnements)},
               {context.text("cli.stats.beneficiaires"), number(t.beneficiaires)},
               {context.text("cli.stats.individual"), number(t.individual_sessions)},
               {context.text("cli.stats.workshops"), number(t.workshops)},
               {context.text("cli.stats.participants"), number(t.workshop_participants)},
               {context.text("cli.stats.minutes"), number(t.minutes)}},
              60);
  for (const auto& breakdown : indicators.breakdowns) {
    std::cout << '\n';
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : breakdown.rows) {
      rows.push_back({labels.code_label(breakdown.dimension, row.code), number(row.activities), number(row.people),
                      number(row.minutes)});
    }
    print_table(std::cout,
                {labels.dimension_title(breakdown.dimension), context.text("cli.stats.activities"),
                 context.text("cli.stats.people"), context.text("cli.stats.minutes_short")},
                rows, 48);
  }
  const auto& e = indicators.equipment;
  std::cout << '\n';
  print_table(std::cout, {context.text("cli.stats.equipment"), ""},
              {{context.text("cli.stats.devices_collected"), number(e.devices_collected)},
               {context.text("cli.stats.weight_collected"), kg(e.weight_collected_kg)},
               {context.text("cli.stats.weight_diverted"), kg(e.weight_diverted_kg)},
               {context.text("cli.stats.handed_over"), number(e.devices_handed_over)},
               {context.text("cli.stats.erasures"), number(e.erasures)},
               {context.text("cli.stats.co2e"), kg(e.co2e_avoided_kg)}},
              60);
  std::cout << context.text("cli.stats.factors", {{"version", factors.version()}, {"source", factors.source(context.lang)}})
            << '\n';
  return kExitOk;
}

// Who exports: the enrolled user when the device is enrolled, else the system's user name.
exports::ExportInfo export_info(const LocalStore& store) {
  exports::ExportInfo info;
  if (const auto user = store.meta(sync_meta::user)) {
    const auto parsed = json::parse(*user, nullptr, false);
    if (parsed.is_object()) {
      info.exported_by = trim(parsed.value("prenom", std::string{}) + " " + parsed.value("nom", std::string{}));
      info.role = parsed.value("role", std::string{});
    }
  }
  if (info.exported_by.empty()) {
    const char* name = std::getenv("USER");
    if (name == nullptr || *name == '\0') {
      const auto* account = ::getpwuid(::getuid());
      name = account != nullptr ? account->pw_name : nullptr;
    }
    info.exported_by = name != nullptr ? name : "";
  }
  return info;
}

int export_data(Context& context) {
  const auto format_text = context.args.option("format");
  const auto what_text = context.args.option("what");
  const auto out = context.args.option("out");
  const auto team = context.args.flag("team");
  const auto what = what_text ? exports::parse_what(*what_text) : exports::What::activities;
  if (!what) {
    throw UsageError("cli.usage.bad_choice",
                     {{"option", "--what"}, {"value", *what_text}, {"allowed", "activities, stats, equipment, impact"}});
  }
  const auto filter = read_filter(context, *what == exports::What::stats || *what == exports::What::impact);
  context.args.reject_unused();
  if (!format_text) throw UsageError("cli.usage.missing_option", {{"option", "--format"}});
  const auto format = exports::parse_format(*format_text);
  if (!format) {
    throw UsageError("cli.usage.bad_choice", {{"option", "--format"}, {"value", *format_text}, {"allowed", "csv, xlsx, json"}});
  }
  if (!out) throw UsageError("cli.usage.missing_option", {{"option", "--out"}});

  const auto factors = load_impact_factors(context);
  auto store = context.open_store();
  LocalExportSource source(store->path(), store->vocabulary());
  exports::Options options;
  options.format = *format;
  options.what = *what;
  options.filter = filter;
  options.info = export_info(*store);
  options.with_mediateur = team;
  options.lang = context.lang;
  const std::filesystem::path target(*out);
  exports::Result result;
  try {
    result = exports::export_to_file(source, factors, options, target);
  } catch (const exports::WriteError&) {
    std::cerr << context.text("cli.cannot_write_file", {{"path", target.string()}}) << '\n';
    return kExitFailure;
  }
  if (*what == exports::What::activities) {
    std::cerr << context.text("cli.exported", {{"count", std::to_string(result.rows)}, {"path", target.string()}}) << '\n';
  } else {
    std::cerr << context.text("cli.exported_what", {{"what", context.text("cli.what." + std::string(exports::to_string(*what)))},
                                                    {"path", target.string()}})
              << '\n';
  }
  return kExitOk;
}

// [SECTION] Sync --------------------------------------------------------------------------------

int enroll_device(Context& context) {
  const auto server = context.args.option("server");
  const auto code = context.args.option("code");
  const auto ca_file = context.args.option("ca-file");
  const auto name = context.args.option("name");
  context.args.reject_unused();
  if (!server) throw UsageError("cli.usage.missing_option", {{"option", "--server"}});
  if (!code) throw UsageError("cli.usage.missing_option", {{"option", "--code"}});
  if (server->rfind("http://", 0) != 0 && server->rfind("https://", 0) != 0) {
    throw UsageError("cli.usage.bad_url", {{"value", *server}});
  }
  auto store = context.open_store();
  HttpClientOptions options;
  options.base_url = *server;
  options.ca_file = ca_file;
  const char* host = std::getenv("HOSTNAME");
  const auto result = enroll(*store, options, *code, name.value_or(host ? host : "relais-cli"));
  if (!result.ok) {
    std::cerr << context.text("cli.sync.enroll_failed", {{"detail", result.error}}) << '\n';
    return kExitFailure;
  }
  const auto text = [&](const char* key) {
    const auto it = result.user.find(key);
    return it != result.user.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  const auto role = text("role");
  std::cout << context.text("cli.sync.enrolled",
                            {{"server", *server},
                             {"name", trim(text("prenom") + " " + text("nom"))},
                             {"role", role.empty() ? role : context.vocabulary().label("role", role, context.lang)}})
            << '\n';
  return kExitOk;
}

int sync_now(Context& context) {
  const auto server = context.args.option("server");
  const auto ca_file = context.args.option("ca-file");
  context.args.reject_unused();
  auto store = context.open_store();
  SyncEngine engine(*store, server, ca_file);
  const auto report = engine.run_once();
  const auto counts = context.text("cli.sync.report", {{"pushed", std::to_string(report.pushed)},
                                                       {"pulled", std::to_string(report.pulled)},
                                                       {"conflicts", std::to_string(report.conflicts)},
                                                       {"rejected", std::to_string(report.rejected)}});
  std::cout << counts << '\n';
  if (report.clock_offset_ms != 0) std::cerr << clock_warning(report.clock_offset_ms, context.lang) << '\n';
  if (!report.ok()) {
    std::cerr << context.text("cli.sync.failed", {{"detail", report.error}}) << '\n';
    return kExitFailure;
  }
  const auto pending = store->pending_count();
  if (pending > 0) {
    std::cerr << context.text("cli.sync.still_pending", {{"count", std::to_string(pending)}}) << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

int sync_status(Context& context) {
  const auto format = context.args.option("format").value_or("table");
  context.args.reject_unused();
  auto store = context.open_store();
  const auto quarantined = store->quarantined();
  json status{{"server", store->meta(sync_meta::server_url).value_or("")},
              {"enrolled", !store->meta(sync_meta::token).value_or("").empty()},
              {"pending_changes", store->pending_count()},
              {"last_success", store->meta(sync_meta::last_success).value_or("")},
              {"last_attempt", store->meta(sync_meta::last_attempt).value_or("")},
              {"last_error", store->meta(sync_meta::last_error).value_or("")},
              {"conflicts", store->conflict_log().size()},
              {"clock_offset_ms", store->clock_offset_ms()},
              {"quarantined", quarantined}};
  if (format == "json") {
    std::cout << status.dump(2) << '\n';
    return kExitOk;
  }
  const auto or_dash = [](const json& value) {
    const auto text = value.is_string() ? value.get<std::string>() : value.dump();
    return text.empty() ? std::string("—") : text;
  };
  std::cout << context.text("cli.sync.status.server") << " " << or_dash(status["server"]) << '\n'
            << context.text("cli.sync.status.pending") << " " << status["pending_changes"] << '\n'
            << context.text("cli.sync.status.last_success") << " " << or_dash(status["last_success"]) << '\n'
            << context.text("cli.sync.status.last_error") << " " << or_dash(status["last_error"]) << '\n'
            << context.text("cli.sync.status.conflicts") << " " << status["conflicts"] << '\n'
            << context.text("cli.sync.status.quarantined") << " " << quarantined.size() << '\n';
  if (store->clock_offset_ms() != 0) {
    std::cout << context.text("cli.sync.status.clock") << " " << clock_warning(store->clock_offset_ms(), context.lang)
              << '\n';
  }
  for (const auto& record : quarantined) {
    std::cout << "  " << record["kind"].get<std::string>() << " " << record["record_id"].get<std::string>() << '\n';
    for (const auto& problem : record["problems"]) {
      const auto field = problem.value("field", std::string{});
      const auto reason = problem.value("message", problem.value("reason", std::string{}));
      std::cout << "    " << (field.empty() ? reason : field + " : " + reason) << '\n';
    }
  }
  return kExitOk;
}

int show_conflicts(Context& context) {
  context.args.reject_unused();
  auto store = context.open_store();
  std::cout << json(store->conflict_log()).dump(2) << '\n';
  return kExitOk;
}

// [SECTION] Dispatch ----------------------------------------------------------------------------

int init_store(Context& context) {
  context.args.reject_unused();
  auto store = context.open_store();
  std::cout << context.text("cli.init_done", {{"path", store->path().string()},
                                              {"device", store->device_id()},
                                              {"schema", std::to_string(store->schema_version())}})
            << '\n';
  return kExitOk;
}

int run_command(Context& context) {
  const auto& words = context.args.positional();
  if (words.empty()) throw UsageError("cli.usage.no_command");
  const auto& command = words[0];
  const auto sub = words.size() > 1 ? words[1] : std::string{};
  if (command == "init") return init_store(context);
  if (command == "session" && sub == "add") return add_records(context, AddWhat::sessions);
  if (command == "session" && sub == "update") return update_session(context);
  if (command == "equipment" && sub == "add") return add_records(context, AddWhat::equipment);
  if (command == "place" && sub == "add") return add_records(context, AddWhat::reference, RecordKind::place);
  if (command == "structure" && sub == "add") return add_records(context, AddWhat::reference, RecordKind::structure);
  if (command == "advisor" && sub == "add") return add_records(context, AddWhat::reference, RecordKind::advisor);
  if (command == "list") return list_records(context);
  if (command == "show") return show_record(context);
  if (command == "delete") return delete_record(context);
  if (command == "export") return export_data(context);
  if (command == "stats") return show_stats(context);
  if (command == "journal") return show_journal(context);
  if (command == "enroll") return enroll_device(context);
  if (command == "sync") return sync_now(context);
  if (command == "status") return sync_status(context);
  if (command == "conflicts") return show_conflicts(context);
  throw UsageError("cli.usage.unknown_command", {{"command", join(words, " ")}});
}

}  // namespace
}  // namespace relais::cli

int main(int argc, char** argv) {
  using namespace relais;
  using namespace relais::cli;
  const std::vector<std::string> words(argv + 1, argv + argc);
  for (const auto& word : words) {
    if (word == "--version") {
      std::cout << "relais-cli " << relais_version() << '\n';
      return kExitOk;
    }
  }
  std::optional<Assets> assets;
  try {
    assets = Assets::load(find_assets_directory());
  } catch (const std::exception& error) {
    std::cerr << "relais-cli: " << error.what() << '\n';
    return kExitFailure;
  }
  Lang lang = lang_from_environment();
  try {
    Arguments args(words, {"include-deleted", "help", "team"});
    if (const auto chosen = args.option("lang")) {
      const auto parsed = parse_lang(*chosen);
      if (!parsed) throw UsageError("cli.usage.bad_choice", {{"option", "--lang"}, {"value", *chosen}, {"allowed", "fr, en"}});
      lang = *parsed;
    }
    if (args.flag("help") || (!args.positional().empty() && args.positional()[0] == "help")) {
      std::cout << assets->translator.text(lang, "cli.help") << '\n';
      return kExitOk;
    }
    Context context{*assets, lang, args, args.option("db"), std::nullopt};
    try {
      return run_command(context);
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& error) {
      std::cerr << "relais-cli: " << context.text("cli.error", {{"detail", error.what()}}) << '\n';
      return kExitFailure;
    }
  } catch (const UsageError& error) {
    std::cerr << "relais-cli: " << assets->translator.text(lang, error.key(), error.args()) << '\n'
              << assets->translator.text(lang, "cli.usage.see_help") << '\n';
    return kExitInvalidInput;
  }
}
