// Equipment collection (vocabulary.md §3): lots, devices and device events, checked through
// check_record, and the helpers the store builds on (serial keys, erasure, outcome, weights).
#include <catch2/catch.hpp>

#include "relais/records.hpp"
#include "relais/vocabulary.hpp"
#include "support.hpp"

using namespace relais;
using nlohmann::json;
using relais::test::has_problem;
using relais::test::check;
using relais::test::require_ok;
using relais::test::require_only;
using relais::test::to_text;

namespace {

constexpr const char* kLotId = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e";
constexpr const char* kDeviceId = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d1f";


std::string arg(const Problem& problem, const std::string& name) {
  for (const auto& [key, value] : problem.args) {
    if (key == name) return value;
  }
  return "(missing " + name + ")";
}

json valid_lot() {
  return {{"date", "2026-11-10"},
          {"type_donateur", "entreprise"},
          {"nom_donateur", "Boulangerie du Marché"},
          {"lieu_id", "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d2a"},
          {"notes", "Déposé à l’accueil"}};
}

json valid_device() {
  return {{"lot_id", kLotId},         {"type", "ordinateur_portable"}, {"marque", "Lenovo"},
          {"modele", "ThinkPad T480"}, {"numero_serie", "PF-1A2B3C"},   {"etat", "b"},
          {"poids_kg", 1.7},           {"demarre", true}};
}

json valid_smartphone() {
  return {{"lot_id", kLotId}, {"type", "smartphone"}, {"marque", "Fairphone"}, {"numero_serie", "490154203237518"}};
}

json event(const std::string& type) {
  return {{"device_id", kDeviceId}, {"type", type}, {"date", "2026-11-15"}, {"auteur", "Camille"}};
}

json erasure() {
  auto record = event("efface");
  record["methode"] = "purge";
  record["outil"] = "ShredOS / nwipe";
  record["resultat"] = "reussi";
  record["certificat"] = "CERT-2026-0042";
  return record;
}

json handover() {
  auto record = event("remis");
  record["code_beneficiaire"] = "BEN-2026-014";
  return record;
}

DeviceEvent make_event(const std::string& type, const std::string& resultat = {}) {
  DeviceEvent out;
  out.type = type;
  if (!resultat.empty()) out.resultat = resultat;
  return out;
}

}  // namespace

// [SECTION] Lots -----------------------------------------------------------------------------------

TEST_CASE("a collection lot needs a date and a donor type", "[equipment]") {
  require_ok(RecordKind::lot, valid_lot());
  require_ok(RecordKind::lot, {{"date", "2026-11-22"}, {"type_donateur", "particulier"}});
  for (const char* field : {"date", "type_donateur"}) {
    CAPTURE(field);
    auto record = valid_lot();
    record.erase(field);
    require_only(RecordKind::lot, record, field, "required");
  }
  SECTION("every donor kind of vocabulary.md is accepted, others are refused") {
    auto record = valid_lot();
    for (const char* kind : {"particulier", "entreprise", "collectivite", "association"}) {
      CAPTURE(kind);
      record["type_donateur"] = kind;
      require_ok(RecordKind::lot, record);
    }
    record["type_donateur"] = "mecene";
    require_only(RecordKind::lot, record, "type_donateur", "unknown_code");
  }
  SECTION("the date is a real day, not in the future") {
    auto record = valid_lot();
    record["date"] = "2026-11-23";
    require_only(RecordKind::lot, record, "date", "future_date");
    record["date"] = "2026-02-29";
    require_only(RecordKind::lot, record, "date", "invalid_date");
  }
  SECTION("the place is a UUID") {
    auto record = valid_lot();
    record["lieu_id"] = "médiathèque";
    require_only(RecordKind::lot, record, "lieu_id", "invalid_uuid");
  }
  SECTION("nested devices are left to the caller, unknown fields are refused") {
    auto record = valid_lot();
    record["devices"] = json::array({valid_device()});
    require_ok(RecordKind::lot, record);
    record["poids_total"] = 12;
    require_only(RecordKind::lot, record, "poids_total", "unknown_field");
  }
  SECTION("a kind that names another record is refused") {
    auto record = valid_lot();
    record["kind"] = "lot";
    require_ok(RecordKind::lot, record);
    record["kind"] = "session";
    require_only(RecordKind::lot, record, "kind", "wrong_kind");
  }
}

// [SECTION] Devices --------------------------------------------------------------------------------

TEST_CASE("a device needs its lot and a known type", "[equipment]") {
  require_ok(RecordKind::device, valid_device());
  require_ok(RecordKind::device, valid_smartphone());
  for (const char* field : {"lot_id", "type"}) {
    CAPTURE(field);
    auto record = valid_device();
    record.erase(field);
    require_only(RecordKind::device, record, field, "required");
  }
  SECTION("lot_id is a UUID") {
    auto record = valid_device();
    record["lot_id"] = "lot-12";
    require_only(RecordKind::device, record, "lot_id", "invalid_uuid");
  }
  SECTION("coded fields") {
    auto record = valid_device();
    record["type"] = "laptop";
    require_only(RecordKind::device, record, "type", "unknown_code");
    record = valid_device();
    record["etat"] = "e";
    require_only(RecordKind::device, record, "etat", "unknown_code");
    for (const char* grade : {"a", "b", "c", "d"}) {
      record["etat"] = grade;
      require_ok(RecordKind::device, record);
    }
  }
  SECTION("wrong JSON types") {
    auto record = valid_device();
    record["demarre"] = "oui";
    require_only(RecordKind::device, record, "demarre", "expected_boolean");
    record = valid_device();
    record["poids_kg"] = "1,7";
    require_only(RecordKind::device, record, "poids_kg", "expected_number");
    record = valid_device();
    record["numero_serie"] = 123456;
    require_only(RecordKind::device, record, "numero_serie", "expected_text");
  }
  SECTION("derived fields shown by `show` are accepted and ignored") {
    auto record = valid_device();
    record["devenir"] = "en_attente";
    record["dernier_evenement"] = "recu";
    record["events"] = json::array();
    require_ok(RecordKind::device, record);
  }
}

TEST_CASE("a device weight is between 0 and 500 kg", "[equipment]") {
  auto record = valid_device();
  for (const double kg : {0.01, 1.7, 500.0}) {
    CAPTURE(kg);
    record["poids_kg"] = kg;
    require_ok(RecordKind::device, record);
  }
  for (const double kg : {0.0, -1.0, 500.5}) {
    CAPTURE(kg);
    record["poids_kg"] = kg;
    const auto problems = check(RecordKind::device, record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "poids_kg");
    CHECK(problems[0].reason == "out_of_range");
    CHECK(arg(problems[0], "max") == "500");
  }
}

TEST_CASE("a smartphone IMEI must pass the Luhn check", "[equipment]") {
  auto record = valid_smartphone();
  SECTION("a real IMEI, written with or without separators") {
    record["numero_serie"] = "49-015420-323751-8";
    require_ok(RecordKind::device, record);
    record["numero_serie"] = "49 015420 323751 8";
    require_ok(RecordKind::device, record);
  }
  SECTION("a typo in the IMEI") {
    record["numero_serie"] = "490154203237519";
    const auto problems = check(RecordKind::device, record);
    INFO(to_text(problems));
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0].field == "numero_serie");
    CHECK(problems[0].reason == "invalid_imei");
    CHECK(arg(problems[0], "value") == "490154203237519");
  }
  SECTION("a serial that is not 15 digits is not an IMEI") {
    record["numero_serie"] = "R58M12ABCDE";
    require_ok(RecordKind::device, record);
    record["numero_serie"] = "49015420323751";  // 14 digits
    require_ok(RecordKind::device, record);
  }
  SECTION("a computer serial of 15 digits is not checked as an IMEI") {
    auto laptop = valid_device();
    laptop["numero_serie"] = "490154203237519";
    require_ok(RecordKind::device, laptop);
  }
  SECTION("a serial made of separators only is no serial") {
    record["numero_serie"] = " - . - ";
    // Trimmed "- . -" is not blank, but its key is empty.
    require_only(RecordKind::device, record, "numero_serie", "required");
  }
}

TEST_CASE("serial_key lower-cases and drops spaces, dashes and dots", "[equipment]") {
  CHECK(serial_key(std::string("AB-12 34.x")) == "ab1234x");
  CHECK(serial_key(std::string("ab1234X")) == "ab1234x");
  CHECK(serial_key(std::string("PF\t1A2B")) == "pf1a2b");
  CHECK(serial_key(std::string("SN_01/02")) == "sn_01/02");  // other characters are kept
  CHECK(serial_key(std::nullopt).empty());
  CHECK(serial_key(std::string("")).empty());
}

TEST_CASE("apply_default_weight records the type's default weight as estimated", "[equipment]") {
  const auto& vocabulary = relais::test::vocabulary();
  const auto default_weight = [&](const char* type) {
    return vocabulary.set("type_appareil").find(type)->extra.at("default_weight_kg").get<double>();
  };
  Device device;
  device.lot_id = kLotId;
  device.type = "smartphone";
  SECTION("no weight: the default of the type, marked estimated") {
    apply_default_weight(device, vocabulary);
    REQUIRE(device.poids_kg);
    CHECK(*device.poids_kg == Approx(default_weight("smartphone")));
    CHECK(*device.poids_kg == Approx(0.18));
    CHECK(device.poids_estime);
    const auto out = to_json(device);
    CHECK(out.at("poids_estime") == true);
    CHECK(out.at("poids_kg").get<double>() == Approx(0.18));
  }
  SECTION("each type gets its own default") {
    device.type = "ordinateur_fixe";
    apply_default_weight(device, vocabulary);
    REQUIRE(device.poids_kg);
    CHECK(*device.poids_kg == Approx(default_weight("ordinateur_fixe")));
  }
  SECTION("a weighed device keeps its weight") {
    device.poids_kg = 0.21;
    apply_default_weight(device, vocabulary);
    CHECK(*device.poids_kg == Approx(0.21));
    CHECK_FALSE(device.poids_estime);
    CHECK_FALSE(to_json(device).contains("poids_estime"));
  }
  SECTION("an unknown type gets no weight") {
    device.type = "grille-pain";
    apply_default_weight(device, vocabulary);
    CHECK_FALSE(device.poids_kg);
    CHECK_FALSE(device.poids_estime);
  }
}

TEST_CASE("lots and devices survive to_json and decoding unchanged", "[equipment]") {
  auto lot_json = valid_lot();
  lot_json["id"] = "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d3b";
  const auto lot = std::get<Lot>(check_record(RecordKind::lot, lot_json, relais::test::context()).record);
  Problems problems;
  CHECK(decode_lot(to_json(lot), problems) == lot);

  auto device = std::get<Device>(check_record(RecordKind::device, valid_smartphone(), relais::test::context()).record);
  apply_default_weight(device, relais::test::vocabulary());
  CHECK(decode_device(to_json(device), problems) == device);

  const auto erase = std::get<DeviceEvent>(check_record(RecordKind::device_event, erasure(), relais::test::context()).record);
  CHECK(decode_device_event(to_json(erase), problems) == erase);
  INFO(to_text(problems));
  CHECK(problems.empty());
}

// [SECTION] Device events --------------------------------------------------------------------------

TEST_CASE("a device event needs its device, type, date and author", "[equipment]") {
  for (const char* type : {"recu", "teste", "reconditionne", "recycle", "demonte"}) {
    CAPTURE(type);
    require_ok(RecordKind::device_event, event(type));
  }
  for (const char* field : {"device_id", "type", "date", "auteur"}) {
    CAPTURE(field);
    auto record = event("recu");
    record.erase(field);
    require_only(RecordKind::device_event, record, field, "required");
  }
  SECTION("codes, ids and dates are checked") {
    auto record = event("vendu");
    require_only(RecordKind::device_event, record, "type", "unknown_code");
    record = event("recu");
    record["device_id"] = "PC-12";
    require_only(RecordKind::device_event, record, "device_id", "invalid_uuid");
    record = event("recu");
    record["date"] = "2026-11-30";
    require_only(RecordKind::device_event, record, "date", "future_date");
  }
  SECTION("notes must not hold contact details") {
    auto record = event("teste");
    record["notes"] = "Propriétaire : 06 12 34 56 78";
    require_only(RecordKind::device_event, record, "notes", "contact_details");
  }
}

TEST_CASE("a data erasure records its method, tool and result", "[equipment]") {
  require_ok(RecordKind::device_event, erasure());
  SECTION("the certificate is optional") {
    auto record = erasure();
    record.erase("certificat");
    require_ok(RecordKind::device_event, record);
  }
  SECTION("method, tool and result are required") {
    for (const char* field : {"methode", "outil", "resultat"}) {
      CAPTURE(field);
      auto record = erasure();
      record.erase(field);
      const auto problems = check(RecordKind::device_event, record);
      INFO(to_text(problems));
      REQUIRE(problems.size() == 1u);
      CHECK(problems[0].field == field);
      CHECK(problems[0].reason == "required_when");
      CHECK(arg(problems[0], "other") == "type");
      CHECK(arg(problems[0], "value") == "efface");
    }
  }
  SECTION("NIST method and result codes") {
    auto record = erasure();
    for (const char* method : {"clear", "purge", "destroy"}) {
      record["methode"] = method;
      require_ok(RecordKind::device_event, record);
    }
    record["methode"] = "formatage";
    require_only(RecordKind::device_event, record, "methode", "unknown_code");
    record = erasure();
    record["resultat"] = "echec";
    require_ok(RecordKind::device_event, record);
    record["resultat"] = "partiel";
    require_only(RecordKind::device_event, record, "resultat", "unknown_code");
  }
  SECTION("erasure fields are forbidden on other event types") {
    const auto details = erasure();
    for (const char* field : {"methode", "outil", "resultat", "certificat"}) {
      CAPTURE(field);
      auto record = event("teste");
      record[field] = details.at(field);
      const auto problems = check(RecordKind::device_event, record);
      INFO(to_text(problems));
      REQUIRE(problems.size() == 1u);
      CHECK(problems[0].field == field);
      CHECK(problems[0].reason == "forbidden_when");
      CHECK(arg(problems[0], "value") == "teste");
    }
  }
}

TEST_CASE("a handover records a pseudonymous code, never a person", "[equipment]") {
  require_ok(RecordKind::device_event, handover());
  SECTION("the code is required") {
    auto record = event("remis");
    require_only(RecordKind::device_event, record, "code_beneficiaire", "required_when");
  }
  SECTION("names, e-mail addresses and phone numbers are refused") {
    for (const char* code : {"Jean Dupont", "jean.dupont@example.org", "0612345678", "06.12.34.56.78", "AB"}) {
      CAPTURE(code);
      auto record = handover();
      record["code_beneficiaire"] = code;
      const auto problems = check(RecordKind::device_event, record);
      INFO(to_text(problems));
      REQUIRE(problems.size() == 1u);
      CHECK(problems[0].field == "code_beneficiaire");
      CHECK(problems[0].reason == "invalid_pseudonymous_code");
      CHECK(arg(problems[0], "value") == code);
    }
  }
  SECTION("letters, digits, dashes and underscores are fine") {
    auto record = handover();
    for (const char* code : {"BEN-2026-014", "ccas_lyon_17", "X7Q"}) {
      record["code_beneficiaire"] = code;
      require_ok(RecordKind::device_event, record);
    }
  }
  SECTION("vente_solidaire only on a handover") {
    auto record = handover();
    record["vente_solidaire"] = true;
    require_ok(RecordKind::device_event, record);
    record = event("recycle");
    record["vente_solidaire"] = false;
    require_only(RecordKind::device_event, record, "vente_solidaire", "forbidden_when");
  }
  SECTION("the code is forbidden on other event types") {
    auto record = event("teste");
    record["code_beneficiaire"] = "BEN-2026-014";
    require_only(RecordKind::device_event, record, "code_beneficiaire", "forbidden_when");
  }
}

TEST_CASE("handing over and refurbishing require a prior erasure", "[equipment]") {
  CHECK(requires_prior_erasure("remis"));
  CHECK(requires_prior_erasure("reconditionne"));
  for (const char* type : {"recu", "teste", "efface", "recycle", "demonte"}) {
    CAPTURE(type);
    CHECK_FALSE(requires_prior_erasure(type));
  }
  CHECK(make_event("efface", "reussi").is_successful_erasure());
  CHECK_FALSE(make_event("efface", "echec").is_successful_erasure());
  CHECK_FALSE(make_event("teste", "reussi").is_successful_erasure());
}

TEST_CASE("device_outcome follows the device's events", "[equipment]") {
  const auto outcome = [](std::initializer_list<const char*> types) {
    std::vector<DeviceEvent> events;
    for (const char* type : types) events.push_back(make_event(type));
    return device_outcome(events);
  };
  CHECK(outcome({}) == "en_attente");
  CHECK(outcome({"recu", "teste", "efface", "reconditionne"}) == "en_attente");
  CHECK(outcome({"recu", "efface", "remis"}) == "reemploi");
  CHECK(outcome({"recu", "teste", "recycle"}) == "recyclage");
  CHECK(outcome({"recu", "demonte"}) == "pieces");
  CHECK(outcome({"recu", "demonte", "recycle"}) == "recyclage");  // the remains went to the DEEE channel
  CHECK(outcome({"recu", "recycle", "demonte"}) == "pieces");     // the latest of the two decides
  CHECK(outcome({"recu", "remis", "recycle"}) == "reemploi");    // the device left with its new owner
  SECTION("every outcome is a code of the devenir set") {
    for (const auto& value : {outcome({}), outcome({"remis"}), outcome({"recycle"}), outcome({"demonte"})}) {
      CAPTURE(value);
      CHECK(relais::test::vocabulary().contains("devenir", value));
    }
  }
}
