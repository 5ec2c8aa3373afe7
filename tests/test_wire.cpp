// The wire protocol's one home (core/include/relais/wire.hpp): what the device writes the server
// reads back the same, and what the server writes the device reads back the same.
#include <catch2/catch.hpp>

#include "relais/json_parse.hpp"
#include "relais/server/protocol.hpp"
#include "relais/wire.hpp"

using nlohmann::json;
using relais::FieldVersion;
using relais::RecordKind;

namespace {

const std::string kDevice = "0193a5c0-0000-7000-8000-00000000000a";
const std::string kOther = "0193a5c0-0000-7000-8000-00000000000b";

}  // namespace

TEST_CASE("wire: a push written by the device is read by the server as it was written", "[wire]") {
  std::vector<relais::wire::OutgoingChange> changes;
  changes.push_back({RecordKind::session, "0193a5c0-0000-7000-8000-000000000001",
                     R"({"type":"individuel","date":"2026-01-10","duree":45,"notes":"Café « noir »\n"})",
                     {{"*", {100, kDevice}}},
                     {}});
  changes.push_back({RecordKind::device, "0193a5c0-0000-7000-8000-000000000002", R"({"marque":"Lenovo","poids_kg":null})",
                     {{"marque", {200, kDevice}}, {"poids_kg", {201, kDevice}}},
                     {{"marque", {150, kOther}}}});
  changes.push_back({RecordKind::device_event, "0193a5c0-0000-7000-8000-000000000003", R"({"_deleted":true})",
                     {{"_deleted", {300, kDevice}}},
                     {}});
  const auto body = relais::wire::encode_push(kDevice, changes);
  CHECK(body.size() < relais::wire::kMaxBodyBytes);
  const auto read = relais::server::parse_push(body);
  CHECK(read.device_id == kDevice);
  REQUIRE(read.changes.size() == changes.size());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    INFO(i);
    CHECK(read.changes[i].kind == changes[i].kind);
    CHECK(read.changes[i].id == changes[i].id);
    CHECK(read.changes[i].change.fields == relais::parse_json(changes[i].fields));
    CHECK(read.changes[i].change.versions == changes[i].versions);
    CHECK(read.changes[i].change.bases == changes[i].bases);
    CHECK(read.changes[i].fields_text == changes[i].fields);  // canonical text: kept as it came
  }
}

TEST_CASE("wire: push results written by the server are read by the device as they were written", "[wire]") {
  const std::string applied_id = "0193a5c0-0000-7000-8000-000000000001";
  const std::string rejected_id = "0193a5c0-0000-7000-8000-000000000002";
  const std::string conflict_id = "0193a5c0-0000-7000-8000-000000000003";
  const json problems = json::array({{{"field", "duree"}, {"reason", "out_of_range"}, {"message", "trop long"}}});
  const relais::FieldConflict conflict{"duree", 60, {300, kDevice}, 90, {250, kOther}, false};
  const auto results = relais::wire::applied_result_text(applied_id, {100, kDevice}) + "," +
                       relais::wire::rejected_result(rejected_id, problems).dump() + "," +
                       relais::wire::conflict_result(conflict_id, {300, kDevice}, {conflict}).dump();
  const auto answer = relais::wire::push_answer("[" + results + "]");
  // The applied result written directly is what nlohmann would write.
  CHECK(json::parse(relais::wire::applied_result_text(applied_id, {100, kDevice})) ==
        json({{"id", applied_id}, {"status", "applied"}, {"version", json::array({100, kDevice})}}));

  const auto read = relais::wire::parse_push_results(answer);
  REQUIRE(read.has_value());
  REQUIRE(read->size() == 3);
  CHECK((*read)[0].id == applied_id);
  CHECK((*read)[0].status == relais::wire::kApplied);
  CHECK((*read)[1].status == relais::wire::kRejected);
  CHECK((*read)[1].problems == problems);
  CHECK((*read)[2].status == relais::wire::kConflict);
  REQUIRE((*read)[2].conflicts.size() == 1);
  CHECK((*read)[2].conflicts[0] == relais::wire::conflict_json(conflict));
  CHECK((*read)[2].conflicts[0]["lost_version"] == json::array({250, kOther}));
  CHECK_FALSE(relais::wire::parse_push_results("{\"results\": 3}").has_value());
  CHECK_FALSE(relais::wire::parse_push_results("not json").has_value());
}

TEST_CASE("wire: a pull page written by the server is read by the device as it was written", "[wire]") {
  json records = json::array();
  records.push_back(relais::wire::pulled_record_json("session", "0193a5c0-0000-7000-8000-000000000001",
                                                     {{"duree", 45}, {"date", "2026-01-10"}},
                                                     {{"*", json::array({100, kDevice})}, {"duree", json::array({120, kOther})}},
                                                     false, std::string("0193a5c0-0000-7000-8000-0000000000aa")));
  records.push_back(relais::wire::pulled_record_json("place", "0193a5c0-0000-7000-8000-000000000002",
                                                     {{"nom", "Médiathèque"}}, {{"*", json::array({90, kOther})}},
                                                     true, std::nullopt));
  records.push_back({{"kind", "unknown"}, {"id", "x"}, {"fields", json::object()}, {"versions", json::object()}});
  const json vocabulary = {{"version", 2}, {"sets", json::object()}};
  const auto answer = relais::wire::pull_answer(records, "AAAA", true, vocabulary).dump();

  const auto page = relais::wire::parse_pull_answer(answer);
  REQUIRE(page.has_value());
  CHECK(page->cursor == "AAAA");
  CHECK(page->more);
  CHECK(page->vocabulary == vocabulary);
  REQUIRE(page->records.size() == 2);  // the unknown kind is skipped
  const auto& session = page->records[0];
  CHECK(session.kind == RecordKind::session);
  CHECK(session.state.fields == json({{"duree", 45}, {"date", "2026-01-10"}}));
  CHECK(session.state.versions.at("duree") == FieldVersion{120, kOther});
  CHECK_FALSE(session.state.deleted);
  CHECK(session.mediateur_id == "0193a5c0-0000-7000-8000-0000000000aa");
  CHECK(page->records[1].kind == RecordKind::place);
  CHECK(page->records[1].state.deleted);
  CHECK_FALSE(page->records[1].mediateur_id.has_value());
  CHECK_FALSE(relais::wire::parse_pull_answer(R"({"records": []})").has_value());
}
