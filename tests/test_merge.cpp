// The merge rule of sync (docs/protocol.md): greatest version wins field by field, the same
// change twice is a no-op, and concurrent edits leave a conflict behind; every order of arrival
// gives the same record.
#include <algorithm>
#include <random>

#include <catch2/catch.hpp>

#include "relais/json_parse.hpp"
#include "relais/merge.hpp"

using nlohmann::json;
using relais::FieldVersion;
using relais::IncomingChange;
using relais::merge;
using relais::RecordState;

namespace {

const std::string kDeviceA = "0193a5c0-0000-7000-8000-00000000000a";
const std::string kDeviceB = "0193a5c0-0000-7000-8000-00000000000b";

FieldVersion at(std::int64_t clock, const std::string& device = kDeviceA) { return {clock, device}; }

RecordState created(std::int64_t clock = 100) {
  RecordState state;
  state.fields = {{"type", "individuel"}, {"date", "2026-11-20"}, {"duree", 30}};
  state.versions[relais::kCreationKey] = at(clock);
  return state;
}

IncomingChange change(const std::string& field, const json& value, FieldVersion version,
                      std::optional<FieldVersion> base = std::nullopt) {
  IncomingChange out;
  out.fields[field] = value;
  out.versions[field] = version;
  if (base) out.bases[field] = *base;
  return out;
}

}  // namespace

TEST_CASE("a record never seen is taken as it comes", "[merge]") {
  IncomingChange incoming;
  incoming.fields = {{"type", "collectif"}, {"duree", 90}};
  incoming.versions = {{"type", at(5)}, {"duree", at(5)}};
  const auto outcome = merge(std::nullopt, incoming);
  CHECK(outcome.changed);
  CHECK(outcome.conflicts.empty());
  CHECK(outcome.merged.fields == json{{"type", "collectif"}, {"duree", 90}});
  CHECK(outcome.merged.versions.at("duree") == at(5));
  CHECK_FALSE(outcome.merged.deleted);
}

TEST_CASE("merge_new takes a new record's values as merge does, without copying them", "[merge]") {
  IncomingChange incoming;
  incoming.fields = {{"type", "collectif"}, {"duree", 90}, {"notes", nullptr}, {"_deleted", true}};
  incoming.versions = {{relais::kCreationKey, at(7)}};
  const auto copied = merge(std::nullopt, incoming);
  const auto moved = relais::merge_new(incoming);
  CHECK(moved.changed);
  CHECK(moved.conflicts.empty());
  CHECK(moved.merged.fields == copied.merged.fields);
  CHECK(moved.merged.fields == json{{"type", "collectif"}, {"duree", 90}});
  CHECK(moved.merged.deleted == copied.merged.deleted);
  CHECK(moved.merged.deleted);
  CHECK(moved.merged.versions == copied.merged.versions);
  CHECK(incoming.fields.empty());
}

TEST_CASE("versions written as text are nlohmann's dump of the same versions", "[merge]") {
  relais::FieldVersions versions{{relais::kCreationKey, at(1700000000000)},
                                 {"duree", at(-1, kDeviceB)},
                                 {"nom \"é\"\n", {42, "appareil \\ « x »"}}};
  CHECK(relais::to_json_text(versions) == relais::to_json(versions).dump());
  CHECK(relais::to_json_text(relais::FieldVersions{}) == "{}");
  CHECK(relais::to_json_text(at(5)) == relais::to_json(at(5)).dump());
}

TEST_CASE("the same change twice changes nothing the second time", "[merge]") {
  const auto first = merge(created(), change("duree", 45, at(200), at(100)));
  REQUIRE(first.changed);
  const auto second = merge(first.merged, change("duree", 45, at(200), at(100)));
  CHECK_FALSE(second.changed);
  CHECK(second.conflicts.empty());
  CHECK(second.merged.fields == first.merged.fields);
}

TEST_CASE("an edit made knowing the stored value replaces it without conflict", "[merge]") {
  const auto outcome = merge(created(), change("duree", 45, at(200, kDeviceB), at(100)));
  CHECK(outcome.changed);
  CHECK(outcome.conflicts.empty());
  CHECK(outcome.merged.fields["duree"] == 45);
  CHECK(outcome.merged.versions.at("duree") == at(200, kDeviceB));
  CHECK(relais::version_of(outcome.merged.versions, "date") == at(100));
}

TEST_CASE("concurrent edits: the greater version wins and the loser is logged", "[merge]") {
  auto stored = merge(created(), change("duree", 45, at(200, kDeviceA), at(100))).merged;

  SECTION("a newer concurrent edit wins over the stored one") {
    const auto outcome = merge(stored, change("duree", 60, at(300, kDeviceB), at(100)));
    CHECK(outcome.merged.fields["duree"] == 60);
    REQUIRE(outcome.conflicts.size() == 1);
    const auto& conflict = outcome.conflicts.front();
    CHECK(conflict.field == "duree");
    CHECK(conflict.kept_value == 60);
    CHECK(conflict.lost_value == 45);
    CHECK(conflict.lost_version == at(200, kDeviceA));
    CHECK_FALSE(conflict.incoming_lost);
  }
  SECTION("an older concurrent edit loses and is logged as lost") {
    const auto outcome = merge(stored, change("duree", 15, at(150, kDeviceB), at(100)));
    CHECK_FALSE(outcome.changed);
    CHECK(outcome.merged.fields["duree"] == 45);
    REQUIRE(outcome.conflicts.size() == 1);
    CHECK(outcome.conflicts.front().incoming_lost);
    CHECK(outcome.conflicts.front().lost_value == 15);
  }
  SECTION("on the same clock the greater device id wins") {
    const auto outcome = merge(stored, change("duree", 20, at(200, kDeviceB), at(100)));
    CHECK(outcome.merged.fields["duree"] == 20);
    CHECK(outcome.conflicts.size() == 1);
  }
}

TEST_CASE("a device's own earlier change is never a conflict, whatever base it sent", "[merge]") {
  // Issue 14.6: a creation applied on the server whose answer was lost, then edited on the same
  // device: the edit comes without a base, yet that device knew what it replaced.
  const auto stored = created(100);  // made by device A
  SECTION("a newer edit of the same device, without a base, wins quietly") {
    const auto outcome = merge(stored, change("duree", 45, at(200, kDeviceA)));
    CHECK(outcome.changed);
    CHECK(outcome.conflicts.empty());
    CHECK(outcome.merged.fields["duree"] == 45);
  }
  SECTION("an older change of the same device, arriving late, changes nothing and is no conflict") {
    const auto edited = merge(stored, change("duree", 45, at(200, kDeviceA))).merged;
    const auto outcome = merge(edited, change("duree", 40, at(150, kDeviceA)));
    CHECK_FALSE(outcome.changed);
    CHECK(outcome.conflicts.empty());
    CHECK(outcome.merged.fields["duree"] == 45);
  }
  SECTION("another device's edit without a base is still a conflict") {
    const auto outcome = merge(stored, change("duree", 45, at(200, kDeviceB)));
    REQUIRE(outcome.conflicts.size() == 1);
    CHECK(outcome.conflicts.front().lost_value == 30);
  }
}

TEST_CASE("a deletion is a field like the others", "[merge]") {
  const auto deleted = merge(created(), change(relais::kDeletedField, true, at(200), at(100)));
  CHECK(deleted.merged.deleted);
  // An edit made elsewhere before it saw the deletion does not bring the record back.
  const auto edited = merge(deleted.merged, change("duree", 60, at(250, kDeviceB), at(100)));
  CHECK(edited.merged.deleted);
  CHECK(edited.merged.fields["duree"] == 60);
  // A null removes an optional field.
  auto with_notes = created();
  with_notes.fields["notes"] = "à rappeler";
  const auto removed = merge(with_notes, change("notes", nullptr, at(300), at(100)));
  CHECK_FALSE(removed.merged.fields.contains("notes"));
}

TEST_CASE("every order of arrival gives the same record", "[merge]") {
  std::mt19937 random(20261122);
  const std::vector<std::string> devices{kDeviceA, kDeviceB, "0193a5c0-0000-7000-8000-00000000000c"};
  const std::vector<std::string> fields{"duree", "date", "notes", relais::kDeletedField};
  for (int round = 0; round < 200; ++round) {
    std::vector<IncomingChange> changes;
    for (int i = 0; i < 6; ++i) {
      const auto& field = fields[random() % fields.size()];
      const json value = field == relais::kDeletedField ? json(random() % 2 == 0) : json(static_cast<int>(random() % 5));
      // A version stamps one change: two changes never share one (clocks repeat, with other devices).
      const auto clock = 101 + static_cast<std::int64_t>(random() % 3) + 10 * (i / 3);
      changes.push_back(change(field, value, at(clock, devices[static_cast<std::size_t>(i) % 3]), at(100)));
    }
    std::optional<RecordState> reference;
    for (int order = 0; order < 6; ++order) {
      std::shuffle(changes.begin(), changes.end(), random);
      std::optional<RecordState> state = created();
      for (const auto& c : changes) state = merge(state, c).merged;
      if (!reference) {
        reference = state;
        continue;
      }
      INFO("round " << round << " order " << order);
      CHECK(state->fields == reference->fields);
      CHECK(state->versions == reference->versions);
      CHECK(state->deleted == reference->deleted);
    }
  }
}

TEST_CASE("versions round-trip through JSON and malformed ones are refused", "[merge]") {
  relais::FieldVersions versions{{"*", at(1)}, {"duree", at(2, kDeviceB)}};
  CHECK(relais::field_versions_from_json(relais::to_json(versions)) == versions);
  CHECK_FALSE(relais::field_versions_from_json(json{{"duree", 12}}));
  CHECK_FALSE(relais::field_versions_from_json(json{{"duree", json::array({12})}}));
  CHECK_FALSE(relais::field_versions_from_json(json{{"duree", json::array({-1, "x"})}}));
  CHECK_FALSE(relais::field_versions_from_json(json::array()));
  IncomingChange incomplete;
  incomplete.fields = {{"duree", 30}, {"date", "2026-11-20"}};
  incomplete.versions = {{"duree", at(3)}};
  CHECK(relais::missing_versions(incomplete) == std::vector<std::string>{"date"});
}

TEST_CASE("versions read from text agree with those read through a JSON document", "[merge]") {
  // field_versions_from_text is field_versions_from_json(parse_json(text)), nullopt for a text
  // that is not JSON.
  const std::vector<std::string> texts{
      R"({"*":[1700000000000,"0193a5c0-0000-7000-8000-00000000000a"]})",
      R"( { "duree" : [ 2 , "b" ] , "*" : [1,"a"] } )",
      R"({"nom \"\u00e9\"":[42,"appareil \\ « x »"]})",
      R"({})",
      R"({"duree":12})",
      R"({"duree":[12]})",
      R"({"duree":[12,"a","b"]})",
      R"({"duree":[-1,"a"]})",
      R"({"duree":[1.5,"a"]})",
      R"({"duree":[1e3,"a"]})",
      R"({"duree":[18446744073709551615,"a"]})",
      R"({"duree":[1,""]})",
      R"({"duree":[1,2]})",
      R"({"duree":["1","a"]})",
      R"({"duree":[[1],"a"]})",
      R"({"duree":[1,"a"],"duree":[2,"a"]})",
      R"([])",
      R"("*")",
      R"({"duree":[1,"a"]} x)",
      R"({"duree":[1,"a"])",
      R"({"duree":[1,"a",]})",
      "",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    std::optional<relais::FieldVersions> expected;
    try {
      expected = relais::field_versions_from_json(relais::parse_json(text));
    } catch (const relais::JsonSyntaxError&) {
      expected.reset();
    }
    CHECK(relais::field_versions_from_text(text) == expected);
  }
  CHECK(relais::field_versions_from_text(texts[1]).value().at("duree") == at(2, "b"));
}
