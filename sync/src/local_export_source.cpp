#include "relais/local_export_source.hpp"

#include <stdexcept>

namespace relais {
namespace {

using nlohmann::json;

json parse_body(const std::string& text, const std::string& id) {
  auto value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) throw std::runtime_error("a stored record has unreadable JSON");
  value["id"] = id;
  return value;
}

std::string lower_bound_of(const exports::Period& period) {
  return period.from ? format_date(*period.from) : std::string("0000-00-00");
}

std::string upper_bound_of(const exports::Period& period) {
  return period.to ? format_date(*period.to) : std::string("9999-99-99");
}

}  // namespace

LocalExportSource::LocalExportSource(const std::filesystem::path& store_path, const Vocabulary& vocabulary)
    : db_(store_path, sqlite::Database::Mode::read_only), vocabulary_(vocabulary) {}

void LocalExportSource::begin_snapshot() const { db_.prepare("BEGIN").run(); }

void LocalExportSource::end_snapshot() const { db_.prepare("COMMIT").run(); }

std::map<std::string, Place> LocalExportSource::places() const {
  std::map<std::string, Place> out;
  auto statement = db_.prepare("SELECT id, body FROM places");
  while (statement.step()) {
    Problems ignored;
    const auto id = statement.column_text(0);
    out.emplace(id, decode_place(parse_body(statement.column_text(1), id), ignored));
  }
  return out;
}

std::map<std::string, std::string> LocalExportSource::advisor_names() const {
  std::map<std::string, std::string> out;
  auto statement = db_.prepare("SELECT id, body FROM advisors");
  while (statement.step()) {
    const auto body = parse_body(statement.column_text(1), statement.column_text(0));
    const auto prenom = body.value("prenom", std::string{});
    const auto nom = body.value("nom", std::string{});
    out[statement.column_text(0)] = prenom.empty() ? nom : prenom + " " + nom;
  }
  return out;
}

std::int64_t LocalExportSource::count_sessions(const exports::Period& period) const {
  auto statement = db_.prepare("SELECT count(*) FROM sessions WHERE deleted_at IS NULL AND date >= ? AND date <= ?");
  statement.bind(1, lower_bound_of(period)).bind(2, upper_bound_of(period));
  return statement.step() ? statement.column_int64(0) : 0;
}

void LocalExportSource::for_each_session(const exports::Period& period,
                                         const std::function<void(const ExportedSession&)>& visit) const {
  // Places and advisors are few: loaded once rather than once per row.
  const auto place_of = places();
  const auto names = advisor_names();
  auto statement = db_.prepare(
      "SELECT id, body, created_at, updated_at, mediateur_id FROM sessions WHERE deleted_at IS NULL"
      " AND date >= ? AND date <= ? ORDER BY date, created_at, id");
  statement.bind(1, lower_bound_of(period)).bind(2, upper_bound_of(period));
  while (statement.step()) {
    Problems ignored;
    ExportedSession row{decode_session(parse_body(statement.column_text(1), statement.column_text(0)), ignored),
                        statement.column_int64(2), statement.column_int64(3), std::nullopt, {}};
    if (row.session.lieu_id) {
      if (const auto it = place_of.find(*row.session.lieu_id); it != place_of.end()) row.place = it->second;
    }
    if (const auto advisor = statement.column_optional_text(4)) {
      if (const auto it = names.find(*advisor); it != names.end()) row.mediateur = it->second;
    }
    visit(row);
  }
}

std::int64_t LocalExportSource::count_devices(const exports::Period& period) const {
  auto statement = db_.prepare(
      "SELECT count(*) FROM devices d JOIN lots l ON l.id = d.lot_id"
      " WHERE d.deleted_at IS NULL AND l.deleted_at IS NULL AND l.date >= ? AND l.date <= ?");
  statement.bind(1, lower_bound_of(period)).bind(2, upper_bound_of(period));
  return statement.step() ? statement.column_int64(0) : 0;
}

void LocalExportSource::for_each_device(const exports::Period& period,
                                        const std::function<void(const ExportedDevice&)>& visit) const {
  const auto place_of = places();
  const auto names = advisor_names();
  auto devices = db_.prepare(
      "SELECT d.id, d.body, d.mediateur_id, l.id, l.body FROM devices d JOIN lots l ON l.id = d.lot_id"
      " WHERE d.deleted_at IS NULL AND l.deleted_at IS NULL AND l.date >= ? AND l.date <= ?"
      " ORDER BY l.date, l.created_at, l.id, d.created_at, d.id");
  devices.bind(1, lower_bound_of(period)).bind(2, upper_bound_of(period));
  auto events = db_.prepare(
      "SELECT id, body FROM device_events WHERE device_id = ? AND deleted_at IS NULL ORDER BY date, created_at, id");
  std::string lot_id;
  Lot lot;
  while (devices.step()) {
    Problems ignored;
    ExportedDevice row;
    row.device = decode_device(parse_body(devices.column_text(1), devices.column_text(0)), ignored);
    if (devices.column_text(3) != lot_id) {  // devices come lot by lot
      lot_id = devices.column_text(3);
      lot = decode_lot(parse_body(devices.column_text(4), lot_id), ignored);
    }
    row.lot = lot;
    if (lot.lieu_id) {
      if (const auto it = place_of.find(*lot.lieu_id); it != place_of.end()) row.place = it->second;
    }
    if (const auto advisor = devices.column_optional_text(2)) {
      if (const auto it = names.find(*advisor); it != names.end()) row.mediateur = it->second;
    }
    events.reset();
    events.bind(1, row.device.id);
    while (events.step()) {
      row.events.push_back(decode_device_event(parse_body(events.column_text(1), events.column_text(0)), ignored));
    }
    row.outcome = device_outcome(row.events);
    visit(row);
  }
}

stats::Indicators LocalExportSource::indicators(const stats::Filter& filter, const ImpactFactors& factors) const {
  return stats::compute(db_, filter, vocabulary_, factors);
}

void LocalExportSource::name_codes(stats::Labels& labels) const {
  for (const auto& [id, place] : places()) labels.set_name(stats::kLieu, id, place.nom);
  for (const auto& [id, name] : advisor_names()) labels.set_name(stats::kMediateur, id, name);
}

}  // namespace relais
