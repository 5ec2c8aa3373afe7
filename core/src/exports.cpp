// The exports (docs/exports.md): what each one holds, in which order, for the three formats.
// Lists (activities, devices, events) are streamed from the source one row at a time; statistics
// and impact are small (a few hundred rows whatever the number of records).
#include "relais/exports.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unistd.h>

#include "export_table.hpp"
#include "relais/csv.hpp"
#include "relais/dates.hpp"
#include "relais/vocabulary.hpp"

namespace relais::exports {

using detail::Cell;
using detail::RowStyle;
using detail::Table;
using nlohmann::json;

std::string_view to_string(Format format) {
  switch (format) {
    case Format::csv: return "csv";
    case Format::xlsx: return "xlsx";
    case Format::json: return "json";
  }
  return "csv";
}

std::string_view to_string(What what) {
  switch (what) {
    case What::activities: return "activities";
    case What::stats: return "stats";
    case What::equipment: return "equipment";
    case What::impact: return "impact";
  }
  return "activities";
}

std::optional<Format> parse_format(std::string_view text) {
  for (const auto format : {Format::csv, Format::xlsx, Format::json}) {
    if (text == to_string(format)) return format;
  }
  return std::nullopt;
}

std::optional<What> parse_what(std::string_view text) {
  for (const auto what : {What::activities, What::stats, What::equipment, What::impact}) {
    if (text == to_string(what)) return what;
  }
  return std::nullopt;
}

namespace {

struct Cancelled {};

std::string tr(Lang lang, const char* fr, const char* en) { return lang == Lang::fr ? fr : en; }

// Rows done and rows in all; throws Cancelled once the flag is up.
class Control {
 public:
  explicit Control(const Options& options) : options_(options) { check(); }
  void set_total(std::int64_t total) { total_ = total; }
  void check() const {
    if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed)) throw Cancelled{};
  }
  void step() {
    ++done_;
    check();
    if (options_.progress && done_ % 256 == 0) options_.progress(done_, std::max(total_, done_));
  }
  void finish() const {
    if (options_.progress) options_.progress(done_, std::max(total_, done_));
  }
  std::int64_t done() const { return done_; }

 private:
  const Options& options_;
  std::int64_t total_ = 0;
  std::int64_t done_ = 0;
};

class Snapshot {
 public:
  explicit Snapshot(const ExportSource& source) : source_(source) { source_.begin_snapshot(); }
  ~Snapshot() {
    try {
      source_.end_snapshot();
    } catch (...) {  // a read-only snapshot: nothing to lose
    }
  }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 private:
  const ExportSource& source_;
};

Period period_of(const Options& options) { return {options.filter.from, options.filter.to}; }

std::string what_label(What what, Lang lang) {
  switch (what) {
    case What::activities: return tr(lang, "Activités", "Activities");
    case What::stats: return tr(lang, "Statistiques", "Statistics");
    case What::equipment: return tr(lang, "Matériel collecté", "Collected equipment");
    case What::impact: return tr(lang, "Impact environnemental", "Environmental impact");
  }
  return {};
}

std::string period_text(const Period& period, Lang lang) {
  if (period.from && period.to) {
    return tr(lang, "du ", "from ") + format_date_french(*period.from) + tr(lang, " au ", " to ") +
           format_date_french(*period.to);
  }
  if (period.from) return tr(lang, "depuis le ", "since ") + format_date_french(*period.from);
  if (period.to) return tr(lang, "jusqu’au ", "until ") + format_date_french(*period.to);
  return tr(lang, "toutes les dates", "all dates");
}

bool has_impact(What what) { return what != What::activities; }

std::int64_t exported_at(const Options& options) {
  return options.info.exported_at_unix_ms != 0 ? options.info.exported_at_unix_ms : now_unix_ms();
}

// The filters other than the period, for people ("Médiateur : Dupont ; Type : Atelier collectif").
std::vector<std::pair<std::string, std::string>> filter_lines(const stats::Filter& filter, const stats::Labels& labels,
                                                              const Vocabulary& vocabulary, Lang lang) {
  std::vector<std::pair<std::string, std::string>> out;
  if (filter.mediateur_id) out.emplace_back(tr(lang, "Médiateur", "Advisor"), labels.code_label(stats::kMediateur, *filter.mediateur_id));
  if (filter.lieu_id) out.emplace_back(tr(lang, "Lieu", "Place"), labels.code_label(stats::kLieu, *filter.lieu_id));
  if (filter.commune) out.emplace_back(tr(lang, "Commune", "Municipality"), *filter.commune);
  if (filter.departement) out.emplace_back(tr(lang, "Département", "Département"), *filter.departement);
  if (filter.type) out.emplace_back(tr(lang, "Type", "Type"), vocabulary.label("type", *filter.type, lang));
  if (filter.thematique) out.emplace_back(tr(lang, "Thématique", "Theme"), labels.code_label(stats::kThematique, *filter.thematique));
  return out;
}

// [SECTION] The "Informations export" block -------------------------------------------------------

struct InfoContext {
  const ExportSource& source;
  const ImpactFactors& factors;
  const Options& options;
  const stats::Labels* labels = nullptr;  // for the filters of statistics and impact
  std::int64_t at_unix_ms = 0;
};

void write_info(Table& table, const InfoContext& context, const std::string& count_label, std::int64_t count) {
  const auto lang = context.options.lang;
  const auto& info = context.options.info;
  table.row({tr(lang, "Informations export", "Export information")}, RowStyle::title);
  table.row({"Export", what_label(context.options.what, lang)});
  table.row({tr(lang, "Exporté par", "Exported by"), neutralize_formula(info.exported_by)});
  table.row({tr(lang, "Rôle", "Role"), info.role.empty() ? std::string{} : context.source.vocabulary().label("role", info.role, lang)});
  if (!info.structure.empty()) table.row({"Structure", neutralize_formula(info.structure)});
  table.row({count_label, Cell::number(count)});
  table.row({tr(lang, "Date et heure de l’export", "Date and time of export"), Cell::timestamp(context.at_unix_ms)});
  table.row({tr(lang, "Période", "Period"), period_text(period_of(context.options), lang)});
  if (context.labels != nullptr) {
    for (const auto& [name, value] : filter_lines(context.options.filter, *context.labels, context.source.vocabulary(), lang)) {
      table.row({tr(lang, "Filtre : ", "Filter: ") + name, neutralize_formula(value)});
    }
  }
  if (has_impact(context.options.what)) {
    table.row({tr(lang, "Facteurs d’impact (version)", "Impact factors (version)"), context.factors.version()});
    table.row({tr(lang, "Source des facteurs", "Source of the factors"), context.factors.source(lang)});
  }
  table.blank();
}

json info_json(const InfoContext& context, std::int64_t rows) {
  const auto& options = context.options;
  json out{{"export", std::string(to_string(options.what))},
           {"exporte_par", options.info.exported_by},
           {"role", options.info.role},
           {"lignes", rows},
           {"exporte_le", format_timestamp_utc(context.at_unix_ms)},
           {"periode",
            {{"du", options.filter.from ? json(format_date(*options.filter.from)) : json(nullptr)},
             {"au", options.filter.to ? json(format_date(*options.filter.to)) : json(nullptr)}}},
           {"langue", std::string(relais::to_string(options.lang))}};
  if (!options.info.structure.empty()) out["structure"] = options.info.structure;
  if (has_impact(options.what)) {
    out["facteurs_impact"] = {{"version", context.factors.version()},
                              {"source", context.factors.source(options.lang)},
                              {"unite", context.factors.unit()}};
  }
  return out;
}

// [SECTION] Activities --------------------------------------------------------------------------

struct ActivityColumns {
  std::vector<std::string> header;
  std::size_t participants = 0;
  std::size_t duree = 0;
};

ActivityColumns activity_columns(bool with_mediateur) {
  ActivityColumns columns{activity_export_header(with_mediateur), 0, 0};
  for (std::size_t i = 0; i < columns.header.size(); ++i) {
    if (columns.header[i] == "Participants") columns.participants = i;
    if (columns.header[i] == "Durée (min)") columns.duree = i;
  }
  return columns;
}

// The cells of one activity into `cells` (cleared first; both vectors are reused from row to
// row): the dates as dates and the counts as numbers, the rest as activity_export_row's texts.
void activity_cells(const ExportedSession& row, const Vocabulary& vocabulary, const ActivityColumns& columns,
                    bool with_mediateur, std::vector<std::string>& texts, std::vector<Cell>& cells) {
  texts.clear();
  append_activity_export_columns(row, vocabulary, with_mediateur, texts);
  cells.clear();
  const auto date = parse_date(row.session.date);
  cells.push_back(date ? Cell::day(*date) : Cell(row.session.date));
  cells.push_back(Cell::timestamp(row.created_unix_ms));
  cells.push_back(Cell::timestamp(row.updated_unix_ms));
  for (auto& text : texts) cells.emplace_back(std::move(text));
  cells[columns.participants] = Cell::number(row.session.people_count());
  if (row.session.duree) cells[columns.duree] = Cell::number(*row.session.duree);
}

std::vector<double> activity_widths(const ActivityColumns& columns) {
  std::vector<double> widths(columns.header.size(), 18);
  widths[0] = 26;  // the information block's labels share the first column
  widths[1] = widths[2] = 17;
  for (std::size_t i = 0; i < columns.header.size(); ++i) {
    const auto& name = columns.header[i];
    if (name == "Thématique(s) d’accompagnement" || name == "Notes supplémentaires" || name == "Adresse") widths[i] = 36;
    if (name == "ID CRA") widths[i] = 38;
    if (name == "Participants" || name == "Durée (min)" || name == "Code postal" || name == "Code Insee") widths[i] = 11;
  }
  return widths;
}

Result activities_table(const ExportSource& source, const InfoContext& context, Table& table, Control& control) {
  const auto& options = context.options;
  const auto columns = activity_columns(options.with_mediateur);
  const auto period = period_of(options);
  Snapshot snapshot(source);
  const auto total = source.count_sessions(period);
  control.set_total(total);
  table.sheet(tr(options.lang, "Activités", "Activities"), activity_widths(columns));
  write_info(table, context, tr(options.lang, "Nombre de lignes", "Number of rows"), total);
  table.row(std::vector<Cell>(columns.header.begin(), columns.header.end()), RowStyle::header);
  std::vector<std::string> texts;
  std::vector<Cell> cells;
  texts.reserve(columns.header.size());
  cells.reserve(columns.header.size());
  source.for_each_session(period, [&](const ExportedSession& row) {
    activity_cells(row, source.vocabulary(), columns, options.with_mediateur, texts, cells);
    table.row(cells);
    control.step();
  });
  return {false, control.done()};
}

Result activities_json(const ExportSource& source, const InfoContext& context, std::ostream& out, Control& control) {
  const auto& options = context.options;
  const auto period = period_of(options);
  Snapshot snapshot(source);
  const auto total = source.count_sessions(period);
  control.set_total(total);
  out << "{\"informations\": " << info_json(context, total).dump() << ",\n\"activites\": [";
  source.for_each_session(period, [&](const ExportedSession& row) {
    auto object = to_json(row.session);
    object["kind"] = "session";
    object["created_at"] = format_timestamp_utc(row.created_unix_ms);
    object["updated_at"] = format_timestamp_utc(row.updated_unix_ms);
    if (options.with_mediateur) object["mediateur"] = row.mediateur;
    out << (control.done() == 0 ? "\n" : ",\n") << object.dump();
    control.step();
  });
  out << (control.done() == 0 ? "]}\n" : "\n]}\n");
  return {false, control.done()};
}

// [SECTION] Impact ----------------------------------------------------------------------------

void write_impact(Table& table, const stats::EquipmentIndicators& equipment, const ImpactFactors& factors,
                  const Vocabulary& vocabulary, Lang lang, Control& control) {
  const auto label = [&](const char* set, const std::string& code) { return vocabulary.label(set, code, lang); };
  table.row({tr(lang, "Impact environnemental", "Environmental impact")}, RowStyle::title);
  table.row({tr(lang, "Facteurs d’impact (version)", "Impact factors (version)"), factors.version()});
  table.row({tr(lang, "Source des facteurs", "Source of the factors"), factors.source(lang)});
  table.row({tr(lang, "Unité", "Unit"), factors.unit()});
  table.blank();
  table.row({tr(lang, "Appareils collectés", "Devices collected"), Cell::number(equipment.devices_collected)});
  table.row({tr(lang, "Poids collecté (kg)", "Weight collected (kg)"), Cell::real(equipment.weight_collected_kg)});
  table.row({tr(lang, "Poids détourné des déchets (kg)", "Weight diverted from waste (kg)"),
             Cell::real(equipment.weight_diverted_kg)});
  table.row({tr(lang, "Appareils remis", "Devices handed over"), Cell::number(equipment.devices_handed_over)});
  table.row({tr(lang, "Effacements de données réussis", "Successful data erasures"), Cell::number(equipment.erasures)});
  table.row({tr(lang, "CO2e évité (kg)", "CO2e avoided (kg)"), Cell::real(equipment.co2e_avoided_kg)});
  table.blank();
  table.row({tr(lang, "Type d’appareil", "Device type"), tr(lang, "Appareils réemployés", "Devices reused"),
             tr(lang, "Facteur (kg CO2e par appareil neuf)", "Factor (kg CO2e per new device)"),
             tr(lang, "CO2e évité (kg)", "CO2e avoided (kg)")},
            RowStyle::header);
  std::int64_t reused = 0;
  for (const auto& row : equipment.impact) {
    table.row({label("type_appareil", row.type), Cell::number(row.devices_reused),
               row.factor_kg_co2e ? Cell::real(*row.factor_kg_co2e) : Cell(tr(lang, "sans facteur", "no factor")),
               Cell::real(row.avoided_kg_co2e)});
    reused += row.devices_reused;
    control.step();
  }
  table.row({"Total", Cell::number(reused), Cell{}, Cell::real(equipment.co2e_avoided_kg)}, RowStyle::title);
  table.blank();
  table.row({tr(lang, "Type d’appareil", "Device type"), tr(lang, "Appareils collectés", "Devices collected"),
             tr(lang, "Poids (kg)", "Weight (kg)")},
            RowStyle::header);
  for (const auto& row : equipment.by_type) {
    table.row({label("type_appareil", row.code), Cell::number(row.devices), Cell::real(row.weight_kg)});
    control.step();
  }
  table.blank();
  table.row({tr(lang, "Devenir", "Outcome"), tr(lang, "Appareils collectés", "Devices collected"),
             tr(lang, "Poids (kg)", "Weight (kg)")},
            RowStyle::header);
  for (const auto& row : equipment.by_outcome) {
    table.row({label("devenir", row.code), Cell::number(row.devices), Cell::real(row.weight_kg)});
    control.step();
  }
}

json equipment_json(const stats::EquipmentIndicators& equipment, const Vocabulary& vocabulary, Lang lang) {
  const auto counts = [&](const std::vector<stats::EquipmentCount>& rows, const char* set) {
    json out = json::array();
    for (const auto& row : rows) {
      out.push_back({{"code", row.code},
                     {"label", vocabulary.label(set, row.code, lang)},
                     {"devices", row.devices},
                     {"weight_kg", row.weight_kg}});
    }
    return out;
  };
  json impact = json::array();
  for (const auto& row : equipment.impact) {
    impact.push_back({{"type", row.type},
                      {"label", vocabulary.label("type_appareil", row.type, lang)},
                      {"devices_reused", row.devices_reused},
                      {"factor_kg_co2e", row.factor_kg_co2e ? json(*row.factor_kg_co2e) : json(nullptr)},
                      {"avoided_kg_co2e", row.avoided_kg_co2e}});
  }
  return {{"devices_collected", equipment.devices_collected},
          {"weight_collected_kg", equipment.weight_collected_kg},
          {"weight_diverted_kg", equipment.weight_diverted_kg},
          {"devices_handed_over", equipment.devices_handed_over},
          {"erasures", equipment.erasures},
          {"by_type", counts(equipment.by_type, "type_appareil")},
          {"by_outcome", counts(equipment.by_outcome, "devenir")},
          {"impact", impact},
          {"co2e_avoided_kg", equipment.co2e_avoided_kg},
          {"factors_version", equipment.factors_version}};
}

stats::Labels labels_of(const ExportSource& source, Lang lang) {
  stats::Labels labels(source.vocabulary(), lang);
  source.name_codes(labels);
  return labels;
}

Result impact_table(const ExportSource& source, InfoContext context, const stats::Indicators& indicators, Table& table,
                    Control& control) {
  const auto lang = context.options.lang;
  table.sheet("Impact", {34, 18, 22, 18});
  write_info(table, context, tr(lang, "Appareils collectés", "Devices collected"), indicators.equipment.devices_collected);
  write_impact(table, indicators.equipment, context.factors, source.vocabulary(), lang, control);
  return {false, control.done()};
}

// [SECTION] Statistics ------------------------------------------------------------------------

void write_series(Table& table, const std::string& name, const std::vector<stats::PeriodCount>& rows, Lang lang,
                  Control& control) {
  table.sheet(name, {14, 12, 12, 12});
  table.row({tr(lang, "Période", "Period"), tr(lang, "Activités", "Activities"), tr(lang, "Personnes", "People"),
             "Minutes"},
            RowStyle::header);
  for (const auto& row : rows) {
    table.row({row.period, Cell::number(row.activities), Cell::number(row.people), Cell::number(row.minutes)});
    control.step();
  }
}

Result stats_table(const ExportSource& source, const InfoContext& context, const stats::Indicators& indicators,
                   const stats::Labels& labels, Table& table, Control& control) {
  const auto lang = context.options.lang;
  std::int64_t total = static_cast<std::int64_t>(indicators.per_day.size() + indicators.per_week.size() +
                                                 indicators.per_month.size());
  for (const auto& breakdown : indicators.breakdowns) total += static_cast<std::int64_t>(breakdown.rows.size());
  control.set_total(total);

  const auto& totals = indicators.totals;
  table.sheet(tr(lang, "Synthèse", "Summary"), {40, 16, 16, 16, 16});
  write_info(table, context, tr(lang, "Activités", "Activities"), totals.individual_sessions + totals.workshops);
  table.row({tr(lang, "Totaux", "Totals")}, RowStyle::title);
  table.row({"Accompagnements", Cell::number(totals.accompagnements)});
  table.row({tr(lang, "Bénéficiaires accompagnés", "People helped"), Cell::number(totals.beneficiaires)});
  table.row({tr(lang, "Accompagnements individuels", "Individual sessions"), Cell::number(totals.individual_sessions)});
  table.row({tr(lang, "Ateliers collectifs", "Workshops"), Cell::number(totals.workshops)});
  table.row({tr(lang, "Participants aux ateliers", "Workshop participants"), Cell::number(totals.workshop_participants)});
  table.row({tr(lang, "Temps total (min)", "Total time (min)"), Cell::number(totals.minutes)});
  table.row({tr(lang, "Temps total (h)", "Total time (h)"), Cell::real(static_cast<double>(totals.minutes) / 60.0)});
  table.blank();
  table.row({tr(lang, "Matériel collecté", "Collected equipment")}, RowStyle::title);
  const auto& equipment = indicators.equipment;
  table.row({tr(lang, "Appareils collectés", "Devices collected"), Cell::number(equipment.devices_collected)});
  table.row({tr(lang, "Poids collecté (kg)", "Weight collected (kg)"), Cell::real(equipment.weight_collected_kg)});
  table.row({tr(lang, "Appareils remis", "Devices handed over"), Cell::number(equipment.devices_handed_over)});
  table.row({tr(lang, "CO2e évité (kg)", "CO2e avoided (kg)"), Cell::real(equipment.co2e_avoided_kg)});

  for (const auto& breakdown : indicators.breakdowns) {
    const auto title = labels.dimension_title(breakdown.dimension);
    table.sheet(title, {40, 24, 12, 12, 12});
    table.row({title, "Code", tr(lang, "Activités", "Activities"), tr(lang, "Personnes", "People"), "Minutes"},
              RowStyle::header);
    for (const auto& row : breakdown.rows) {
      table.row({neutralize_formula(labels.code_label(breakdown.dimension, row.code)), neutralize_formula(row.code),
                 Cell::number(row.activities), Cell::number(row.people), Cell::number(row.minutes)});
      control.step();
    }
  }
  write_series(table, tr(lang, "Par mois", "Per month"), indicators.per_month, lang, control);
  write_series(table, tr(lang, "Par semaine", "Per week"), indicators.per_week, lang, control);
  write_series(table, tr(lang, "Par jour", "Per day"), indicators.per_day, lang, control);
  table.sheet("Impact", {34, 18, 22, 18});
  write_impact(table, equipment, context.factors, source.vocabulary(), lang, control);
  return {false, control.done()};
}

// [SECTION] Equipment -------------------------------------------------------------------------

std::vector<std::string> device_header(bool with_mediateur, Lang lang) {
  std::vector<std::string> header{tr(lang, "Date de collecte", "Collection date"),
                                  tr(lang, "Type de donateur", "Donor type"),
                                  tr(lang, "Donateur", "Donor"),
                                  tr(lang, "Lieu", "Place")};
  if (with_mediateur) header.push_back(tr(lang, "Médiateur", "Advisor"));
  for (const auto& column :
       {tr(lang, "Type d’appareil", "Device type"), tr(lang, "Marque", "Brand"), tr(lang, "Modèle", "Model"),
        tr(lang, "Numéro de série / IMEI", "Serial number / IMEI"), tr(lang, "État", "Grade"),
        tr(lang, "Poids (kg)", "Weight (kg)"), tr(lang, "Poids estimé", "Estimated weight"),
        tr(lang, "Démarre", "Powers on"), tr(lang, "Devenir", "Outcome"),
        tr(lang, "Dernier événement", "Last event"), tr(lang, "Date du dernier événement", "Date of last event"),
        tr(lang, "Événements", "Events"), tr(lang, "Notes", "Notes"), tr(lang, "ID lot", "Lot ID"),
        tr(lang, "ID appareil", "Device ID")}) {
    header.push_back(column);
  }
  return header;
}

Cell yes_no(const std::optional<bool>& value, Lang lang) {
  if (!value) return {};
  return *value ? tr(lang, "Oui", "Yes") : tr(lang, "Non", "No");
}

Cell date_cell(const std::string& text) {
  if (const auto date = parse_date(text)) return Cell::day(*date);
  return text;
}

std::vector<Cell> device_cells(const ExportedDevice& row, const Vocabulary& vocabulary, bool with_mediateur, Lang lang) {
  const auto label = [&](const char* set, const std::optional<std::string>& code) {
    return code && !code->empty() ? vocabulary.label(set, *code, lang) : std::string{};
  };
  const auto free = [](const std::optional<std::string>& text) { return neutralize_formula(text.value_or("")); };
  const auto& d = row.device;
  std::vector<Cell> cells{date_cell(row.lot.date), label("type_donateur", row.lot.type_donateur),
                          free(row.lot.nom_donateur), row.place ? neutralize_formula(row.place->nom) : std::string{}};
  if (with_mediateur) cells.emplace_back(neutralize_formula(row.mediateur));
  const DeviceEvent* last = row.events.empty() ? nullptr : &row.events.back();
  cells.insert(cells.end(),
               {label("type_appareil", d.type), free(d.marque), free(d.modele), free(d.numero_serie),
                label("etat_appareil", d.etat), d.poids_kg ? Cell::real(*d.poids_kg) : Cell{},
                d.poids_kg ? yes_no(d.poids_estime, lang) : Cell{}, yes_no(d.demarre, lang),
                label("devenir", row.outcome), last ? label("type_evenement", last->type) : std::string{},
                last ? date_cell(last->date) : Cell{}, Cell::number(static_cast<std::int64_t>(row.events.size())),
                free(d.notes), row.lot.id, d.id});
  return cells;
}

std::vector<std::string> event_header(Lang lang) {
  return {tr(lang, "Date", "Date"),
          tr(lang, "Événement", "Event"),
          tr(lang, "Type d’appareil", "Device type"),
          tr(lang, "Numéro de série / IMEI", "Serial number / IMEI"),
          tr(lang, "Auteur", "Author"),
          tr(lang, "Méthode d’effacement", "Erasure method"),
          tr(lang, "Outil", "Tool"),
          tr(lang, "Résultat", "Result"),
          tr(lang, "Certificat", "Certificate"),
          tr(lang, "Code bénéficiaire", "Recipient code"),
          tr(lang, "Vente solidaire", "Solidarity sale"),
          tr(lang, "Notes", "Notes"),
          tr(lang, "ID appareil", "Device ID"),
          tr(lang, "ID événement", "Event ID")};
}

std::vector<Cell> event_cells(const ExportedDevice& device, const DeviceEvent& e, const Vocabulary& vocabulary, Lang lang) {
  const auto label = [&](const char* set, const std::optional<std::string>& code) {
    return code && !code->empty() ? vocabulary.label(set, *code, lang) : std::string{};
  };
  const auto free = [](const std::optional<std::string>& text) { return neutralize_formula(text.value_or("")); };
  return {date_cell(e.date),
          label("type_evenement", e.type),
          label("type_appareil", device.device.type),
          free(device.device.numero_serie),
          neutralize_formula(e.auteur),
          label("methode_effacement", e.methode),
          free(e.outil),
          label("resultat_effacement", e.resultat),
          free(e.certificat),
          free(e.code_beneficiaire),
          yes_no(e.vente_solidaire, lang),
          free(e.notes),
          device.device.id,
          e.id};
}

Result equipment_table(const ExportSource& source, const InfoContext& context, const stats::Indicators& indicators,
                       Table& table, Control& control) {
  const auto& options = context.options;
  const auto lang = options.lang;
  const auto period = period_of(options);
  const auto& vocabulary = source.vocabulary();
  Snapshot snapshot(source);
  const auto total = source.count_devices(period);
  control.set_total(total);

  const auto header = device_header(options.with_mediateur, lang);
  std::vector<double> widths(header.size(), 16);
  widths[0] = 30;
  table.sheet(tr(lang, "Appareils", "Devices"), widths);
  write_info(table, context, tr(lang, "Nombre de lignes", "Number of rows"), total);
  table.row(std::vector<Cell>(header.begin(), header.end()), RowStyle::header);
  source.for_each_device(period, [&](const ExportedDevice& row) {
    table.row(device_cells(row, vocabulary, options.with_mediateur, lang));
    control.step();
  });

  const auto events = event_header(lang);
  table.sheet(tr(lang, "Événements", "Events"), std::vector<double>(events.size(), 16));
  table.row(std::vector<Cell>(events.begin(), events.end()), RowStyle::header);
  source.for_each_device(period, [&](const ExportedDevice& row) {
    for (const auto& event : row.events) table.row(event_cells(row, event, vocabulary, lang));
    control.check();
  });

  table.sheet("Impact", {34, 18, 22, 18});
  write_impact(table, indicators.equipment, context.factors, vocabulary, lang, control);
  return {false, control.done()};
}

Result equipment_json_stream(const ExportSource& source, const InfoContext& context,
                             const stats::Indicators& indicators, std::ostream& out, Control& control) {
  const auto& options = context.options;
  const auto period = period_of(options);
  const auto& vocabulary = source.vocabulary();
  Snapshot snapshot(source);
  const auto total = source.count_devices(period);
  control.set_total(total);
  out << "{\"informations\": " << info_json(context, total).dump() << ",\n\"impact\": "
      << equipment_json(indicators.equipment, vocabulary, options.lang).dump() << ",\n\"appareils\": [";
  source.for_each_device(period, [&](const ExportedDevice& row) {
    auto device = to_json(row.device);
    json events = json::array();
    for (const auto& event : row.events) events.push_back(to_json(event));
    json object{{"lot", to_json(row.lot)}, {"device", device}, {"events", events}, {"outcome", row.outcome}};
    if (row.place) object["place_nom"] = row.place->nom;
    if (options.with_mediateur) object["mediateur"] = row.mediateur;
    out << (control.done() == 0 ? "\n" : ",\n") << object.dump();
    control.step();
  });
  out << (control.done() == 0 ? "]}\n" : "\n]}\n");
  return {false, control.done()};
}

// [SECTION] Dispatch --------------------------------------------------------------------------

void check_options(const Options& options) {
  if (options.filter.from && options.filter.to && *options.filter.from > *options.filter.to) {
    throw InvalidOptions("invalid period: the start (" + format_date(*options.filter.from) + ") is after the end (" +
                         format_date(*options.filter.to) + ")");
  }
}

// Writes a CSV or JSON export to `out`, or an XLSX one to `xlsx_path`.
Result run(const ExportSource& source, const ImpactFactors& factors, const Options& options, std::ostream* out,
           const std::filesystem::path& xlsx_path, const std::filesystem::path& temp_dir) {
  Control control(options);
  InfoContext context{source, factors, options, nullptr, exported_at(options)};
  std::optional<stats::Labels> labels;
  std::optional<stats::Indicators> indicators;
  if (options.what != What::activities) {
    labels.emplace(labels_of(source, options.lang));
    context.labels = &*labels;
    auto filter = options.filter;
    if (options.what == What::equipment) {  // the devices listed are those of the period only
      filter = stats::Filter{};
      filter.from = options.filter.from;
      filter.to = options.filter.to;
      filter.scope = options.filter.scope;
      context.labels = nullptr;
    }
    indicators.emplace(source.indicators(filter, factors));
    control.check();
  }

  Result result;
  if (options.format == Format::json) {
    switch (options.what) {
      case What::activities: result = activities_json(source, context, *out, control); break;
      case What::equipment: result = equipment_json_stream(source, context, *indicators, *out, control); break;
      case What::stats: {
        json document{{"informations", info_json(context, indicators->totals.individual_sessions + indicators->totals.workshops)},
                      {"statistiques", to_json(*indicators, *labels)}};
        document["statistiques"]["equipment"]["factors_source"] = factors.source(options.lang);
        *out << document.dump(2) << '\n';
        result.rows = static_cast<std::int64_t>(indicators->breakdowns.size());
        break;
      }
      case What::impact: {
        json impact = equipment_json(indicators->equipment, source.vocabulary(), options.lang);
        impact["factors_source"] = factors.source(options.lang);
        impact["unit"] = factors.unit();
        json document{{"informations", info_json(context, indicators->equipment.devices_collected)}, {"impact", impact}};
        *out << document.dump(2) << '\n';
        result.rows = static_cast<std::int64_t>(indicators->equipment.impact.size());
        break;
      }
    }
    out->flush();
    if (!*out) throw WriteError(xlsx_path, "write failed");
    control.finish();
    return result;
  }

  std::unique_ptr<Table> table = options.format == Format::csv ? detail::make_csv_table(*out, options.lang)
                                                               : detail::make_xlsx_table(xlsx_path, temp_dir);
  switch (options.what) {
    case What::activities: result = activities_table(source, context, *table, control); break;
    case What::stats: result = stats_table(source, context, *indicators, *labels, *table, control); break;
    case What::equipment: result = equipment_table(source, context, *indicators, *table, control); break;
    case What::impact: result = impact_table(source, context, *indicators, *table, control); break;
  }
  control.check();
  table->close();
  if (out != nullptr) {
    out->flush();
    if (!*out) throw WriteError(xlsx_path, "write failed");
  }
  control.finish();
  return result;
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

std::filesystem::path unique_temp_path(const std::filesystem::path& dir, const char* extension) {
  static std::atomic<unsigned> counter{0};
  const auto base = dir.empty() ? std::filesystem::temp_directory_path() : dir;
  return base / ("relais-export-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                 std::to_string(now_unix_ms()) + extension);
}

}  // namespace

Result export_to_file(const ExportSource& source, const ImpactFactors& factors, const Options& options,
                      const std::filesystem::path& out) {
  check_options(options);
  if (std::filesystem::is_directory(out)) throw WriteError(out, "is a folder");
  auto part = out;
  part += ".part";
  Result result;
  try {
    if (options.format == Format::xlsx) {
      {  // fail now, not after the whole export, when the folder cannot be written
        std::ofstream probe(part, std::ios::binary | std::ios::trunc);
        if (!probe) throw WriteError(out, "cannot create the file");
      }
      result = run(source, factors, options, nullptr, part, part.parent_path());
    } else {
      std::ofstream file(part, std::ios::binary | std::ios::trunc);
      if (!file) throw WriteError(out, "cannot create the file");
      result = run(source, factors, options, &file, out, {});
      file.close();
      if (!file) throw WriteError(out, "write failed");
    }
  } catch (const Cancelled&) {
    remove_quietly(part);
    return {true, 0};
  } catch (...) {
    remove_quietly(part);
    throw;
  }
  std::error_code renamed;
  std::filesystem::rename(part, out, renamed);
  if (renamed) {
    remove_quietly(part);
    throw WriteError(out, renamed.message());
  }
  return result;
}

Result export_to_stream(const ExportSource& source, const ImpactFactors& factors, const Options& options,
                        std::ostream& out, const std::filesystem::path& temp_dir) {
  check_options(options);
  if (options.format != Format::xlsx) {
    try {
      return run(source, factors, options, &out, {}, {});
    } catch (const Cancelled&) {
      return {true, 0};
    }
  }
  const auto temp = unique_temp_path(temp_dir, ".xlsx");
  Result result;
  try {
    result = run(source, factors, options, nullptr, temp, temp.parent_path());
    std::ifstream file(temp, std::ios::binary);
    out << file.rdbuf();
    out.flush();
  } catch (const Cancelled&) {
    remove_quietly(temp);
    return {true, 0};
  } catch (...) {
    remove_quietly(temp);
    throw;
  }
  remove_quietly(temp);
  return result;
}

json to_json(const stats::Indicators& indicators, const stats::Labels& labels) {
  const auto& f = indicators.filter;
  json filter = json::object();
  if (f.from) filter["from"] = format_date(*f.from);
  if (f.to) filter["to"] = format_date(*f.to);
  if (!f.scope.empty()) filter["scope"] = f.scope;
  if (f.mediateur_id) filter["mediateur_id"] = *f.mediateur_id;
  if (f.lieu_id) filter["lieu_id"] = *f.lieu_id;
  if (f.commune) filter["commune"] = *f.commune;
  if (f.departement) filter["departement"] = *f.departement;
  if (f.type) filter["type"] = *f.type;
  if (f.thematique) filter["thematique"] = *f.thematique;

  const auto& t = indicators.totals;
  json breakdowns = json::array();
  for (const auto& breakdown : indicators.breakdowns) {
    json rows = json::array();
    for (const auto& row : breakdown.rows) {
      rows.push_back({{"code", row.code},
                      {"label", labels.code_label(breakdown.dimension, row.code)},
                      {"activities", row.activities},
                      {"people", row.people},
                      {"minutes", row.minutes}});
    }
    breakdowns.push_back(
        {{"dimension", breakdown.dimension}, {"title", labels.dimension_title(breakdown.dimension)}, {"rows", rows}});
  }
  const auto series = [](const std::vector<stats::PeriodCount>& rows) {
    json out = json::array();
    for (const auto& row : rows) {
      out.push_back({{"period", row.period}, {"activities", row.activities}, {"people", row.people}, {"minutes", row.minutes}});
    }
    return out;
  };
  // Labels know the vocabulary only through their own methods: equipment labels come from the
  // vocabulary dimensions "type_appareil" and "devenir" the Labels were made with.
  json equipment = {{"devices_collected", indicators.equipment.devices_collected},
                    {"weight_collected_kg", indicators.equipment.weight_collected_kg},
                    {"weight_diverted_kg", indicators.equipment.weight_diverted_kg},
                    {"devices_handed_over", indicators.equipment.devices_handed_over},
                    {"erasures", indicators.equipment.erasures},
                    {"co2e_avoided_kg", indicators.equipment.co2e_avoided_kg},
                    {"factors_version", indicators.equipment.factors_version}};
  const auto counts = [&](const std::vector<stats::EquipmentCount>& rows, std::string_view set) {
    json out = json::array();
    for (const auto& row : rows) {
      out.push_back({{"code", row.code}, {"label", labels.code_label(set, row.code)}, {"devices", row.devices}, {"weight_kg", row.weight_kg}});
    }
    return out;
  };
  equipment["by_type"] = counts(indicators.equipment.by_type, "type_appareil");
  equipment["by_outcome"] = counts(indicators.equipment.by_outcome, "devenir");
  json impact = json::array();
  for (const auto& row : indicators.equipment.impact) {
    impact.push_back({{"type", row.type},
                      {"label", labels.code_label("type_appareil", row.type)},
                      {"devices_reused", row.devices_reused},
                      {"factor_kg_co2e", row.factor_kg_co2e ? json(*row.factor_kg_co2e) : json(nullptr)},
                      {"avoided_kg_co2e", row.avoided_kg_co2e}});
  }
  equipment["impact"] = impact;

  return {{"filter", filter},
          {"totals",
           {{"accompagnements", t.accompagnements},
            {"beneficiaires", t.beneficiaires},
            {"individual_sessions", t.individual_sessions},
            {"workshops", t.workshops},
            {"workshop_participants", t.workshop_participants},
            {"minutes", t.minutes}}},
          {"breakdowns", breakdowns},
          {"per_day", series(indicators.per_day)},
          {"per_week", series(indicators.per_week)},
          {"per_month", series(indicators.per_month)},
          {"equipment", equipment}};
}

std::string default_file_name(What what, Format format, const Period& period) {
  std::string name = "relais-";
  switch (what) {
    case What::activities: name += "activites"; break;
    case What::stats: name += "statistiques"; break;
    case What::equipment: name += "materiel"; break;
    case What::impact: name += "impact"; break;
  }
  if (period.from) name += "-" + format_date(*period.from);
  if (period.to) name += (period.from ? "-" : "-jusqu-au-") + format_date(*period.to);
  return name + "." + std::string(to_string(format));
}

}  // namespace relais::exports
