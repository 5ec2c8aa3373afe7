// The exports (exports.hpp) from a real local store: XLSX read back by an independent reader
// (openpyxl, through tests/support/xlsx_dump.py), CSV by parse_csv, JSON by nlohmann::json.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "relais/csv.hpp"
#include "relais/exports.hpp"
#include "relais/impact.hpp"
#include "relais/local_export_source.hpp"
#include "relais/session_export.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using relais::exports::Format;
using relais::exports::What;

const char* const kPlace = "0193a5c0-0000-7000-8000-00000000a001";
const char* const kLaptop = "0193a5c0-0000-7000-8000-00000000c001";
const std::string kNote = "=HYPERLINK(\"http://x\") ; dire \"bonjour\"";

const relais::ImpactFactors& factors() {
  static const auto table = relais::ImpactFactors::load_file(fs::path(RELAIS_TEST_ASSETS_DIR) / "impact_factors.json");
  return table;
}

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

// The workbook as openpyxl reads it (see xlsx_dump.py for the cell shapes).
json read_xlsx(const fs::path& path) {
  const auto result = relais::test::run_process({python(), RELAIS_TEST_SUPPORT_DIR "/xlsx_dump.py", path.string()});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return json::parse(result.out);
}

const json& sheet(const json& workbook, const std::string& name) {
  for (const auto& s : workbook["sheets"]) {
    if (s["name"] == name) return s["rows"];
  }
  FAIL("no sheet " << name << " in " << workbook.dump().substr(0, 400));
  throw std::logic_error("unreachable");
}

std::string text_of(const json& cell) {
  if (cell.is_string()) return cell.get<std::string>();
  if (cell.is_object() && cell.contains("text")) return cell["text"].get<std::string>();
  return cell.dump();
}

// The row whose first cell is `label` (the information block and the summaries).
const json& row_labelled(const json& rows, const std::string& label) {
  for (const auto& row : rows) {
    if (!row.empty() && text_of(row[0]) == label) return row;
  }
  FAIL("no row " << label);
  throw std::logic_error("unreachable");
}

std::size_t index_of(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  FAIL("no column " << name);
  return 0;
}

struct Fixture {
  relais::test::TempDir dir;
  std::unique_ptr<relais::LocalStore> store = relais::test::open_store(dir / "store.db");
  std::string individual_id;
  std::string workshop_id;

  Fixture() {
    add(relais::RecordKind::place, {{"id", kPlace}, {"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"},
                                   {"code_postal", "69100"}, {"adresse", "12 rue de la République"}});
    auto session = relais::test::valid_individual_session_json();
    session["date"] = "2026-11-10";
    session["duree"] = 45;
    session["type_lieu"] = "lieu_activite";
    session["lieu_id"] = kPlace;
    session.erase("lieu_commune");
    session.erase("lieu_code_postal");
    session.erase("lieu_code_insee");
    session["materiel"] = {"ordinateur", "telephone"};
    session["notes"] = kNote;
    individual_id = add(relais::RecordKind::session, session);
    auto workshop = relais::test::valid_workshop_json();
    workshop["date"] = "2026-11-12";
    workshop_id = add(relais::RecordKind::session, workshop);
    auto outside = relais::test::valid_individual_session_json();
    outside["date"] = "2026-10-01";
    add(relais::RecordKind::session, outside);

    add(relais::RecordKind::lot,
        {{"id", "0193a5c0-0000-7000-8000-00000000b001"}, {"date", "2026-11-05"}, {"type_donateur", "entreprise"}, {"nom_donateur", "+Imprimerie"}, {"lieu_id", kPlace}},
        json::array({{{"id", kLaptop}, {"type", "ordinateur_portable"}, {"marque", "Lenovo"}, {"modele", "T470"},
                      {"numero_serie", "PF-0XK2L9"}, {"poids_kg", 1.6}, {"etat", "b"}},
                     {{"type", "imprimante"}, {"marque", "HP"}}}));
    for (const json& event : {json{{"type", "recu"}, {"date", "2026-11-05"}, {"auteur", "Samia B."}},
                              json{{"type", "efface"}, {"date", "2026-11-06"}, {"auteur", "Samia B."}, {"methode", "purge"},
                                   {"outil", "nwipe"}, {"resultat", "reussi"}, {"certificat", "EFF-1"}},
                              json{{"type", "remis"}, {"date", "2026-11-07"}, {"auteur", "Samia B."},
                                   {"code_beneficiaire", "VLB-1"}}}) {
      auto with_device = event;
      with_device["device_id"] = kLaptop;
      add(relais::RecordKind::device_event, with_device);
    }
  }

  std::string add(relais::RecordKind kind, const json& record, const json& devices = json()) {
    auto checked = relais::check_record(kind, record, relais::test::context());
    INFO(relais::test::to_text(checked.problems));
    REQUIRE(checked.ok());
    std::vector<relais::AnyRecord> batch{checked.record};
    if (devices.is_array()) {
      for (auto device : devices) {
        device["lot_id"] = relais::id_of(batch[0]);
        auto d = relais::check_record(relais::RecordKind::device, device, relais::test::context());
        INFO(relais::test::to_text(d.problems));
        REQUIRE(d.ok());
        batch.push_back(d.record);
      }
    }
    const auto result = store->add(std::move(batch));
    INFO(relais::test::to_text(result.problems));
    REQUIRE(result.ok());
    return result.ids.front();
  }

  relais::exports::Options options(Format format, What what) const {
    relais::exports::Options o;
    o.format = format;
    o.what = what;
    o.filter.from = relais::Date{2026, 11, 1};
    o.filter.to = relais::Date{2026, 11, 30};
    o.info.exported_by = "Camille Martin";
    o.info.role = "coordinateur";
    o.info.exported_at_unix_ms = 1795000000000;
    return o;
  }

  relais::exports::Result run(const relais::exports::Options& o, const fs::path& out) const {
    relais::LocalExportSource source(store->path(), store->vocabulary());
    return relais::exports::export_to_file(source, factors(), o, out);
  }
};

}  // namespace

TEST_CASE("XLSX activities: the information block, La Coop's columns, real dates and numbers", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "activites.xlsx";
  const auto result = fixture.run(fixture.options(Format::xlsx, What::activities), out);
  CHECK(result.rows == 2);
  CHECK_FALSE(result.cancelled);
  CHECK_FALSE(fs::exists(out.string() + ".part"));

  const auto workbook = read_xlsx(out);
  REQUIRE(workbook["sheets"].size() == 1);
  const auto& rows = sheet(workbook, "Activités");
  CHECK(text_of(rows[0][0]) == "Informations export");
  CHECK(text_of(row_labelled(rows, "Exporté par")[1]) == "Camille Martin");
  CHECK(text_of(row_labelled(rows, "Rôle")[1]) == "Coordinateur·rice");
  CHECK(row_labelled(rows, "Nombre de lignes")[1] == 2);
  CHECK(row_labelled(rows, "Date et heure de l’export")[1]["format"] == "dd/mm/yyyy hh:mm");
  CHECK(text_of(row_labelled(rows, "Période")[1]) == "du 01/11/2026 au 30/11/2026");

  const auto expected_header = relais::activity_export_header(false);
  std::size_t header_at = 0;
  while (header_at < rows.size() && (rows[header_at].empty() || text_of(rows[header_at][0]) != "Date")) ++header_at;
  REQUIRE(header_at + 2 < rows.size());
  std::vector<std::string> header;
  for (const auto& cell : rows[header_at]) header.push_back(text_of(cell));
  CHECK(header == expected_header);
  REQUIRE(rows.size() == header_at + 3);  // the two sessions of November, oldest first

  const auto& individual = rows[header_at + 1];
  CHECK(individual[0]["date"] == "2026-11-10T00:00:00");
  CHECK(individual[0]["format"] == "dd/mm/yyyy");
  CHECK(individual[1]["format"] == "dd/mm/yyyy hh:mm");
  CHECK(individual[index_of(header, "Participants")] == 1);
  CHECK(individual[index_of(header, "Durée (min)")] == 45);
  CHECK(text_of(individual[index_of(header, "Nom du lieu")]) == "Médiathèque Jean-Macé");
  const auto& equipment = individual[index_of(header, "Matériel numérique utilisé")];
  CHECK(equipment == json{{"text", "Ordinateur\nTéléphone"}, {"wrap", true}});
  CHECK(text_of(individual[index_of(header, "Notes supplémentaires")]) == "'" + kNote);  // never a formula
  CHECK(text_of(individual.back()) == fixture.individual_id);

  const auto& workshop = rows[header_at + 2];
  CHECK(workshop[index_of(header, "Participants")] == 8);
  CHECK(text_of(workshop.back()) == fixture.workshop_id);
}

TEST_CASE("CSV activities: BOM, information block, then the header and one row per session", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "activites.csv";
  auto options = fixture.options(Format::csv, What::activities);
  options.with_mediateur = true;
  fixture.run(options, out);
  const auto text = relais::test::read_file(out);
  REQUIRE(text.rfind("\xEF\xBB\xBF", 0) == 0);
  const auto rows = relais::parse_csv(text);
  CHECK(rows[0] == std::vector<std::string>{"Informations export"});
  CHECK(rows[1] == std::vector<std::string>{"Export", "Activités"});
  CHECK(rows[2] == std::vector<std::string>{"Exporté par", "Camille Martin"});
  CHECK(rows[4] == std::vector<std::string>{"Nombre de lignes", "2"});
  std::size_t header_at = 0;
  while (header_at < rows.size() && rows[header_at] != relais::activity_export_header(true)) ++header_at;
  REQUIRE(header_at + 3 == rows.size());
  CHECK(rows[header_at][3] == "Médiateur");
  CHECK(rows[header_at + 1][0] == "10/11/2026");
  CHECK(rows[header_at + 1].back() == fixture.individual_id);
  CHECK(rows[header_at + 1][index_of(rows[header_at], "Matériel numérique utilisé")] == "Ordinateur\nTéléphone");
  CHECK(rows[header_at + 1][index_of(rows[header_at], "Notes supplémentaires")] == "'" + kNote);
}

TEST_CASE("JSON activities: informations and the records of the period", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "activites.json";
  fixture.run(fixture.options(Format::json, What::activities), out);
  const auto document = json::parse(relais::test::read_file(out));
  CHECK(document["informations"]["lignes"] == 2);
  CHECK(document["informations"]["exporte_par"] == "Camille Martin");
  CHECK(document["informations"]["periode"] == json{{"du", "2026-11-01"}, {"au", "2026-11-30"}});
  REQUIRE(document["activites"].size() == 2);
  CHECK(document["activites"][0]["id"] == fixture.individual_id);
  CHECK(document["activites"][0]["notes"] == kNote);  // JSON keeps the text as typed
  CHECK(document["activites"][1]["participants"]["total"] == 8);
}

TEST_CASE("XLSX impact: the summary, CO2e per type and the factor table's version and source", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "impact.xlsx";
  fixture.run(fixture.options(Format::xlsx, What::impact), out);
  const auto workbook = read_xlsx(out);
  const auto& rows = sheet(workbook, "Impact");
  CHECK(text_of(row_labelled(rows, "Facteurs d’impact (version)")[1]) == factors().version());
  CHECK(text_of(row_labelled(rows, "Source des facteurs")[1]) == factors().source(relais::Lang::fr));
  CHECK(row_labelled(rows, "Appareils collectés")[1] == 2);
  CHECK(row_labelled(rows, "Appareils remis")[1] == 1);
  CHECK(row_labelled(rows, "Effacements de données réussis")[1] == 1);
  CHECK(row_labelled(rows, "CO2e évité (kg)")[1].get<double>() == Approx(182.6));
  const auto& laptop = row_labelled(rows, "Ordinateur portable");
  CHECK(laptop[1] == 1);
  CHECK(laptop[2].get<double>() == Approx(182.6));
}

TEST_CASE("XLSX equipment: devices with their lot, one row per event, and the impact sheet", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "materiel.xlsx";
  fixture.run(fixture.options(Format::xlsx, What::equipment), out);
  const auto workbook = read_xlsx(out);
  const auto& devices = sheet(workbook, "Appareils");
  CHECK(row_labelled(devices, "Nombre de lignes")[1] == 2);
  const auto& header = row_labelled(devices, "Date de collecte");
  std::vector<std::string> names;
  for (const auto& cell : header) names.push_back(text_of(cell));
  const auto& laptop = devices.back().size() > 0 && text_of(devices.back().back()) == kLaptop ? devices.back()
                                                                                          : devices[devices.size() - 2];
  CHECK(text_of(laptop[index_of(names, "Type d’appareil")]) == "Ordinateur portable");
  CHECK(text_of(laptop[index_of(names, "Numéro de série / IMEI")]) == "PF-0XK2L9");
  CHECK(laptop[index_of(names, "Poids (kg)")].get<double>() == Approx(1.6));
  CHECK(text_of(laptop[index_of(names, "Devenir")]) == "Réemploi");
  CHECK(text_of(laptop[index_of(names, "Dernier événement")]) == "Remis à une personne");
  CHECK(text_of(laptop[index_of(names, "Donateur")]) == "'+Imprimerie");
  const auto& events = sheet(workbook, "Événements");
  CHECK(events.size() == 4);  // the header and three events
  CHECK(text_of(row_labelled(sheet(workbook, "Impact"), "Facteurs d’impact (version)")[1]) == factors().version());
}

TEST_CASE("Statistics: XLSX sheets per breakdown and series, JSON of the indicators", "[exports]") {
  Fixture fixture;
  const auto xlsx = fixture.dir / "stats.xlsx";
  fixture.run(fixture.options(Format::xlsx, What::stats), xlsx);
  const auto workbook = read_xlsx(xlsx);
  const auto& summary = sheet(workbook, "Synthèse");
  CHECK(row_labelled(summary, "Accompagnements")[1] == 9);
  CHECK(row_labelled(summary, "Ateliers collectifs")[1] == 1);
  CHECK(sheet(workbook, "Par mois").size() == 2);
  CHECK(text_of(sheet(workbook, "Par mois")[1][0]) == "2026-11");
  CHECK(text_of(row_labelled(sheet(workbook, "Impact"), "Source des facteurs")[1]) == factors().source(relais::Lang::fr));

  const auto out = fixture.dir / "stats.json";
  fixture.run(fixture.options(Format::json, What::stats), out);
  const auto document = json::parse(relais::test::read_file(out));
  const auto& stats = document["statistiques"];
  CHECK(stats["totals"]["accompagnements"] == 9);
  CHECK(stats["filter"] == json{{"from", "2026-11-01"}, {"to", "2026-11-30"}});
  bool found = false;
  for (const auto& breakdown : stats["breakdowns"]) {
    if (breakdown["dimension"] != "type") continue;
    found = true;
    CHECK(breakdown["rows"][1] == json{{"code", "collectif"}, {"label", "Atelier collectif"}, {"activities", 1},
                                       {"people", 8}, {"minutes", 120}});
  }
  CHECK(found);
  CHECK(document["informations"]["facteurs_impact"]["version"] == factors().version());

  const auto csv = fixture.dir / "stats.csv";
  fixture.run(fixture.options(Format::csv, What::stats), csv);
  const auto rows = relais::parse_csv(relais::test::read_file(csv));
  CHECK(std::find(rows.begin(), rows.end(), std::vector<std::string>{"Par mois"}) != rows.end());
  CHECK(std::find(rows.begin(), rows.end(), std::vector<std::string>{"Temps total (h)", "2,75"}) != rows.end());
}

TEST_CASE("English labels for everything but La Coop's activity columns", "[exports]") {
  Fixture fixture;
  const auto out = fixture.dir / "impact.csv";
  auto options = fixture.options(Format::csv, What::impact);
  options.lang = relais::Lang::en;
  fixture.run(options, out);
  const auto rows = relais::parse_csv(relais::test::read_file(out));
  CHECK(rows[0] == std::vector<std::string>{"Export information"});
  CHECK(std::find(rows.begin(), rows.end(), std::vector<std::string>{"CO2e avoided (kg)", "182.6"}) != rows.end());
  CHECK(std::find(rows.begin(), rows.end(),
                  std::vector<std::string>{"Source of the factors", factors().source(relais::Lang::en)}) != rows.end());
}

TEST_CASE("A cancelled or failed export leaves no file, and a previous one untouched", "[exports]") {
  Fixture fixture;
  for (const auto format : {Format::csv, Format::xlsx, Format::json}) {
    const auto out = fixture.dir / ("previous." + std::string(relais::exports::to_string(format)));
    relais::test::write_file(out, "previous");
    std::atomic<bool> cancel{false};
    auto options = fixture.options(format, What::activities);
    options.cancel = &cancel;
    relais::LocalExportSource source(fixture.store->path(), fixture.store->vocabulary());
    std::int64_t calls = 0;
    options.progress = [&](std::int64_t, std::int64_t) { ++calls; };
    cancel = true;
    const auto result = relais::exports::export_to_file(source, factors(), options, out);
    CHECK(result.cancelled);
    CHECK(relais::test::read_file(out) == "previous");
    CHECK_FALSE(fs::exists(out.string() + ".part"));
  }

  const auto missing = fixture.dir / "missing" / "out.xlsx";
  CHECK_THROWS_AS(fixture.run(fixture.options(Format::xlsx, What::activities), missing), relais::exports::WriteError);
  CHECK_FALSE(fs::exists(fixture.dir / "missing"));

  auto backwards = fixture.options(Format::csv, What::activities);
  backwards.filter.from = relais::Date{2026, 12, 1};
  const auto none = fixture.dir / "none.csv";
  CHECK_THROWS_AS(fixture.run(backwards, none), relais::exports::InvalidOptions);
  CHECK_FALSE(fs::exists(none));
}

TEST_CASE("Progress reaches the total, and a cancel mid-way stops the export", "[exports]") {
  Fixture fixture;
  std::vector<relais::AnyRecord> batch;
  for (int i = 0; i < 600; ++i) {
    auto session = relais::test::valid_workshop_json();
    session["date"] = "2026-11-15";
    batch.push_back(relais::check_record(relais::RecordKind::session, session, relais::test::context()).record);
  }
  REQUIRE(fixture.store->add(std::move(batch)).ok());

  auto options = fixture.options(Format::xlsx, What::activities);
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  options.progress = [&](std::int64_t done, std::int64_t total) { calls.emplace_back(done, total); };
  const auto out = fixture.dir / "big.xlsx";
  const auto result = fixture.run(options, out);
  CHECK(result.rows == 602);
  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == std::pair<std::int64_t, std::int64_t>{602, 602});
  CHECK(calls.front().second == 602);

  std::atomic<bool> cancel{false};
  options.cancel = &cancel;
  options.progress = [&](std::int64_t done, std::int64_t) {
    if (done >= 256) cancel = true;
  };
  const auto again = fixture.dir / "again.xlsx";
  const auto stopped = fixture.run(options, again);
  CHECK(stopped.cancelled);
  CHECK_FALSE(fs::exists(again));
  CHECK_FALSE(fs::exists(again.string() + ".part"));
}
