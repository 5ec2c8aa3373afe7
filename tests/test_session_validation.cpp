// Every rule of a help session (vocabulary.md §1), checked the way the store and the CLI check
// records: decode then validate, through check_record.
#include <catch2/catch.hpp>

#include <functional>
#include <limits>
#include <regex>
#include <set>

#include "relais/i18n.hpp"
#include "relais/records.hpp"
#include "support.hpp"

using namespace relais;
using nlohmann::json;
using relais::test::has_problem;
using relais::test::to_text;

namespace {

Problems check(const json& record) {
  return check_record(RecordKind::session, record, relais::test::context()).problems;
}

Session decoded(const json& record) {
  const auto checked = check_record(RecordKind::session, record, relais::test::context());
  INFO(to_text(checked.problems));
  REQUIRE(checked.ok());
  return std::get<Session>(checked.record);
}

// The record has exactly one problem, on `field`, for `reason`.
void require_only(const json& record, const std::string& field, const std::string& reason) {
  const auto problems = check(record);
  INFO("expected " << field << " / " << reason << ", got:\n" << to_text(problems));
  REQUIRE(problems.size() == 1u);
  CHECK(problems[0].field == field);
  CHECK(problems[0].reason == reason);
}

// The record has (at least) this problem.
void require_problem(const json& record, const std::string& field, const std::string& reason) {
  const auto problems = check(record);
  INFO("expected " << field << " / " << reason << ", got:\n" << to_text(problems));
  REQUIRE(has_problem(problems, field, reason));
}

void require_ok(const json& record) {
  const auto problems = check(record);
  INFO(to_text(problems));
  REQUIRE(problems.empty());
}

const Problem* find(const Problems& problems, const std::string& field, const std::string& reason) {
  for (const auto& problem : problems) {
    if (problem.field == field && problem.reason == reason) return &problem;
  }
  return nullptr;
}

std::string arg(const Problem& problem, const std::string& name) {
  for (const auto& [key, value] : problem.args) {
    if (key == name) return value;
  }
  return "(missing " + name + ")";
}

// An individual session without the administrative parts, for rules that need a plain record.
json plain_individual() {
  auto record = relais::test::valid_individual_session_json();
  record["thematiques"] = {"email"};
  record.erase("precisions_demarche");
  return record;
}

json individual_at_place() {
  auto record = plain_individual();
  record["type_lieu"] = "lieu_activite";
  record["lieu_id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";
  record.erase("lieu_commune");
  record.erase("lieu_code_postal");
  record.erase("lieu_code_insee");
  return record;
}

}  // namespace

// [SECTION] Valid samples and required fields ------------------------------------------------------

TEST_CASE("the sample sessions are valid", "[session]") {
  require_ok(relais::test::valid_individual_session_json());
  require_ok(relais::test::valid_workshop_json());
  require_ok(plain_individual());
  require_ok(individual_at_place());
}

TEST_CASE("a session without a required field is refused", "[session]") {
  for (const char* field : {"type", "date", "duree", "type_lieu"}) {
    CAPTURE(field);
    auto record = relais::test::valid_individual_session_json();
    record.erase(field);
    require_only(record, field, "required");
    // Null and blank count as absent (what an empty form field sends).
    record[field] = nullptr;
    require_only(record, field, "required");
    if (std::string(field) != "duree") {
      record[field] = "   ";
      require_only(record, field, "required");
    }
  }
  SECTION("at least one theme") {
    auto record = plain_individual();
    record.erase("thematiques");
    require_only(record, "thematiques", "at_least_one");
    record["thematiques"] = json::array();
    require_only(record, "thematiques", "at_least_one");
  }
  SECTION("materiel, tags and notes are optional") {
    auto record = plain_individual();
    record.erase("materiel");
    record.erase("notes");
    record["tags"] = json::array();
    require_ok(record);
  }
}

// [SECTION] Codes ----------------------------------------------------------------------------------

TEST_CASE("an unknown code is refused in every coded field", "[session]") {
  SECTION("individual session fields") {
    const std::vector<std::pair<json::json_pointer, std::string>> cases{
        {json::json_pointer("/type"), "type"},
        {json::json_pointer("/type_lieu"), "type_lieu"},
        {json::json_pointer("/autonomie"), "autonomie"},
        {json::json_pointer("/structure_de_redirection"), "structure_de_redirection"},
        {json::json_pointer("/beneficiaire/genre"), "beneficiaire.genre"},
        {json::json_pointer("/beneficiaire/tranche_age"), "beneficiaire.tranche_age"},
        {json::json_pointer("/beneficiaire/statut_social"), "beneficiaire.statut_social"},
    };
    for (const auto& [pointer, field] : cases) {
      CAPTURE(field);
      auto record = relais::test::valid_individual_session_json();
      record[pointer] = "inconnu";
      const auto problems = check(record);
      INFO(to_text(problems));
      const auto* problem = find(problems, field, "unknown_code");
      REQUIRE(problem != nullptr);
      CHECK(arg(*problem, "value") == "inconnu");
      CHECK_FALSE(arg(*problem, "allowed").empty());
    }
  }
  SECTION("the allowed codes are listed") {
    auto record = relais::test::valid_individual_session_json();
    record["autonomie"] = "seul";
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(arg(problems[0], "allowed") == "entierement_accompagne, partiellement_autonome, autonome");
  }
  SECTION("list items are named by their position") {
    auto record = plain_individual();
    record["materiel"] = {"ordinateur", "souris"};
    require_only(record, "materiel[1]", "unknown_code");
    record = plain_individual();
    record["thematiques"] = {"email", "jardinage"};
    require_only(record, "thematiques[1]", "unknown_code");
  }
  SECTION("workshop fields") {
    auto record = relais::test::valid_workshop_json();
    record["niveau"] = "expert";
    require_only(record, "niveau", "unknown_code");
    record = relais::test::valid_workshop_json();
    record["participants"]["genre"]["autre_genre"] = 1;
    require_only(record, "participants.genre.autre_genre", "unknown_code");
    record = relais::test::valid_workshop_json();
    record["participants"]["tranche_age"]["centenaire"] = 1;
    require_only(record, "participants.tranche_age.centenaire", "unknown_code");
    record = relais::test::valid_workshop_json();
    record["participants"]["statut_social"]["etudiant"] = 1;
    require_only(record, "participants.statut_social.etudiant", "unknown_code");
  }
  SECTION("codes are case-sensitive") {
    auto record = relais::test::valid_individual_session_json();
    record["type"] = "Individuel";
    require_only(record, "type", "unknown_code");
  }
}

TEST_CASE("a code given twice in a list is refused", "[session]") {
  auto record = plain_individual();
  record["materiel"] = {"ordinateur", "tablette", "ordinateur"};
  require_only(record, "materiel[2]", "duplicate_value");
  record = plain_individual();
  record["thematiques"] = {"email", "sante", "email"};
  require_only(record, "thematiques[2]", "duplicate_value");
  record = plain_individual();
  record["tags"] = {"cyber", "cyber"};
  require_only(record, "tags[1]", "duplicate_value");
}

TEST_CASE("\"aucun\" materiel stands alone", "[session]") {
  auto record = plain_individual();
  record["materiel"] = {"aucun"};
  require_ok(record);
  record["materiel"] = {"aucun", "ordinateur"};
  require_only(record, "materiel", "none_with_others");
}

TEST_CASE("administrative themes need the administrative-procedures theme", "[session]") {
  auto record = plain_individual();
  record["thematiques"] = {"email", "logement"};
  const auto problems = check(record);
  INFO(to_text(problems));
  REQUIRE(problems.size() == 1u);
  CHECK(problems[0].field == "thematiques[1]");
  CHECK(problems[0].reason == "administrative_theme_alone");
  CHECK(arg(problems[0], "value") == "logement");

  SECTION("accepted alongside aide_aux_demarches_administratives, in any order") {
    record["thematiques"] = {"logement", "argent_impots", "aide_aux_demarches_administratives"};
    require_ok(record);
  }
  SECTION("precisions_demarche needs the administrative theme") {
    record["thematiques"] = {"email"};
    record["precisions_demarche"] = "Demande de carte grise";
    require_only(record, "precisions_demarche", "needs_administrative_theme");
  }
}

// [SECTION] Date and duration ----------------------------------------------------------------------

TEST_CASE("the session date is a real day, not after today", "[session]") {
  auto record = plain_individual();
  SECTION("today is accepted") {
    record["date"] = "2026-11-22";
    require_ok(record);
  }
  SECTION("tomorrow is refused") {
    record["date"] = "2026-11-23";
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "date");
    CHECK(problems[0].reason == "future_date");
    CHECK(arg(problems[0], "value") == "2026-11-23");
  }
  SECTION("days that do not exist and other shapes are refused") {
    for (const char* text : {"2026-02-29", "2026-11-31", "22/11/2026", "2026-1-5", "hier"}) {
      CAPTURE(text);
      record["date"] = text;
      require_only(record, "date", "invalid_date");
    }
  }
}

TEST_CASE("the duration is a whole number of minutes within a day", "[session]") {
  auto record = plain_individual();
  for (const int minutes : {1, 45, 1439}) {
    CAPTURE(minutes);
    record["duree"] = minutes;
    require_ok(record);
  }
  for (const int minutes : {0, -30, 1440, 100000}) {
    CAPTURE(minutes);
    record["duree"] = minutes;
    const auto problems = check(record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "duree");
    CHECK(problems[0].reason == "out_of_range");
    CHECK(arg(problems[0], "min") == "1");
    CHECK(arg(problems[0], "max") == "1439");
  }
  SECTION("30.0 is the integer 30") {
    record["duree"] = 30.0;
    CHECK(decoded(record).duree == std::int64_t{30});
  }
  SECTION("text and fractions are not integers, and are not reported again as missing") {
    record["duree"] = "30";
    require_only(record, "duree", "expected_integer");
    record["duree"] = 30.5;
    require_only(record, "duree", "expected_integer");
  }
}

// [SECTION] Where the session took place -----------------------------------------------------------

TEST_CASE("lieu_id goes with type_lieu lieu_activite only", "[session]") {
  SECTION("required at a place of activity") {
    auto record = individual_at_place();
    record.erase("lieu_id");
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "lieu_id");
    CHECK(problems[0].reason == "required_when");
    CHECK(arg(problems[0], "other") == "type_lieu");
    CHECK(arg(problems[0], "value") == "lieu_activite");
  }
  SECTION("forbidden elsewhere") {
    for (const char* type_lieu : {"domicile", "autre", "a_distance"}) {
      CAPTURE(type_lieu);
      auto record = plain_individual();
      record["type_lieu"] = type_lieu;
      record["lieu_id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";
      require_only(record, "lieu_id", "forbidden_when");
    }
  }
  SECTION("must be a UUID") {
    auto record = individual_at_place();
    record["lieu_id"] = "mairie-du-1er";
    require_only(record, "lieu_id", "invalid_uuid");
    record["lieu_id"] = "0192F0C1-7A3E-7B2C-9D4E-5F6A7B8C9D0E";
    require_only(record, "lieu_id", "invalid_uuid");
  }
}

TEST_CASE("the town of the session is required at home and elsewhere, not remotely", "[session]") {
  for (const char* type_lieu : {"domicile", "autre"}) {
    CAPTURE(type_lieu);
    for (const char* field : {"lieu_commune", "lieu_code_postal", "lieu_code_insee"}) {
      CAPTURE(field);
      auto record = plain_individual();
      record["type_lieu"] = type_lieu;
      record.erase(field);
      require_only(record, field, "required_when");
    }
  }
  SECTION("remote sessions need no town") {
    auto record = plain_individual();
    record["type_lieu"] = "a_distance";
    record.erase("lieu_commune");
    record.erase("lieu_code_postal");
    record.erase("lieu_code_insee");
    require_ok(record);
  }
  SECTION("the codes of the town are checked") {
    auto record = plain_individual();
    record["lieu_code_postal"] = "6900";
    require_only(record, "lieu_code_postal", "invalid_postal_code");
    record = plain_individual();
    record["lieu_code_insee"] = "2C004";
    require_only(record, "lieu_code_insee", "invalid_insee");
    record = plain_individual();
    record["lieu_code_insee"] = "2B033";
    require_ok(record);
  }
}

// [SECTION] Fields of one session type only --------------------------------------------------------

TEST_CASE("individual-only fields are refused on a workshop", "[session]") {
  const std::vector<std::pair<std::string, json>> fields{
      {"autonomie", "autonome"},
      {"oriente_vers_structure", false},
      {"structure_de_redirection", "administration"},
      {"precisions_demarche", "Inscription sur les listes électorales"},
      {"beneficiaire", {{"genre", "feminin"}}},
  };
  for (const auto& [field, value] : fields) {
    CAPTURE(field);
    auto record = relais::test::valid_workshop_json();
    record[field] = value;
    require_only(record, field, "individual_only");
  }
}

TEST_CASE("workshop-only fields are refused on an individual session", "[session]") {
  const auto workshop = relais::test::valid_workshop_json();
  for (const char* field : {"titre_atelier", "niveau", "participants"}) {
    CAPTURE(field);
    auto record = relais::test::valid_individual_session_json();
    record[field] = workshop.at(field);
    require_only(record, field, "workshop_only");
  }
}

// [SECTION] Workshop participants ------------------------------------------------------------------

TEST_CASE("a workshop needs a valid participant count", "[session]") {
  auto record = relais::test::valid_workshop_json();
  SECTION("participants are required") {
    record.erase("participants");
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "participants");
    CHECK(problems[0].reason == "required_when");
    CHECK(arg(problems[0], "other") == "type");
    CHECK(arg(problems[0], "value") == "collectif");
  }
  SECTION("a total of 0 is refused") {
    record["participants"] = {{"total", 0}};
    require_only(record, "participants.total", "out_of_range");
  }
  SECTION("a missing or impossible total is the only problem reported") {
    record["participants"].erase("total");
    require_only(record, "participants.total", "required");
    record["participants"]["total"] = -8;
    require_only(record, "participants.total", "out_of_range");
    record["participants"]["total"] = 20000;
    require_only(record, "participants.total", "out_of_range");
  }
  SECTION("a single participant is a workshop too") {
    record["participants"] = {{"total", 1}};
    require_ok(record);
  }
  SECTION("more people already helped than participants") {
    record["participants"]["deja_accompagnes"] = 9;
    const auto problems = check(record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "participants.deja_accompagnes");
    CHECK(problems[0].reason == "exceeds_total");
    CHECK(arg(problems[0], "value") == "9");
    CHECK(arg(problems[0], "total") == "8");
  }
  SECTION("the counts of a group add up to more than the total") {
    record["participants"]["genre"] = {{"feminin", 6}, {"masculin", 3}};
    const auto problems = check(record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "participants.genre");
    CHECK(problems[0].reason == "counts_exceed_total");
    CHECK(arg(problems[0], "sum") == "9");
    CHECK(arg(problems[0], "total") == "8");
  }
  SECTION("huge counts do not wrap around") {
    const auto huge = std::numeric_limits<std::int64_t>::max();
    record["participants"]["genre"] = {{"feminin", huge}, {"masculin", huge}};
    require_only(record, "participants.genre", "counts_exceed_total");
    record["participants"]["genre"] = {{"feminin", huge}, {"masculin", huge}, {"non_communique", 2}};
    require_only(record, "participants.genre", "counts_exceed_total");
  }
  SECTION("an explicit non_communique must make the counts equal the total") {
    record["participants"]["tranche_age"] = {{"soixante_dix_plus", 4}, {"non_communique", 2}};
    require_only(record, "participants.tranche_age", "counts_must_equal_total");
    record["participants"]["tranche_age"] = {{"soixante_dix_plus", 4}, {"non_communique", 4}};
    require_ok(record);
  }
  SECTION("negative counts are refused") {
    record["participants"]["statut_social"] = {{"retraite", -1}};
    require_only(record, "participants.statut_social.retraite", "out_of_range");
  }
  SECTION("counts must be whole numbers") {
    record["participants"]["genre"]["feminin"] = "5";
    require_only(record, "participants.genre.feminin", "expected_integer");
    record = relais::test::valid_workshop_json();
    record["participants"]["total"] = "8";
    // Only the total is wrong: the other counts are not compared with a total of 0.
    require_only(record, "participants.total", "expected_integer");
  }
  SECTION("unknown keys inside participants") {
    record["participants"]["enfants"] = 2;
    require_only(record, "participants.enfants", "unknown_field");
  }
}

TEST_CASE("non_communique is what remains of the total in each group", "[session]") {
  Participants participants;
  participants.total = 8;
  participants.genre = {{"feminin", 5}, {"masculin", 2}};
  participants.tranche_age = {{"soixante_dix_plus", 4}};
  CHECK(participants.non_communique("genre") == 1);
  CHECK(participants.non_communique("tranche_age") == 4);
  CHECK(participants.non_communique("statut_social") == 8);
  SECTION("an explicit non_communique count is not counted as known") {
    participants.genre["non_communique"] = 1;
    CHECK(participants.non_communique("genre") == 1);
  }
  SECTION("never negative") {
    participants.genre = {{"feminin", 10}};
    CHECK(participants.non_communique("genre") == 0);
    const auto huge = std::numeric_limits<std::int64_t>::max();
    participants.genre = {{"feminin", huge}, {"masculin", huge}};
    CHECK(participants.non_communique("genre") == 0);
    participants.total = std::numeric_limits<std::int64_t>::min();
    participants.genre = {{"feminin", 1}};
    CHECK(participants.non_communique("genre") == 0);
  }
  SECTION("to_json writes the remainder of each group") {
    const auto session = decoded(relais::test::valid_workshop_json());
    const auto out = to_json(session);
    CHECK(out["participants"]["genre"]["non_communique"] == 1);
    CHECK(out["participants"]["tranche_age"]["non_communique"] == 4);
    CHECK(out["participants"]["statut_social"]["non_communique"] == 2);
  }
}

TEST_CASE("people_count counts one accompagnement per person", "[session]") {
  CHECK(decoded(relais::test::valid_workshop_json()).people_count() == 8);
  CHECK(decoded(relais::test::valid_individual_session_json()).people_count() == 1);
  Session workshop_without_participants;
  workshop_without_participants.type = "collectif";
  CHECK(workshop_without_participants.people_count() == 0);
}

// [SECTION] Referral and the person helped ---------------------------------------------------------

TEST_CASE("a referral needs both the flag and the structure", "[session]") {
  auto record = plain_individual();
  SECTION("flag without structure") {
    record.erase("structure_de_redirection");
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "structure_de_redirection");
    CHECK(problems[0].reason == "required_when");
    CHECK(arg(problems[0], "other") == "oriente_vers_structure");
    CHECK(arg(problems[0], "value") == "true");
  }
  SECTION("structure without the flag") {
    record["oriente_vers_structure"] = false;
    require_only(record, "structure_de_redirection", "required_redirection_flag");
    record.erase("oriente_vers_structure");
    require_only(record, "structure_de_redirection", "required_redirection_flag");
  }
  SECTION("no referral at all") {
    record["oriente_vers_structure"] = false;
    record.erase("structure_de_redirection");
    require_ok(record);
  }
}

TEST_CASE("the person's commune of residence comes with its codes", "[session]") {
  auto record = plain_individual();
  SECTION("a name without codes") {
    record["beneficiaire"] = {{"genre", "masculin"}, {"commune", "Lyon"}};
    const auto problems = check(record);
    INFO(to_text(problems));
    CHECK(problems.size() == 2u);
    CHECK(has_problem(problems, "beneficiaire.commune_code_postal", "required"));
    CHECK(has_problem(problems, "beneficiaire.commune_code_insee", "required"));
  }
  SECTION("codes without a name") {
    record["beneficiaire"].erase("commune");
    require_only(record, "beneficiaire.commune", "required");
  }
  SECTION("the codes are checked") {
    record["beneficiaire"]["commune_code_postal"] = "690001";
    require_only(record, "beneficiaire.commune_code_postal", "invalid_postal_code");
    record = plain_individual();
    record["beneficiaire"]["commune_code_insee"] = "6938";
    require_only(record, "beneficiaire.commune_code_insee", "invalid_insee");
  }
  SECTION("an empty profile is anonymous and valid") {
    record["beneficiaire"] = json::object();
    const auto session = decoded(record);
    REQUIRE(session.beneficiaire);
    CHECK(session.beneficiaire->genre == "non_communique");
    CHECK(session.beneficiaire->tranche_age == "non_communique");
    CHECK(session.beneficiaire->statut_social == "non_communique");
  }
  SECTION("no name or other identifying field can be added") {
    record["beneficiaire"]["nom"] = "Dupont";
    require_only(record, "beneficiaire.nom", "unknown_field");
  }
}

TEST_CASE("notes must not hold contact details", "[session]") {
  auto record = plain_individual();
  for (const char* notes : {"Rappeler au 06 12 34 56 78", "Rappeler au +33 6 12 34 56 78",
                            "Lui écrire : marie.dupont@example.org"}) {
    CAPTURE(notes);
    record["notes"] = notes;
    require_only(record, "notes", "contact_details");
  }
  SECTION("dates, durations and times are fine") {
    record["notes"] = "Revoir le 2026-11-20, 30 minutes, rdv 14h";
    require_ok(record);
  }
}

// [SECTION] JSON shape -----------------------------------------------------------------------------

TEST_CASE("texts longer than their limit are refused", "[session]") {
  auto record = plain_individual();
  SECTION("notes: 2000 characters, counted as characters not bytes") {
    std::string accented;
    for (int i = 0; i < 2000; ++i) accented += "é";
    record["notes"] = accented;
    require_ok(record);
    record["notes"] = accented + "e";
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "notes");
    CHECK(problems[0].reason == "too_long");
    CHECK(arg(problems[0], "length") == "2001");
    CHECK(arg(problems[0], "max") == "2000");
  }
  SECTION("short texts: 200 characters") {
    record["lieu_commune"] = std::string(201, 'a');
    require_only(record, "lieu_commune", "too_long");
    auto workshop = relais::test::valid_workshop_json();
    workshop["titre_atelier"] = std::string(200, 'a');
    require_ok(workshop);
    workshop["titre_atelier"] = std::string(201, 'a');
    require_only(workshop, "titre_atelier", "too_long");
  }
  SECTION("surrounding spaces do not count") {
    record["lieu_commune"] = "  " + std::string(200, 'a') + "  ";
    require_ok(record);
  }
}

TEST_CASE("unknown fields are refused", "[session]") {
  auto record = plain_individual();
  record["couleur"] = "bleu";
  require_only(record, "couleur", "unknown_field");
  record = plain_individual();
  record["Date"] = "2026-11-20";  // keys are case-sensitive
  require_only(record, "Date", "unknown_field");
}

TEST_CASE("fields of the wrong JSON type are refused", "[session]") {
  const std::vector<std::tuple<std::string, json, std::string, std::string>> cases{
      {"type", 5, "type", "expected_text"},
      {"notes", json::array({"a"}), "notes", "expected_text"},
      {"materiel", "ordinateur", "materiel", "expected_list"},
      {"materiel", json::array({"ordinateur", 3}), "materiel[1]", "expected_text"},
      {"thematiques", json::object(), "thematiques", "expected_list"},
      {"beneficiaire", "anonyme", "beneficiaire", "expected_object"},
      {"oriente_vers_structure", "oui", "oriente_vers_structure", "expected_boolean"},
      {"oriente_vers_structure", 1, "oriente_vers_structure", "expected_boolean"},
      {"duree", true, "duree", "expected_integer"},
  };
  for (const auto& [key, value, field, reason] : cases) {
    CAPTURE(key, value.dump());
    auto record = relais::test::valid_individual_session_json();
    record[key] = value;
    require_problem(record, field, reason);
  }
  SECTION("participants must be an object") {
    auto record = relais::test::valid_workshop_json();
    record["participants"] = json::array({8});
    require_only(record, "participants", "expected_object");
    record = relais::test::valid_workshop_json();
    record["participants"]["genre"] = json::array({5});
    require_only(record, "participants.genre", "expected_object");
  }
}

TEST_CASE("a field with a type problem is not reported again by validation", "[session]") {
  // Each of these would also be "required" (or at_least_one) if validation repeated it.
  auto record = plain_individual();
  record["date"] = 20261120;
  require_only(record, "date", "expected_text");
  record = plain_individual();
  record["type_lieu"] = json::array({"domicile"});
  require_only(record, "type_lieu", "expected_text");
  record = plain_individual();
  record["thematiques"] = "email";
  require_only(record, "thematiques", "expected_list");
  record = relais::test::valid_workshop_json();
  record["participants"] = 8;
  require_only(record, "participants", "expected_object");
}

TEST_CASE("input that is not a JSON object gives exactly one problem", "[session]") {
  for (const auto& input : {json::array({relais::test::valid_individual_session_json()}), json("session"), json(42),
                            json(nullptr), json(true)}) {
    CAPTURE(input.dump());
    const auto problems = check(input);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field.empty());
    CHECK(problems[0].reason == "expected_object");
  }
}

TEST_CASE("text that is not valid UTF-8 or holds control characters is refused", "[session]") {
  auto record = plain_individual();
  record["notes"] = std::string("caf\xC3");
  require_only(record, "notes", "invalid_utf8");
  record = plain_individual();
  record["beneficiaire"]["commune"] = std::string("Ly\xC0\xAFon");
  require_only(record, "beneficiaire.commune", "invalid_utf8");
  record = plain_individual();
  record["tags"] = {std::string("ok"), std::string("\xED\xA0\x80")};
  require_only(record, "tags[1]", "invalid_utf8");
  record = plain_individual();
  record["notes"] = std::string("bip\x07");
  require_only(record, "notes", "control_character");
  SECTION("new lines and tabs are fine in notes") {
    record["notes"] = "ligne 1\nligne 2\tfin";
    require_ok(record);
  }
}

TEST_CASE("all the problems of a record are reported at once", "[session]") {
  auto record = plain_individual();
  record["date"] = "2026-12-01";          // future_date
  record["duree"] = 0;                    // out_of_range
  record["materiel"] = {"souris"};        // unknown_code
  record["notes"] = "tel 0612345678";     // contact_details
  record["couleur"] = "bleu";             // unknown_field
  const auto problems = check(record);
  INFO(to_text(problems));
  CHECK(problems.size() == 5u);
  CHECK(has_problem(problems, "date", "future_date"));
  CHECK(has_problem(problems, "duree", "out_of_range"));
  CHECK(has_problem(problems, "materiel[0]", "unknown_code"));
  CHECK(has_problem(problems, "notes", "contact_details"));
  CHECK(has_problem(problems, "couleur", "unknown_field"));
}

// [SECTION] Canonical JSON and metadata ------------------------------------------------------------

TEST_CASE("a session survives to_json and decoding unchanged", "[session]") {
  for (const auto& sample : {relais::test::valid_individual_session_json(), relais::test::valid_workshop_json(),
                             individual_at_place()}) {
    CAPTURE(sample.at("type"));
    auto with_id = sample;
    with_id["id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";
    with_id["tags"] = {"cyber", "seniors"};
    const auto original = decoded(with_id);
    const auto again = decoded(to_json(original));
    CHECK(again == original);
    CHECK(to_json(again) == to_json(original));
  }
  SECTION("an explicit non_communique that matches the remainder is the same as none") {
    auto record = relais::test::valid_workshop_json();
    const auto implicit = decoded(record);
    record["participants"]["genre"]["non_communique"] = 1;
    const auto explicit_count = decoded(record);
    CHECK(explicit_count == implicit);
    CHECK(explicit_count.participants->genre.count("non_communique") == 0u);
  }
  SECTION("decoding trims texts") {
    auto record = plain_individual();
    record["lieu_commune"] = "  Lyon 1er Arrondissement \n";
    CHECK(decoded(record).lieu_commune == std::string("Lyon 1er Arrondissement"));
  }
}

TEST_CASE("metadata keys are accepted and ignored", "[session]") {
  auto record = plain_individual();
  record["id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";
  record["kind"] = "session";
  record["created_at"] = "2026-11-20T10:00:00.000Z";
  record["updated_at"] = "2026-11-20T10:05:00.000Z";
  record["deleted_at"] = nullptr;
  record["mediateur_id"] = "0192f0c1-0000-7000-8000-000000000001";
  record["version"] = 123456789;
  record["origin_device"] = "0192f0c1-0000-7000-8000-000000000002";
  record["sync_state"] = "pending";
  require_ok(record);
  const auto session = decoded(record);
  CHECK(session.id == "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e");
  CHECK_FALSE(to_json(session).contains("created_at"));

  SECTION("a kind that names another record is refused") {
    record["kind"] = "lot";
    const auto problems = check(record);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "kind");
    CHECK(problems[0].reason == "wrong_kind");
    CHECK(arg(problems[0], "value") == "lot");
    CHECK(arg(problems[0], "expected") == "session");
  }
  SECTION("an id that is not a UUID is refused") {
    record["id"] = "42";
    require_only(record, "id", "invalid_uuid");
  }
}

// [SECTION] Messages -------------------------------------------------------------------------------

TEST_CASE("every session problem reads well in French and English", "[session]") {
  const auto& translator = relais::test::assets().translator;
  std::vector<json> bad;
  const auto add = [&](json record, const std::function<void(json&)>& change) {
    change(record);
    bad.push_back(std::move(record));
  };
  const auto individual = plain_individual();
  const auto workshop = relais::test::valid_workshop_json();
  add(individual, [](json& r) { r.erase("type"); r["date"] = "2026-02-30"; r["duree"] = "x"; });
  add(individual, [](json& r) { r["date"] = "2027-01-01"; r["duree"] = 0; r["kind"] = "lot"; r["id"] = "x"; });
  add(individual, [](json& r) { r["type_lieu"] = "lieu_activite"; r["materiel"] = {"aucun", "aucun", "souris"}; });
  add(individual, [](json& r) { r["lieu_id"] = "x"; r["lieu_code_postal"] = "1"; r["lieu_code_insee"] = "2"; });
  add(individual, [](json& r) { r["thematiques"] = {"logement"}; r["precisions_demarche"] = "CAF"; });
  add(individual, [](json& r) { r["thematiques"] = json::array(); r["notes"] = std::string(2001, 'a'); });
  add(individual, [](json& r) { r["notes"] = "a@example.org"; r["x"] = 1; r["tags"] = "t"; });
  add(individual, [](json& r) { r["oriente_vers_structure"] = "oui"; r["beneficiaire"] = 3; r["niveau"] = "avance"; });
  add(individual, [](json& r) { r["oriente_vers_structure"] = false; r["notes"] = std::string("\xC3"); });
  add(individual, [](json& r) { r.erase("structure_de_redirection"); r["beneficiaire"] = {{"commune", "Lyon"}}; });
  add(individual, [](json& r) { r["notes"] = "a\x01"; r["tags"] = json::array({1}); });
  add(workshop, [](json& r) { r["autonomie"] = "autonome"; r["participants"]["deja_accompagnes"] = 20; });
  add(workshop, [](json& r) { r["participants"]["genre"] = {{"feminin", 9}, {"autre", -1}}; });
  add(workshop, [](json& r) { r["participants"]["tranche_age"] = {{"non_communique", 1}}; });
  add(workshop, [](json& r) { r.erase("participants"); });
  add(workshop, [](json& r) { r["materiel"] = json::array(); for (int i = 0; i < 65; ++i) r["materiel"].push_back("a"); });
  bad.emplace_back(json::array());

  static const std::regex unfilled(R"(\{[a-z_]+\})");
  std::set<std::string> reasons;
  for (const auto& record : bad) {
    for (const auto& problem : check(record)) {
      reasons.insert(problem.reason);
      for (const auto lang : {Lang::fr, Lang::en}) {
        const auto text = describe(problem, translator, lang);
        CAPTURE(problem.field, problem.reason, text);
        CHECK(translator.has(lang, "problem." + problem.reason));
        CHECK(text.find("problem.") == std::string::npos);
        CHECK_FALSE(std::regex_search(text, unfilled));
        if (!problem.field.empty()) CHECK(text.rfind(problem.field, 0) == 0);
      }
      CHECK(describe(problem, translator, Lang::fr) != describe(problem, translator, Lang::en));
    }
  }
  // The records above make every reason a session can have.
  const std::set<std::string> expected{
      "required", "invalid_date", "expected_integer", "future_date", "out_of_range", "wrong_kind", "invalid_uuid",
      "required_when", "duplicate_value", "unknown_code", "none_with_others", "forbidden_when",
      "invalid_postal_code", "invalid_insee", "administrative_theme_alone", "needs_administrative_theme",
      "at_least_one", "too_long", "contact_details", "unknown_field", "expected_list", "expected_boolean",
      "expected_object", "workshop_only", "required_redirection_flag", "invalid_utf8", "control_character",
      "expected_text", "individual_only", "exceeds_total", "counts_exceed_total", "counts_must_equal_total",
      "too_many_items"};
  for (const auto& reason : expected) {
    CAPTURE(reason);
    CHECK(reasons.count(reason) == 1u);
  }
}
