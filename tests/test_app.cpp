// The desktop app: its forms model in-process, and its real window driven by a script under
// Xvfb (typing into fields, clicking Save), checked against what landed in the store.
#include <catch2/catch.hpp>

#define STB_IMAGE_IMPLEMENTATION  // reading screenshots back (Debian's libstb-dev)

#include <stb/stb_image.h>

#include <functional>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include "model/app_state.hpp"
#include "model/export_job.hpp"
#include "model/forms.hpp"
#include "model/statistics_worker.hpp"
#include "relais/sqlite.hpp"
#include "relais/vocabulary.hpp"
#include "server_process.hpp"
#include "support.hpp"
#include "relais/sync_engine.hpp"

using nlohmann::json;
using namespace relais;
using relais::test::TempDir;

namespace {

constexpr const char* kPlaceId = "0193a5c0-0000-7000-8000-00000000a001";

// A store as after the first-run screen: the advisor's name and usual place are set.
void prepare_store(const std::filesystem::path& path) {
  auto store = test::open_store(path);
  Problems problems;
  auto checked = check_record(RecordKind::place,
                              {{"id", kPlaceId}, {"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"},
                               {"code_postal", "69100"}},
                              test::context());
  REQUIRE(checked.ok());
  REQUIRE(store->add(std::move(checked.record)).ok());
  store->set_meta(app::setting::setup_done, "offline");
  store->set_meta(app::setting::advisor_prenom, "Samia");
  store->set_meta(app::setting::advisor_nom, "Benali");
  store->set_meta(app::setting::lieu_id, kPlaceId);
}

app::AppState::Options state_options(const std::filesystem::path& path) {
  app::AppState::Options options;
  options.store_path = path;
  options.today = test::kToday;
  options.background_sync = false;
  return options;
}

std::vector<json> sessions_in(const std::filesystem::path& path) {
  auto store = test::open_store(path);
  ListQuery query;
  query.kinds = {RecordKind::session};
  return store->list(query);
}

// A save as the UI sees it over frames: handed to SaveWorker, then taken once written.
bool done(app::AppState& state, bool started) {
  if (!started) return false;
  state.finish_saves();
  return state.last_save_ok();
}

// Runs the real app on `script` under Xvfb.
test::ProcessResult run_ui(const TempDir& dir, const std::string& script, const std::string& size = "1366x768",
                           bool sync = false) {
  const auto script_path = dir / "script.txt";
  test::write_file(script_path, script);
  std::vector<std::string> argv{"/usr/bin/xvfb-run", "-a", "-s", "-screen 0 1366x768x24", RELAIS_APP_PATH,
                                "--db", (dir / "relais.db").string(), "--script", script_path.string(),
                                "--today", "2026-11-22", "--size", size};
  if (!sync) argv.push_back("--no-sync");
  // The GL driver keeps a few allocations for the process's lifetime.
  return test::run_process(argv, {}, {"ASAN_OPTIONS=detect_leaks=0"});
}

}  // namespace

TEST_CASE("session form: the record it makes", "[app][forms]") {
  app::SessionForm form;
  form.date = "16/11/2026";
  form.duree = 45;
  form.lieu_id = kPlaceId;
  form.thematiques = {"email", "logement"};  // an administrative theme without its parent
  form.precisions_demarche = "bail";
  form.tags = " rdv, suivi ,, rdv";
  const auto record = form.to_record_json(test::vocabulary());
  CHECK(record["date"] == "2026-11-16");
  CHECK(record["thematiques"] == json::array({"email"}));  // no hidden administrative theme left
  CHECK_FALSE(record.contains("precisions_demarche"));
  CHECK(record["tags"] == json::array({"rdv", "suivi"}));
  CHECK(record["beneficiaire"]["genre"] == "non_communique");
  CHECK(test::check(RecordKind::session, record).empty());

  form.thematiques.insert("aide_aux_demarches_administratives");
  const auto with_admin = form.to_record_json(test::vocabulary());
  CHECK(with_admin["thematiques"] == json::array({"email", "aide_aux_demarches_administratives", "logement"}));
  CHECK(with_admin["precisions_demarche"] == "bail");

  form.notes = "quelque chose";
  form.prepare_next();
  CHECK(form.date == "16/11/2026");
  CHECK(form.duree == 45);
  CHECK(form.lieu_id == kPlaceId);
  CHECK(form.thematiques.empty());
  CHECK(form.notes.empty());
}

TEST_CASE("workshop form: what is left for non communiqué", "[app][forms]") {
  app::SessionForm form;
  form.type = "collectif";
  form.total = 8;
  form.counts["genre"]["feminin"] = 5;
  form.counts["genre"]["masculin"] = 2;
  CHECK(form.non_communique("genre") == 1);
  CHECK(form.non_communique("tranche_age") == 8);
  form.counts["genre"]["masculin"] = 9;
  CHECK(form.non_communique("genre") == 0);
  const auto record = form.to_record_json(test::vocabulary());
  CHECK(record["participants"]["genre"] == json{{"feminin", 5}, {"masculin", 9}});
  CHECK(test::has_problem(test::check(RecordKind::session, record), "participants.genre", "counts_exceed_total"));
}

TEST_CASE("forms: dates and weights as people type them", "[app][forms]") {
  CHECK(app::date_for_store("22/11/2026") == "2026-11-22");
  CHECK(app::date_for_store(" 3/2/26 ") == "2026-02-03");
  CHECK(app::date_for_store("2026-11-22") == "2026-11-22");
  CHECK(app::date_for_store("demain") == "demain");
  CHECK(app::date_for_store("40/13/2026") == "40/13/2026");  // left for the date rule to name
  CHECK(app::date_for_store("1/1/123456") == "1/1/123456");
  CHECK(app::parse_decimal("1,6") == Approx(1.6));
  CHECK(app::parse_decimal(" 0.8 ") == Approx(0.8));
  CHECK_FALSE(app::parse_decimal("1,6 kg"));
  CHECK_FALSE(app::parse_decimal(""));
}

TEST_CASE("app state: a bad form saves nothing, a good one is stored and the form resets", "[app][state]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  CHECK(state.individual.lieu_id == kPlaceId);
  CHECK(state.individual.date == "22/11/2026");

  CHECK_FALSE(done(state, state.save_session(state.individual, state.individual_messages)));
  CHECK_FALSE(state.individual_messages.take("duree").empty());
  CHECK_FALSE(state.individual_messages.take("thematiques").empty());
  CHECK(state.store().count(RecordKind::session) == 0);

  state.individual.duree = 30;
  state.individual.thematiques = {"email"};
  REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  CHECK(state.individual_messages.empty());
  CHECK(state.store().count(RecordKind::session) == 1);
  CHECK(state.individual.duree == 30);
  CHECK(state.individual.thematiques.empty());
}

TEST_CASE("app state: Save never waits on a busy store, and loses nothing", "[app][state][save]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  // Another process (a CLI import, a sync page) holds the store's write lock.
  auto holder = std::make_unique<sqlite::Database>(dir / "relais.db");
  auto write_lock = std::make_unique<sqlite::Transaction>(*holder);

  state.individual.duree = 30;
  state.individual.thematiques = {"email"};
  state.individual.notes = "à garder";
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(state.save_session(state.individual, state.individual_messages));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));  // no frame waits
  state.poll_sync();
  CHECK(state.saving());  // still waiting for the lock, on SaveWorker's thread
  CHECK(state.individual.notes == "à garder");  // kept until the write is confirmed
  CHECK_FALSE(state.save_session(state.individual, state.individual_messages));  // one at a time

  write_lock.reset();  // released within the busy timeout: the write goes through
  for (int i = 0; i < 500 && state.saving(); ++i) {
    state.poll_sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_FALSE(state.saving());
  CHECK(state.last_save_ok());
  CHECK(state.individual_messages.empty());
  CHECK(state.individual.notes.empty());  // ready for the next person
  REQUIRE(sessions_in(dir / "relais.db").size() == 1);
  CHECK(sessions_in(dir / "relais.db").front()["notes"] == "à garder");
}

TEST_CASE("app state: a store busy past its timeout is a message in the form, and the draft is kept", "[app][state][save]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  auto holder = std::make_unique<sqlite::Database>(dir / "relais.db");
  auto write_lock = std::make_unique<sqlite::Transaction>(*holder);
  state.workshop.duree = 60;
  state.workshop.thematiques = {"email"};
  state.workshop.total = 4;
  state.workshop.titre_atelier = "Premiers pas";
  REQUIRE(state.save_session(state.workshop, state.workshop_messages));
  // Held past the 5 s busy timeout: no exception, a message.
  for (int i = 0; i < 1500 && state.saving(); ++i) {
    REQUIRE_NOTHROW(state.poll_sync());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_FALSE(state.saving());
  CHECK_FALSE(state.last_save_ok());
  REQUIRE(state.workshop_messages.size() == 1);
  CHECK(state.workshop_messages.not_shown(Lang::fr).front().find("occupé") != std::string::npos);
  CHECK(state.workshop.titre_atelier == "Premiers pas");
  state.save_drafts_if_changed();
  write_lock.reset();
  CHECK(sessions_in(dir / "relais.db").empty());
  // The draft has it: a restart finds the form as it was.
  app::AppState again(test::assets(), state_options(dir / "relais.db"));
  CHECK(again.workshop.titre_atelier == "Premiers pas");
  // And saving again, the store free, writes it.
  CHECK(done(again, again.save_session(again.workshop, again.workshop_messages)));
  CHECK(sessions_in(dir / "relais.db").size() == 1);
}

TEST_CASE("app state: the sync counts come from the store worker, which checkpoints the saves", "[app][state]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  const auto eventually = [&](const auto& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      state.poll_sync();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  // Not read on the UI thread: the worker posts them, poll_sync() takes them.
  REQUIRE(eventually([&] { return state.sync_status().counts_known; }));
  CHECK(state.sync_status().pending == 1);  // the place prepare_store added
  CHECK(state.sync_status().quarantined.empty());
  CHECK(state.sync_status().conflicts.empty());

  state.individual.duree = 30;
  state.individual.thematiques = {"email"};
  REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  // Once the app has been quiet for a second: counted again, and the WAL checkpointed.
  CHECK(eventually([&] { return state.sync_status().pending == 2; }));
  CHECK(eventually([&] { return state.store_worker().checkpoints() >= 1; }));
}

TEST_CASE("app state: editing a session removes the fields cleared in the form", "[app][state]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  state.individual.duree = 30;
  state.individual.thematiques = {"email"};
  state.individual.notes = "première visite";
  REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  const auto id = sessions_in(dir / "relais.db").front()["id"].get<std::string>();

  std::string view;
  REQUIRE(state.edit_record(id, view));
  CHECK(view == "session");
  CHECK(state.individual.notes == "première visite");
  state.individual.notes.clear();
  state.individual.duree = 60;
  REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  const auto stored = state.store().get(id);
  REQUIRE(stored);
  CHECK((*stored)["duree"] == 60);
  CHECK_FALSE(stored->contains("notes"));
  CHECK(state.store().count(RecordKind::session) == 1);
}

TEST_CASE("app state: the form in progress survives a closed app", "[app][state]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  {
    app::AppState state(test::assets(), state_options(dir / "relais.db"));
    state.individual.duree = 90;
    state.individual.thematiques = {"sante", "email"};
    state.individual.notes = "à reprendre";
    state.workshop.titre_atelier = "Premiers pas";
    state.save_drafts_if_changed();
    // No save: the app is closed (or crashes) here.
  }
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  CHECK(state.individual.duree == 90);
  CHECK(state.individual.thematiques == std::set<std::string>{"email", "sante"});
  CHECK(state.individual.notes == "à reprendre");
  CHECK(state.workshop.titre_atelier == "Premiers pas");
  CHECK(state.store().count(RecordKind::session) == 0);

  // A damaged draft file is ignored, never fatal.
  test::write_file(state.drafts_path(), "{not json");
  app::AppState again(test::assets(), state_options(dir / "relais.db"));
  CHECK(again.individual.notes.empty());
}

TEST_CASE("app state: equipment refuses a handover before an erasure", "[app][state]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  app::AppState state(test::assets(), state_options(dir / "relais.db"));
  state.lot.type_donateur = "entreprise";
  REQUIRE(done(state, state.save_lot()));
  state.device.type = "ordinateur_portable";
  state.device.numero_serie = "PF-0XK2L9";
  REQUIRE(done(state, state.save_device()));
  const auto devices = state.devices_of_open_lot();
  REQUIRE(devices.size() == 1);
  CHECK(state.open_device_id == devices.front().id);

  state.event.type = "remis";
  state.event.code_beneficiaire = "B-2026-017";
  CHECK_FALSE(done(state, state.save_event()));
  CHECK_FALSE(state.event_messages.empty());
  CHECK(state.store().count(RecordKind::device_event) == 0);

  state.event.type = "efface";
  state.event.outil = "nwipe 0.34";
  REQUIRE(done(state, state.save_event()));
  state.event.type = "remis";
  state.event.code_beneficiaire = "B-2026-017";
  REQUIRE(done(state, state.save_event()));
  CHECK(state.store().count(RecordKind::device_event) == 2);
}

// [SECTION] Statistiques: the model and its worker -----------------------------------------------------

namespace {

// Three individual sessions and a workshop of 8 (3 already helped) in November 2026, one
// individual session in October; a laptop collected and handed over after its erasure.
void add_known_activity(const std::filesystem::path& path) {
  app::AppState state(test::assets(), state_options(path));
  for (const auto& [date, minutes] : {std::pair{"02/11/2026", 30}, std::pair{"16/11/2026", 45},
                                      std::pair{"22/11/2026", 60}, std::pair{"15/10/2026", 90}}) {
    state.individual.date = date;
    state.individual.duree = minutes;
    state.individual.thematiques = {"email"};
    REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  }
  state.workshop.date = "17/11/2026";
  state.workshop.duree = 120;
  state.workshop.thematiques = {"securite_numerique"};
  state.workshop.total = 8;
  state.workshop.deja_accompagnes = 3;
  REQUIRE(done(state, state.save_session(state.workshop, state.workshop_messages)));
  state.lot.date = "10/11/2026";
  state.lot.type_donateur = "entreprise";
  REQUIRE(done(state, state.save_lot()));
  state.device.type = "ordinateur_portable";
  state.device.poids_kg = "2";
  REQUIRE(done(state, state.save_device()));
  state.event.date = "12/11/2026";
  state.event.type = "efface";
  state.event.outil = "nwipe 0.34";
  REQUIRE(done(state, state.save_event()));
  state.event.date = "20/11/2026";
  state.event.type = "remis";
  state.event.code_beneficiaire = "B-2026-017";
  REQUIRE(done(state, state.save_event()));
}

app::StatisticsWorker::Options worker_options(const std::filesystem::path& path) {
  app::StatisticsWorker::Options options;
  options.store_path = path;
  options.base_vocabulary = &test::assets().vocabulary;
  options.impact_factors_path = test::assets().directory / "impact_factors.json";
  return options;
}

}  // namespace

TEST_CASE("statistics model: periods, filters and their problems", "[app][stats]") {
  const Date today{2026, 11, 22};
  const auto period = [&](const char* preset) {
    const auto out = app::preset_period(preset, today);
    REQUIRE(out);
    return format_date(out->from) + " " + format_date(out->to);
  };
  CHECK(period("this_month") == "2026-11-01 2026-11-22");
  CHECK(period("last_month") == "2026-10-01 2026-10-31");
  CHECK(period("this_year") == "2026-01-01 2026-11-22");
  CHECK(period("last_12_months") == "2025-12-01 2026-11-22");
  CHECK(format_date(app::preset_period("last_month", Date{2026, 1, 5})->from) == "2025-12-01");
  CHECK_FALSE(app::preset_period("custom", today));

  std::vector<app::QueryProblem> problems;
  app::StatisticsQuery query;
  query.type = "collectif";
  query.departement = " 2a ";
  auto filter = app::make_filter(query, today, test::vocabulary(), problems);
  REQUIRE(filter);
  CHECK(problems.empty());
  CHECK(filter->type == "collectif");
  CHECK(filter->departement == "2A");
  CHECK_FALSE(filter->lieu_id);
  CHECK(format_date(*filter->from) == "2026-11-01");

  query.preset = "custom";
  query.custom_from = "31/02/2026";
  query.custom_to = "";
  query.departement = "750";
  CHECK_FALSE(app::make_filter(query, today, test::vocabulary(), problems));
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].key == "app.stats.error.bad_date");
  CHECK(problems[0].value == "31/02/2026");
  CHECK(problems[1].key == "app.stats.error.to_required");
  CHECK(problems[2].key == "app.stats.error.departement");
  // Every message the screen can show is translated in both languages.
  for (const auto& problem : problems) {
    CHECK(test::assets().translator.text(Lang::fr, problem.key) != problem.key);
    CHECK(test::assets().translator.text(Lang::en, problem.key) != problem.key);
  }

  query.custom_from = "01/12/2026";
  query.custom_to = "30/11/2026";
  query.departement = "971";
  CHECK_FALSE(app::make_filter(query, today, test::vocabulary(), problems));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].key == "app.stats.error.order");
  query.custom_from = "2026-11-01";
  filter = app::make_filter(query, today, test::vocabulary(), problems);
  REQUIRE(filter);
  CHECK(format_date(*filter->to) == "2026-11-30");
  CHECK(filter->departement == "971");
}

TEST_CASE("statistics model: the chart's series and the figures as shown", "[app][stats]") {
  stats::Indicators indicators;
  indicators.per_day = {{"2026-11-02", 1, 1, 30}, {"2026-11-17", 1, 8, 120}};
  indicators.per_week = {{"2026-W47", 2, 9, 150}};
  indicators.per_month = {{"2026-11", 3, 10, 180}};
  const Date from{2026, 11, 1};
  const Date to{2026, 11, 30};
  const auto days = app::time_series(indicators, app::Granularity::day, from, to, Lang::fr);
  REQUIRE(days.size() == 30);
  CHECK(days[1].period == "2026-11-02");
  CHECK(days[1].label == "02/11");
  CHECK(days[1].people == 1);
  CHECK(days[16].people == 8);
  CHECK(days[0].people == 0);
  const auto weeks = app::time_series(indicators, app::Granularity::week, from, to, Lang::en);
  REQUIRE(weeks.size() == 6);  // 2026-W44 (Sunday 1st) to 2026-W49 (Monday 30th)
  CHECK(weeks.front().period == "2026-W44");
  CHECK(weeks[3].period == "2026-W47");
  CHECK(weeks[3].label == "W47");
  CHECK(weeks[3].people == 9);
  const auto months = app::time_series(indicators, app::Granularity::month, Date{2025, 12, 1}, to, Lang::fr);
  REQUIRE(months.size() == 12);
  CHECK(months.front().label == "déc. 2025");
  CHECK(months.back().people == 10);
  CHECK(app::iso_week_of(Date{2027, 1, 1}) == "2026-W53");
  CHECK(app::iso_week_of(Date{2024, 12, 30}) == "2025-W01");
  CHECK(app::default_granularity(from, to) == app::Granularity::day);
  CHECK(app::default_granularity(Date{2026, 1, 1}, to) == app::Granularity::month);

  CHECK(app::format_count(1234567, Lang::fr) == "1\u202f234\u202f567");
  CHECK(app::format_count(1234, Lang::en) == "1,234");
  CHECK(app::format_count(12, Lang::fr) == "12");
  CHECK(app::format_decimal(1234.56, 1, Lang::fr) == "1\u202f234,6");
  CHECK(app::format_decimal(6.26, 1, Lang::en) == "6.3");
  CHECK(app::format_duration(45) == "45 min");
  CHECK(app::format_duration(270) == "4 h 30 min");
  CHECK(app::format_duration(125) == "2 h 05 min");
  CHECK(app::format_duration(120) == "2 h");
  CHECK(app::format_percent(1, 3, Lang::en) == "33%");
  CHECK(app::format_percent(1, 300, Lang::fr) == "< 1\u202f%");
  CHECK(app::format_percent(0, 0, Lang::en) == "0%");
}

TEST_CASE("statistics worker: figures of a known store, off the UI thread, again after a save", "[app][stats]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  std::atomic<int> woken{0};
  auto options = worker_options(dir / "relais.db");
  options.on_ready = [&] { ++woken; };
  app::StatisticsWorker worker(options);
  CHECK_FALSE(worker.snapshot().result);

  std::vector<app::QueryProblem> problems;
  const auto november = app::make_filter(app::StatisticsQuery{}, test::kToday, test::vocabulary(), problems);
  REQUIRE(november);
  const auto number = worker.request(*november);
  auto result = worker.wait();
  REQUIRE(result);
  CHECK(result->request == number);
  INFO(result->error);
  REQUIRE(result->indicators);
  CHECK(result->error.empty());
  const auto& totals = result->indicators->totals;
  CHECK(totals.individual_sessions == 3);
  CHECK(totals.workshops == 1);
  CHECK(totals.workshop_participants == 8);
  CHECK(totals.accompagnements == 11);
  CHECK(totals.beneficiaires == 8);
  CHECK(totals.minutes == 30 + 45 + 60 + 120);
  const auto& equipment = result->indicators->equipment;
  CHECK(equipment.devices_collected == 1);
  CHECK(equipment.weight_collected_kg == Approx(2.0));
  CHECK(equipment.devices_handed_over == 1);
  CHECK(equipment.erasures == 1);
  CHECK(equipment.co2e_avoided_kg > 0);
  CHECK_FALSE(result->factors_version.empty());
  CHECK_FALSE(result->factors_source_fr.empty());
  // on_ready runs on the worker just after the result is published (and wait() has returned).
  for (int i = 0; i < 500 && woken == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(woken >= 1);
  CHECK_FALSE(worker.snapshot().busy);

  // Filters: workshops only; October alone.
  app::StatisticsQuery query;
  query.type = "collectif";
  worker.request(*app::make_filter(query, test::kToday, test::vocabulary(), problems));
  result = worker.wait();
  REQUIRE(result->indicators);
  CHECK(result->indicators->totals.accompagnements == 8);
  query = {};
  query.preset = "last_month";
  worker.request(*app::make_filter(query, test::kToday, test::vocabulary(), problems));
  result = worker.wait();
  REQUIRE(result->indicators);
  CHECK(result->indicators->totals.individual_sessions == 1);
  CHECK(result->indicators->totals.minutes == 90);

  // A session saved on the UI's connection shows in the next computation.
  {
    app::AppState state(test::assets(), state_options(dir / "relais.db"));
    state.individual.date = "21/11/2026";
    state.individual.duree = 15;
    state.individual.thematiques = {"sante"};
    REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  }
  worker.request(*november);
  result = worker.wait();
  REQUIRE(result->indicators);
  CHECK(result->indicators->totals.individual_sessions == 4);

  // Many requests in a row: only the newest is answered.
  for (int i = 0; i < 20; ++i) worker.request(*november);
  const auto last = worker.request(*november);
  CHECK(worker.wait()->request == last);
}

TEST_CASE("statistics worker: a store it cannot read is said, not fatal", "[app][stats]") {
  TempDir dir;
  app::StatisticsWorker worker(worker_options(dir / "missing.db"));
  worker.request(stats::Filter{});
  const auto result = worker.wait();
  REQUIRE(result);
  CHECK_FALSE(result->indicators);
  CHECK_FALSE(result->error.empty());
}

TEST_CASE("exports model: the destination as typed, and why a file cannot go there", "[app][exports]") {
  TempDir dir;
  std::string problem;
  auto out = app::export_destination((dir / "novembre").string(), exports::Format::xlsx, problem);
  REQUIRE(out);
  CHECK(problem.empty());
  CHECK(*out == dir / "novembre.xlsx");
  out = app::export_destination(" " + (dir / "novembre.xlsx").string() + " ", exports::Format::csv, problem);
  REQUIRE(out);
  CHECK(*out == dir / "novembre.csv");  // the extension follows the format chosen
  out = app::export_destination((dir / "bilan.2026").string(), exports::Format::json, problem);
  REQUIRE(out);
  CHECK(out->filename() == "bilan.2026.json");
  CHECK_FALSE(app::export_destination("", exports::Format::csv, problem));
  CHECK(problem == "app.exports.error.no_name");
  CHECK_FALSE(app::export_destination((dir / "absent" / "x.csv").string(), exports::Format::csv, problem));
  CHECK(problem == "app.exports.error.no_folder");
  std::filesystem::create_directories(dir / "dossier.csv");
  CHECK_FALSE(app::export_destination((dir / "dossier.csv").string(), exports::Format::csv, problem));
  CHECK(problem == "app.exports.error.is_folder");
  for (const auto* key : {"app.exports.error.no_name", "app.exports.error.no_folder", "app.exports.error.is_folder"}) {
    CHECK(test::assets().translator.text(Lang::fr, key) != key);
    CHECK(test::assets().translator.text(Lang::en, key) != key);
  }
}

TEST_CASE("export job: a file written off the UI thread with its progress; a cancel leaves none", "[app][exports]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  std::atomic<int> woken{0};
  app::ExportJob::Options options;
  options.store_path = dir / "relais.db";
  options.base_vocabulary = &test::assets().vocabulary;
  options.impact_factors_path = test::assets().directory / "impact_factors.json";
  options.on_ready = [&] { ++woken; };
  app::ExportJob job(options);

  app::ExportRequest request;
  request.out = dir / "novembre.csv";
  request.options.format = exports::Format::csv;
  request.options.what = exports::What::activities;
  request.options.filter.from = Date{2026, 11, 1};
  request.options.filter.to = Date{2026, 11, 30};
  request.options.info.exported_by = "Samia Benali";
  REQUIRE(job.start(request));
  auto status = job.wait();
  INFO(status.error);
  CHECK(status.finished);
  CHECK(status.ok);
  CHECK(status.rows == 4);  // three individual sessions and the workshop
  CHECK(status.done == status.total);
  for (int i = 0; i < 500 && woken == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(woken >= 1);
  REQUIRE(std::filesystem::exists(dir / "novembre.csv"));
  std::ifstream in(dir / "novembre.csv");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("Samia Benali") != std::string::npos);

  // Every kind in every format.
  for (const auto what : {exports::What::stats, exports::What::equipment, exports::What::impact}) {
    for (const auto format : {exports::Format::xlsx, exports::Format::json}) {
      request.options.what = what;
      request.options.format = format;
      request.out = dir / (std::string(exports::to_string(what)) + "." + std::string(exports::to_string(format)));
      REQUIRE(job.start(request));
      status = job.wait();
      INFO(request.out << ": " << status.error);
      CHECK(status.ok);
      CHECK(std::filesystem::file_size(request.out) > 0);
    }
  }

  // Cancelled before the first row: nothing written.
  request.out = dir / "annule.csv";
  request.options.what = exports::What::activities;
  request.options.format = exports::Format::csv;
  REQUIRE(job.start(request));
  job.cancel();
  status = job.wait();
  CHECK(status.finished);
  if (status.cancelled) CHECK_FALSE(std::filesystem::exists(dir / "annule.csv"));
  CHECK_FALSE(std::filesystem::exists(dir / "annule.csv.part"));

  // A folder that disappeared meanwhile: said, not fatal.
  request.out = dir / "absent" / "x.csv";
  REQUIRE(job.start(request));
  status = job.wait();
  CHECK_FALSE(status.ok);
  CHECK(status.write_error);
  CHECK_FALSE(status.error.empty());
}

// [SECTION] The real window, driven by a script ------------------------------------------------------

TEST_CASE("UI: an advisor records a session by clicking and typing", "[app][ui]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  const auto result = run_ui(dir, R"(
view session
click field:duree:45
click field:thematiques:email
click field:thematiques:aide_aux_demarches_administratives
click field:thematiques_administratives:logement
type field:precisions_demarche demande de logement social
click field:genre:feminin
type field:notes Création d’une adresse électronique
click button:save
expect-messages session 0
# the next person: date, place and duration are kept; Ctrl+S saves from the keyboard
click field:thematiques:sante
key ctrl+s
expect-messages session 0
quit
)");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto sessions = sessions_in(dir / "relais.db");
  REQUIRE(sessions.size() == 2);
  const bool first_is_0 = sessions[0].value("thematiques", json::array()).size() == 3;
  auto first = first_is_0 ? sessions[0] : sessions[1];
  auto second = first_is_0 ? sessions[1] : sessions[0];
  CHECK(first["date"] == "2026-11-22");
  CHECK(first["duree"] == 45);
  CHECK(first["lieu_id"] == kPlaceId);
  CHECK(first["thematiques"] == json::array({"email", "aide_aux_demarches_administratives", "logement"}));
  CHECK(first["precisions_demarche"] == "demande de logement social");
  CHECK(first["beneficiaire"]["genre"] == "feminin");
  CHECK(first["notes"] == "Création d’une adresse électronique");
  CHECK(second["duree"] == 45);
  CHECK(second["lieu_id"] == kPlaceId);
  CHECK(second["thematiques"] == json::array({"sante"}));
  CHECK(second["beneficiaire"]["genre"] == "non_communique");
  CHECK_FALSE(second.contains("notes"));
}

TEST_CASE("UI: a bad form shows its messages and saves nothing", "[app][ui]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  const auto result = run_ui(dir, R"(
view session
type field:date 31/02/2026
type field:notes Rappeler au 06 12 34 56 78
click button:save
expect-messages session 4
expect-widget button:save
screenshot )" + (dir / "errors.png").string() + R"(
quit
)", "1024x600");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);  // 4 messages: date, duration, themes, phone number in the notes
  CHECK(sessions_in(dir / "relais.db").empty());
  CHECK(std::filesystem::file_size(dir / "errors.png") > 1000);
}

TEST_CASE("UI: a workshop with its participant counts", "[app][ui]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  const auto result = run_ui(dir, R"(
view workshop
click field:duree:120
type field:titre_atelier Premiers pas sur la tablette
click field:niveau:debutant
click field:thematiques:prendre_en_main_du_materiel
type field:total 8
key tab
type field:participants.genre.feminin 5
key tab
click button:save
expect-messages workshop 0
quit
)");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto sessions = sessions_in(dir / "relais.db");
  REQUIRE(sessions.size() == 1);
  auto& workshop = sessions.front();
  CHECK(workshop["type"] == "collectif");
  CHECK(workshop["titre_atelier"] == "Premiers pas sur la tablette");
  CHECK(workshop["participants"]["total"] == 8);
  CHECK(workshop["participants"]["genre"]["feminin"] == 5);
  CHECK(workshop["participants"]["genre"]["non_communique"] == 3);
}

TEST_CASE("UI: every screen renders to a PNG at netbook size", "[app][ui]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  for (const std::string view : {"session", "workshop", "equipment", "history", "sync", "settings", "statistics", "exports", "setup"}) {
    for (const std::string lang : {"fr", "en"}) {
      const auto png = dir / (view + "-" + lang + ".png");
      const auto result = test::run_process({"/usr/bin/xvfb-run", "-a", "-s", "-screen 0 1366x768x24", RELAIS_APP_PATH, "--db",
                                             (dir / "relais.db").string(), "--screenshot", png.string(), "--view", view,
                                             "--lang", lang, "--size", "1024x600"},
                                            {}, {"ASAN_OPTIONS=detect_leaks=0"});
      INFO(view << " " << lang << ": " << result.err);
      REQUIRE(result.exit_code == 0);
      CHECK(std::filesystem::file_size(png) > 1000);
    }
  }
}

TEST_CASE("UI: the software renderer draws what OpenGL draws", "[app][ui]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  const auto shoot = [&](const std::string& renderer, const std::string& view) {
    const auto png = dir / (view + "-" + renderer + ".png");
    const auto result = test::run_process({"/usr/bin/xvfb-run", "-a", "-s", "-screen 0 1366x768x24", RELAIS_APP_PATH,
                                           "--db", (dir / "relais.db").string(), "--screenshot", png.string(),
                                           "--view", view, "--size", "1024x600", "--today", "2026-11-22",
                                           "--renderer", renderer},
                                          {}, {"ASAN_OPTIONS=detect_leaks=0"});
    INFO(renderer << " " << view << ": " << result.err);
    return result.exit_code == 0 ? png : std::filesystem::path{};
  };
  for (const std::string view : {"session", "statistics"}) {
    const auto software = shoot("software", view);
    REQUIRE_FALSE(software.empty());
    const auto opengl = shoot("opengl", view);
    if (opengl.empty()) {
      WARN("no OpenGL here: the software renderer is not compared");
      return;
    }
    int width = 0;
    int height = 0;
    int channels = 0;
    const auto load = [&](const std::filesystem::path& path) {
      return std::unique_ptr<unsigned char, void (*)(void*)>(stbi_load(path.string().c_str(), &width, &height, &channels, 3),
                                                             stbi_image_free);
    };
    const auto a = load(software);
    const auto b = load(opengl);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(width == 1024);
    REQUIRE(height == 600);
    // llvmpipe rounds blends and texture filtering its own way: a level or two apart is the
    // same picture; a shape, a glyph or a colour drawn differently is not.
    long apart = 0;
    for (long i = 0; i < 1024L * 600L * 3L; ++i) {
      if (std::abs(a.get()[i] - b.get()[i]) > 2) ++apart;
    }
    INFO(view << ": " << apart << " channel values more than 2 apart");
    CHECK(apart < 1024L * 600L * 3L / 1000L);
  }
}

TEST_CASE("UI: a coordinator opens Statistiques and filters it", "[app][ui][stats]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  const auto result = run_ui(dir, R"(
key ctrl+7
wait-value stat:accompagnements 11
wait-value stat:individual 3
wait-value stat:minutes 255
wait-value stat:handed_over 1
expect-widget stats:chart
# workshops only
click stats:type
click stats:type:collectif
wait-value stat:accompagnements 8
wait-value stat:individual 0
# last month: the October session alone
click stats:type
click stats:type:all
click stats:preset:last_month
wait-value stat:accompagnements 1
wait-value stat:minutes 90
# a custom period, typed; a bad one says why and keeps the last figures
click stats:preset:custom
type stats:from 01/10/2026
type stats:to 22/11/2026
wait-value stat:accompagnements 12
type stats:to 31/13/2026
wait 3
wait-value stat:accompagnements 12
screenshot )" + (dir / "custom.png").string() + R"(
quit
)", "1024x600");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(std::filesystem::file_size(dir / "custom.png") > 1000);
}

TEST_CASE("UI: an activity export written from the Exports screen", "[app][ui][exports]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  add_known_activity(dir / "relais.db");
  const auto result = run_ui(dir, R"(
key ctrl+8
click export:what:activities
click export:format:csv
click export:preset:this_month
type export:path )" + (dir / "activites-novembre").string() + R"(
click button:export
wait-value export:status done
screenshot )" + (dir / "exports.png").string() + R"(
type export:path )" + (dir / "absent" / "x").string() + R"(
click button:export
expect-widget export:path
quit
)", "1024x600");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  REQUIRE(std::filesystem::exists(dir / "activites-novembre.csv"));
  std::ifstream in(dir / "activites-novembre.csv");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("Informations export") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "absent"));
}

TEST_CASE("UI: enrolling with a one-time code, then sessions sync in the background", "[app][ui][sync]") {
  TempDir dir;
  prepare_store(dir / "relais.db");
  {
    app::AppState state(test::assets(), state_options(dir / "relais.db"));
    state.individual.duree = 30;
    state.individual.thematiques = {"email"};
    REQUIRE(done(state, state.save_session(state.individual, state.individual_messages)));
  }
  const auto server_db = dir / "server.db";
  const auto structure = test::server_admin(RELAIS_SERVER_PATH, server_db, {"add-structure", "--name", "Médiathèque"});
  const auto user = test::server_admin(RELAIS_SERVER_PATH, server_db,
                                       {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Benali"});
  const auto code = test::server_admin(RELAIS_SERVER_PATH, server_db, {"enroll-code", "--user", user});
  test::ServerProcess server(RELAIS_SERVER_PATH, server_db);

  const auto result = run_ui(dir, "view sync\n"
                                  "type field:server_url " + server.url() + "\n"
                                  "type field:enroll_code " + code + "\n"
                                  "click button:enroll\n"
                                  "wait 400\n"
                                  "quit\n",
                             "1366x768", true);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  auto store = test::open_store(dir / "relais.db");
  CHECK(store->meta(sync_meta::server_url) == server.url());
  CHECK_FALSE(store->meta(sync_meta::token).value_or("").empty());
  // The background sync started by the enrollment sent the session.
  CHECK(store->pending_count() <= 1);  // the place is refused (advisors cannot publish places)
  CHECK(store->meta(sync_meta::last_success).value_or("") != "");
}

TEST_CASE("app: the Statistiques screen refuses the filters relais-cli and the server refuse, by the same field",
          "[app][stats]") {
  // The same cases as tests/test_cli.cpp's "statistics filters" test: one rule (stats::check_filter).
  const Date today{2026, 11, 22};
  struct Case {
    std::string field;
    std::function<void(app::StatisticsQuery&)> set;
  };
  const std::vector<Case> cases{
      {"departement", [](auto& q) { q.departement = "00"; }},
      {"departement", [](auto& q) { q.departement = "20"; }},
      {"departement", [](auto& q) { q.departement = "7"; }},
      {"departement", [](auto& q) { q.departement = "979"; }},
      {"type", [](auto& q) { q.type = "atelier"; }},
      {"theme", [](auto& q) { q.thematique = "cuisine"; }},
      {"to", [](auto& q) { q.preset = "custom", q.custom_from = "01/02/2026", q.custom_to = "01/01/2026"; }}};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    app::StatisticsQuery query;
    cases[i].set(query);
    std::vector<app::QueryProblem> problems;
    CHECK_FALSE(app::make_filter(query, today, test::vocabulary(), problems));
    REQUIRE(problems.size() == 1);
    CHECK(problems.front().field == cases[i].field);
  }
}
