// Reference data: places (the "Lieux de médiation numérique" standard, vocabulary.md §2),
// structures and advisors, checked through check_record.
#include <catch2/catch.hpp>

#include "relais/records.hpp"
#include "support.hpp"

using namespace relais;
using nlohmann::json;
using relais::test::has_problem;
using relais::test::check;
using relais::test::require_ok;
using relais::test::require_only;
using relais::test::to_text;

namespace {

constexpr const char* kStructureId = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";


json valid_place() {
  return {{"nom", "France Services Lyon 1er"},
          {"pivot", "21690123100011"},
          {"adresse", "2 place Sathonay"},
          {"complement_adresse", "Rez-de-chaussée"},
          {"commune", "Lyon"},
          {"code_postal", "69001"},
          {"code_insee", "69381"},
          {"latitude", 45.7675},
          {"longitude", 4.8301},
          {"telephone", "+33 4 72 00 00 00"},
          {"courriels", "accueil@example.org"},
          {"site_web", "https://example.org"},
          {"horaires", "Mo-Fr 09:00-12:00,14:00-17:00"},
          {"services", {"Aide aux démarches administratives", "Prendre en main un ordinateur"}},
          {"date_maj", "2026-10-01"}};
}

json valid_structure() {
  return {{"nom", "Médiathèque de Vaise"}, {"pivot", "W691234567"}, {"commune", "Lyon"},
          {"code_postal", "69009"},        {"code_insee", "69389"}};
}

json valid_advisor() {
  return {{"nom", "Martin"},
          {"prenom", "Inès"},
          {"structure_id", kStructureId},
          {"role", "mediateur"},
          {"lieu_id", "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d4c"},
          {"email", "ines.martin@example.org"}};
}

}  // namespace

// [SECTION] Places ---------------------------------------------------------------------------------

TEST_CASE("a place needs a name, a town and a postal code", "[reference]") {
  require_ok(RecordKind::place, valid_place());
  require_ok(RecordKind::place, {{"nom", "Tiers-lieu"}, {"commune", "Ajaccio"}, {"code_postal", "20000"}});
  for (const char* field : {"nom", "commune", "code_postal"}) {
    CAPTURE(field);
    auto record = valid_place();
    record.erase(field);
    require_only(RecordKind::place, record, field, "required");
    record[field] = "  ";
    require_only(RecordKind::place, record, field, "required");
  }
  SECTION("postal and INSEE codes are checked") {
    auto record = valid_place();
    record["code_postal"] = "6900";
    require_only(RecordKind::place, record, "code_postal", "invalid_postal_code");
    record = valid_place();
    record["code_insee"] = "2C004";
    require_only(RecordKind::place, record, "code_insee", "invalid_insee");
    record["code_insee"] = "2A004";
    require_ok(RecordKind::place, record);
  }
}

TEST_CASE("a place pivot is a SIRET or an RNA number", "[reference]") {
  auto record = valid_place();
  for (const char* pivot : {"21690123100011", "W691234567"}) {
    CAPTURE(pivot);
    record["pivot"] = pivot;
    require_ok(RecordKind::place, record);
  }
  for (const char* pivot :
       {"2169012310001", "216901231000111", "2169012310001A", "216 901 231 00011", "W69123456", "W6912345678",
        "w691234567", "X691234567", "W69123456A"}) {
    CAPTURE(pivot);
    record["pivot"] = pivot;
    const auto problems = check(RecordKind::place, record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "pivot");
    CHECK(problems[0].reason == "invalid_pivot");
  }
}

TEST_CASE("a place's coordinates are in range", "[reference]") {
  auto record = valid_place();
  SECTION("the limits themselves are fine") {
    record["latitude"] = -90;
    record["longitude"] = 180;
    require_ok(RecordKind::place, record);
    record["latitude"] = 90.0;
    record["longitude"] = -180.0;
    require_ok(RecordKind::place, record);
  }
  SECTION("beyond them") {
    record["latitude"] = 90.5;
    require_only(RecordKind::place, record, "latitude", "out_of_range");
    record["latitude"] = -91;
    require_only(RecordKind::place, record, "latitude", "out_of_range");
    record = valid_place();
    record["longitude"] = 180.01;
    require_only(RecordKind::place, record, "longitude", "out_of_range");
    record["longitude"] = -200;
    require_only(RecordKind::place, record, "longitude", "out_of_range");
  }
  SECTION("a number written as text is refused") {
    record["latitude"] = "45.76";
    require_only(RecordKind::place, record, "latitude", "expected_number");
  }
}

TEST_CASE("a place's update date is a real day", "[reference]") {
  auto record = valid_place();
  record["date_maj"] = "2026-02-30";
  require_only(RecordKind::place, record, "date_maj", "invalid_date");
  record["date_maj"] = "01/10/2026";
  require_only(RecordKind::place, record, "date_maj", "invalid_date");
}

TEST_CASE("a place survives to_json and decoding unchanged", "[reference]") {
  auto input = valid_place();
  input["id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d5d";
  const auto checked = check_record(RecordKind::place, input, relais::test::context());
  REQUIRE(checked.ok());
  const auto& place = std::get<Place>(checked.record);
  CHECK(place.services.size() == 2u);
  Problems problems;
  CHECK(decode_place(to_json(place), problems) == place);
  CHECK(problems.empty());
  SECTION("unknown fields and wrong kinds are refused") {
    input["accessibilite"] = true;
    require_only(RecordKind::place, input, "accessibilite", "unknown_field");
    input.erase("accessibilite");
    input["kind"] = "structure";
    require_only(RecordKind::place, input, "kind", "wrong_kind");
  }
}

// [SECTION] Structures -----------------------------------------------------------------------------

TEST_CASE("a structure needs a name; its identifiers and codes are checked", "[reference]") {
  require_ok(RecordKind::structure, valid_structure());
  require_ok(RecordKind::structure, {{"nom", "Association Clic"}});
  auto record = valid_structure();
  record.erase("nom");
  require_only(RecordKind::structure, record, "nom", "required");

  record = valid_structure();
  record["pivot"] = "12345";
  require_only(RecordKind::structure, record, "pivot", "invalid_pivot");
  record["pivot"] = "21690123100011";
  require_ok(RecordKind::structure, record);

  record = valid_structure();
  record["code_postal"] = "690090";
  require_only(RecordKind::structure, record, "code_postal", "invalid_postal_code");
  record = valid_structure();
  record["code_insee"] = "7505A";
  require_only(RecordKind::structure, record, "code_insee", "invalid_insee");
  record = valid_structure();
  record["siret"] = "21690123100011";
  require_only(RecordKind::structure, record, "siret", "unknown_field");

  Problems problems;
  const auto structure = decode_structure(valid_structure(), problems);
  CHECK(decode_structure(to_json(structure), problems) == structure);
  CHECK(problems.empty());
}

// [SECTION] Advisors -------------------------------------------------------------------------------

TEST_CASE("an advisor needs a name, a structure and a role", "[reference]") {
  require_ok(RecordKind::advisor, valid_advisor());
  require_ok(RecordKind::advisor, {{"nom", "Durand"}, {"structure_id", kStructureId}, {"role", "admin"}});
  for (const char* field : {"nom", "structure_id", "role"}) {
    CAPTURE(field);
    auto record = valid_advisor();
    record.erase(field);
    require_only(RecordKind::advisor, record, field, "required");
  }
  SECTION("roles") {
    auto record = valid_advisor();
    for (const char* role : {"mediateur", "coordinateur", "admin"}) {
      record["role"] = role;
      require_ok(RecordKind::advisor, record);
    }
    record["role"] = "directeur";
    require_only(RecordKind::advisor, record, "role", "unknown_code");
  }
  SECTION("references are UUIDs") {
    auto record = valid_advisor();
    record["structure_id"] = "france-services-lyon";
    require_only(RecordKind::advisor, record, "structure_id", "invalid_uuid");
    record = valid_advisor();
    record["lieu_id"] = "42";
    require_only(RecordKind::advisor, record, "lieu_id", "invalid_uuid");
  }
  SECTION("e-mail address") {
    auto record = valid_advisor();
    for (const char* email : {"ines.martin", "ines@", "@example.org", "ines@example"}) {
      CAPTURE(email);
      record["email"] = email;
      require_only(RecordKind::advisor, record, "email", "invalid_email");
    }
  }
  SECTION("round trip") {
    Problems problems;
    const auto advisor = decode_advisor(valid_advisor(), problems);
    CHECK(decode_advisor(to_json(advisor), problems) == advisor);
    CHECK(problems.empty());
  }
}
