// The store's side of sync, without a network: the outbox, acknowledgements, quarantine, and
// merging pulled records. An in-memory server applying the protocol's merge rule stands in for
// relais-server, so that convergence can be checked over many random edits.
#include <map>
#include <random>

#include <catch2/catch.hpp>

#include "relais/hlc.hpp"
#include "relais/merge.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::LocalStore;
using relais::RecordKind;

namespace {

std::string add_session(LocalStore& store, json input = relais::test::valid_individual_session_json()) {
  auto checked = relais::check_record(RecordKind::session, input, relais::test::context());
  REQUIRE(checked.ok());
  const auto result = store.add(checked.record);
  REQUIRE(result.ok());
  return result.ids.front();
}

std::vector<relais::PushResult> all_applied(const relais::Outbox& outbox) {
  std::vector<relais::PushResult> results;
  for (const auto& change : outbox.changes) results.push_back({change.id, "applied", json::array(), json::array()});
  return results;
}

// What relais-server does, in memory: merge each pushed change, number every change, serve them.
struct FakeServer {
  struct Stored {
    RecordKind kind;
    relais::RecordState state;
    std::int64_t seq;
  };
  std::map<std::string, Stored> records;
  std::int64_t seq = 0;

  std::vector<relais::PushResult> push(const relais::Outbox& outbox) {
    std::vector<relais::PushResult> results;
    for (const auto& change : outbox.changes) {
      const auto it = records.find(change.id);
      std::optional<relais::RecordState> stored;
      if (it != records.end()) stored = it->second.state;
      const auto outcome = relais::merge(stored, change.incoming());
      json conflicts = json::array();
      for (const auto& conflict : outcome.conflicts) {
        conflicts.push_back({{"field", conflict.field},
                             {"kept_value", conflict.kept_value},
                             {"kept_version", relais::to_json(conflict.kept_version)},
                             {"lost_value", conflict.lost_value},
                             {"lost_version", relais::to_json(conflict.lost_version)}});
      }
      if (outcome.changed) records[change.id] = Stored{change.kind, outcome.merged, ++seq};
      results.push_back({change.id, conflicts.empty() ? "applied" : "conflict", json::array(), conflicts});
    }
    return results;
  }

  std::vector<relais::PulledRecord> pull(std::int64_t after) const {
    std::vector<relais::PulledRecord> out;
    for (const auto& [id, stored] : records) {
      if (stored.seq > after) out.push_back({stored.kind, id, stored.state, std::nullopt});
    }
    return out;
  }

  void sync(LocalStore& store) {
    for (;;) {
      const auto outbox = store.outbox(50);
      if (outbox.changes.empty()) {
        store.acknowledge_push(outbox, {});
        break;
      }
      store.acknowledge_push(outbox, push(outbox));
    }
    const auto cursor = std::stoll(store.meta("sync_pull_cursor").value_or("0"));
    store.apply_pulled(pull(cursor), std::to_string(seq));
  }
};

}  // namespace

TEST_CASE("a new record is in the outbox with all its fields until the server acknowledges it", "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  CHECK(store->pending_count() == 1);

  const auto outbox = store->outbox(100);
  REQUIRE(outbox.changes.size() == 1);
  const auto& change = outbox.changes.front();
  CHECK(change.id == id);
  CHECK(change.incoming().fields["duree"] == 45);
  CHECK(change.incoming().fields.contains("beneficiaire"));
  CHECK(change.bases.empty());
  CHECK(relais::missing_versions(change.incoming()).empty());
  // A new record goes out with the one version of its creation, not one per field.
  CHECK(change.versions.size() == 1);
  CHECK(change.versions.count("*") == 1);

  store->acknowledge_push(outbox, all_applied(outbox));
  CHECK(store->pending_count() == 0);
  CHECK(store->outbox(100).changes.empty());
}

TEST_CASE("after an acknowledged push only changed fields go out, with the version they replace", "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  const auto first = store->outbox(100);
  store->acknowledge_push(first, all_applied(first));
  const auto created_version = *relais::version_of(first.changes.front().versions, "duree");

  REQUIRE(store->update(id, json{{"duree", 90}, {"notes", nullptr}}).ok());
  const auto second = store->outbox(100);
  REQUIRE(second.changes.size() == 1);
  const auto change = second.changes.front().incoming();
  CHECK(change.fields == json{{"duree", 90}, {"notes", nullptr}});
  CHECK(change.bases.at("duree") == created_version);
  CHECK(change.versions.at("duree") > created_version);
}

TEST_CASE("an outbox of several kinds: each record once, its current row, parents first", "[sync]") {
  // Sessions come with their journal entries, other kinds are read one by one: both ways give
  // the record as it is now, once, however often it was journaled.
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto first = add_session(*store);
  auto checked = relais::check_record(RecordKind::lot, json{{"date", "2026-01-10"}, {"type_donateur", "entreprise"}},
                                      relais::test::context());
  REQUIRE(checked.ok());
  const auto added = store->add(checked.record);
  REQUIRE(added.ok());
  const auto lot = added.ids.front();
  const auto second = add_session(*store);
  REQUIRE(store->update(first, json{{"duree", 90}}).ok());
  REQUIRE(store->update(lot, json{{"nom_donateur", "Rhône Offset"}}).ok());
  REQUIRE(store->update(first, json{{"duree", 120}}).ok());

  const auto outbox = store->outbox(100);
  REQUIRE(outbox.changes.size() == 3);
  CHECK(outbox.changes[0].kind == RecordKind::lot);  // a parent kind before sessions
  CHECK(outbox.changes[0].id == lot);
  CHECK(outbox.changes[0].incoming().fields["nom_donateur"] == "Rhône Offset");
  CHECK(outbox.changes[1].id == first);
  CHECK(outbox.changes[1].incoming().fields["duree"] == 120);
  CHECK(outbox.changes[2].id == second);
  for (const auto& change : outbox.changes) CHECK(relais::missing_versions(change.incoming()).empty());

  // Acknowledged, then one more edit of each: only the edited fields, with their bases.
  store->acknowledge_push(outbox, all_applied(outbox));
  CHECK(store->outbox(100).changes.empty());
  REQUIRE(store->update(second, json{{"duree", 30}}).ok());
  REQUIRE(store->update(lot, json{{"nom_donateur", "Emmaüs Connect"}}).ok());
  const auto edits = store->outbox(100);
  REQUIRE(edits.changes.size() == 2);
  CHECK(edits.changes[0].id == lot);
  CHECK(edits.changes[0].incoming().fields == json{{"nom_donateur", "Emmaüs Connect"}});
  CHECK(edits.changes[1].id == second);
  CHECK(edits.changes[1].incoming().fields == json{{"duree", 30}});
  CHECK(edits.changes[1].bases.count("duree") == 1);
}

TEST_CASE("a record edited while its push is in flight is pushed again", "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto id = add_session(*store);
  const auto in_flight = store->outbox(100);
  REQUIRE(store->update(id, json{{"duree", 60}}).ok());
  store->acknowledge_push(in_flight, all_applied(in_flight));

  const auto next = store->outbox(100);
  REQUIRE(next.changes.size() == 1);
  CHECK(next.changes.front().incoming().fields == json{{"duree", 60}});
}

TEST_CASE("the batch read while a push is in flight holds none of its records and stops before them", "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto first = add_session(*store);
  const auto second = add_session(*store);
  const auto in_flight = store->outbox(1);
  REQUIRE(in_flight.changes.size() == 1);
  REQUIRE(in_flight.changes.front().id == first);
  // The next batch, read before the answer: the second record only.
  const auto next = store->outbox(100, &in_flight);
  REQUIRE(next.changes.size() == 1);
  CHECK(next.changes.front().id == second);

  // The first record edited after the second was made: the batch after the one in flight stops
  // before that edit, which goes out once the first push is acknowledged, based on its versions.
  REQUIRE(store->update(first, json{{"duree", 60}}).ok());
  const auto third = add_session(*store);
  const auto cut = store->outbox(100, &in_flight);
  REQUIRE(cut.changes.size() == 1);
  CHECK(cut.changes.front().id == second);
  store->acknowledge_push(in_flight, all_applied(in_flight));
  store->acknowledge_push(cut, all_applied(cut));
  const auto rest = store->outbox(100);
  REQUIRE(rest.changes.size() == 2);
  CHECK(rest.changes[0].id == first);
  CHECK(rest.changes[0].incoming().fields == json{{"duree", 60}});
  CHECK(rest.changes[0].bases.at("duree") == *relais::version_of(in_flight.changes.front().versions, "duree"));
  CHECK(rest.changes[1].id == third);
}

TEST_CASE("with two pushes in flight, the next batch follows the last and holds none of their records",
          "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto first = add_session(*store);
  const auto second = add_session(*store);
  const auto third = add_session(*store);
  const auto one = store->outbox(1);
  const auto two = store->outbox(1, &one);
  REQUIRE(two.changes.size() == 1);
  CHECK(two.changes.front().id == second);
  const auto three = store->outbox(100, std::vector<const relais::Outbox*>{&one, &two});
  REQUIRE(three.changes.size() == 1);
  CHECK(three.changes.front().id == third);

  // The first record edited while both are in flight: the batch stops before the edit, even
  // though the push that holds the record is not the last one.
  REQUIRE(store->update(first, json{{"duree", 60}}).ok());
  const auto fourth = add_session(*store);
  const auto cut = store->outbox(100, std::vector<const relais::Outbox*>{&one, &two});
  REQUIRE(cut.changes.size() == 1);
  CHECK(cut.changes.front().id == third);
  // Once the first is acknowledged, only the second is ahead: the edit and the fourth go out.
  store->acknowledge_push(one, all_applied(one));
  const auto after = store->outbox(100, std::vector<const relais::Outbox*>{&two});
  REQUIRE(after.changes.size() == 3);
  CHECK(after.changes[0].id == third);
  CHECK(after.changes[1].id == first);
  CHECK(after.changes[1].bases.at("duree") == *relais::version_of(one.changes.front().versions, "duree"));
  CHECK(after.changes[2].id == fourth);
}

TEST_CASE("a refused record is quarantined with its reason and does not block the others", "[sync]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto refused = add_session(*store);
  const auto accepted = add_session(*store);
  const auto outbox = store->outbox(100);
  REQUIRE(outbox.changes.size() == 2);
  const json problems = json::array({{{"field", "duree"}, {"reason", "out_of_range"}}});
  store->acknowledge_push(outbox, {{refused, "rejected", problems, json::array()},
                                   {accepted, "applied", json::array(), json::array()}});

  const auto quarantined = store->quarantined();
  REQUIRE(quarantined.size() == 1);
  CHECK(quarantined.front()["record_id"] == refused);
  CHECK(quarantined.front()["problems"] == problems);
  CHECK(store->outbox(100).changes.empty());

  // Corrected later, it goes out again and leaves the quarantine once accepted.
  REQUIRE(store->update(refused, json{{"duree", 30}}).ok());
  const auto retry = store->outbox(100);
  REQUIRE(retry.changes.size() == 1);
  CHECK(retry.changes.front().id == refused);
  store->acknowledge_push(retry, all_applied(retry));
  CHECK(store->quarantined().empty());
}

TEST_CASE("pulled records are stored without being journaled, and are not pushed back", "[sync]") {
  relais::test::TempDir dir;
  auto author = relais::test::open_store(dir / "author.db");
  auto reader = relais::test::open_store(dir / "reader.db");
  FakeServer server;
  const auto id = add_session(*author);
  server.sync(*author);

  const auto journal_before = reader->journal_size();
  server.sync(*reader);
  const auto copy = reader->get(id);
  REQUIRE(copy.has_value());
  CHECK((*copy)["duree"] == 45);
  CHECK(reader->journal_size() == journal_before);
  CHECK(reader->outbox(100).changes.empty());
  CHECK(reader->pending_count() == 0);
}

TEST_CASE("a pulled change never silently overwrites an unpushed local edit", "[sync]") {
  relais::test::TempDir dir;
  auto one = relais::test::open_store(dir / "one.db");
  auto two = relais::test::open_store(dir / "two.db");
  FakeServer server;
  const auto id = add_session(*one);
  server.sync(*one);
  server.sync(*two);

  // Both edit the same field offline; "two" edits last.
  REQUIRE(one->update(id, json{{"duree", 60}}).ok());
  REQUIRE(two->update(id, json{{"duree", 90}}).ok());
  server.sync(*one);
  server.sync(*two);  // two's newer edit wins on the server; the server reports a conflict
  server.sync(*one);  // one learns the winner

  CHECK((*one->get(id))["duree"] == 90);
  CHECK((*two->get(id))["duree"] == 90);
  const auto two_log = two->conflict_log();
  REQUIRE(two_log.size() == 1);
  CHECK(two_log.front()["field"] == "duree");
  CHECK(two_log.front()["lost_value"] == 60);
  CHECK(two_log.front()["kept_value"] == 90);
}

TEST_CASE("a deletion made elsewhere reaches every device", "[sync]") {
  relais::test::TempDir dir;
  auto one = relais::test::open_store(dir / "one.db");
  auto two = relais::test::open_store(dir / "two.db");
  FakeServer server;
  const auto id = add_session(*one);
  server.sync(*one);
  server.sync(*two);
  REQUIRE(two->remove(id).ok());
  server.sync(*two);
  server.sync(*one);
  CHECK((*one->get(id)).contains("deleted_at"));
  CHECK(one->count(RecordKind::session) == 0);
}

TEST_CASE("devices converge after random offline edits and syncs", "[sync]") {
  relais::test::TempDir dir;
  std::vector<std::unique_ptr<LocalStore>> devices;
  for (int i = 0; i < 3; ++i) devices.push_back(relais::test::open_store(dir / ("device" + std::to_string(i) + ".db")));
  FakeServer server;
  std::mt19937 random(7);
  std::vector<std::string> ids;
  for (int step = 0; step < 300; ++step) {
    auto& device = *devices[random() % devices.size()];
    switch (random() % 6) {
      case 0: ids.push_back(add_session(device)); break;
      case 1:
      case 2:
      case 3:
        if (!ids.empty()) {
          const auto& id = ids[random() % ids.size()];
          if (device.get(id) && !device.get(id)->contains("deleted_at")) {
            const json change = random() % 2 ? json{{"duree", 15 * (1 + static_cast<int>(random() % 8))}}
                                             : json{{"notes", "Note " + std::to_string(random() % 100)}};
            REQUIRE(device.update(id, change).ok());
          }
        }
        break;
      case 4: server.sync(device); break;
      default:
        if (!ids.empty() && random() % 4 == 0) {
          const auto& id = ids[random() % ids.size()];
          if (device.get(id) && !device.get(id)->contains("deleted_at")) REQUIRE(device.remove(id).ok());
        }
    }
  }
  // Two rounds: every device sends what it has, then every device receives all of it.
  for (int round = 0; round < 2; ++round) {
    for (auto& device : devices) server.sync(*device);
  }
  for (const auto& id : ids) {
    const auto reference = devices[0]->get(id);
    REQUIRE(reference.has_value());
    for (auto& device : devices) {
      auto copy = device->get(id);
      REQUIRE(copy.has_value());
      INFO("record " << id);
      CHECK((*copy)["duree"] == (*reference)["duree"]);
      CHECK(copy->value("notes", json()) == reference->value("notes", json()));
      CHECK(copy->contains("deleted_at") == reference->contains("deleted_at"));
    }
  }
  for (auto& device : devices) CHECK(device->pending_count() == 0);
}

// [SECTION] Vocabulary updates --------------------------------------------------------------------

namespace {

// A new theme, and new labels for an existing one.
json vocabulary_update(int version = 1) {
  return {{"version", version},
          {"sets",
           {{"thematiques",
             {{"codes",
               {{{"code", "objets_connectes"}, {"fr", "Objets connectés"}, {"en", "Connected devices"}},
                {{"code", "email"}, {"fr", "Courriel"}, {"en", "Email"}}}}}}}}};
}

std::string problem_of(const json& update) {
  try {
    (void)relais::test::context().vocabulary.with_update(update);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a vocabulary update adds codes and labels, and a bad one is refused naming the field", "[sync]") {
  const auto& base = relais::test::context().vocabulary;
  const auto updated = base.with_update(vocabulary_update(3));
  CHECK(updated.update_version() == 3);
  CHECK(updated.contains("thematiques", "objets_connectes"));
  CHECK(updated.label("thematiques", "objets_connectes", relais::Lang::en) == "Connected devices");
  CHECK(updated.label("thematiques", "email", relais::Lang::fr) == "Courriel");
  CHECK(updated.set("thematiques").codes.size() == base.set("thematiques").codes.size() + 1);
  CHECK_FALSE(base.contains("thematiques", "objets_connectes"));

  auto unknown_set = vocabulary_update();
  unknown_set["sets"]["couleurs"] = {{"codes", json::array()}};
  CHECK(problem_of(unknown_set) == "sets.couleurs: no such vocabulary set");
  auto bad_code = vocabulary_update();
  bad_code["sets"]["thematiques"]["codes"][0]["code"] = "Objets Connectés";
  CHECK(problem_of(bad_code).rfind("sets.thematiques.codes[0].code: ", 0) == 0);
  auto no_label = vocabulary_update();
  no_label["sets"]["thematiques"]["codes"][1].erase("en");
  CHECK(problem_of(no_label) == "sets.thematiques.codes[1].en: a non-empty text is required");
  CHECK(problem_of(json{{"sets", json::object()}}) == "version: a whole number from 1 up is required");
  CHECK(problem_of(json::array()) == "a vocabulary update must be a JSON object");
}

TEST_CASE("a pulled vocabulary update is kept in the store and used to check records", "[sync]") {
  relais::test::TempDir dir;
  auto input = relais::test::valid_individual_session_json();
  input["thematiques"].push_back("objets_connectes");
  {
    auto store = relais::test::open_store(dir / "relais.db");
    // Unknown before the update.
    CHECK_FALSE(store->add(relais::check_record(RecordKind::session, input, relais::test::context()).record).ok());
    const auto applied = store->apply_pulled({}, "cursor-1", vocabulary_update(2));
    CHECK(applied.vocabulary_version == 2);
    CHECK(store->vocabulary().contains("thematiques", "objets_connectes"));
    // An update this build cannot use changes nothing, and the page is still applied.
    auto unusable = vocabulary_update(3);
    unusable["sets"]["couleurs"] = {{"codes", json::array()}};
    CHECK(store->apply_pulled({}, "cursor-2", unusable).vocabulary_version == 0);
    CHECK(store->meta("sync_pull_cursor") == "cursor-2");
    CHECK(store->vocabulary().update_version() == 2);
  }
  // After a restart, and for input checked before the store is opened.
  auto store = relais::test::open_store(dir / "relais.db");
  CHECK(store->vocabulary().update_version() == 2);
  const auto vocabulary = relais::vocabulary_with_update(relais::test::context().vocabulary, dir / "relais.db");
  const auto checked = relais::check_record(RecordKind::session, input, {vocabulary, relais::test::context().today});
  REQUIRE(checked.ok());
  CHECK(store->add(checked.record).ok());
  CHECK(relais::vocabulary_with_update(relais::test::context().vocabulary, dir / "missing.db").update_version() == 0);
}

TEST_CASE("a push in flight that holds lots or devices is answered before the next batch goes", "[sync]") {
  // The server takes a device only once its lot is there, and may apply two pushes in flight in
  // either order: a batch after one with parents waits for its answer.
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "relais.db");
  const auto lot = relais::test::add_ok(*store, RecordKind::lot, {{"date", "2026-01-10"}, {"type_donateur", "entreprise"}});
  relais::test::add_ok(*store, RecordKind::device, {{"lot_id", lot}, {"type", "ordinateur_portable"}});
  add_session(*store);
  const auto parents = store->outbox(1);
  REQUIRE(parents.changes.size() == 1);
  CHECK(parents.changes.front().kind == RecordKind::lot);
  CHECK(store->outbox(100, &parents).changes.empty());
  store->acknowledge_push(parents, all_applied(parents));
  const auto rest = store->outbox(100);
  REQUIRE(rest.changes.size() == 2);
  CHECK(rest.changes[0].kind == RecordKind::device);
  // Sessions alone keep two pushes in flight.
  const auto sessions_only = store->outbox(1, &rest);
  CHECK(sessions_only.changes.empty());  // the device in flight holds the next batch back
  store->acknowledge_push(rest, all_applied(rest));
  add_session(*store);
  add_session(*store);
  const auto one = store->outbox(1);
  CHECK(store->outbox(1, &one).changes.size() == 1);
}

TEST_CASE("a device pushes only its own changes, after a resync too", "[sync]") {
  relais::test::TempDir dir;
  auto author = relais::test::open_store(dir / "author.db");
  auto reader = relais::test::open_store(dir / "reader.db");
  FakeServer server;
  const auto id = add_session(*author);
  server.sync(*author);
  server.sync(*reader);
  REQUIRE(reader->update(id, json{{"duree", 90}}).ok());
  server.sync(*reader);

  // The server lost track of both (restored store): each sends again what it made, and only that.
  reader->reset_sync_state();
  const auto outbox = reader->outbox(100);
  REQUIRE(outbox.changes.size() == 1);
  const auto incoming = outbox.changes.front().incoming();
  CHECK(incoming.fields == json{{"duree", 90}});
  for (const auto& [field, version] : outbox.changes.front().versions) CHECK(version.device == reader->device_id());
}

namespace {

std::unique_ptr<LocalStore> store_with_clock(const std::filesystem::path& path, const std::int64_t& wall_ms) {
  LocalStore::Options options;
  options.today = relais::test::kToday;
  options.wall_clock = [&wall_ms] { return wall_ms; };
  return std::make_unique<LocalStore>(path, relais::test::vocabulary(), options);
}

std::int64_t physical_of(const relais::Outbox& outbox) {
  std::int64_t greatest = 0;
  for (const auto& change : outbox.changes) {
    for (const auto& [field, version] : change.versions) greatest = std::max(greatest, version.clock);
  }
  return relais::HybridLogicalClock::physical_ms(greatest);
}

}  // namespace

TEST_CASE("bounded clocks on a device: a wrong clock is corrected by the server's time", "[sync][clock]") {
  using Clock = relais::HybridLogicalClock;
  constexpr std::int64_t kServerNow = 1'795'000'000'000;  // late 2026
  constexpr std::int64_t kTenYears = 10LL * 365 * 24 * 3600 * 1000;
  relais::test::TempDir dir;
  std::int64_t wall = kServerNow + kTenYears;  // this laptop thinks it is 2036
  auto store = store_with_clock(dir / "relais.db", wall);
  const auto id = add_session(*store);
  const auto before = store->outbox(100);
  REQUIRE(physical_of(before) >= kServerNow + kTenYears);

  SECTION("small drift is no reason to correct anything") {
    CHECK(store->learn_server_time(wall + relais::kClockCorrectionThresholdMs - 1) == 0);
    CHECK(store->restamp_future_versions() == 0);
  }
  SECTION("ten years ahead: the offset is learnt, and unacknowledged versions are stamped again") {
    CHECK(store->learn_server_time(kServerNow) == -kTenYears);
    CHECK(store->restamp_future_versions() == 1);
    const auto after = store->outbox(100);
    REQUIRE(after.changes.size() == 1);
    CHECK(after.changes.front().id == id);
    CHECK(physical_of(after) >= kServerNow);
    CHECK(physical_of(after) < kServerNow + relais::kMaxClockSkewMs);
    CHECK(store->restamp_future_versions() == 0);  // once is enough
    // New edits are stamped with the server's time, and the offset holds after a reopen.
    REQUIRE(store->update(id, json{{"duree", 60}}).ok());
    CHECK(physical_of(store->outbox(100)) < kServerNow + relais::kMaxClockSkewMs);
    store.reset();
    store = store_with_clock(dir / "relais.db", wall);
    CHECK(store->clock_offset_ms() == -kTenYears);
    add_session(*store);
    CHECK(physical_of(store->outbox(100)) < kServerNow + relais::kMaxClockSkewMs);
  }
  SECTION("a pulled version far ahead of this device's clock is not taken by its clock") {
    wall = kServerNow;
    auto other = store_with_clock(dir / "other.db", wall);
    FakeServer server;
    server.sync(*store);  // the 2036 record reaches the fake server as it is (no clock rule there)
    server.sync(*other);
    const auto edit = other->update(id, json{{"duree", 75}});
    REQUIRE(edit.ok());
    CHECK(Clock::physical_ms(other->outbox(100).changes.front().versions.begin()->second.clock) <
          kServerNow + 3 * relais::kMaxClockSkewMs);
  }
}

TEST_CASE("the hybrid logical clock cannot overflow, whatever it is shown", "[clock]") {
  using Clock = relais::HybridLogicalClock;
  std::mt19937_64 random(14);
  for (int round = 0; round < 2000; ++round) {
    std::int64_t wall = static_cast<std::int64_t>(random() >> 1) >> (random() % 63);
    if (round % 7 == 0) wall = -wall;
    Clock clock(static_cast<std::int64_t>(random() >> 1), [&wall] { return wall; });
    for (int step = 0; step < 20; ++step) {
      const auto hostile = static_cast<std::int64_t>(random() >> (random() % 64));
      const bool taken = clock.observe(hostile);
      CHECK(taken == (hostile <= Clock::ceiling(wall, 2 * relais::kMaxClockSkewMs)));
      const auto before = clock.last();
      const auto next = clock.tick();
      CHECK(next >= before);
      CHECK((next > before || before == Clock::kMaxVersion));
    }
  }
  Clock at_the_end(Clock::kMaxVersion, [] { return std::int64_t{0}; });
  CHECK(at_the_end.tick() == Clock::kMaxVersion);
  CHECK(Clock::make(-5, 3) == 3);
  CHECK(Clock::physical_ms(Clock::make(INT64_MAX, 0)) == Clock::kMaxPhysicalMs);
}

TEST_CASE("a vocabulary update pulled on one connection is used by every connection of the store at once",
          "[sync]") {
  // The app's UI and save connections and the background sync's are three connections to one
  // file: what the sync pulls must not be refused at the next Save until a restart.
  relais::test::TempDir dir;
  auto ui = relais::test::open_store(dir / "relais.db");
  auto sync = relais::test::open_store(dir / "relais.db");
  const auto& before = ui->vocabulary();
  auto input = relais::test::valid_individual_session_json();
  input["thematiques"].push_back("objets_connectes");
  REQUIRE(sync->apply_pulled({}, "cursor-1", vocabulary_update(2)).vocabulary_version == 2);

  // The record is checked against the new codes by the other connection's very next write.
  const auto updated = relais::vocabulary_with_update(relais::test::context().vocabulary, dir / "relais.db");
  const auto checked = relais::check_record(RecordKind::session, input, {updated, relais::test::context().today});
  REQUIRE(checked.ok());
  const auto added = ui->add(checked.record);
  INFO(relais::test::to_text(added.problems));
  CHECK(added.ok());
  CHECK(ui->vocabulary().contains("thematiques", "objets_connectes"));
  CHECK_FALSE(ui->refresh_vocabulary());  // nothing new since
  // A reference taken before stays valid (the app's screens hold one for a frame).
  CHECK_FALSE(before.contains("thematiques", "objets_connectes"));
}

TEST_CASE("deleting a record pulled from elsewhere is no conflict", "[sync]") {
  relais::test::TempDir dir;
  auto author = relais::test::open_store(dir / "author.db");
  auto admin = relais::test::open_store(dir / "admin.db");
  FakeServer server;
  const auto id = add_session(*author);
  server.sync(*author);
  server.sync(*admin);
  REQUIRE(admin->remove(id).ok());
  const auto outbox = admin->outbox(10);
  REQUIRE(outbox.changes.size() == 1);
  // The deletion says what it replaced: the creation the admin pulled.
  REQUIRE(outbox.changes.front().bases.count("_deleted") == 1);
  const auto results = server.push(outbox);
  CHECK(results.front().conflicts.empty());
}
