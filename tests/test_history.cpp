// The history screen's query (history_count, history_page) and HistoryReader, its worker thread.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include <catch2/catch.hpp>

#include "relais/history.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::HistoryFilter;
using relais::HistoryReader;
using relais::HistoryRow;
using relais::LocalStore;
using relais::RecordKind;
using relais::sqlite::Database;
using relais::test::to_text;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------------

using relais::test::add_ok;

std::string add_session(LocalStore& store, const std::string& date, const json& changes = json::object()) {
  auto input = relais::test::valid_individual_session_json();
  input["date"] = date;
  input.erase("notes");
  for (const auto& item : changes.items()) {
    if (item.value().is_null()) {
      input.erase(item.key());
    } else {
      input[item.key()] = item.value();
    }
  }
  return add_ok(store, RecordKind::session, input);
}

std::string add_workshop(LocalStore& store, const std::string& date) {
  auto input = relais::test::valid_workshop_json();
  input["date"] = date;
  return add_ok(store, RecordKind::session, input);
}

std::string add_place(LocalStore& store) {
  return add_ok(store, RecordKind::place,
                {{"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"}, {"code_postal", "69100"}});
}

json at_place(const std::string& place_id) {
  return {{"type_lieu", "lieu_activite"}, {"lieu_id", place_id}, {"lieu_commune", nullptr},
          {"lieu_code_postal", nullptr}, {"lieu_code_insee", nullptr}};
}

std::string add_lot(LocalStore& store, const std::string& date, const std::optional<std::string>& place_id = {}) {
  json lot{{"date", date}, {"type_donateur", "entreprise"}, {"nom_donateur", "Imprimerie Rhône Offset"}};
  if (place_id) lot["lieu_id"] = *place_id;
  return add_ok(store, RecordKind::lot, lot);
}

std::string add_device(LocalStore& store, const std::string& lot_id, const std::string& serial) {
  return add_ok(store, RecordKind::device,
                {{"lot_id", lot_id}, {"type", "ordinateur_portable"}, {"marque", "Lenovo"},
                 {"modele", "ThinkPad T470"}, {"numero_serie", serial}});
}

std::vector<std::string> ids_of(const std::vector<HistoryRow>& rows) {
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.id);
  return ids;
}

// Every matching id, newest first, through one big page.
std::vector<std::string> all_ids(const Database& db, const HistoryFilter& filter) {
  return ids_of(relais::history_page(db, filter, 0, 1000000));
}

std::set<std::string> id_set(const Database& db, const HistoryFilter& filter) {
  const auto ids = all_ids(db, filter);
  CHECK(static_cast<std::int64_t>(ids.size()) == relais::history_count(db, filter));
  return {ids.begin(), ids.end()};
}

HistoryFilter searching(const std::string& text) {
  HistoryFilter filter;
  filter.search = text;
  return filter;
}

// Pushes the whole outbox; the server refuses the records in `refused`.
void push_all(LocalStore& store, const std::set<std::string>& refused = {}) {
  const auto outbox = store.outbox(10000);
  std::vector<relais::PushResult> results;
  for (const auto& change : outbox.changes) {
    results.push_back({change.id, refused.count(change.id) ? "rejected" : "applied", json::array(), json::array()});
  }
  store.acknowledge_push(outbox, results);
}

// [SECTION] The query ---------------------------------------------------------------------------

TEST_CASE("history: sessions and lots together, newest first, deleted records left out", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto oldest = add_session(*store, "2026-11-01");
  const auto lot = add_lot(*store, "2026-11-10");
  const auto workshop = add_workshop(*store, "2026-11-18");
  const auto newest = add_session(*store, "2026-11-20");
  const auto deleted = add_session(*store, "2026-11-21");
  REQUIRE(store->remove(deleted).ok());
  Database db(dir / "store.db", Database::Mode::read_only);

  CHECK(relais::history_count(db, {}) == 4);
  const auto rows = relais::history_page(db, {}, 0, 10);
  CHECK(ids_of(rows) == std::vector<std::string>{newest, workshop, lot, oldest});
  CHECK(rows[2].kind == RecordKind::lot);
  CHECK(rows[2].type == "collecte");
  CHECK(rows[0].kind == RecordKind::session);
  CHECK(rows[0].type == "individuel");
  CHECK(rows[0].date == "2026-11-20");
  CHECK(rows[0].duree == 45);
  CHECK(rows[0].participants == 1);
  CHECK(rows[0].commune == "Lyon 1er Arrondissement");
  CHECK(rows[0].themes == std::vector<std::string>{"email", "aide_aux_demarches_administratives", "logement"});
  CHECK(rows[1].title == "Reconnaître un message frauduleux");
  CHECK(rows[1].participants == 8);
  CHECK(rows[1].type == "collectif");
  CHECK(rows[2].title == "Imprimerie Rhône Offset");
  CHECK(rows[2].type_donateur == "entreprise");
  CHECK_FALSE(rows[2].duree);
}

TEST_CASE("history: the same day orders by creation time, newest first, then id; pages are stable", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  // A batch of records of the same days, many created in the same millisecond.
  std::vector<relais::AnyRecord> batch;
  for (int i = 0; i < 120; ++i) {
    auto input = relais::test::valid_individual_session_json();
    input["date"] = i % 3 == 0 ? "2026-11-19" : "2026-11-20";
    batch.push_back(relais::check_record(RecordKind::session, input, relais::test::context()).record);
  }
  REQUIRE(store->add(std::move(batch)).ok());
  for (int i = 0; i < 5; ++i) add_lot(*store, "2026-11-20");
  Database db(dir / "store.db", Database::Mode::read_only);

  const auto all = relais::history_page(db, {}, 0, 1000);
  REQUIRE(all.size() == 125);
  CHECK(std::is_sorted(all.begin(), all.end(), [](const HistoryRow& a, const HistoryRow& b) {
    return std::tie(a.date, a.created_at_ms, a.id) > std::tie(b.date, b.created_at_ms, b.id);
  }));
  std::vector<std::string> paged;
  for (std::int64_t offset = 0; offset < 125; offset += 7) {
    const auto page = relais::history_page(db, {}, offset, 7);
    CHECK(page.size() == static_cast<std::size_t>(std::min<std::int64_t>(7, 125 - offset)));
    for (const auto& row : page) paged.push_back(row.id);
  }
  CHECK(paged == ids_of(all));
  CHECK(relais::history_page(db, {}, 125, 7).empty());
  CHECK(relais::history_page(db, {}, 0, 0).empty());

  // The id list gives the same order, whether SQLite walks the date index (no filter) or sorts
  // (a filter); rows by id come in the order asked, an unknown id skipped.
  CHECK(relais::history_ids(db, {}) == ids_of(all));
  HistoryFilter individual;
  individual.type = "individuel";
  CHECK(relais::history_ids(db, individual) == all_ids(db, individual));
  CHECK(relais::history_ids(db, individual).size() == 120);
  const std::vector<std::string> asked{all[9].id, "0193a5c0-0000-7000-8000-000000000000", all[3].id, all[120].id};
  const auto rows = relais::history_rows(db, asked);
  CHECK(ids_of(rows) == std::vector<std::string>{all[9].id, all[3].id, all[120].id});
  CHECK(rows[1].kind == RecordKind::lot);  // the lots are the newest of 2026-11-20
  CHECK(rows[2].kind == RecordKind::session);
  CHECK(relais::history_rows(db, {}).empty());

  // Keys (rowid and kind) list the same records in the same order, and read the same rows.
  const auto keys = relais::history_keys(db, {});
  REQUIRE(keys.size() == all.size());
  CHECK(ids_of(relais::history_rows_by_key(db, keys)) == ids_of(all));
  CHECK(relais::history_keys(db, individual).size() == 120);
  const std::vector<relais::HistoryKey> some{keys[9], relais::HistoryKey(RecordKind::lot, 999999), keys[3], keys[120]};
  const auto by_key = relais::history_rows_by_key(db, some);
  CHECK(ids_of(by_key) == std::vector<std::string>{all[9].id, all[3].id, all[120].id});
  CHECK(by_key[1].kind == RecordKind::lot);
  CHECK(keys[3].kind() == RecordKind::lot);
  CHECK(relais::history_rows_by_key(db, {}).empty());
}

TEST_CASE("history: the period's bounds are inclusive", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto before = add_session(*store, "2026-11-09");
  const auto first_day = add_session(*store, "2026-11-10");
  const auto lot = add_lot(*store, "2026-11-12");
  const auto last_day = add_session(*store, "2026-11-15");
  const auto after = add_session(*store, "2026-11-16");
  Database db(dir / "store.db", Database::Mode::read_only);

  HistoryFilter filter;
  filter.from = relais::Date{2026, 11, 10};
  filter.to = relais::Date{2026, 11, 15};
  CHECK(all_ids(db, filter) == std::vector<std::string>{last_day, lot, first_day});
  CHECK(relais::history_count(db, filter) == 3);
  filter.to.reset();
  CHECK(id_set(db, filter) == std::set<std::string>{first_day, lot, last_day, after});
  filter.from.reset();
  filter.to = relais::Date{2026, 11, 9};
  CHECK(id_set(db, filter) == std::set<std::string>{before});
}

TEST_CASE("history: filter by type, theme and place", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto place = add_place(*store);
  const auto individual = add_session(*store, "2026-11-20");
  auto at = at_place(place);
  at["thematiques"] = json::array({"sante"});
  at["precisions_demarche"] = nullptr;  // only with the administrative theme
  const auto individual_at_place = add_session(*store, "2026-11-19", at);
  const auto workshop = add_workshop(*store, "2026-11-18");
  const auto lot = add_lot(*store, "2026-11-17");
  const auto lot_at_place = add_lot(*store, "2026-11-16", place);
  Database db(dir / "store.db", Database::Mode::read_only);

  HistoryFilter filter;
  filter.type = "individuel";
  CHECK(id_set(db, filter) == std::set<std::string>{individual, individual_at_place});
  filter.type = "collectif";
  CHECK(id_set(db, filter) == std::set<std::string>{workshop});
  filter.type = "collecte";
  CHECK(id_set(db, filter) == std::set<std::string>{lot, lot_at_place});

  // Themes are the sessions' own: lots never match one.
  filter = {};
  filter.theme = "securite_numerique";
  CHECK(id_set(db, filter) == std::set<std::string>{workshop});
  filter.theme = "email";
  CHECK(id_set(db, filter) == std::set<std::string>{individual});
  filter.type = "collecte";
  CHECK(relais::history_count(db, filter) == 0);
  CHECK(relais::history_page(db, filter, 0, 10).empty());
  filter.type = "individuel";
  filter.theme = "sante";
  CHECK(id_set(db, filter) == std::set<std::string>{individual_at_place});

  filter = {};
  filter.lieu_id = place;
  CHECK(all_ids(db, filter) == std::vector<std::string>{individual_at_place, lot_at_place});
  const auto rows = relais::history_page(db, filter, 0, 10);
  for (const auto& row : rows) {
    CHECK(row.lieu_id == place);
    CHECK(row.lieu_nom == "Médiathèque Jean-Macé");
    CHECK(row.commune == "Villeurbanne");  // the place's commune
  }
  CHECK(rows[0].type_lieu == "lieu_activite");
}

TEST_CASE("history: lots show their live devices, and are found by them", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto lot = add_lot(*store, "2026-11-10");
  add_device(*store, lot, "PF-0XK2L9");
  const auto removed = add_device(*store, lot, "R9-DELETED");
  add_device(*store, lot, "SN-777");
  REQUIRE(store->remove(removed).ok());
  const auto empty_lot = add_lot(*store, "2026-11-09");
  Database db(dir / "store.db", Database::Mode::read_only);

  const auto rows = relais::history_page(db, {}, 0, 10);
  REQUIRE(ids_of(rows) == std::vector<std::string>{lot, empty_lot});
  CHECK(rows[0].device_count == 2);
  CHECK(rows[1].device_count == 0);
  CHECK(id_set(db, searching("pf-0xk2")) == std::set<std::string>{lot});
  CHECK(id_set(db, searching("thinkpad t470")) == std::set<std::string>{lot});
  CHECK(id_set(db, searching("R9-DELETED")).empty());  // a deleted device is no longer in the lot
  CHECK(id_set(db, searching("RHÔNE offset")) == std::set<std::string>{lot, empty_lot});
}

TEST_CASE("history: search ignores case and accents, and takes % and _ literally", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto place = add_place(*store);
  const auto energy = add_session(*store, "2026-11-20", {{"notes", "Démarche ÉNERGIE : chèque énergie reçu"}});
  const auto percent = add_session(*store, "2026-11-19", {{"notes", "Remise de 50% sur la box"}});
  const auto hundreds = add_session(*store, "2026-11-18", {{"notes", "Facture de 500 euros, dossier a_b"}});
  const auto apostrophe = add_session(*store, "2026-11-17", {{"notes", "Rendez-vous à l’hôpital"}});
  const auto workshop = add_workshop(*store, "2026-11-16");
  const auto at_library = add_session(*store, "2026-11-15", at_place(place));
  const auto tagged = add_session(*store, "2026-11-14", {{"tags", {"permanence du lundi"}}});
  Database db(dir / "store.db", Database::Mode::read_only);

  CHECK(id_set(db, searching("énergie")) == std::set<std::string>{energy});
  CHECK(id_set(db, searching("energie")) == std::set<std::string>{energy});
  CHECK(id_set(db, searching("CHÈQUE ÉNERGIE")) == std::set<std::string>{energy});
  CHECK(id_set(db, searching("  démarche ")) == std::set<std::string>{energy});  // trimmed
  // LIKE would read "0%" as "a 0, then anything" and find the 500 euros too.
  CHECK(id_set(db, searching("0%")) == std::set<std::string>{percent});
  CHECK(id_set(db, searching("50% sur")) == std::set<std::string>{percent});
  CHECK(id_set(db, searching("a_b")) == std::set<std::string>{hundreds});
  CHECK(id_set(db, searching("e_r")).empty());
  // The typographic apostrophe of French text matches the one on the keyboard.
  CHECK(id_set(db, searching("l'hopital")) == std::set<std::string>{apostrophe});
  CHECK(id_set(db, searching("frauduleux")) == std::set<std::string>{workshop});  // workshop title
  CHECK(id_set(db, searching("ajaccio")) == std::set<std::string>{workshop});     // its commune
  CHECK(id_set(db, searching("mediatheque jean")) == std::set<std::string>{at_library});  // place name
  CHECK(id_set(db, searching("lundi")) == std::set<std::string>{tagged});
  CHECK(id_set(db, searching("introuvable")).empty());
  CHECK(relais::history_count(db, searching("   ")) == 7);  // blank: no search
  // The search combines with the other filters.
  HistoryFilter filter = searching("e");
  filter.type = "collectif";
  CHECK(id_set(db, filter) == std::set<std::string>{workshop});
}

TEST_CASE("history: sync state is pending until pushed, synced after, quarantined when refused", "[history]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  const auto a = add_session(*store, "2026-11-20");
  const auto b = add_session(*store, "2026-11-19");
  const auto lot = add_lot(*store, "2026-11-18");
  Database db(dir / "store.db", Database::Mode::read_only);
  const auto states = [&] {
    std::map<std::string, std::string> out;
    for (const auto& row : relais::history_page(db, {}, 0, 10)) out[row.id] = row.sync_state;
    return out;
  };
  HistoryFilter pending;
  pending.sync_state = "pending";
  HistoryFilter synced;
  synced.sync_state = "synced";
  HistoryFilter quarantined;
  quarantined.sync_state = "quarantined";

  CHECK(states() == std::map<std::string, std::string>{{a, "pending"}, {b, "pending"}, {lot, "pending"}});
  CHECK(relais::history_count(db, pending) == 3);
  CHECK(relais::history_count(db, synced) == 0);

  push_all(*store, {b});
  CHECK(states() == std::map<std::string, std::string>{{a, "synced"}, {b, "quarantined"}, {lot, "synced"}});
  CHECK(id_set(db, synced) == std::set<std::string>{a, lot});
  CHECK(id_set(db, quarantined) == std::set<std::string>{b});
  CHECK(relais::history_count(db, pending) == 0);

  // Changed since: waiting to be sent again, including the refused one being fixed.
  REQUIRE(store->update(a, {{"duree", 30}}).ok());
  REQUIRE(store->update(b, {{"duree", 30}}).ok());
  CHECK(states() == std::map<std::string, std::string>{{a, "pending"}, {b, "pending"}, {lot, "synced"}});
  CHECK(id_set(db, pending) == std::set<std::string>{a, b});

  push_all(*store);
  CHECK(states() == std::map<std::string, std::string>{{a, "synced"}, {b, "synced"}, {lot, "synced"}});
}

// [SECTION] HistoryReader -----------------------------------------------------------------------

// Waits (up to 20 s) for the reader's snapshot to satisfy `done`; on_ready wakes it.
struct Waiter {
  std::mutex mutex;
  std::condition_variable ready;
  int calls = 0;

  void notify() {
    std::lock_guard lock(mutex);
    ++calls;
    ready.notify_all();
  }
  template <typename Done>
  relais::HistorySnapshot wait(const HistoryReader& reader, Done done) {
    std::unique_lock lock(mutex);
    relais::HistorySnapshot snapshot;
    const bool ok = ready.wait_for(lock, std::chrono::seconds(20), [&] {
      snapshot = reader.snapshot();
      return done(snapshot);
    });
    REQUIRE(ok);
    return snapshot;
  }
};

// A store of `n` sessions, one per day going back from 2026-11-20 (several per day past 28).
void fill(LocalStore& store, int n) {
  std::vector<relais::AnyRecord> batch;
  for (int i = 0; i < n; ++i) {
    auto input = relais::test::valid_individual_session_json();
    input["date"] = relais::format_date(relais::Date{2026, 1 + static_cast<unsigned>(i % 10), 1 + static_cast<unsigned>(i % 28)});
    if (i % 2 == 0) {
      input["thematiques"] = json::array({"sante"});
      input.erase("precisions_demarche");  // only with the administrative theme
    }
    batch.push_back(relais::check_record(RecordKind::session, input, relais::test::context()).record);
  }
  REQUIRE(store.add(std::move(batch)).ok());
}

TEST_CASE("history reader: delivers the window asked for, page by page, and refreshes", "[history][reader]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  fill(*store, 700);
  Database db(dir / "store.db", Database::Mode::read_only);
  const auto expected = relais::history_page(db, {}, 0, 1000);
  REQUIRE(expected.size() == 700);

  Waiter waiter;
  HistoryReader reader(dir / "store.db", [&] { waiter.notify(); });
  CHECK(reader.snapshot().generation == 0);
  CHECK_FALSE(reader.snapshot().loading);

  reader.request({}, 0, 40);
  auto snapshot = waiter.wait(reader, [](const auto& s) { return s.generation != 0 && !s.loading; });
  CHECK(snapshot.count == 700);
  CHECK(snapshot.error.empty());
  REQUIRE(snapshot.row(0) != nullptr);
  CHECK(snapshot.row(0)->id == expected[0].id);
  CHECK(snapshot.row(199)->id == expected[199].id);
  CHECK(snapshot.row(HistoryReader::kPageSize) == nullptr);  // not asked for
  const auto first_generation = snapshot.generation;

  // Scrolling: the pages of the new window (with its margin) arrive; the generation stays.
  reader.request({}, 450, 40);
  snapshot = waiter.wait(reader, [](const auto& s) { return !s.loading; });
  CHECK(snapshot.generation == first_generation);
  for (const std::int64_t index : {400, 450, 489, 599}) {
    REQUIRE(snapshot.row(index) != nullptr);
    CHECK(snapshot.row(index)->id == expected[static_cast<std::size_t>(index)].id);
  }
  CHECK(snapshot.row(699) == nullptr);
  CHECK(snapshot.row(0) != nullptr);  // still cached

  // The same window again is no new work.
  reader.request({}, 450, 40);
  CHECK_FALSE(reader.snapshot().loading);

  // A new filter starts over; a window past the end is clamped.
  HistoryFilter health;
  health.theme = "sante";
  reader.request(health, 5000, 40);
  snapshot = waiter.wait(reader, [&](const auto& s) { return s.filter == health && !s.loading; });
  CHECK(snapshot.count == 350);
  CHECK(snapshot.generation > first_generation);
  CHECK(snapshot.pages.empty());

  // The store changed: nothing moves until refresh().
  const auto added = add_session(*store, "2026-11-21", {{"thematiques", {"sante"}}, {"precisions_demarche", nullptr}});
  reader.request(health, 0, 40);
  snapshot = waiter.wait(reader, [&](const auto& s) { return s.row(0) != nullptr && !s.loading; });
  CHECK(snapshot.count == 350);
  const auto before_refresh = snapshot.generation;
  reader.refresh();
  snapshot = waiter.wait(reader, [&](const auto& s) { return s.generation != before_refresh && !s.loading; });
  CHECK(snapshot.count == 351);
  REQUIRE(snapshot.row(0) != nullptr);
  CHECK(snapshot.row(0)->id == added);
}

TEST_CASE("history reader: only the newest request is run; stale ones are dropped", "[history][reader]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "store.db");
  fill(*store, 50);

  std::mutex mutex;
  std::condition_variable changed;
  bool blocked = false;
  bool release = false;
  std::vector<HistoryFilter> published;
  HistoryReader* reader_ptr = nullptr;
  // The first result holds the worker inside on_ready while newer requests come in.
  HistoryReader reader(dir / "store.db", [&] {
    std::unique_lock lock(mutex);
    published.push_back(reader_ptr->snapshot().filter);
    if (published.size() == 1) {
      blocked = true;
      changed.notify_all();
      changed.wait(lock, [&] { return release; });
    }
    changed.notify_all();
  });
  {
    std::lock_guard lock(mutex);
    reader_ptr = &reader;
  }

  const auto with_search = [](const std::string& text) { return searching(text); };
  reader.request(with_search("a"), 0, 40);
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return blocked; }));
  }
  reader.request(with_search("b"), 0, 40);  // stale as soon as the next one comes
  reader.request(with_search("lyon"), 0, 40);
  CHECK(reader.snapshot().loading);
  CHECK(reader.snapshot().filter == with_search("a"));  // the old result stays until the new one
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(20), [&] { return published.size() == 2; }));
    CHECK(published == std::vector<HistoryFilter>{with_search("a"), with_search("lyon")});
  }
  const auto snapshot = reader.snapshot();
  CHECK_FALSE(snapshot.loading);
  CHECK(snapshot.count == 50);  // every session is in Lyon
}

TEST_CASE("history reader: stops cleanly, even mid-query; reports errors without retrying", "[history][reader]") {
  relais::test::TempDir dir;
  {
    auto store = relais::test::open_store(dir / "store.db");
    fill(*store, 300);
  }
  // The store is closed: the reader opens it on its own.
  for (int i = 0; i < 20; ++i) {
    HistoryReader reader(dir / "store.db");
    reader.request(searching(std::to_string(i)), i * 10, 40);
    if (i % 2 == 0) reader.refresh();
  }  // destroyed while working: joins without waiting for anything else

  CHECK_THROWS_AS(HistoryReader(dir / "missing.db"), relais::sqlite::Error);

  // A database without the store's tables: the query fails, the error is shown, no busy loop.
  Database(dir / "empty.db").exec("CREATE TABLE t (x)");
  Waiter waiter;
  HistoryReader reader(dir / "empty.db", [&] { waiter.notify(); });
  reader.request({}, 0, 40);
  const auto snapshot = waiter.wait(reader, [](const auto& s) { return s.generation != 0; });
  CHECK_FALSE(snapshot.error.empty());
  CHECK_FALSE(snapshot.loading);
  CHECK(snapshot.count == 0);
  reader.request({}, 300, 40);
  CHECK_FALSE(reader.snapshot().loading);
  std::lock_guard lock(waiter.mutex);
  CHECK(waiter.calls == 1);
}

}  // namespace
