// Unit tests of the small value helpers of the domain library: text, dates, ids, the hybrid
// logical clock, CSV, field formats, the vocabulary and the translations.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "relais/csv.hpp"
#include "relais/dates.hpp"
#include "relais/hlc.hpp"
#include "relais/i18n.hpp"
#include "relais/records.hpp"
#include "relais/text.hpp"
#include "relais/uuid.hpp"
#include "relais/vocabulary.hpp"
#include "support.hpp"

using namespace relais;

namespace {

nlohmann::json read_json(const std::filesystem::path& path) {
  return nlohmann::json::parse(relais::test::read_file(path));
}

// The placeholder names of a message. A name ending in "_en" is the English variant of the
// same value (e.g. a vocabulary label given in both languages), so it counts as the same name.
std::set<std::string> placeholders(const std::string& text) {
  static const std::regex placeholder(R"(\{([a-z_]+)\})");
  std::set<std::string> names;
  for (std::sregex_iterator it(text.begin(), text.end(), placeholder), end; it != end; ++it) {
    auto name = (*it)[1].str();
    if (name.size() > 3 && name.compare(name.size() - 3, 3, "_en") == 0) name.resize(name.size() - 3);
    names.insert(name);
  }
  return names;
}

}  // namespace

// [SECTION] Text ---------------------------------------------------------------------------------

TEST_CASE("is_valid_utf8 accepts well-formed text", "[values][text]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ASCII"));
  CHECK(is_valid_utf8("Élodie à Besançon"));          // 2-byte sequences
  CHECK(is_valid_utf8("prix : 12 \xE2\x82\xAC"));      // € (3 bytes)
  CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));             // U+1F600 (4 bytes)
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));             // U+10FFFF, the last code point
  CHECK(is_valid_utf8("\xED\x9F\xBF"));                 // U+D7FF, just below the surrogates
  CHECK(is_valid_utf8("\xEE\x80\x80"));                 // U+E000, just above the surrogates
}

TEST_CASE("is_valid_utf8 refuses malformed text", "[values][text]") {
  SECTION("overlong encodings") {
    CHECK_FALSE(is_valid_utf8("\xC0\x80"));          // NUL in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xC1\xBF"));          // U+007F in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xE0\x80\x80"));      // NUL in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xE0\x9F\xBF"));      // U+07FF in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xF0\x80\x80\x80"));  // NUL in 4 bytes
    CHECK_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // U+FFFF in 4 bytes
  }
  SECTION("UTF-16 surrogates") {
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));  // U+D800
    CHECK_FALSE(is_valid_utf8("\xED\xBF\xBF"));  // U+DFFF
  }
  SECTION("code points beyond U+10FFFF and bytes that never start a sequence") {
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xFF"));
    CHECK_FALSE(is_valid_utf8("a\x80" "b"));  // a lone continuation byte
  }
  SECTION("truncated sequences") {
    CHECK_FALSE(is_valid_utf8("\xC3"));
    CHECK_FALSE(is_valid_utf8("abc\xE2\x82"));
    CHECK_FALSE(is_valid_utf8("\xF0\x9F\x98"));
    CHECK_FALSE(is_valid_utf8("\xC3(x"));  // second byte is not a continuation byte
    CHECK_FALSE(is_valid_utf8("\xE2\x82(x"));
  }
}

TEST_CASE("utf8_length counts code points, not bytes", "[values][text]") {
  CHECK(utf8_length("") == 0u);
  CHECK(utf8_length("abc") == 3u);
  CHECK(utf8_length("Élodie") == 6u);
  CHECK(utf8_length("\xE2\x82\xAC\xF0\x9F\x98\x80") == 2u);  // € and an emoji
}

TEST_CASE("trim removes surrounding whitespace only", "[values][text]") {
  CHECK(trim("  Lyon 1er \t\r\n") == "Lyon 1er");
  CHECK(trim("a  b") == "a  b");
  CHECK(trim("   ") == "");
  CHECK(trim("") == "");
  CHECK(trim("\nx") == "x");
}

TEST_CASE("format_named fills named placeholders", "[values][text]") {
  CHECK(format_named("{a} et {b}", {{"a", "un"}, {"b", "deux"}}) == "un et deux");
  CHECK(format_named("{a}{a}", {{"a", "x"}}) == "xx");
  SECTION("unknown names and unclosed braces are left as they are") {
    CHECK(format_named("{a} {inconnu}", {{"a", "1"}}) == "1 {inconnu}");
    CHECK(format_named("objet { … }", {}) == "objet { … }");
    CHECK(format_named("fin {a", {{"a", "1"}}) == "fin {a");
  }
  SECTION("a value is inserted verbatim, never expanded again") {
    CHECK(format_named("{a} {b}", {{"a", "{b}"}, {"b", "2"}}) == "{b} 2");
  }
}

TEST_CASE("contains_email_address finds e-mail addresses in free text", "[values][text]") {
  CHECK(contains_email_address("écrire à marie.dupont@example.org demain"));
  CHECK(contains_email_address("jd@laposte.net"));
  CHECK_FALSE(contains_email_address("rdv @ la mairie"));
  CHECK_FALSE(contains_email_address("@mention sur les réseaux"));
  CHECK_FALSE(contains_email_address("a@b"));
  CHECK_FALSE(contains_email_address("Création d'une adresse e-mail"));
}

TEST_CASE("contains_phone_number finds French phone numbers", "[values][text]") {
  SECTION("the usual ways of writing a number") {
    CHECK(contains_phone_number("06 12 34 56 78"));
    CHECK(contains_phone_number("06.12.34.56.78"));
    CHECK(contains_phone_number("0612345678"));
    CHECK(contains_phone_number("07-12-34-56-78"));
    CHECK(contains_phone_number("+33 6 12 34 56 78"));
    CHECK(contains_phone_number("+33612345678"));
    CHECK(contains_phone_number("rappeler au 01 23 45 67 89 demain"));
  }
  SECTION("dates, durations and times are not phone numbers") {
    CHECK_FALSE(contains_phone_number("2026-11-20"));
    CHECK_FALSE(contains_phone_number("30 minutes"));
    CHECK_FALSE(contains_phone_number("rdv 14h"));
    CHECK_FALSE(contains_phone_number("le 20/11/2026 à 10h30"));
    CHECK_FALSE(contains_phone_number("06 12 34"));      // too short
    CHECK_FALSE(contains_phone_number("061234567890"));  // too long to be a number
    CHECK_FALSE(contains_phone_number("SIRET 21690123100011"));  // a zero inside a longer number
  }
}

// [SECTION] Dates ---------------------------------------------------------------------------------

TEST_CASE("parse_date accepts only real days written YYYY-MM-DD", "[values][dates]") {
  const auto parsed = parse_date("2026-11-22");
  REQUIRE(parsed);
  CHECK(*parsed == Date{2026, 11, 22});

  SECTION("29 February only in leap years") {
    CHECK_FALSE(parse_date("2026-02-29"));
    const auto leap = parse_date("2024-02-29");
    REQUIRE(leap);
    CHECK(*leap == Date{2024, 2, 29});
  }
  SECTION("days and months that do not exist") {
    CHECK_FALSE(parse_date("2026-02-30"));
    CHECK_FALSE(parse_date("2026-11-31"));
    CHECK_FALSE(parse_date("2026-13-01"));
    CHECK_FALSE(parse_date("2026-00-10"));
    CHECK_FALSE(parse_date("2026-01-00"));
  }
  SECTION("other shapes are refused") {
    CHECK_FALSE(parse_date("2026-1-5"));
    CHECK_FALSE(parse_date("22/11/2026"));
    CHECK_FALSE(parse_date("2026/11/22"));
    CHECK_FALSE(parse_date(" 2026-11-22"));
    CHECK_FALSE(parse_date("2026-11-22T10:00"));
    CHECK_FALSE(parse_date("2026-1a-22"));
    CHECK_FALSE(parse_date(""));
  }
}

TEST_CASE("dates format as ISO and as French day/month/year", "[values][dates]") {
  CHECK(format_date(Date{2026, 1, 5}) == "2026-01-05");
  CHECK(format_date_french(Date{2026, 1, 5}) == "05/01/2026");
  CHECK(format_date(*parse_date("2024-02-29")) == "2024-02-29");
  CHECK(Date{2026, 11, 21} < Date{2026, 11, 22});
  CHECK(Date{2025, 12, 31} < Date{2026, 1, 1});
}

TEST_CASE("UTC timestamps format and parse back", "[values][dates]") {
  CHECK(format_timestamp_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(parse_timestamp_utc("1970-01-01T00:00:00.000Z") == std::int64_t{0});
  CHECK(format_timestamp_utc(1795376400123) == "2026-11-22T19:40:00.123Z");
  CHECK(parse_timestamp_utc("2026-11-22T19:40:00.123Z") == std::int64_t{1795376400123});
  for (const std::int64_t ms : {std::int64_t{1709251199999}, std::int64_t{1795376400123}, std::int64_t{946684800000},
                                std::int64_t{4102444799001}}) {
    CAPTURE(ms);
    CHECK(parse_timestamp_utc(format_timestamp_utc(ms)) == ms);
  }
  SECTION("malformed timestamps are refused") {
    CHECK_FALSE(parse_timestamp_utc("2026-11-22 19:40:00.123Z"));
    CHECK_FALSE(parse_timestamp_utc("2026-11-22T19:40:00.123"));
    CHECK_FALSE(parse_timestamp_utc("2026-11-22T24:00:00.000Z"));
    CHECK_FALSE(parse_timestamp_utc("2026-11-22T19:60:00.000Z"));
    CHECK_FALSE(parse_timestamp_utc("2026-02-30T10:00:00.000Z"));
  }
}

// [SECTION] Ids -----------------------------------------------------------------------------------

TEST_CASE("make_uuid_v7 makes canonical version 7 UUIDs", "[values][uuid]") {
  const auto before = now_unix_ms();
  const auto id = make_uuid_v7();
  const auto after = now_unix_ms();
  INFO(id);
  REQUIRE(id.size() == 36u);
  CHECK(is_uuid(id));
  CHECK(id[8] == '-');
  CHECK(id[13] == '-');
  CHECK(id[18] == '-');
  CHECK(id[23] == '-');
  CHECK(id[14] == '7');                                          // version nibble
  CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant bits 10xx
  // The first 48 bits are the creation time in Unix milliseconds.
  const auto stamp = std::stoll(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
  CHECK(stamp >= before);
  CHECK(stamp <= after);
}

TEST_CASE("make_uuid_v7 ids are unique and later ids sort after earlier ones", "[values][uuid]") {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(make_uuid_v7());
  CHECK(ids.size() == 10000u);

  const auto first = make_uuid_v7();
  const auto start = now_unix_ms();
  while (now_unix_ms() <= start + 1) {
    // wait for a later millisecond
  }
  const auto later = make_uuid_v7();
  CHECK(first < later);
}

TEST_CASE("is_uuid accepts only the lower-case canonical form", "[values][uuid]") {
  CHECK(is_uuid("0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e"));
  CHECK(is_uuid("00000000-0000-0000-0000-000000000000"));
  CHECK_FALSE(is_uuid("0192F0C1-7A3E-7B2C-9D4E-5F6A7B8C9D0E"));
  CHECK_FALSE(is_uuid("0192f0c17a3e7b2c9d4e5f6a7b8c9d0e"));
  CHECK_FALSE(is_uuid("0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0"));
  CHECK_FALSE(is_uuid("0192f0c1-7a3e-7b2c-9d4e5-f6a7b8c9d0e"));
  CHECK_FALSE(is_uuid("0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0g"));
  CHECK_FALSE(is_uuid(""));
}

// [SECTION] Hybrid logical clock -----------------------------------------------------------------

TEST_CASE("HybridLogicalClock never goes backwards and stays ahead of what it saw", "[values][hlc]") {
  using Clock = HybridLogicalClock;
  std::int64_t wall = 1'000;
  Clock clock(0, [&wall] { return wall; });

  const auto first = clock.tick();
  CHECK(first == Clock::make(1'000, 0));
  CHECK(Clock::physical_ms(first) == 1'000);
  CHECK(Clock::counter(first) == 0);

  SECTION("the counter bumps within the same millisecond") {
    const auto second = clock.tick();
    const auto third = clock.tick();
    CHECK(second == Clock::make(1'000, 1));
    CHECK(third == Clock::make(1'000, 2));
    CHECK(clock.last() == third);
  }
  SECTION("a later wall clock restarts the counter") {
    clock.tick();
    wall = 2'000;
    CHECK(clock.tick() == Clock::make(2'000, 0));
  }
  SECTION("a wall clock that goes backwards does not make versions go backwards") {
    wall = 5'000;
    const auto ahead = clock.tick();
    wall = 3'000;
    const auto after_jump = clock.tick();
    CHECK(after_jump > ahead);
    CHECK(Clock::physical_ms(after_jump) == 5'000);
    CHECK(Clock::counter(after_jump) == 1);
    wall = 0;
    CHECK(clock.tick() > after_jump);
  }
  SECTION("observing a remote version makes the next tick greater than it") {
    const auto remote = Clock::make(9'000, 7);
    clock.observe(remote);
    const auto next = clock.tick();
    CHECK(next > remote);
    CHECK(next == Clock::make(9'000, 8));
  }
  SECTION("observing an older version changes nothing") {
    clock.observe(Clock::make(10, 3));
    CHECK(clock.last() == first);
    CHECK(clock.tick() == Clock::make(1'000, 1));
  }
  SECTION("a full counter carries into the milliseconds") {
    Clock full(Clock::make(1'000, 0xFFFF), [&wall] { return wall; });
    const auto next = full.tick();
    CHECK(next > Clock::make(1'000, 0xFFFF));
    CHECK(next == Clock::make(1'001, 0));
  }
  SECTION("a clock resumed from a stored version continues after it") {
    Clock resumed(Clock::make(3'000, 4), [&wall] { return wall; });
    CHECK(resumed.tick() == Clock::make(3'000, 5));
  }
}

// [SECTION] CSV -----------------------------------------------------------------------------------

TEST_CASE("CsvWriter quotes only the cells that need it", "[values][csv]") {
  std::ostringstream out;
  CsvWriter writer(out);
  CHECK(writer.quote("Lyon") == "Lyon");
  CHECK(writer.quote("") == "");
  CHECK(writer.quote("a,b") == "a,b");  // not the separator
  CHECK(writer.quote("a;b") == "\"a;b\"");
  CHECK(writer.quote("dit \"oui\"") == "\"dit \"\"oui\"\"\"");
  CHECK(writer.quote("ligne 1\nligne 2") == "\"ligne 1\nligne 2\"");
  CHECK(writer.quote("fin\r") == "\"fin\r\"");

  CsvWriter comma_writer(out, ',');
  CHECK(comma_writer.quote("a,b") == "\"a,b\"");
  CHECK(comma_writer.quote("a;b") == "a;b");
}

TEST_CASE("CsvWriter writes a BOM, separators and CRLF row ends", "[values][csv]") {
  std::ostringstream out;
  CsvWriter writer(out);
  writer.write_bom();
  writer.write_row({"Date", "Commune"});
  writer.write_row({"20/11/2026", "Saint-Étienne; Loire"});
  CHECK(out.str() == "\xEF\xBB\xBF" "Date;Commune\r\n20/11/2026;\"Saint-Étienne; Loire\"\r\n");
}

TEST_CASE("CSV written by CsvWriter parses back to the same cells", "[values][csv]") {
  const std::vector<std::vector<std::string>> rows{
      {"Date", "Notes", "Thématiques"},
      {"20/11/2026", "dit \"bonjour\"; puis part", "E-mail\nSanté"},
      {"", "fin\r\nde ligne", ""},
      {"seul"},
  };
  std::ostringstream out;
  CsvWriter writer(out);
  writer.write_bom();
  for (const auto& row : rows) writer.write_row(row);
  CHECK(parse_csv(out.str()) == rows);

  SECTION("another separator") {
    std::ostringstream comma_out;
    CsvWriter comma_writer(comma_out, ',');
    for (const auto& row : rows) comma_writer.write_row(row);
    CHECK(parse_csv(comma_out.str(), ',') == rows);
  }
  SECTION("a last row without a line end is kept") {
    const std::vector<std::vector<std::string>> expected{{"a", "b"}, {"c", "d"}};
    CHECK(parse_csv("a;b\r\nc;d") == expected);
    CHECK(parse_csv("a;b\nc;d\n") == expected);
  }
}

TEST_CASE("neutralize_formula defuses text that a spreadsheet would run", "[values][csv]") {
  CHECK(neutralize_formula("=SOMME(A1:A3)") == "'=SOMME(A1:A3)");
  CHECK(neutralize_formula("+33 6 12") == "'+33 6 12");
  CHECK(neutralize_formula("-2") == "'-2");
  CHECK(neutralize_formula("@cmd") == "'@cmd");
  CHECK(neutralize_formula("\t=1") == "'\t=1");
  CHECK(neutralize_formula("a = b") == "a = b");
  CHECK(neutralize_formula("Lyon") == "Lyon");
  CHECK(neutralize_formula("") == "");
}

// [SECTION] Field formats -------------------------------------------------------------------------

TEST_CASE("is_code_insee accepts 5 digits or a Corsican 2A/2B code", "[values][formats]") {
  CHECK(is_code_insee("75056"));
  CHECK(is_code_insee("2A004"));
  CHECK(is_code_insee("2B033"));
  CHECK(is_code_insee("97411"));
  CHECK_FALSE(is_code_insee("2C004"));
  CHECK_FALSE(is_code_insee("2a004"));
  CHECK_FALSE(is_code_insee("3A004"));
  CHECK_FALSE(is_code_insee("7505"));
  CHECK_FALSE(is_code_insee("7505A"));
  CHECK_FALSE(is_code_insee("750560"));
  CHECK_FALSE(is_code_insee(""));
}

TEST_CASE("is_code_postal accepts exactly 5 digits", "[values][formats]") {
  CHECK(is_code_postal("69001"));
  CHECK(is_code_postal("20000"));
  CHECK_FALSE(is_code_postal("6900"));
  CHECK_FALSE(is_code_postal("690011"));
  CHECK_FALSE(is_code_postal("2A000"));
  CHECK_FALSE(is_code_postal("69 01"));
  CHECK_FALSE(is_code_postal(""));
}

TEST_CASE("is_luhn_valid checks IMEI check digits", "[values][formats]") {
  CHECK(is_luhn_valid("490154203237518"));  // a real IMEI
  CHECK(is_luhn_valid("79927398713"));      // the textbook example
  CHECK(is_luhn_valid("0"));
  CHECK_FALSE(is_luhn_valid("490154203237519"));
  CHECK_FALSE(is_luhn_valid("490154203237517"));
  CHECK_FALSE(is_luhn_valid("4901 5420 3237 518"));
  CHECK_FALSE(is_luhn_valid(""));
}

// [SECTION] Vocabulary ----------------------------------------------------------------------------

TEST_CASE("the vocabulary holds every code list of vocabulary.md", "[values][vocabulary]") {
  const auto& vocabulary = relais::test::vocabulary();
  const auto codes = [&](const char* set_name) {
    std::vector<std::string> out;
    for (const auto& entry : vocabulary.set(set_name).codes) out.push_back(entry.code);
    return out;
  };
  using List = std::vector<std::string>;
  // Codes exactly as vocabulary.md lists them, in display order.
  CHECK(codes("type") == List{"individuel", "collectif"});
  CHECK(codes("type_lieu") == List{"lieu_activite", "domicile", "a_distance", "autre"});
  CHECK(codes("materiel") == List{"ordinateur", "telephone", "tablette", "autre", "aucun"});
  CHECK(codes("thematiques") ==
        List{"diagnostic_numerique", "prendre_en_main_du_materiel", "maintenance_de_materiel",
             "gere_ses_contenus_numeriques", "navigation_sur_internet", "email", "bureautique", "reseaux_sociaux",
             "sante", "banque_et_achats_en_ligne", "entrepreneuriat", "insertion_professionnelle",
             "securite_numerique", "parentalite", "scolarite_et_numerique", "creer_avec_le_numerique",
             "culture_numerique", "intelligence_artificielle", "aide_aux_demarches_administratives"});
  CHECK(codes("thematiques_administratives") ==
        List{"papiers_elections_citoyennete", "famille_scolarite", "social_sante", "travail_formation", "logement",
             "transports_mobilite", "argent_impots", "justice", "etrangers_europe", "loisirs_sports_culture",
             "associations"});
  CHECK(codes("autonomie") == List{"entierement_accompagne", "partiellement_autonome", "autonome"});
  CHECK(codes("structure_de_redirection") ==
        List{"administration", "mediation_numerique", "operateur_ou_organisme_en_charge", "aide_sociale",
             "insertion_professionnelle", "aide_aux_demarches_administratives", "autre"});
  CHECK(codes("genre") == List{"masculin", "feminin", "non_communique"});
  CHECK(codes("tranche_age") == List{"moins_de_douze", "douze_dix_huit", "dix_huit_vingt_quatre",
                                     "vingt_cinq_trente_neuf", "quarante_cinquante_neuf", "soixante_soixante_neuf",
                                     "soixante_dix_plus", "non_communique"});
  CHECK(codes("statut_social") == List{"scolarise", "sans_emploi", "en_emploi", "retraite", "non_communique"});
  CHECK(codes("niveau") == List{"debutant", "intermediaire", "avance"});
  CHECK(codes("type_donateur") == List{"particulier", "entreprise", "collectivite", "association"});
  CHECK(codes("methode_effacement") == List{"clear", "purge", "destroy"});
  CHECK(codes("devenir") == List{"reemploi", "recyclage", "pieces", "en_attente"});
  // Sets whose codes vocabulary.md describes without spelling them.
  CHECK(codes("type_appareil").size() == 9u);  // laptop ... other
  CHECK(codes("type_evenement").size() == 7u);  // received ... dismantled
  for (const char* set_name : {"etat_appareil", "resultat_effacement", "role"}) {
    CAPTURE(set_name);
    CHECK_FALSE(codes(set_name).empty());
  }
}

TEST_CASE("every vocabulary code has labels in both languages", "[values][vocabulary]") {
  const auto& vocabulary = relais::test::vocabulary();
  for (const char* set_name :
       {"type", "type_lieu", "materiel", "thematiques", "thematiques_administratives", "autonomie",
        "structure_de_redirection", "genre", "tranche_age", "statut_social", "niveau", "type_donateur",
        "type_appareil", "etat_appareil", "type_evenement", "methode_effacement", "resultat_effacement", "devenir",
        "role"}) {
    const auto& set = vocabulary.set(set_name);
    CAPTURE(set_name);
    CHECK_FALSE(set.label_fr.empty());
    CHECK_FALSE(set.label_en.empty());
    for (const auto& entry : set.codes) {
      CAPTURE(entry.code);
      CHECK_FALSE(entry.label_fr.empty());
      CHECK_FALSE(entry.label_en.empty());
      CHECK(is_valid_utf8(entry.label_fr));
    }
  }
  SECTION("every device type has a positive default weight") {
    for (const auto& entry : vocabulary.set("type_appareil").codes) {
      CAPTURE(entry.code);
      REQUIRE(entry.extra.contains("default_weight_kg"));
      CHECK(entry.extra.at("default_weight_kg").get<double>() > 0.0);
    }
  }
}

TEST_CASE("Vocabulary gives labels, falls back to the code and lists codes", "[values][vocabulary]") {
  const auto& vocabulary = relais::test::vocabulary();
  CHECK(vocabulary.label("type_lieu", "domicile", Lang::fr) == "À domicile");
  CHECK(vocabulary.label("type_lieu", "domicile", Lang::en) == "At the person’s home");
  CHECK(vocabulary.label("thematiques", "sante", Lang::fr) == "Santé");
  CHECK(vocabulary.label("thematiques_administratives", "etrangers_europe", Lang::fr) == "Étrangers - Europe");
  CHECK(vocabulary.label("genre", "feminin", Lang::fr) == "Féminin");
  CHECK(vocabulary.label("genre", "feminin", Lang::en) == "Female");

  SECTION("unknown codes and sets fall back to the code") {
    CHECK(vocabulary.label("materiel", "souris", Lang::fr) == "souris");
    CHECK(vocabulary.label("pas_un_ensemble", "x", Lang::en) == "x");
  }
  SECTION("contains and set") {
    CHECK(vocabulary.contains("materiel", "aucun"));
    CHECK_FALSE(vocabulary.contains("materiel", "Aucun"));
    CHECK_FALSE(vocabulary.contains("pas_un_ensemble", "aucun"));
    CHECK_THROWS_AS(vocabulary.set("pas_un_ensemble"), std::out_of_range);
    REQUIRE(vocabulary.set("niveau").find("avance") != nullptr);
    CHECK(vocabulary.set("niveau").find("avance")->label(Lang::fr) == "Avancé");
    CHECK(vocabulary.set("niveau").find("expert") == nullptr);
  }
  SECTION("code_list joins the codes in display order") {
    CHECK(vocabulary.code_list("niveau") == "debutant, intermediaire, avance");
    CHECK(vocabulary.code_list("type") == "individuel, collectif");
  }
  CHECK(vocabulary.version() >= 1);
}

TEST_CASE("Vocabulary refuses unusable documents", "[values][vocabulary]") {
  const nlohmann::json duplicate = {
      {"version", 1},
      {"sets",
       {{"niveau",
         {{"label", {{"fr", "Niveau"}, {"en", "Level"}}},
          {"codes", {{{"code", "a"}, {"fr", "A"}, {"en", "A"}}, {{"code", "a"}, {"fr", "B"}, {"en", "B"}}}}}}}}};
  CHECK_THROWS(Vocabulary::from_json(duplicate));
  CHECK_THROWS(Vocabulary::from_json(nlohmann::json{{"sets", nlohmann::json::object()}}));
  relais::test::TempDir dir;
  CHECK_THROWS_AS(Vocabulary::load_file(dir / "absent.json"), std::runtime_error);
  relais::test::write_file(dir / "broken.json", "{ not json");
  CHECK_THROWS_AS(Vocabulary::load_file(dir / "broken.json"), std::runtime_error);
}

// [SECTION] Translations --------------------------------------------------------------------------

TEST_CASE("fr.json and en.json have the same keys and the same placeholders", "[values][i18n]") {
  const std::filesystem::path dir = std::filesystem::path(RELAIS_TEST_ASSETS_DIR) / "i18n";
  const auto fr = read_json(dir / "fr.json");
  const auto en = read_json(dir / "en.json");
  REQUIRE(fr.is_object());
  REQUIRE(en.is_object());
  const auto& translator = relais::test::assets().translator;
  for (const auto& [key, value] : fr.items()) {
    CAPTURE(key);
    REQUIRE(en.contains(key));
    CHECK(translator.has(Lang::fr, key));
    CHECK(translator.has(Lang::en, key));
    CHECK(placeholders(value.get<std::string>()) == placeholders(en.at(key).get<std::string>()));
  }
  for (const auto& [key, value] : en.items()) {
    CAPTURE(key);
    CHECK(fr.contains(key));
  }
}

TEST_CASE("Translator fills placeholders and shows missing keys", "[values][i18n]") {
  const auto& translator = relais::test::assets().translator;
  CHECK(translator.text(Lang::fr, "problem.required") == "obligatoire");
  CHECK(translator.text(Lang::en, "problem.required") == "is required");
  CHECK(translator.text(Lang::en, "problem.too_long", {{"length", "201"}, {"max", "200"}}) ==
        "too long (201 characters, at most 200)");
  CHECK(translator.text(Lang::fr, "pas.une.cle") == "pas.une.cle");
  CHECK_FALSE(translator.has(Lang::fr, "pas.une.cle"));

  Translator local;
  local.add(Lang::fr, "salut", "Bonjour {nom}");
  CHECK(local.text(Lang::fr, "salut", {{"nom", "Inès"}}) == "Bonjour Inès");
  CHECK(local.has(Lang::fr, "salut"));
  CHECK_FALSE(local.has(Lang::en, "salut"));
  CHECK(local.text(Lang::en, "salut") == "salut");
}

TEST_CASE("describe puts the field in front of the reason in each language", "[values][i18n]") {
  const auto& translator = relais::test::assets().translator;
  const Problem problem{"lieu_id", "required_when", {{"other", "type_lieu"}, {"value", "lieu_activite"}}};
  CHECK(describe(problem, translator, Lang::fr) == "lieu_id : obligatoire quand type_lieu vaut « lieu_activite »");
  CHECK(describe(problem, translator, Lang::en) == "lieu_id: is required when type_lieu is “lieu_activite”");
  CHECK(describe(Problem{"", "expected_object", {}}, translator, Lang::en) == "must be a JSON object { … }");
}

TEST_CASE("prefix_fields and has_problem_for handle nested field paths", "[values][problems]") {
  Problems problems{{"date", "required", {}}, {"[0]", "expected_object", {}}, {"", "unknown_field", {}}};
  prefix_fields(problems, "[2]");
  CHECK(problems[0].field == "[2].date");
  CHECK(problems[1].field == "[2][0]");
  CHECK(problems[2].field == "[2]");

  const Problems nested{{"participants.genre.feminin", "expected_integer", {}}, {"materiel[1]", "expected_text", {}}};
  CHECK(has_problem_for(nested, "participants"));
  CHECK(has_problem_for(nested, "participants.genre"));
  CHECK(has_problem_for(nested, "materiel"));
  CHECK_FALSE(has_problem_for(nested, "participant"));
  CHECK_FALSE(has_problem_for(nested, "genre"));
}
