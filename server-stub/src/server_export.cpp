#include "relais/server/server_export.hpp"

#include <limits>
#include <set>

#include "relais/server/server_store.hpp"

namespace relais::server {

using nlohmann::json;

namespace {

std::int64_t first_day(const exports::Period& period) {
  return period.from ? stats::day_number(*period.from) : std::numeric_limits<std::int32_t>::min();
}
std::int64_t last_day(const exports::Period& period) {
  return period.to ? stats::day_number(*period.to) : std::numeric_limits<std::int32_t>::max();
}

json fields_with_id(const std::string& fields, const std::string& id) {
  auto out = json::parse(fields);
  out["id"] = id;
  return out;
}

}  // namespace

ServerExportSource::ServerExportSource(const std::filesystem::path& db_path, Vocabulary vocabulary, std::string scope)
    : db_(db_path, sqlite::Database::Mode::read_only), vocabulary_(std::move(vocabulary)), scope_(std::move(scope)) {}

void ServerExportSource::begin_snapshot() const { db_.exec("BEGIN"); }
void ServerExportSource::end_snapshot() const { db_.exec("COMMIT"); }

const std::optional<Place>& ServerExportSource::place(const std::string& id) const {
  if (const auto found = places_.find(id); found != places_.end()) return found->second;
  std::optional<Place> place;
  auto select = db_.prepare("SELECT fields FROM records WHERE id = ?1 AND kind = 'place'");
  select.bind(1, id);
  if (select.step()) {
    Problems ignored;
    place = decode_place(fields_with_id(select.column_text(0), id), ignored);
  }
  return places_.emplace(id, std::move(place)).first->second;
}

const std::string& ServerExportSource::advisor_name(const std::string& user_id) const {
  if (const auto found = advisors_.find(user_id); found != advisors_.end()) return found->second;
  std::string name;
  auto select = db_.prepare("SELECT nom, prenom FROM users WHERE id = ?1");
  select.bind(1, user_id);
  if (select.step()) {
    const auto first = select.column_optional_text(1);
    name = first && !first->empty() ? *first + " " + select.column_text(0) : select.column_text(0);
  }
  return advisors_.emplace(user_id, std::move(name)).first->second;
}

std::int64_t ServerExportSource::count_sessions(const exports::Period& period) const {
  auto select = db_.prepare(
      "SELECT count(*) FROM stat_sessions WHERE day BETWEEN ?1 AND ?2 AND (?3 = '' OR structure_id = ?3)");
  select.bind(1, first_day(period)).bind(2, last_day(period)).bind(3, scope_);
  return select.step() ? select.column_int64(0) : 0;
}

void ServerExportSource::for_each_session(const exports::Period& period,
                                          const std::function<void(const ExportedSession&)>& visit) const {
  auto select = db_.prepare(
      "SELECT r.id, r.fields, r.created_at, r.updated_at, coalesce(r.owner_user_id, '')"
      " FROM stat_sessions s JOIN records r ON r.id = s.session_id"
      " WHERE s.day BETWEEN ?1 AND ?2 AND (?3 = '' OR s.structure_id = ?3)"
      " ORDER BY s.day, r.created_at, r.id");
  select.bind(1, first_day(period)).bind(2, last_day(period)).bind(3, scope_);
  while (select.step()) {
    ExportedSession row;
    Problems ignored;
    row.session = decode_session(fields_with_id(select.column_text(1), select.column_text(0)), ignored);
    row.created_unix_ms = select.column_int64(2);
    row.updated_unix_ms = select.column_int64(3);
    if (row.session.type_lieu == "lieu_activite" && row.session.lieu_id) row.place = place(*row.session.lieu_id);
    row.mediateur = advisor_name(select.column_text(4));
    visit(row);
  }
}

std::int64_t ServerExportSource::count_devices(const exports::Period& period) const {
  auto select = db_.prepare(
      "SELECT count(*) FROM stat_devices WHERE collected_day BETWEEN ?1 AND ?2 AND (?3 = '' OR structure_id = ?3)");
  select.bind(1, first_day(period)).bind(2, last_day(period)).bind(3, scope_);
  return select.step() ? select.column_int64(0) : 0;
}

void ServerExportSource::for_each_device(const exports::Period& period,
                                         const std::function<void(const ExportedDevice&)>& visit) const {
  auto select = db_.prepare(
      "SELECT d.id, d.fields, coalesce(d.owner_user_id, ''), l.id, l.fields"
      " FROM stat_devices s JOIN records d ON d.id = s.device_id"
      " JOIN records l ON l.id = json_extract(d.fields, '$.lot_id')"
      " WHERE s.collected_day BETWEEN ?1 AND ?2 AND (?3 = '' OR s.structure_id = ?3)"
      " ORDER BY s.collected_day, l.id, d.created_at, d.id");
  select.bind(1, first_day(period)).bind(2, last_day(period)).bind(3, scope_);
  auto events = db_.prepare(
      "SELECT id, fields FROM records WHERE kind = 'event' AND json_extract(fields, '$.device_id') = ?1"
      " AND deleted = 0 ORDER BY json_extract(fields, '$.date'), created_at");
  while (select.step()) {
    ExportedDevice row;
    Problems ignored;
    row.device = decode_device(fields_with_id(select.column_text(1), select.column_text(0)), ignored);
    row.lot = decode_lot(fields_with_id(select.column_text(4), select.column_text(3)), ignored);
    events.reset();
    events.bind(1, row.device.id);
    while (events.step()) {
      row.events.push_back(decode_device_event(fields_with_id(events.column_text(1), events.column_text(0)), ignored));
    }
    row.outcome = device_outcome(row.events);
    if (row.lot.lieu_id) row.place = place(*row.lot.lieu_id);
    row.mediateur = advisor_name(select.column_text(2));
    visit(row);
  }
}

stats::Indicators ServerExportSource::indicators(const stats::Filter& filter, const ImpactFactors& factors) const {
  auto scoped = filter;
  scoped.scope = scope_;
  return stats::compute(db_, scoped, vocabulary_, factors);
}

void ServerExportSource::name_codes(stats::Labels& labels) const {
  auto places = db_.prepare("SELECT id, coalesce(json_extract(fields, '$.nom'), id) FROM records WHERE kind = 'place'");
  while (places.step()) labels.set_name(stats::kLieu, places.column_text(0), places.column_text(1));
  auto users = db_.prepare("SELECT id, nom, prenom FROM users WHERE ?1 = '' OR structure_id = ?1");
  users.bind(1, scope_);
  while (users.step()) {
    const auto first = users.column_optional_text(2);
    labels.set_name(stats::kMediateur, users.column_text(0),
                    first && !first->empty() ? *first + " " + users.column_text(1) : users.column_text(1));
  }
}

namespace {

std::string argument(const Problem& problem, const char* name) {
  for (const auto& [key, value] : problem.args) {
    if (key == name) return value;
  }
  return {};
}

// A filter's problem in the server's words (English, like its other answers).
std::string in_words(const Problem& problem) {
  const auto value = "\"" + argument(problem, "value") + "\"";
  if (problem.reason == "unknown_code") return value + " is not " + argument(problem, "allowed");
  if (problem.reason == "unknown_theme") return value + " is not a theme code (thematiques, thematiques_administratives)";
  if (problem.reason == "bad_departement") return value + " is not a département (01 to 95, 2A, 2B, 971 to 978)";
  if (problem.reason == "period_order") return "the period ends before it starts";
  return problem.reason;
}

}  // namespace

ExportRequest parse_export_request(const std::map<std::string, std::string>& parameters, const Vocabulary& vocabulary) {
  static const std::set<std::string, std::less<>> kKnown{"format", "what",  "from",    "to",      "advisor", "place",
                                                         "type",   "theme", "commune", "departement", "lang"};
  for (const auto& [name, value] : parameters) {
    if (kKnown.count(name) == 0) {
      throw ExportParameterError(name, "unknown parameter (format, what, from, to, advisor, place, type, theme, commune, "
                                       "departement, lang)");
    }
  }
  const auto get = [&](const char* name) -> std::optional<std::string> {
    const auto found = parameters.find(name);
    if (found == parameters.end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
  ExportRequest request;
  const auto format = get("format");
  if (!format) throw ExportParameterError("format", "required: csv, xlsx or json");
  const auto parsed_format = exports::parse_format(*format);
  if (!parsed_format) throw ExportParameterError("format", "\"" + *format + "\" is not csv, xlsx or json");
  request.format = *parsed_format;
  const auto what = get("what");
  if (!what) throw ExportParameterError("what", "required: activities, stats, equipment or impact");
  const auto parsed_what = exports::parse_what(*what);
  if (!parsed_what) {
    throw ExportParameterError("what", "\"" + *what + "\" is not activities, stats, equipment or impact");
  }
  request.what = *parsed_what;
  for (const auto& [name, bound] : {std::pair{"from", &request.filter.from}, std::pair{"to", &request.filter.to}}) {
    if (const auto text = get(name)) {
      *bound = parse_date(*text);
      if (!*bound) throw ExportParameterError(name, "\"" + *text + "\" is not a date (YYYY-MM-DD)");
    }
  }
  request.filter.mediateur_id = get("advisor");
  request.filter.lieu_id = get("place");
  request.filter.type = get("type");
  request.filter.thematique = get("theme");
  request.filter.commune = get("commune");
  request.filter.departement = get("departement");
  if (const auto problems = stats::check_filter(request.filter, vocabulary); !problems.empty()) {
    throw ExportParameterError(problems.front().field, in_words(problems.front()), problems.front().reason);
  }
  if (const auto lang = get("lang")) {
    const auto parsed = parse_lang(*lang);
    if (!parsed) throw ExportParameterError("lang", "\"" + *lang + "\" is not fr or en");
    request.lang = *parsed;
  }
  return request;
}

exports::Result export_server_data(ServerStore& store, const ImpactFactors& factors, const ExportRequest& request,
                                   const std::string& scope, const exports::ExportInfo& info,
                                   const std::filesystem::path& out) {
  store.refresh_statistics();
  const ServerExportSource source(store.path(), store.vocabulary(), scope);
  exports::Options options;
  options.format = request.format;
  options.what = request.what;
  options.filter = request.filter;
  options.filter.scope = scope;
  options.info = info;
  options.with_mediateur = true;  // the server exports teams
  options.lang = request.lang;
  return exports::export_to_file(source, factors, options, out);
}

}  // namespace relais::server
