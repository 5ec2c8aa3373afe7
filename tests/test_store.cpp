// The local store: round trips, ids, batches, the journal (the sync outbox), soft deletes and
// the rules that need other records (references, unique serials, erasure before handing over).
#include <sqlite3.h>

#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

#include "relais/hlc.hpp"
#include "relais/uuid.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::AnyRecord;
using relais::ListQuery;
using relais::LocalStore;
using relais::RecordKind;
using relais::test::has_problem;
using relais::test::to_text;

namespace {

// [SECTION] Helpers -----------------------------------------------------------------------------

// A typed record from JSON, which must pass validation (the tests are about the store).
AnyRecord record_of(RecordKind kind, const json& input) {
  auto checked = relais::check_record(kind, input, relais::test::context());
  INFO(input.dump(2) << "\n" << to_text(checked.problems));
  REQUIRE(checked.ok());
  return checked.record;
}

AnyRecord session_record(const json& input = relais::test::valid_individual_session_json()) {
  return record_of(RecordKind::session, input);
}

// Adds one record that the store must accept; returns its id.
std::string add_ok(LocalStore& store, const AnyRecord& record) {
  const auto result = store.add(record);
  INFO(relais::to_json(record).dump(2) << "\n" << to_text(result.problems));
  REQUIRE(result.ok());
  REQUIRE(result.ids.size() == 1);
  return result.ids.front();
}

std::string add_ok(LocalStore& store, RecordKind kind, const json& input) {
  return add_ok(store, record_of(kind, input));
}

std::string add_session(LocalStore& store, json input = relais::test::valid_individual_session_json()) {
  return add_ok(store, RecordKind::session, input);
}

json session_on(const std::string& date) {
  auto input = relais::test::valid_individual_session_json();
  input["date"] = date;
  return input;
}

json place_json() {
  return {{"nom", "Médiathèque Jean-Macé"},
          {"adresse", "12 rue de la République"},
          {"commune", "Villeurbanne"},
          {"code_postal", "69100"},
          {"code_insee", "69266"},
          {"services", json::array({"Prendre en main un ordinateur"})}};
}

// An individual session held at a place of activity.
json session_at(const std::string& place_id, const std::string& date = "2026-11-20") {
  auto input = session_on(date);
  input["type_lieu"] = "lieu_activite";
  input["lieu_id"] = place_id;
  for (const auto* key : {"lieu_commune", "lieu_code_postal", "lieu_code_insee"}) input.erase(key);
  return input;
}

json lot_json() { return {{"date", "2026-11-10"}, {"type_donateur", "entreprise"}, {"nom_donateur", "Rhône Offset"}}; }

json device_json(const std::string& lot_id, const std::string& type = "ordinateur_portable",
                 const std::optional<std::string>& serial = std::nullopt) {
  json input{{"lot_id", lot_id}, {"type", type}, {"marque", "Lenovo"}, {"modele", "ThinkPad T470"}};
  if (serial) input["numero_serie"] = *serial;
  return input;
}

json event_json(const std::string& device_id, const std::string& type, const std::string& date) {
  json input{{"device_id", device_id}, {"type", type}, {"date", date}, {"auteur", "Samia B."}};
  if (type == "remis") input["code_beneficiaire"] = "VLB-2026-017";
  return input;
}

json erasure_json(const std::string& device_id, const std::string& date, const std::string& resultat = "reussi") {
  auto input = event_json(device_id, "efface", date);
  input["methode"] = "purge";
  input["outil"] = "nwipe 0.34";
  input["resultat"] = resultat;
  return input;
}

json structure_json() { return {{"nom", "France Services Villeurbanne"}, {"code_postal", "69100"}}; }

json advisor_json(const std::string& structure_id) {
  return {{"nom", "Benali"}, {"prenom", "Samia"}, {"structure_id", structure_id}, {"role", "mediateur"}};
}

std::string add_lot(LocalStore& store) { return add_ok(store, RecordKind::lot, lot_json()); }

std::string add_device(LocalStore& store, const std::string& type = "ordinateur_portable",
                       const std::optional<std::string>& serial = std::nullopt) {
  return add_ok(store, RecordKind::device, device_json(add_lot(store), type, serial));
}

relais::WriteResult add_event(LocalStore& store, const json& input) {
  return store.add(record_of(RecordKind::device_event, input));
}

// The types of a device's live events, oldest first, as get() shows them.
std::vector<std::string> event_types(const LocalStore& store, const std::string& device_id) {
  std::vector<std::string> out;
  const auto device = store.get(device_id);
  for (const auto& event : device->at("events")) out.push_back(event.at("type").get<std::string>());
  return out;
}

// Every row of every table of the store, as text: equal snapshots mean nothing was written.
std::string snapshot(LocalStore& store) {
  sqlite3* db = store.database().handle();
  std::vector<std::string> tables;
  {
    auto statement = store.database().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (statement.step()) tables.push_back(statement.column_text(0));
  }
  std::string out;
  for (const auto& table : tables) {
    out += "[" + table + "]\n";
    sqlite3_stmt* raw = nullptr;
    const auto sql = "SELECT * FROM \"" + table + "\" ORDER BY 1, 2";
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) == SQLITE_OK);
    while (sqlite3_step(raw) == SQLITE_ROW) {
      for (int column = 0; column < sqlite3_column_count(raw); ++column) {
        const auto* text = sqlite3_column_text(raw, column);
        out += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
        out += "|";
      }
      out += "\n";
    }
    sqlite3_finalize(raw);
  }
  return out;
}

std::vector<std::string> dates_of(const std::vector<json>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) out.push_back(record.at("date").get<std::string>());
  return out;
}

std::vector<std::string> ids_of(const std::vector<json>& records) {
  std::vector<std::string> out;
  for (const auto& record : records) out.push_back(record.at("id").get<std::string>());
  return out;
}

// Checks that `shown` (from get()) holds every field of `record` and only the store's metadata
// besides them.
void check_round_trip(const LocalStore& store, const std::string& id, const AnyRecord& record) {
  const auto shown = store.get(id);
  REQUIRE(shown);
  auto expected = relais::to_json(record);
  expected["id"] = id;
  INFO("stored: " << shown->dump(2) << "\nexpected: " << expected.dump(2));
  for (const auto& [key, value] : expected.items()) {
    INFO("field " << key);
    REQUIRE(shown->contains(key));
    CHECK(shown->at(key) == value);
  }
  const std::set<std::string> metadata{"kind", "created_at", "updated_at", "version", "events", "devenir"};
  for (const auto& [key, value] : shown->items()) {
    INFO("field " << key);
    CHECK((expected.contains(key) || metadata.count(key) == 1));
  }
  CHECK(shown->at("kind") == std::string(relais::to_string(relais::kind_of(record))));
  CHECK(relais::parse_timestamp_utc(shown->at("created_at").get<std::string>()));
  CHECK(relais::parse_timestamp_utc(shown->at("updated_at").get<std::string>()));
  CHECK(shown->at("version").get<std::int64_t>() > 0);
  CHECK_FALSE(shown->contains("deleted_at"));
  CHECK(store.kind_of_id(id) == relais::kind_of(record));
}

LocalStore::Options options_with_clock(std::function<std::int64_t()> wall_clock) {
  LocalStore::Options options;
  options.today = relais::test::kToday;
  options.wall_clock = std::move(wall_clock);
  return options;
}

}  // namespace

// [SECTION] Round trips and listing -------------------------------------------------------------

TEST_CASE("every record kind comes back from get() with its fields and metadata", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");

  const auto place = record_of(RecordKind::place, place_json());
  const auto place_id = add_ok(*store, place);
  check_round_trip(*store, place_id, place);

  const auto structure = record_of(RecordKind::structure, structure_json());
  const auto structure_id = add_ok(*store, structure);
  check_round_trip(*store, structure_id, structure);

  auto advisor_input = advisor_json(structure_id);
  advisor_input["lieu_id"] = place_id;
  const auto advisor = record_of(RecordKind::advisor, advisor_input);
  check_round_trip(*store, add_ok(*store, advisor), advisor);

  const auto individual = session_record();
  check_round_trip(*store, add_ok(*store, individual), individual);

  const auto at_place = session_record(session_at(place_id));
  check_round_trip(*store, add_ok(*store, at_place), at_place);

  const auto workshop = session_record(relais::test::valid_workshop_json());
  check_round_trip(*store, add_ok(*store, workshop), workshop);

  auto lot_input = lot_json();
  lot_input["lieu_id"] = place_id;
  const auto lot = record_of(RecordKind::lot, lot_input);
  const auto lot_id = add_ok(*store, lot);
  check_round_trip(*store, lot_id, lot);

  auto device_input = device_json(lot_id, "ordinateur_portable", "PF-0XK2L9");
  device_input["etat"] = "b";
  device_input["poids_kg"] = 1.6;
  device_input["demarre"] = true;
  const auto device = record_of(RecordKind::device, device_input);
  const auto device_id = add_ok(*store, device);
  check_round_trip(*store, device_id, device);

  auto erasure_input = erasure_json(device_id, "2026-11-12");
  erasure_input["certificat"] = "EFF-2026-0042";
  const auto erasure = record_of(RecordKind::device_event, erasure_input);
  check_round_trip(*store, add_ok(*store, erasure), erasure);

  auto handover_input = event_json(device_id, "remis", "2026-11-14");
  handover_input["vente_solidaire"] = true;
  const auto handover = record_of(RecordKind::device_event, handover_input);
  check_round_trip(*store, add_ok(*store, handover), handover);

  CHECK_FALSE(store->get("0193a5c0-0000-7000-8000-0000000000ff"));
  CHECK_FALSE(store->kind_of_id("0193a5c0-0000-7000-8000-0000000000ff"));
}

TEST_CASE("list() filters by kind and date (bounds included), pages, and shows the newest first", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  // Added out of date order: the order shown comes from the dates, not from the insertion.
  for (const auto* date : {"2026-11-10", "2026-11-01", "2026-11-20", "2026-11-05", "2026-11-15"}) {
    add_session(*store, session_on(date));
  }
  const auto lot_id = add_lot(*store);

  ListQuery all;
  CHECK(dates_of(store->list(all)) ==
        std::vector<std::string>{"2026-11-20", "2026-11-15", "2026-11-10", "2026-11-05", "2026-11-01"});
  for (const auto& record : store->list(all)) CHECK(record.at("kind") == "session");

  ListQuery range;
  range.from = relais::Date{2026, 11, 5};
  range.to = relais::Date{2026, 11, 15};
  CHECK(dates_of(store->list(range)) == std::vector<std::string>{"2026-11-15", "2026-11-10", "2026-11-05"});

  ListQuery from_only;
  from_only.from = relais::Date{2026, 11, 15};
  CHECK(dates_of(store->list(from_only)) == std::vector<std::string>{"2026-11-20", "2026-11-15"});

  ListQuery to_only;
  to_only.to = relais::Date{2026, 11, 1};
  CHECK(dates_of(store->list(to_only)) == std::vector<std::string>{"2026-11-01"});

  ListQuery page;
  page.limit = 2;
  page.offset = 1;
  CHECK(dates_of(store->list(page)) == std::vector<std::string>{"2026-11-15", "2026-11-10"});
  page.offset = 4;
  CHECK(dates_of(store->list(page)) == std::vector<std::string>{"2026-11-01"});

  ListQuery lots;
  lots.kinds = {RecordKind::lot};
  const auto listed_lots = store->list(lots);
  REQUIRE(listed_lots.size() == 1);
  CHECK(listed_lots[0].at("id") == lot_id);
  CHECK(listed_lots[0].at("kind") == "lot");

  ListQuery both;
  both.kinds = {RecordKind::session, RecordKind::lot};
  CHECK(store->list(both).size() == 6);

  SECTION("deleted records are listed only when asked for") {
    const auto newest = store->list(all).front().at("id").get<std::string>();
    REQUIRE(store->remove(newest).ok());
    const auto live = ids_of(store->list(all));
    CHECK(live.size() == 4);
    CHECK(std::find(live.begin(), live.end(), newest) == live.end());
    CHECK(store->count(RecordKind::session) == 4);

    ListQuery with_deleted;
    with_deleted.include_deleted = true;
    const auto everything = store->list(with_deleted);
    REQUIRE(everything.size() == 5);
    CHECK(everything.front().at("id") == newest);
    CHECK(everything.front().contains("deleted_at"));
    CHECK_FALSE(everything.back().contains("deleted_at"));
    CHECK(store->count(RecordKind::session, /*include_deleted=*/true) == 5);
  }
}

// [SECTION] Ids ---------------------------------------------------------------------------------

TEST_CASE("a record without an id gets a UUIDv7; a given id is kept; a used id is refused", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");

  SECTION("generated") {
    const auto first = add_session(*store);
    const auto second = add_session(*store);
    CHECK(relais::is_uuid(first));
    CHECK(first[14] == '7');  // the version digit
    CHECK(first != second);
    CHECK(store->get(first)->at("id") == first);
  }

  SECTION("given by the client") {
    const std::string id = "0193a5c0-0000-7000-8000-0000000000aa";
    auto input = relais::test::valid_individual_session_json();
    input["id"] = id;
    CHECK(add_session(*store, input) == id);
    CHECK(store->get(id)->at("date") == "2026-11-20");

    const auto journal_before = store->journal_size();
    const auto before = snapshot(*store);
    input["date"] = "2026-11-01";
    const auto again = store->add(session_record(input));
    CHECK_FALSE(again.ok());
    CHECK(has_problem(again.problems, "id", "id_exists"));
    CHECK(again.ids.empty());
    CHECK(store->get(id)->at("date") == "2026-11-20");
    CHECK(store->journal_size() == journal_before);
    CHECK(snapshot(*store) == before);

    // Ids are unique across kinds too: a lot cannot take a session's id.
    auto lot_input = lot_json();
    lot_input["id"] = id;
    const auto lot = store->add(record_of(RecordKind::lot, lot_input));
    CHECK(has_problem(lot.problems, "id", "id_exists"));
    CHECK(store->count(RecordKind::lot) == 0);
  }
}

// [SECTION] Batches -----------------------------------------------------------------------------

TEST_CASE("a batch is stored all or nothing, and its problems name the record", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  add_session(*store);  // something already stored, which must stay as it is
  const auto before = snapshot(*store);
  const auto journal_before = store->journal_size();

  std::vector<AnyRecord> batch{session_record(session_on("2026-11-01")), session_record(session_on("2026-11-02")),
                               session_record(session_on("2026-11-03"))};

  SECTION("the third record breaks a model rule") {
    std::get<relais::Session>(batch[2]).date = "2026-11-31";  // not a real day
    const auto result = store->add(batch);
    INFO(to_text(result.problems));
    CHECK_FALSE(result.ok());
    CHECK(has_problem(result.problems, "[2].date", "invalid_date"));
    CHECK(result.problems.size() == 1);
  }
  SECTION("the third record breaks a store rule") {
    batch[2] = session_record(session_at("0193a5c0-0000-7000-8000-0000000000ff"));
    const auto result = store->add(batch);
    INFO(to_text(result.problems));
    CHECK(has_problem(result.problems, "[2].lieu_id", "unknown_place"));
    CHECK(result.problems.size() == 1);
    CHECK(result.ids.empty());
  }
  CHECK(store->count(RecordKind::session) == 1);
  CHECK(store->journal_size() == journal_before);
  CHECK(snapshot(*store) == before);
}

TEST_CASE("a batch may refer to records added earlier in the same batch", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const std::string lot_id = "0193a5c0-0000-7000-8000-00000000b001";
  const std::string device_id = "0193a5c0-0000-7000-8000-00000000c001";
  auto lot_input = lot_json();
  lot_input["id"] = lot_id;
  auto device_input = device_json(lot_id, "ordinateur_portable", "PF-0XK2L9");
  device_input["id"] = device_id;

  const auto result = store->add(std::vector<AnyRecord>{
      record_of(RecordKind::lot, lot_input), record_of(RecordKind::device, device_input),
      record_of(RecordKind::device_event, erasure_json(device_id, "2026-11-12")),
      record_of(RecordKind::device_event, event_json(device_id, "remis", "2026-11-14"))});
  INFO(to_text(result.problems));
  REQUIRE(result.ok());
  REQUIRE(result.ids.size() == 4);
  CHECK(result.ids[0] == lot_id);
  CHECK(result.ids[1] == device_id);
  CHECK(store->get(device_id)->at("events").size() == 2);
  CHECK(store->get(device_id)->at("devenir") == "reemploi");

  SECTION("but not to a record that comes later in the batch") {
    const std::string other_lot = "0193a5c0-0000-7000-8000-00000000b002";
    auto late_lot = lot_json();
    late_lot["id"] = other_lot;
    const auto refused = store->add(std::vector<AnyRecord>{record_of(RecordKind::device, device_json(other_lot)),
                                                           record_of(RecordKind::lot, late_lot)});
    CHECK(has_problem(refused.problems, "[0].lot_id", "unknown_lot"));
    CHECK_FALSE(store->get(other_lot));
  }
  SECTION("two devices of one batch cannot share a serial") {
    const auto refused = store->add(std::vector<AnyRecord>{
        record_of(RecordKind::device, device_json(lot_id, "ordinateur_portable", "XY-1")),
        record_of(RecordKind::device, device_json(lot_id, "ordinateur_portable", "xy1"))});
    CHECK(has_problem(refused.problems, "[1].numero_serie", "duplicate_serial"));
    CHECK(store->count(RecordKind::device) == 1);
  }
}

// [SECTION] The journal -------------------------------------------------------------------------

TEST_CASE("each create, update and delete writes exactly one journal entry", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  REQUIRE(store->journal_size() == 0);

  const auto record = session_record();
  const auto id = add_ok(*store, record);
  auto journal = store->journal();
  REQUIRE(journal.size() == 1);
  auto stored_body = relais::to_json(record);
  stored_body.erase("id");
  CHECK(journal[0].op == "create");
  CHECK(journal[0].record_id == id);
  CHECK(journal[0].kind == RecordKind::session);
  CHECK(journal[0].device_id == store->device_id());
  CHECK(journal[0].changes == stored_body);
  CHECK(journal[0].version == store->get(id)->at("version"));

  const auto updated = store->update(id, {{"duree", 60}, {"notes", nullptr}, {"date", "2026-11-20"}});
  INFO(to_text(updated.problems));
  REQUIRE(updated.ok());
  CHECK_FALSE(updated.unchanged);
  journal = store->journal();
  REQUIRE(journal.size() == 2);
  CHECK(journal[1].op == "update");
  CHECK(journal[1].record_id == id);
  CHECK(journal[1].kind == RecordKind::session);
  // Only what changed: the date was given but is the same; the removed note is null.
  CHECK(journal[1].changes == json{{"duree", 60}, {"notes", nullptr}});
  CHECK(journal[1].version == store->get(id)->at("version"));

  REQUIRE(store->remove(id).ok());
  journal = store->journal();
  REQUIRE(journal.size() == 3);
  CHECK(journal[2].op == "delete");
  CHECK(journal[2].record_id == id);
  CHECK(journal[2].changes == json::object());
  CHECK(journal[2].version == store->get(id)->at("version"));

  CHECK(journal[0].version < journal[1].version);
  CHECK(journal[1].version < journal[2].version);
  CHECK(journal[0].seq < journal[1].seq);
  CHECK(journal[1].seq < journal[2].seq);

  SECTION("a batch writes one entry per record, in order, with increasing versions") {
    const auto batch = store->add(std::vector<AnyRecord>{session_record(), session_record(), session_record()});
    REQUIRE(batch.ok());
    const auto added = store->journal(journal.back().seq);
    REQUIRE(added.size() == 3);
    for (std::size_t i = 0; i < added.size(); ++i) {
      CHECK(added[i].op == "create");
      CHECK(added[i].record_id == batch.ids[i]);
    }
    CHECK(journal.back().version < added[0].version);
    CHECK(added[0].version < added[1].version);
    CHECK(added[1].version < added[2].version);
    CHECK(store->journal(0, 2).size() == 2);
  }
}

TEST_CASE("an update that changes nothing writes nothing and says so", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  auto without_notes = relais::test::valid_individual_session_json();
  without_notes.erase("notes");
  const auto id = add_session(*store);
  const auto bare = add_session(*store, without_notes);
  const auto before = snapshot(*store);
  relais::WriteResult result;

  SECTION("the same value") { result = store->update(id, {{"duree", 45}, {"type", "individuel"}}); }
  SECTION("the record as get() shows it, sent back (its metadata is ignored)") {
    result = store->update(id, *store->get(id));
  }
  SECTION("removing a field that is not there") {
    result = store->update(bare, {{"notes", nullptr}});
  }
  INFO(to_text(result.problems));
  CHECK(result.ok());
  CHECK(result.unchanged);
  CHECK(result.ids.size() == 1);
  CHECK(store->journal_size() == 2);
  CHECK(snapshot(*store) == before);
}

TEST_CASE("a refused write leaves the tables and the journal as they were", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto place_id = add_ok(*store, RecordKind::place, place_json());
  const auto session_id = add_session(*store, session_at(place_id));
  const auto device_id = add_device(*store, "ordinateur_portable", "AB-1");
  const auto erasure_id = add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-12"));
  REQUIRE(add_event(*store, event_json(device_id, "remis", "2026-11-14")).ok());
  const auto bare_device = add_device(*store, "tablette", "CD-2");

  const auto before = snapshot(*store);
  const auto journal_before = store->journal_size();
  relais::WriteResult result;

  SECTION("add that fails validation") {
    auto record = session_record();
    std::get<relais::Session>(record).duree = 0;
    result = store->add(record);
  }
  SECTION("add that fails a store rule") {
    result = store->add(session_record(session_at("0193a5c0-0000-7000-8000-0000000000ff")));
  }
  SECTION("add of a handover without erasure (refused after the event was written)") {
    result = add_event(*store, event_json(bare_device, "remis", "2026-11-14"));
  }
  SECTION("update that fails validation") { result = store->update(session_id, {{"duree", 0}}); }
  SECTION("update that fails a store rule") {
    result = store->update(session_id, {{"lieu_id", "0193a5c0-0000-7000-8000-0000000000ff"}});
  }
  SECTION("update that would leave a handover without erasure") {
    result = store->update(erasure_id, {{"resultat", "echec"}});
  }
  SECTION("delete of a place in use") { result = store->remove(place_id); }
  SECTION("delete of an erasure a handover depends on (refused after the delete was written)") {
    result = store->remove(erasure_id);
  }
  INFO(to_text(result.problems));
  CHECK_FALSE(result.ok());
  CHECK(store->journal_size() == journal_before);
  CHECK(snapshot(*store) == before);
}

TEST_CASE("a write that fails inside its transaction leaves no row and no journal entry", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  const auto before = snapshot(*store);

  // The journal insert comes last in every write: make it fail.
  store->database().exec(
      "CREATE TEMP TRIGGER journal_fails BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'boom'); END");

  CHECK_THROWS_WITH(store->add(session_record(session_on("2026-11-02"))), Catch::Contains("boom"));
  CHECK_THROWS_WITH(store->update(id, {{"duree", 90}}), Catch::Contains("boom"));
  CHECK_THROWS_WITH(store->remove(id), Catch::Contains("boom"));
  CHECK(store->count(RecordKind::session, /*include_deleted=*/true) == 1);
  CHECK(store->get(id)->at("duree") == 45);
  CHECK_FALSE(store->get(id)->contains("deleted_at"));
  CHECK(store->journal_size() == 1);
  CHECK(snapshot(*store) == before);

  // The failed transactions were rolled back: the store takes the next write.
  store->database().exec("DROP TRIGGER journal_fails");
  const auto next = store->add(session_record(session_on("2026-11-02")));
  INFO(to_text(next.problems));
  REQUIRE(next.ok());
  CHECK(store->count(RecordKind::session) == 2);
  CHECK(store->journal_size() == 2);
}

// [SECTION] Updates and deletes -----------------------------------------------------------------

TEST_CASE("update replaces the given fields, removes those set to null, and keeps its id", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);

  const auto changed = store->update(id, {{"duree", 30}, {"notes", nullptr}, {"tags", json::array({"permanence"})}});
  INFO(to_text(changed.problems));
  REQUIRE(changed.ok());
  CHECK(changed.ids == std::vector<std::string>{id});
  const auto shown = *store->get(id);
  CHECK(shown.at("duree") == 30);
  CHECK_FALSE(shown.contains("notes"));
  CHECK(shown.at("tags") == json::array({"permanence"}));
  CHECK(shown.at("type") == "individuel");  // untouched fields are kept
  CHECK(shown.at("beneficiaire").at("genre") == "feminin");

  SECTION("an id in the fields must be the record's") {
    const auto mismatch = store->update(id, {{"id", "0193a5c0-0000-7000-8000-0000000000ff"}, {"duree", 60}});
    CHECK(has_problem(mismatch.problems, "id", "id_mismatch"));
    CHECK(store->get(id)->at("duree") == 30);
    CHECK_FALSE(store->get("0193a5c0-0000-7000-8000-0000000000ff"));

    const auto same = store->update(id, {{"id", id}, {"duree", 60}});
    CHECK(same.ok());
    CHECK(store->get(id)->at("duree") == 60);
  }
  SECTION("a required field cannot be removed") {
    const auto refused = store->update(id, {{"date", nullptr}});
    CHECK(has_problem(refused.problems, "date", "required"));
    CHECK(store->get(id)->at("date") == "2026-11-20");
  }
  SECTION("the record is validated again as a whole") {
    const auto refused = store->update(id, {{"type", "collectif"}});
    CHECK_FALSE(refused.ok());
    CHECK(store->get(id)->at("type") == "individuel");
  }
  SECTION("an unknown id") {
    CHECK(has_problem(store->update("0193a5c0-0000-7000-8000-0000000000ff", {{"duree", 60}}).problems, "id",
                      "not_found"));
  }
}

TEST_CASE("delete is soft: the row stays, marked deleted, and hidden from lists", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  const auto other = add_session(*store);

  const auto removed = store->remove(id);
  REQUIRE(removed.ok());
  CHECK(removed.ids == std::vector<std::string>{id});

  const auto shown = store->get(id);
  REQUIRE(shown);
  CHECK(relais::parse_timestamp_utc(shown->at("deleted_at").get<std::string>()));
  CHECK(shown->at("duree") == 45);  // the fields are kept
  CHECK(ids_of(store->list(ListQuery{})) == std::vector<std::string>{other});
  CHECK(store->count(RecordKind::session) == 1);
  CHECK(store->count(RecordKind::session, true) == 2);

  const auto journal_before = store->journal_size();
  CHECK(has_problem(store->remove(id).problems, "id", "deleted"));
  CHECK(has_problem(store->remove("0193a5c0-0000-7000-8000-0000000000ff").problems, "id", "not_found"));
  CHECK(has_problem(store->update(id, {{"duree", 60}}).problems, "id", "deleted"));
  CHECK(store->get(id)->at("duree") == 45);
  CHECK(store->journal_size() == journal_before);
}

// [SECTION] Rules that need other records -------------------------------------------------------

TEST_CASE("references must name live records", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const std::string unknown = "0193a5c0-0000-7000-8000-0000000000ff";

  SECTION("a session's place") {
    CHECK(has_problem(store->add(session_record(session_at(unknown))).problems, "lieu_id", "unknown_place"));
    const auto place_id = add_ok(*store, RecordKind::place, place_json());
    CHECK(store->add(session_record(session_at(place_id))).ok());

    const auto unused_place = add_ok(*store, RecordKind::place, place_json());
    REQUIRE(store->remove(unused_place).ok());
    CHECK(has_problem(store->add(session_record(session_at(unused_place))).problems, "lieu_id", "unknown_place"));
    CHECK(store->count(RecordKind::session) == 1);
  }
  SECTION("a device's lot") {
    CHECK(has_problem(store->add(record_of(RecordKind::device, device_json(unknown))).problems, "lot_id",
                      "unknown_lot"));
    const auto lot_id = add_lot(*store);
    CHECK(store->add(record_of(RecordKind::device, device_json(lot_id))).ok());
  }
  SECTION("an event's device") {
    CHECK(has_problem(add_event(*store, event_json(unknown, "recu", "2026-11-10")).problems, "device_id",
                      "unknown_device"));
    const auto device_id = add_device(*store);
    CHECK(add_event(*store, event_json(device_id, "recu", "2026-11-10")).ok());
  }
  SECTION("an advisor's structure") {
    CHECK(has_problem(store->add(record_of(RecordKind::advisor, advisor_json(unknown))).problems, "structure_id",
                      "unknown_structure"));
  }
}

TEST_CASE("two live devices cannot share a serial number", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto lot_id = add_lot(*store);
  const auto first = add_ok(*store, RecordKind::device, device_json(lot_id, "ordinateur_portable", "AB 12-34"));

  const auto twin = store->add(record_of(RecordKind::device, device_json(lot_id, "ordinateur_fixe", "ab1234")));
  CHECK(has_problem(twin.problems, "numero_serie", "duplicate_serial"));
  CHECK(store->count(RecordKind::device) == 1);

  SECTION("nor through an update") {
    const auto other = add_ok(*store, RecordKind::device, device_json(lot_id, "ordinateur_fixe", "ZZ-9"));
    CHECK(has_problem(store->update(other, {{"numero_serie", "AB.1234"}}).problems, "numero_serie",
                      "duplicate_serial"));
    CHECK(store->get(other)->at("numero_serie") == "ZZ-9");
    // A device keeps its own serial when another field changes.
    CHECK(store->update(first, {{"numero_serie", "ab 1234"}}).ok());
  }
  SECTION("but once the first is deleted, the serial is free") {
    REQUIRE(store->remove(first).ok());
    const auto again = store->add(record_of(RecordKind::device, device_json(lot_id, "ordinateur_fixe", "ab1234")));
    INFO(to_text(again.problems));
    CHECK(again.ok());
    CHECK(store->count(RecordKind::device) == 1);
    CHECK(store->count(RecordKind::device, true) == 2);
  }
}

TEST_CASE("a device that holds data is handed over or refurbished only after a successful erasure", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto device_id = add_device(*store, "ordinateur_portable", "PF-0XK2L9");
  const auto handover = event_json(device_id, "remis", "2026-11-14");
  const auto refurbished = event_json(device_id, "reconditionne", "2026-11-14");
  const auto expect_refused = [&](const std::vector<std::string>& events_before) {
    for (const auto& event : {handover, refurbished}) {
      const auto result = add_event(*store, event);
      INFO(event.at("type") << ": " << to_text(result.problems));
      CHECK(has_problem(result.problems, "type", "erasure_required"));
    }
    CHECK(event_types(*store, device_id) == events_before);
    CHECK(store->get(device_id)->at("devenir") == "en_attente");
  };
  const auto expect_accepted = [&] {
    for (const auto& event : {refurbished, handover}) {
      const auto result = add_event(*store, event);
      INFO(event.at("type") << ": " << to_text(result.problems));
      CHECK(result.ok());
    }
    CHECK(store->get(device_id)->at("devenir") == "reemploi");
  };

  SECTION("no erasure at all") { expect_refused({}); }
  SECTION("the only erasure failed") {
    add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-12", "echec"));
    expect_refused({"efface"});
  }
  SECTION("the only successful erasure is dated after") {
    add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-15"));
    expect_refused({"efface"});
  }
  SECTION("a successful erasure the same day") {
    add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-14"));
    expect_accepted();
  }
  SECTION("a successful erasure before, after a failed one") {
    add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-11", "echec"));
    add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-12"));
    expect_accepted();
    CHECK(event_types(*store, device_id) == std::vector<std::string>{"efface", "efface", "reconditionne", "remis"});
  }
  SECTION("a successful erasure earlier in the same batch") {
    const auto result = store->add(std::vector<AnyRecord>{
        record_of(RecordKind::device_event, erasure_json(device_id, "2026-11-12")),
        record_of(RecordKind::device_event, handover)});
    INFO(to_text(result.problems));
    CHECK(result.ok());
    CHECK(event_types(*store, device_id) == std::vector<std::string>{"efface", "remis"});
  }
}

TEST_CASE("a device that holds no data can be handed over without an erasure", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto screen = add_device(*store, "ecran", "SCR-1");
  const auto result = add_event(*store, event_json(screen, "remis", "2026-11-14"));
  INFO(to_text(result.problems));
  CHECK(result.ok());
  CHECK(store->get(screen)->at("devenir") == "reemploi");
}

TEST_CASE("an erasure that a handover depends on cannot be deleted", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto device_id = add_device(*store);
  const auto failed = add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-11", "echec"));
  const auto erasure = add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-12"));
  REQUIRE(add_event(*store, event_json(device_id, "remis", "2026-11-14")).ok());

  const auto refused = store->remove(erasure);
  INFO(to_text(refused.problems));
  CHECK(has_problem(refused.problems, "id", "erasure_still_needed"));
  CHECK_FALSE(store->get(erasure)->contains("deleted_at"));

  // A failed erasure is not what the handover depends on.
  CHECK(store->remove(failed).ok());

  SECTION("unless another successful erasure covers the handover") {
    REQUIRE(add_event(*store, erasure_json(device_id, "2026-11-13")).ok());
    CHECK(store->remove(erasure).ok());
  }
}

TEST_CASE("a lot with live devices and a place in use cannot be deleted", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");

  SECTION("lot") {
    const auto lot_id = add_lot(*store);
    const auto device_id = add_ok(*store, RecordKind::device, device_json(lot_id));
    CHECK(has_problem(store->remove(lot_id).problems, "id", "in_use"));
    CHECK_FALSE(store->get(lot_id)->contains("deleted_at"));
    REQUIRE(store->remove(device_id).ok());
    CHECK(store->remove(lot_id).ok());
  }
  SECTION("place") {
    const auto place_id = add_ok(*store, RecordKind::place, place_json());
    const auto session_id = add_session(*store, session_at(place_id));
    CHECK(has_problem(store->remove(place_id).problems, "id", "in_use"));
    CHECK_FALSE(store->get(place_id)->contains("deleted_at"));
    REQUIRE(store->remove(session_id).ok());
    CHECK(store->remove(place_id).ok());
  }
}

// [SECTION] Devices -----------------------------------------------------------------------------

TEST_CASE("a device without a weight gets its type's default weight, marked as estimated", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto lot_id = add_lot(*store);

  const auto estimated = add_ok(*store, RecordKind::device, device_json(lot_id, "ordinateur_portable"));
  CHECK(store->get(estimated)->at("poids_kg").get<double>() == Approx(2.2));
  CHECK(store->get(estimated)->at("poids_estime") == true);
  CHECK(store->journal().back().changes.at("poids_estime") == true);

  const auto phone = add_ok(*store, RecordKind::device, device_json(lot_id, "smartphone"));
  CHECK(store->get(phone)->at("poids_kg").get<double>() == Approx(0.18));

  auto weighed_input = device_json(lot_id, "ordinateur_portable");
  weighed_input["poids_kg"] = 1.6;
  const auto weighed = add_ok(*store, RecordKind::device, weighed_input);
  CHECK(store->get(weighed)->at("poids_kg").get<double>() == Approx(1.6));
  CHECK_FALSE(store->get(weighed)->value("poids_estime", false));
}

TEST_CASE("a device is shown with its events, oldest first, and its outcome", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto device_id = add_device(*store);
  CHECK(store->get(device_id)->at("events") == json::array());
  CHECK(store->get(device_id)->at("devenir") == "en_attente");

  // Added out of order: shown by date.
  const auto tested = add_ok(*store, RecordKind::device_event, event_json(device_id, "teste", "2026-11-12"));
  const auto received = add_ok(*store, RecordKind::device_event, event_json(device_id, "recu", "2026-11-10"));
  const auto wrong = add_ok(*store, RecordKind::device_event, event_json(device_id, "demonte", "2026-11-11"));
  REQUIRE(store->remove(wrong).ok());  // deleted events are not shown
  const auto erased = add_ok(*store, RecordKind::device_event, erasure_json(device_id, "2026-11-13"));

  auto shown = *store->get(device_id);
  std::vector<std::string> ids;
  for (const auto& event : shown.at("events")) ids.push_back(event.at("id").get<std::string>());
  CHECK(ids == std::vector<std::string>{received, tested, erased});
  CHECK(shown.at("events")[2].at("resultat") == "reussi");
  CHECK(shown.at("devenir") == "en_attente");

  SECTION("handed over") {
    REQUIRE(add_event(*store, event_json(device_id, "remis", "2026-11-14")).ok());
    CHECK(store->get(device_id)->at("devenir") == "reemploi");
  }
  SECTION("recycled") {
    REQUIRE(add_event(*store, event_json(device_id, "recycle", "2026-11-14")).ok());
    CHECK(store->get(device_id)->at("devenir") == "recyclage");
  }
  SECTION("dismantled") {
    REQUIRE(add_event(*store, event_json(device_id, "demonte", "2026-11-14")).ok());
    CHECK(store->get(device_id)->at("devenir") == "pieces");
  }
}

// [SECTION] Export walk -------------------------------------------------------------------------

TEST_CASE("for_each_session visits the live sessions of a period in date order, with their place", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto place_id = add_ok(*store, RecordKind::place, place_json());
  add_session(*store, session_on("2026-11-20"));
  const auto at_place = add_session(*store, session_at(place_id, "2026-11-05"));
  add_session(*store, session_on("2026-11-01"));  // before the period
  const auto deleted = add_session(*store, session_on("2026-11-10"));
  REQUIRE(store->remove(deleted).ok());
  auto workshop = relais::test::valid_workshop_json();
  workshop["date"] = "2026-11-12";
  add_session(*store, workshop);
  add_session(*store, session_on("2026-11-21"));  // after the period

  std::vector<std::string> dates;
  std::vector<std::string> ids;
  std::optional<relais::Place> place;
  store->for_each_session(relais::Date{2026, 11, 5}, relais::Date{2026, 11, 20}, [&](const relais::ExportedSession& row) {
    dates.push_back(row.session.date);
    ids.push_back(row.session.id);
    if (row.session.id == at_place) {
      place = row.place;
    } else {
      CHECK_FALSE(row.place);
    }
    CHECK(row.created_unix_ms > 0);
  });
  CHECK(dates == std::vector<std::string>{"2026-11-05", "2026-11-12", "2026-11-20"});
  REQUIRE(place);
  CHECK(place->id == place_id);
  CHECK(place->nom == "Médiathèque Jean-Macé");
  CHECK(place->commune == "Villeurbanne");

  std::size_t all = 0;
  store->for_each_session(std::nullopt, std::nullopt, [&](const relais::ExportedSession&) { ++all; });
  CHECK(all == 5);
}

// [SECTION] Metadata, device id and versions ----------------------------------------------------

TEST_CASE("meta values are kept, replaced and survive reopening", "[store]") {
  relais::test::TempDir dir;
  {
    auto store = relais::test::open_store(dir / "relais.db");
    CHECK_FALSE(store->meta("advisor_id"));
    store->set_meta("advisor_id", "first");
    CHECK(store->meta("advisor_id") == "first");
    store->set_meta("advisor_id", "0193a5c0-0000-7000-8000-0000000000ad");
    CHECK(store->meta("advisor_id") == "0193a5c0-0000-7000-8000-0000000000ad");
  }
  auto store = relais::test::open_store(dir / "relais.db");
  CHECK(store->meta("advisor_id") == "0193a5c0-0000-7000-8000-0000000000ad");
  // The advisor set in meta owns the sessions written on this device.
  const auto id = add_session(*store);
  CHECK(store->get(id)->at("mediateur_id") == "0193a5c0-0000-7000-8000-0000000000ad");
}

TEST_CASE("the device id is made once and kept across reopening", "[store]") {
  relais::test::TempDir dir;
  std::string device_id;
  {
    auto store = relais::test::open_store(dir / "relais.db");
    device_id = store->device_id();
    CHECK(relais::is_uuid(device_id));
    add_session(*store);
  }
  auto store = relais::test::open_store(dir / "relais.db");
  CHECK(store->device_id() == device_id);
  add_session(*store);
  for (const auto& entry : store->journal()) CHECK(entry.device_id == device_id);

  relais::test::TempDir other_dir;
  CHECK(relais::test::open_store(other_dir / "relais.db")->device_id() != device_id);
}

TEST_CASE("versions keep growing across reopening, even when the wall clock goes back", "[store]") {
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  std::int64_t wall = 2'000'000'000'000;  // 2033
  std::int64_t highest = 0;
  std::string id;
  {
    LocalStore store(path, relais::test::vocabulary(), options_with_clock([&] { return wall; }));
    id = add_session(store);
    add_session(store);
    REQUIRE(store.update(id, {{"duree", 60}}).ok());
    for (const auto& entry : store.journal()) highest = std::max(highest, entry.version);
    CHECK(relais::HybridLogicalClock::physical_ms(highest) == wall);

    // Within one run too: a clock set back never yields a smaller version.
    wall -= 3'600'000;
    const auto later = add_session(store);
    CHECK(store.get(later)->at("version").get<std::int64_t>() > highest);
    highest = store.get(later)->at("version").get<std::int64_t>();
  }
  wall = 1'000'000'000'000;  // 2001: the clock went far back while the app was closed
  LocalStore store(path, relais::test::vocabulary(), options_with_clock([&] { return wall; }));
  const auto added = add_session(store);
  CHECK(store.get(added)->at("version").get<std::int64_t>() > highest);
  REQUIRE(store.update(id, {{"duree", 75}}).ok());
  REQUIRE(store.remove(added).ok());
  const auto journal = store.journal();
  for (std::size_t i = 1; i < journal.size(); ++i) CHECK(journal[i - 1].version < journal[i].version);
  CHECK(journal.back().version > highest);
}

TEST_CASE("a refused record in a batch does not drag its children or later records into extra messages",
          "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");

  SECTION("a device refused for its serial takes its events with it, with one message") {
    const auto lot_id = add_lot(*store);
    add_ok(*store, RecordKind::device, device_json(lot_id, "ordinateur_portable", "SN-001"));
    auto duplicate = record_of(RecordKind::device, device_json(lot_id, "ordinateur_portable", "sn 001"));
    relais::set_id(duplicate, relais::make_uuid_v7());
    const auto event = record_of(RecordKind::device_event, event_json(relais::id_of(duplicate), "recu", "2026-11-12"));
    const auto result = store->add(std::vector<AnyRecord>{duplicate, event});
    INFO(to_text(result.problems));
    REQUIRE(result.problems.size() == 1);
    CHECK(has_problem(result.problems, "[0].numero_serie", "duplicate_serial"));
    CHECK(result.ids.empty());
  }

  SECTION("a handover refused for want of an erasure is not seen by the erasure that follows it") {
    const auto device_id = add_device(*store);
    const auto result = store->add(std::vector<AnyRecord>{
        record_of(RecordKind::device_event, event_json(device_id, "recu", "2026-11-05")),
        record_of(RecordKind::device_event, event_json(device_id, "remis", "2026-11-07")),
        record_of(RecordKind::device_event, erasure_json(device_id, "2026-11-08"))});
    INFO(to_text(result.problems));
    REQUIRE(result.problems.size() == 1);
    CHECK(has_problem(result.problems, "[1].type", "erasure_required"));
    CHECK(event_types(*store, device_id).empty());
  }
}

TEST_CASE("deleting a device deletes its events too, each journaled", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto device_id = add_device(*store);
  REQUIRE(add_event(*store, event_json(device_id, "recu", "2026-11-10")).ok());
  REQUIRE(add_event(*store, erasure_json(device_id, "2026-11-11")).ok());
  const auto journal_before = store->journal_size();

  REQUIRE(store->remove(device_id).ok());

  CHECK(store->count(RecordKind::device_event) == 0);
  CHECK(store->count(RecordKind::device_event, /*include_deleted=*/true) == 2);
  CHECK(store->journal_size() == journal_before + 3);
  std::size_t event_deletes = 0;
  for (const auto& entry : store->journal(0)) {
    if (entry.op == "delete" && entry.kind == RecordKind::device_event) ++event_deletes;
  }
  CHECK(event_deletes == 2);
}

TEST_CASE("an update re-checks only the references it changes", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto place_id = add_ok(*store, RecordKind::place, place_json());
  const auto other_place = add_ok(*store, RecordKind::place, place_json());
  const auto session_id = add_session(*store, session_at(place_id));
  // The place is deleted elsewhere (a sync from the server can do that).
  store->database().exec("UPDATE places SET deleted_at = 1 WHERE id = '" + place_id + "'");

  CHECK(store->update(session_id, json{{"notes", "Suite au prochain rendez-vous."}}).ok());
  CHECK(store->update(session_id, json{{"lieu_id", other_place}}).ok());
  store->database().exec("UPDATE places SET deleted_at = 1 WHERE id = '" + other_place + "'");
  const auto back = store->update(session_id, json{{"lieu_id", place_id}});
  CHECK(has_problem(back.problems, "lieu_id", "unknown_place"));
}

TEST_CASE("listing devices by period uses the date of their lot", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  auto early_lot = lot_json();
  early_lot["date"] = "2026-10-01";
  const auto early = add_ok(*store, RecordKind::lot, early_lot);
  const auto late = add_lot(*store);  // 2026-11-10
  const auto early_device = add_ok(*store, RecordKind::device, device_json(early));
  add_ok(*store, RecordKind::device, device_json(late));

  ListQuery query;
  query.kinds = {RecordKind::device};
  query.to = relais::Date{2026, 10, 31};
  const auto listed = store->list(query);
  REQUIRE(listed.size() == 1);
  CHECK(listed.front()["id"] == early_device);
}

TEST_CASE("field versions start at the record's creation and follow each changed field", "[store]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  const auto field_versions = [&] {
    auto statement = store->database().prepare("SELECT field_versions, version FROM sessions WHERE id = ?");
    statement.bind(1, id);
    REQUIRE(statement.step());
    return std::pair{json::parse(statement.column_text(0)), statement.column_int64(1)};
  };
  // Each version is [clock, device id], as the sync protocol sends them.
  const auto [created, created_version] = field_versions();
  CHECK(created == json{{"*", json::array({created_version, store->device_id()})}});

  REQUIRE(store->update(id, json{{"duree", 90}}).ok());
  const auto [updated, updated_version] = field_versions();
  CHECK(updated_version > created_version);
  CHECK(updated["*"] == json::array({created_version, store->device_id()}));
  CHECK(updated["duree"] == json::array({updated_version, store->device_id()}));
  CHECK(!updated.contains("date"));
}
