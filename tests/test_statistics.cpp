// Indicators (core/statistics.hpp) over a fixed dataset whose every figure was counted by hand,
// through the local store's write paths (add, update, delete) and both ways of reading: the
// daily sums (period only) and the facts (any other filter).
#include <catch2/catch.hpp>

#include "relais/impact.hpp"
#include "relais/statistics.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::LocalStore;
using relais::RecordKind;
namespace stats = relais::stats;

namespace {

using relais::test::add_ok;

json individual(const std::string& date, std::int64_t minutes, const json& changes) {
  auto input = relais::test::valid_individual_session_json();
  input["date"] = date;
  input["duree"] = minutes;
  input.erase("notes");
  for (const auto& item : changes.items()) {
    if (item.value().is_null()) {
      input.erase(item.key());
    } else {
      input[item.key()] = item.value();
    }
  }
  return input;
}

const relais::ImpactFactors& factors() {
  static const auto table = relais::ImpactFactors::load_file(relais::test::assets().directory / "impact_factors.json");
  return table;
}

stats::Indicators compute(LocalStore& store, stats::Filter filter) {
  return stats::compute(store.database(), filter, store.vocabulary(), factors());
}

stats::Count count_of(const stats::Indicators& indicators, std::string_view dimension, std::string_view code) {
  const auto* breakdown = indicators.breakdown(dimension);
  REQUIRE(breakdown != nullptr);
  for (const auto& row : breakdown->rows) {
    if (row.code == code) return row;
  }
  FAIL("no row " << code << " in " << dimension);
  return {};
}

stats::Filter november() {
  stats::Filter filter;
  filter.from = relais::Date{2026, 11, 1};
  filter.to = relais::Date{2026, 11, 22};
  return filter;
}

// The dataset. In November 2026 (1st to 22nd, both inclusive):
//   S1 11-20 individual 45 min at home in Lyon (69381): email, administrative help, logement; a woman, 60-69, retired.
//   S2 11-01 individual 15 min at the place (Villeurbanne, 69266): navigation; anonymous.
//   W1 11-18 workshop 120 min in Ajaccio (2A004): 8 people, 2 already helped; security.
//   S4 11-22 individual 30 min at home in Lyon: email; a man.
//   S6 11-15 individual at a distance, 30 min then edited to 90 min: bureautique; anonymous.
// Outside: S3 on 10-31 (before the period) and S5 on 11-10 (deleted).
struct Dataset {
  relais::test::TempDir dir;
  std::unique_ptr<LocalStore> store = relais::test::open_store(dir / "stats.db");
  std::string place_id;

  Dataset() {
    place_id = add_ok(*store, RecordKind::place,
                      {{"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"}, {"code_postal", "69100"},
                       {"code_insee", "69266"}});
    add_ok(*store, RecordKind::session, individual("2026-11-20", 45, json::object()));
    add_ok(*store, RecordKind::session,
           individual("2026-11-01", 15,
                      {{"type_lieu", "lieu_activite"}, {"lieu_id", place_id}, {"lieu_commune", nullptr},
                       {"lieu_code_postal", nullptr}, {"lieu_code_insee", nullptr},
                       {"thematiques", {"navigation_sur_internet"}}, {"materiel", {"telephone"}},
                       {"beneficiaire", nullptr}, {"oriente_vers_structure", nullptr},
                       {"structure_de_redirection", nullptr}, {"precisions_demarche", nullptr}}));
    add_ok(*store, RecordKind::session, relais::test::valid_workshop_json());
    add_ok(*store, RecordKind::session,
           individual("2026-11-22", 30,
                      {{"thematiques", {"email"}}, {"precisions_demarche", nullptr},
                       {"beneficiaire", {{"genre", "masculin"}}}}));
    const auto s6 = add_ok(*store, RecordKind::session,
                           individual("2026-11-15", 30,
                                      {{"type_lieu", "a_distance"}, {"lieu_commune", nullptr},
                                       {"lieu_code_postal", nullptr}, {"lieu_code_insee", nullptr},
                                       {"thematiques", {"bureautique"}}, {"beneficiaire", nullptr},
                                       {"precisions_demarche", nullptr}}));
    REQUIRE(store->update(s6, {{"duree", 90}}).ok());
    add_ok(*store, RecordKind::session, individual("2026-10-31", 60, json::object()));
    const auto s5 = add_ok(*store, RecordKind::session, individual("2026-11-10", 60, json::object()));
    REQUIRE(store->remove(s5).ok());
  }
};

void check_november_totals(const stats::Indicators& out) {
  CHECK(out.totals.accompagnements == 12);
  CHECK(out.totals.beneficiaires == 10);
  CHECK(out.totals.individual_sessions == 4);
  CHECK(out.totals.workshops == 1);
  CHECK(out.totals.workshop_participants == 8);
  CHECK(out.totals.minutes == 45 + 15 + 120 + 30 + 90);
}

}  // namespace

TEST_CASE("statistics: totals, breakdowns and series over a period, counted by hand", "[statistics]") {
  Dataset data;
  const auto out = compute(*data.store, november());
  CHECK(out.used_daily_sums);
  check_november_totals(out);

  SECTION("duration buckets follow the edit, and a workshop counts each of its people") {
    const auto under_30 = count_of(out, stats::kDuree, "moins_30");
    CHECK(under_30.activities == 1);
    CHECK(under_30.people == 1);
    CHECK(count_of(out, stats::kDuree, "30_60").activities == 2);  // 45 and 30 (30 is "30 min à 1 h")
    CHECK(count_of(out, stats::kDuree, "60_120").activities == 1);  // the 90 min edit
    const auto long_ones = count_of(out, stats::kDuree, "120_plus");
    CHECK(long_ones.activities == 1);
    CHECK(long_ones.people == 8);
    CHECK(long_ones.minutes == 120);
  }

  SECTION("profile breakdowns add the workshop's counts and its 'non communiqué' remainders") {
    CHECK(count_of(out, stats::kGenre, "feminin").people == 6);
    CHECK(count_of(out, stats::kGenre, "masculin").people == 3);
    CHECK(count_of(out, stats::kGenre, "non_communique").people == 3);
    CHECK(count_of(out, stats::kTrancheAge, "soixante_soixante_neuf").people == 1);
    CHECK(count_of(out, stats::kTrancheAge, "soixante_dix_plus").people == 4);
    CHECK(count_of(out, stats::kTrancheAge, "non_communique").people == 7);
    CHECK(count_of(out, stats::kStatutSocial, "retraite").people == 7);
    CHECK(count_of(out, stats::kStatutSocial, "non_communique").people == 5);
    CHECK(count_of(out, stats::kStatutSocial, "en_emploi").people == 0);  // every code is listed
  }

  SECTION("themes, channels, communes of residence, places") {
    CHECK(count_of(out, stats::kThematique, "email").activities == 2);
    CHECK(count_of(out, stats::kThematique, "securite_numerique").people == 8);
    CHECK(count_of(out, stats::kThematique, "logement").activities == 1);  // administrative themes too
    CHECK(count_of(out, stats::kCanal, "domicile").people == 2);
    CHECK(count_of(out, stats::kCanal, "autre").people == 8);
    CHECK(count_of(out, stats::kCanal, "a_distance").activities == 1);
    CHECK(count_of(out, stats::kMateriel, "ordinateur").activities == 4);  // S1, S4, S6 and the workshop
    CHECK(count_of(out, stats::kCommune, "Lyon (69001)").people == 1);  // S4's profile has no commune
    CHECK(count_of(out, stats::kCommune, "").people == 11);  // not given, and workshop participants
    CHECK(count_of(out, stats::kLieu, data.place_id).activities == 1);
    CHECK(count_of(out, stats::kType, "collectif").people == 8);
  }

  SECTION("per day, week and month") {
    REQUIRE(out.per_day.size() == 5);
    CHECK(out.per_day.front().period == "2026-11-01");
    CHECK(out.per_day.back().period == "2026-11-22");
    REQUIRE(out.per_week.size() == 3);
    CHECK(out.per_week[0].period == "2026-W44");
    CHECK(out.per_week[1].period == "2026-W46");
    CHECK(out.per_week[2].period == "2026-W47");
    CHECK(out.per_week[2].activities == 3);
    CHECK(out.per_week[2].people == 10);
    REQUIRE(out.per_month.size() == 1);
    CHECK(out.per_month[0].people == 12);
  }
}

TEST_CASE("statistics: period bounds are inclusive, and a period that ends before it starts is refused",
          "[statistics]") {
  Dataset data;
  auto filter = november();
  filter.from = relais::Date{2026, 11, 22};
  CHECK(compute(*data.store, filter).totals.accompagnements == 1);  // S4, on the last day
  filter.from = relais::Date{2026, 10, 31};
  filter.to = relais::Date{2026, 10, 31};
  CHECK(compute(*data.store, filter).totals.accompagnements == 1);  // S3 alone
  filter.from = relais::Date{2026, 11, 2};
  CHECK_THROWS_AS(compute(*data.store, filter), std::invalid_argument);
  CHECK(compute(*data.store, stats::Filter{}).totals.accompagnements == 13);  // no period: everything live
}

TEST_CASE("statistics: filters read the facts and agree with the hand counts", "[statistics]") {
  Dataset data;
  auto filter = november();

  filter.type = "individuel";
  auto out = compute(*data.store, filter);
  CHECK_FALSE(out.used_daily_sums);
  CHECK(out.totals.accompagnements == 4);
  CHECK(out.totals.workshops == 0);
  CHECK(out.totals.minutes == 45 + 15 + 30 + 90);
  CHECK(count_of(out, stats::kGenre, "non_communique").people == 2);
  filter.type.reset();

  filter.thematique = "email";
  out = compute(*data.store, filter);
  CHECK(out.totals.accompagnements == 2);
  CHECK(count_of(out, stats::kThematique, "logement").activities == 1);  // S1 has both
  filter.thematique.reset();

  filter.departement = "2a";
  CHECK(compute(*data.store, filter).totals.accompagnements == 8);
  filter.departement.reset();

  filter.commune = "69381";
  CHECK(compute(*data.store, filter).totals.accompagnements == 2);
  filter.commune = "VILLEURBANNE";  // the place's commune, by name, any case
  CHECK(compute(*data.store, filter).totals.accompagnements == 1);
  filter.commune.reset();

  filter.lieu_id = data.place_id;
  out = compute(*data.store, filter);
  CHECK(out.totals.accompagnements == 1);
  REQUIRE(out.per_day.size() == 1);
  CHECK(out.per_day[0].period == "2026-11-01");
}

TEST_CASE("statistics: equipment by type and outcome, weights, handovers, erasures and CO2e", "[statistics]") {
  relais::test::TempDir dir;
  auto store = relais::test::open_store(dir / "equipment.db");
  const auto lot = add_ok(*store, RecordKind::lot, {{"date", "2026-11-05"}, {"type_donateur", "entreprise"}});
  const auto device = [&](const char* type, double kg) {
    return add_ok(*store, RecordKind::device, {{"lot_id", lot}, {"type", type}, {"poids_kg", kg}});
  };
  const auto event = [&](const std::string& device_id, const char* type, const char* date) {
    json record{{"device_id", device_id}, {"type", type}, {"date", date}, {"auteur", "Camille"}};
    if (std::string(type) == "efface") {
      record["methode"] = "purge";
      record["outil"] = "ShredOS / nwipe";
      record["resultat"] = "reussi";
      record["certificat"] = "CERT-1";
    }
    if (std::string(type) == "remis") record["code_beneficiaire"] = "BEN-1";
    return add_ok(*store, RecordKind::device_event, record);
  };
  const auto laptop = device("ordinateur_portable", 2.0);
  const auto phone = device("smartphone", 0.2);
  device("imprimante", 5.0);
  const auto second_phone = device("smartphone", 0.25);
  event(laptop, "efface", "2026-11-06");
  event(laptop, "remis", "2026-11-10");
  event(phone, "recycle", "2026-11-07");
  event(second_phone, "efface", "2026-11-08");
  event(second_phone, "remis", "2026-11-09");

  const auto out = compute(*store, november()).equipment;
  CHECK(out.devices_collected == 4);
  CHECK(out.weight_collected_kg == Approx(7.45));
  CHECK(out.weight_diverted_kg == Approx(2.25));
  CHECK(out.devices_handed_over == 2);
  CHECK(out.erasures == 2);
  CHECK(out.co2e_avoided_kg == Approx(182.6 + 85.1));
  CHECK(out.factors_version == "ademe-arcep-2022.1");
  REQUIRE(out.by_outcome.size() == 4);
  CHECK(out.by_outcome[0].code == "reemploi");
  CHECK(out.by_outcome[0].devices == 2);
  CHECK(out.by_outcome[1].devices == 1);  // recyclage
  CHECK(out.by_outcome[3].devices == 1);  // en_attente: the printer

  SECTION("a deleted device leaves the figures") {
    REQUIRE(store->remove(second_phone).ok());
    const auto after = compute(*store, november()).equipment;
    CHECK(after.devices_collected == 3);
    CHECK(after.devices_handed_over == 1);
    CHECK(after.co2e_avoided_kg == Approx(182.6));
  }
  SECTION("outside the period, nothing") {
    auto filter = november();
    filter.from = filter.to = relais::Date{2026, 11, 11};
    const auto after = compute(*store, filter).equipment;
    CHECK(after.devices_collected == 0);
    CHECK(after.devices_handed_over == 0);
    CHECK(after.co2e_avoided_kg == 0);
  }
}

TEST_CASE("statistics: a store whose index is missing is filled again when opened", "[statistics]") {
  Dataset data;
  const auto path = data.store->path();
  data.store->database().exec(
      "DELETE FROM stat_facts; DELETE FROM stat_sessions; DELETE FROM stat_daily; DELETE FROM stat_devices;"
      "DELETE FROM meta WHERE key = 'stats_index_version';");
  CHECK(compute(*data.store, november()).totals.accompagnements == 0);
  data.store.reset();
  auto reopened = relais::test::open_store(path);
  check_november_totals(compute(*reopened, november()));
}

TEST_CASE("statistics: labels for people", "[statistics]") {
  stats::Labels labels(relais::test::vocabulary(), relais::Lang::fr);
  labels.set_name(stats::kLieu, "p1", "Médiathèque");
  CHECK(labels.code_label(stats::kThematique, "logement") == "Logement");
  CHECK(labels.code_label(stats::kDuree, "30_60") == "30 min à 1 h");
  CHECK(labels.code_label(stats::kLieu, "p1") == "Médiathèque");
  CHECK(labels.code_label(stats::kCommune, "") == "Non communiqué");
  CHECK(labels.dimension_title(stats::kCanal) == "Canaux d’accompagnement");
  CHECK(labels.code_label("type_appareil", "ordinateur_portable") == "Ordinateur portable");
  CHECK(stats::departement_of(std::string("2B033"), std::nullopt) == "2B");
  CHECK(stats::departement_of(std::nullopt, std::string("97400")) == "974");
  CHECK(stats::departement_of(std::nullopt, std::string("20000")) == "2A");
  CHECK(stats::departement_of(std::nullopt, std::nullopt).empty());
}
