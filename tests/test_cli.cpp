// End-to-end tests of relais-cli: the real binary, run as a user would, checked on its exit
// code, its output, its messages and what the store holds afterwards.
//
// The binary validates against the real calendar, so every record here is dated in the past
// (2025 / January 2026) and "the future" is computed from today.
#include <algorithm>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "relais/csv.hpp"
#include "relais/dates.hpp"
#include "relais/statistics.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using relais::test::ProcessResult;
using relais::test::TempDir;

// [SECTION] Helpers ----------------------------------------------------------------------------

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool is_uuid(const std::string& text) {
  static const std::regex pattern("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
  return std::regex_match(text, pattern);
}

// Every stderr line names a field first: "field: reason" (English) or "field : raison" (French).
bool every_line_starts_with(const std::string& text, const std::string& prefix) {
  const auto all = lines(text);
  return !all.empty() && std::all_of(all.begin(), all.end(), [&](const auto& line) { return starts_with(line, prefix); });
}

bool some_line_starts_with(const std::string& text, const std::string& prefix) {
  const auto all = lines(text);
  return std::any_of(all.begin(), all.end(), [&](const auto& line) { return starts_with(line, prefix); });
}

std::string describe(const ProcessResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\n--- stdout\n" + result.out + "--- stderr\n" + result.err;
}

// An individual session at home, valid on any day after it.
json individual(const std::string& date = "2026-01-10") {
  json session = {
      {"type", "individuel"},
      {"date", date},
      {"duree", 45},
      {"type_lieu", "domicile"},
      {"lieu_commune", "Lyon"},
      {"lieu_code_postal", "69001"},
      {"lieu_code_insee", "69381"},
      {"materiel", {"ordinateur", "telephone"}},
      {"thematiques", {"email", "aide_aux_demarches_administratives", "logement"}},
      {"autonomie", "partiellement_autonome"},
      {"notes", "Prévoir un second rendez-vous."},
      {"beneficiaire", {{"genre", "feminin"}, {"tranche_age", "soixante_soixante_neuf"}, {"statut_social", "retraite"}}},
  };
  return session;
}

// A workshop in its canonical form: each group's "non_communique" (what `show` prints) given.
json workshop(const std::string& date = "2026-01-15") {
  auto session = relais::test::valid_workshop_json();
  session["date"] = date;
  auto& participants = session["participants"];
  participants["genre"]["non_communique"] = 1;
  participants["tranche_age"]["non_communique"] = 4;
  participants["statut_social"]["non_communique"] = 2;
  return session;
}

// A lot with one laptop whose log ends with it being handed over after a successful erasure.
json lot_with_laptop(const std::string& serial = "PF-0XK2L9") {
  return {{"kind", "lot"},
          {"date", "2026-01-05"},
          {"type_donateur", "entreprise"},
          {"nom_donateur", "Imprimerie Rhône Offset"},
          {"devices",
           {{{"type", "ordinateur_portable"},
             {"marque", "Lenovo"},
             {"modele", "ThinkPad T470"},
             {"numero_serie", serial},
             {"events",
              {{{"type", "recu"}, {"date", "2026-01-05"}, {"auteur", "Samia B."}},
               {{"type", "efface"},
                {"date", "2026-01-06"},
                {"auteur", "Samia B."},
                {"methode", "purge"},
                {"outil", "nwipe 0.34"},
                {"resultat", "reussi"}},
               {{"type", "remis"}, {"date", "2026-01-07"}, {"auteur", "Samia B."}, {"code_beneficiaire", "VLB-017"}}}}}}}};
}

json event(const std::string& device_id, const std::string& type, const std::string& date) {
  json out = {{"kind", "event"}, {"device_id", device_id}, {"type", type}, {"date", date}, {"auteur", "Samia B."}};
  if (type == "efface") out.update({{"methode", "purge"}, {"outil", "nwipe"}, {"resultat", "reussi"}});
  if (type == "remis") out["code_beneficiaire"] = "VLB-018";
  return out;
}

// One store in a temporary folder, and the binary run against it.
struct Cli {
  TempDir dir;
  fs::path db = dir / "relais.db";

  // Runs `relais-cli --db DB args...` in English (the language of most assertions).
  ProcessResult run(const std::vector<std::string>& args, const std::string& input = {},
                    const std::string& lang = "en") const {
    return run_with_env(args, input, {"RELAIS_LANG=" + lang});
  }

  ProcessResult run_with_env(const std::vector<std::string>& args, const std::string& input,
                             const std::vector<std::string>& env) const {
    std::vector<std::string> argv{RELAIS_CLI_PATH, "--db", db.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return relais::test::run_process(argv, input, env);
  }

  // A command that must succeed; its stdout parsed as JSON.
  json run_json(const std::vector<std::string>& args) const {
    const auto result = run(args);
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    return json::parse(result.out);
  }

  // `session add` / `equipment add` / `place add` that must succeed: the ids printed.
  std::vector<std::string> add(const std::string& what, const json& input) const {
    const auto result = run({what, "add"}, input.dump());
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    REQUIRE(result.err.empty());
    const auto ids = lines(result.out);
    for (const auto& id : ids) CHECK(is_uuid(id));
    return ids;
  }

  std::string add_one(const std::string& what, const json& input) const {
    const auto ids = add(what, input);
    REQUIRE(ids.size() == 1);
    return ids.front();
  }

  json list(const std::string& kind = "session", bool include_deleted = false) const {
    std::vector<std::string> args{"list", "--kind", kind, "--format", "json"};
    if (include_deleted) args.push_back("--include-deleted");
    return run_json(args);
  }

  std::size_t stored_count(const std::string& kind = "session") const { return list(kind).size(); }
  json show(const std::string& id) const { return run_json({"show", id}); }
  json journal() const { return run_json({"journal"}); }
};

std::vector<std::string> ids_of(const json& records) {
  std::vector<std::string> out;
  for (const auto& record : records) out.push_back(record.at("id").get<std::string>());
  return out;
}

// The record as given, without the metadata `show` adds.
void check_same_fields(const json& given, const json& shown) {
  for (const auto& [key, value] : given.items()) {
    INFO("field " << key);
    REQUIRE(shown.contains(key));
    CHECK(shown[key] == value);
  }
}

const char* const kUsageHint = "See “relais-cli --help”.";

}  // namespace

// [SECTION] Version, help, usage errors --------------------------------------------------------

TEST_CASE("The --version option prints the program name and its version", "[cli]") {
  const auto result = relais::test::run_process({RELAIS_CLI_PATH, "--version"});
  INFO(describe(result));
  CHECK(result.exit_code == 0);
  CHECK(std::regex_match(result.out, std::regex("relais-cli [0-9]+\\.[0-9]+\\.[0-9]+\n")));
  CHECK(result.err.empty());
}

TEST_CASE("The --help option lists the commands, in the user's language", "[cli]") {
  Cli cli;
  const auto english = cli.run({"--help"});
  CHECK(english.exit_code == 0);
  CHECK(contains(english.out, "Usage: relais-cli"));
  for (const auto* command : {"init", "session add", "session update", "equipment add", "place add", "list", "show",
                              "delete", "export", "journal"}) {
    CHECK(contains(english.out, command));
  }
  CHECK(english.err.empty());
  const auto french = cli.run({"--help"}, {}, "fr");
  CHECK(french.exit_code == 0);
  CHECK(contains(french.out, "Usage : relais-cli"));
  CHECK_FALSE(fs::exists(cli.db));  // asking for help touches no store
}

TEST_CASE("Bad usage exits with 2 and one line saying why, and touches no store", "[cli]") {
  Cli cli;
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases{
      {{}, "relais-cli: no command given"},
      {{"frobnicate"}, "relais-cli: unknown command “frobnicate”"},
      {{"session"}, "relais-cli: unknown command “session”"},
      {{"list", "--frob", "1"}, "relais-cli: unknown option --frob"},
      {{"list", "--frob"}, "relais-cli: unknown option --frob"},  // not "needs a value"
      {{"list", "--kind"}, "relais-cli: option --kind needs a value"},
      {{"list", "--kind", "car"},
       "relais-cli: --kind: unknown value “car”; allowed: session, equipment, place, structure, advisor"},
      {{"list", "--limit", "many"}, "relais-cli: --limit: invalid number “many”"},
      {{"list", "--limit", "5x"}, "relais-cli: --limit: invalid number “5x”"},
      {{"list", "--limit", "-1"}, "relais-cli: --limit: invalid number “-1”"},
      {{"list", "--format", "json", "--format", "table"}, "relais-cli: option --format is given twice"},
      {{"--lang", "de", "list"}, "relais-cli: --lang: unknown value “de”; allowed: fr, en"},
      {{"show"}, "relais-cli: “show” takes exactly one id"},
      {{"delete", "a", "b"}, "relais-cli: “delete” takes exactly one id"},
      {{"session", "add", "extra"}, "relais-cli: extra words after the command"},
  };
  for (const auto& c : cases) {
    const auto result = cli.run(c.args);
    INFO("args: " << json(c.args).dump() << "\n" << describe(result));
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(lines(result.err) == std::vector<std::string>{c.reason, kUsageHint});
  }
  CHECK_FALSE(fs::exists(cli.db));
}

TEST_CASE("A missing --json file exits with 2 and names the file", "[cli]") {
  Cli cli;
  const auto missing = (cli.dir / "nowhere.json").string();
  for (const auto* what : {"session", "equipment", "place"}) {
    const auto result = cli.run({what, "add", "--json", missing});
    INFO(describe(result));
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(lines(result.err) == std::vector<std::string>{"input: cannot read the file " + missing});
  }
  const auto french = cli.run({"session", "add", "--json", missing}, {}, "fr");
  CHECK(french.exit_code == 2);
  CHECK(contains(french.err, missing));
  CHECK_FALSE(fs::exists(cli.db));

  // An update says it the same way, and leaves the session alone.
  const auto id = cli.add_one("session", individual());
  const auto before = cli.show(id);
  const auto update = cli.run({"session", "update", id, "--json", missing});
  INFO(describe(update));
  CHECK(update.exit_code == 2);
  CHECK(lines(update.err) == std::vector<std::string>{"input: cannot read the file " + missing});
  CHECK(cli.show(id) == before);
}

TEST_CASE("A --db in a folder that does not exist is refused, not created", "[cli]") {
  TempDir dir;
  const auto db = dir / "no" / "such" / "relais.db";
  const auto result = relais::test::run_process({RELAIS_CLI_PATH, "--db", db.string(), "init"}, {}, {"RELAIS_LANG=en"});
  INFO(describe(result));
  CHECK(result.exit_code == 2);
  CHECK(starts_with(result.err, "relais-cli: the folder " + db.parent_path().string() + " does not exist\n"));
  CHECK_FALSE(fs::exists(dir / "no"));
}

// [SECTION] Where the store lives --------------------------------------------------------------

TEST_CASE("init creates the store given with --db and keeps it on a second run", "[cli]") {
  Cli cli;
  const auto first = cli.run({"init"});
  INFO(describe(first));
  REQUIRE(first.exit_code == 0);
  CHECK(fs::is_regular_file(cli.db));
  const auto out = lines(first.out);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "Store ready: " + cli.db.string());
  CHECK(starts_with(out[1], "Device: "));
  CHECK(is_uuid(out[1].substr(8)));
  CHECK(starts_with(out[2], "Schema version: "));

  // Opening again neither resets the store nor gives the device a new identity.
  const auto second = cli.run({"init"});
  CHECK(second.exit_code == 0);
  CHECK(second.out == first.out);
}

TEST_CASE("Without --db the store is $XDG_DATA_HOME/relais/relais.db, created on first use", "[cli]") {
  TempDir xdg;
  const auto expected = xdg / "relais" / "relais.db";
  const std::vector<std::string> env{"RELAIS_LANG=en", "XDG_DATA_HOME=" + xdg.path().string()};

  SECTION("by init") {
    const auto result = relais::test::run_process({RELAIS_CLI_PATH, "init"}, {}, env);
    INFO(describe(result));
    CHECK(result.exit_code == 0);
    CHECK(starts_with(result.out, "Store ready: " + expected.string() + "\n"));
    CHECK(fs::is_regular_file(expected));
  }
  SECTION("by the first record added, found again by the next command") {
    REQUIRE_FALSE(fs::exists(xdg / "relais"));
    const auto added = relais::test::run_process({RELAIS_CLI_PATH, "session", "add"}, individual().dump(), env);
    INFO(describe(added));
    REQUIRE(added.exit_code == 0);
    CHECK(fs::is_regular_file(expected));
    const auto listed = relais::test::run_process({RELAIS_CLI_PATH, "list", "--format", "json"}, {}, env);
    REQUIRE(listed.exit_code == 0);
    CHECK(ids_of(json::parse(listed.out)) == lines(added.out));
  }
}

TEST_CASE("Without --db nor XDG_DATA_HOME the store is ~/.local/share/relais/relais.db", "[cli]") {
  TempDir home;
  const auto expected = home / ".local" / "share" / "relais" / "relais.db";
  const auto result = relais::test::run_process({RELAIS_CLI_PATH, "init"}, {},
                                                {"RELAIS_LANG=en", "XDG_DATA_HOME=", "HOME=" + home.path().string()});
  INFO(describe(result));
  CHECK(result.exit_code == 0);
  CHECK(starts_with(result.out, "Store ready: " + expected.string() + "\n"));
  CHECK(fs::is_regular_file(expected));
}

// [SECTION] Adding and reading sessions --------------------------------------------------------

TEST_CASE("session add reads one object on stdin and prints the new id", "[cli]") {
  Cli cli;
  const auto given = individual();
  const auto result = cli.run({"session", "add"}, given.dump());
  INFO(describe(result));
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.empty());
  const auto out = lines(result.out);
  REQUIRE(out.size() == 1);
  const auto id = out.front();
  CHECK(is_uuid(id));
  CHECK(result.out == id + "\n");

  const auto shown = cli.show(id);
  REQUIRE(shown.is_object());
  CHECK(shown["id"] == id);
  CHECK(shown["kind"] == "session");
  check_same_fields(given, shown);
  CHECK_FALSE(shown.contains("deleted_at"));

  const auto listed = cli.list();
  REQUIRE(listed.is_array());
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == shown);
}

TEST_CASE("session add reads a --json file", "[cli]") {
  Cli cli;
  const auto file = cli.dir / "session.json";
  relais::test::write_file(file, workshop().dump(2));
  const auto result = cli.run({"session", "add", "--json", file.string()});
  INFO(describe(result));
  REQUIRE(result.exit_code == 0);
  const auto out = lines(result.out);
  REQUIRE(out.size() == 1);
  REQUIRE(is_uuid(out[0]));
  check_same_fields(workshop(), cli.show(out[0]));
  CHECK(cli.stored_count() == 1);
}

TEST_CASE("session add of an array prints one id per record, in order", "[cli]") {
  Cli cli;
  json batch = json::array();
  for (const auto minutes : {30, 60, 90}) {
    auto session = individual();
    session["duree"] = minutes;
    batch.push_back(session);
  }
  const auto ids = cli.add("session", batch);
  REQUIRE(ids.size() == 3);
  CHECK(ids[0] != ids[1]);
  CHECK(ids[1] != ids[2]);
  for (std::size_t i = 0; i < 3; ++i) check_same_fields(batch[i], cli.show(ids[i]));
  auto listed = ids_of(cli.list());
  std::sort(listed.begin(), listed.end());
  auto expected = ids;
  std::sort(expected.begin(), expected.end());
  CHECK(listed == expected);
}

TEST_CASE("list shows a table with French labels by default and English ones with --lang en", "[cli]") {
  Cli cli;
  const auto id = cli.add_one("session", individual());
  cli.add_one("session", workshop());

  // No RELAIS_LANG and a non-English locale: French.
  const auto french = cli.run_with_env({"list"}, {}, {"RELAIS_LANG=", "LC_ALL=C.UTF-8"});
  INFO(describe(french));
  REQUIRE(french.exit_code == 0);
  CHECK(contains(french.out, "Accompagnement individuel"));
  CHECK(contains(french.out, "Atelier collectif"));
  CHECK(contains(french.out, "À domicile"));
  CHECK(contains(french.out, "Thématiques"));
  CHECK(contains(french.out, id));
  CHECK(contains(french.out, "2 enregistrement(s)"));

  const auto english = cli.run_with_env({"list", "--lang", "en"}, {}, {"RELAIS_LANG=", "LC_ALL=C.UTF-8"});
  REQUIRE(english.exit_code == 0);
  CHECK(contains(english.out, "One-to-one support"));
  CHECK(contains(english.out, "Group workshop"));
  CHECK(contains(english.out, "Themes"));
  CHECK(contains(english.out, "2 record(s)"));
  CHECK_FALSE(contains(english.out, "Accompagnement individuel"));

  // The workshop's people column is its number of participants.
  const auto table = lines(english.out);
  const auto row = std::find_if(table.begin(), table.end(), [](const auto& line) { return contains(line, "Group workshop"); });
  REQUIRE(row != table.end());
  CHECK(contains(*row, " 8 "));
}

// [SECTION] Invalid sessions: exit 2, nothing stored ------------------------------------------

TEST_CASE("Invalid session input exits with 2, says why per field, and stores nothing", "[cli]") {
  Cli cli;
  cli.add_one("session", individual());
  const auto before = cli.list();
  REQUIRE(before.size() == 1);

  ProcessResult result;
  SECTION("truncated JSON") {
    auto text = individual().dump();
    text.resize(text.size() / 2);
    result = cli.run({"session", "add"}, text);
    CHECK(lines(result.err).size() == 1);
    CHECK(starts_with(result.err, "unreadable JSON: "));
  }
  SECTION("an unknown code names the item") {
    auto session = individual();
    session["thematiques"] = {"email", "emial"};
    result = cli.run({"session", "add"}, session.dump());
    CHECK(lines(result.err).size() == 1);
    CHECK(starts_with(result.err, "thematiques[1]: unknown code “emial”"));
  }
  SECTION("a wrong code in the first item") {
    auto session = individual();
    session["thematiques"] = {"cuisine"};
    result = cli.run({"session", "add"}, session.dump());
    CHECK(some_line_starts_with(result.err, "thematiques[0]: unknown code “cuisine”"));
  }
  SECTION("missing required fields: one line each, field first (English)") {
    result = cli.run({"session", "add"}, R"({"type": "individuel"})");
    for (const auto* field : {"date", "duree", "type_lieu", "thematiques"}) {
      CHECK(some_line_starts_with(result.err, std::string(field) + ": "));
    }
    CHECK(some_line_starts_with(result.err, "date: is required"));
    CHECK(some_line_starts_with(result.err, "duree: is required"));
    CHECK(lines(result.err).size() == 4);
  }
  SECTION("missing required fields (French)") {
    result = cli.run({"session", "add"}, R"({"type": "individuel"})", "fr");
    CHECK(some_line_starts_with(result.err, "date : obligatoire"));
    CHECK(some_line_starts_with(result.err, "duree : obligatoire"));
    CHECK(some_line_starts_with(result.err, "type_lieu : obligatoire"));
    CHECK(lines(result.err).size() == 4);
  }
  SECTION("a batch with its second record bad stores none of the three") {
    auto bad = individual();
    bad.erase("duree");
    bad["couleur"] = "bleu";
    const json batch = {individual("2026-01-11"), bad, individual("2026-01-12")};
    result = cli.run({"session", "add"}, batch.dump());
    CHECK(every_line_starts_with(result.err, "[1]."));
    CHECK(some_line_starts_with(result.err, "[1].duree: is required"));
    CHECK(some_line_starts_with(result.err, "[1].couleur: unknown field"));
  }
  SECTION("a batch whose second record names an unknown place stores none") {
    auto bad = individual();
    bad["type_lieu"] = "lieu_activite";
    bad["lieu_id"] = "0193a5c0-0000-7000-8000-0000000000ff";
    for (const auto* field : {"lieu_commune", "lieu_code_postal", "lieu_code_insee"}) bad.erase(field);
    result = cli.run({"session", "add"}, json{individual("2026-01-11"), bad, individual("2026-01-12")}.dump());
    CHECK(lines(result.err) ==
          std::vector<std::string>{"[1].lieu_id: no place with the id “0193a5c0-0000-7000-8000-0000000000ff”"});
  }
  SECTION("an empty array") {
    result = cli.run({"session", "add"}, "[]");
    CHECK(lines(result.err) == std::vector<std::string>{"no record to add"});
  }
  SECTION("an element that is not an object") {
    result = cli.run({"session", "add"}, json{individual(), 42}.dump());
    CHECK(lines(result.err) == std::vector<std::string>{"[1]: must be a JSON object { … }"});
  }
  SECTION("a date in the future") {
    const auto today = relais::today_local();
    const auto next_year = relais::format_date(relais::Date{today.year + 1, 1, 1});
    result = cli.run({"session", "add"}, individual(next_year).dump());
    CHECK(lines(result.err) == std::vector<std::string>{"date: cannot be in the future (" + next_year + ")"});
  }
  SECTION("a date that does not exist") {
    result = cli.run({"session", "add"}, individual("2026-02-30").dump());
    CHECK(starts_with(result.err, "date: invalid date “2026-02-30”"));
  }
  SECTION("an unknown field") {
    auto session = individual();
    session["couleur"] = "bleu";
    result = cli.run({"session", "add"}, session.dump());
    CHECK(lines(result.err) == std::vector<std::string>{"couleur: unknown field"});
  }
  SECTION("an unknown field (French)") {
    auto session = individual();
    session["couleur"] = "bleu";
    result = cli.run({"session", "add"}, session.dump(), "fr");
    CHECK(lines(result.err) == std::vector<std::string>{"couleur : champ inconnu"});
  }
  INFO(describe(result));
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(cli.list() == before);
}

// [SECTION] Updating sessions ------------------------------------------------------------------

TEST_CASE("session update replaces the given fields only, with one journal entry of the changes", "[cli]") {
  Cli cli;
  const auto id = cli.add_one("session", individual());
  const auto before = cli.show(id);
  const auto journal_before = cli.journal();
  REQUIRE(journal_before.size() == 1);

  SECTION("new values") {
    const json fields = {{"duree", 90}, {"notes", "Dossier complet."}};
    const auto result = cli.run({"session", "update", id}, fields.dump());
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    CHECK(result.out == id + "\n");
    const auto after = cli.show(id);
    CHECK(after["duree"] == 90);
    CHECK(after["notes"] == "Dossier complet.");
    for (const auto& [key, value] : before.items()) {
      if (key == "duree" || key == "notes" || key == "updated_at" || key == "version") continue;
      INFO("kept field " << key);
      CHECK(after[key] == value);
    }
    CHECK(after["version"] != before["version"]);

    const auto journal = cli.journal();
    REQUIRE(journal.size() == 2);
    CHECK(journal[1]["op"] == "update");
    CHECK(journal[1]["record_id"] == id);
    CHECK(journal[1]["kind"] == "session");
    CHECK(journal[1]["changes"] == fields);
  }
  SECTION("from a --json file") {
    const auto file = cli.dir / "update.json";
    relais::test::write_file(file, R"({"type_lieu": "a_distance", "lieu_commune": null, "lieu_code_postal": null,
                                       "lieu_code_insee": null})");
    const auto result = cli.run({"session", "update", id, "--json", file.string()});
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    const auto after = cli.show(id);
    CHECK(after["type_lieu"] == "a_distance");
    CHECK_FALSE(after.contains("lieu_commune"));
    CHECK(cli.journal().size() == 2);
  }
  SECTION("null removes an optional field") {
    const auto result = cli.run({"session", "update", id}, R"({"notes": null})");
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    const auto after = cli.show(id);
    CHECK_FALSE(after.contains("notes"));
    CHECK(after["thematiques"] == before["thematiques"]);
    const auto journal = cli.journal();
    REQUIRE(journal.size() == 2);
    CHECK(journal[1]["changes"] == json{{"notes", nullptr}});
  }
  SECTION("the same values again change nothing and journal nothing") {
    const auto result = cli.run({"session", "update", id}, R"({"duree": 45})");
    INFO(describe(result));
    CHECK(result.exit_code == 0);
    CHECK(cli.show(id) == before);
    CHECK(cli.journal() == journal_before);
  }
}

TEST_CASE("A refused session update exits with 2 and leaves the record as it was", "[cli]") {
  Cli cli;
  const auto id = cli.add_one("session", individual());
  const auto lot = cli.add("equipment", lot_with_laptop()).front();
  const auto session_before = cli.show(id);
  const auto lot_before = cli.show(lot);
  const auto journal_before = cli.journal();

  ProcessResult result;
  SECTION("an invalid value") {
    result = cli.run({"session", "update", id}, R"({"duree": 0, "notes": "changé"})");
    CHECK(lines(result.err) == std::vector<std::string>{"duree: must be between 1 and 1439 (got 0)"});
  }
  SECTION("removing a required field") {
    result = cli.run({"session", "update", id}, R"({"date": null})", "fr");
    CHECK(lines(result.err) == std::vector<std::string>{"date : obligatoire"});
  }
  SECTION("an unknown field") {
    result = cli.run({"session", "update", id}, R"({"couleur": "bleu"})");
    CHECK(lines(result.err) == std::vector<std::string>{"couleur: unknown field"});
  }
  SECTION("unreadable JSON") {
    result = cli.run({"session", "update", id}, R"({"duree": )");
    CHECK(starts_with(result.err, "unreadable JSON: "));
  }
  SECTION("an unknown id") {
    result = cli.run({"session", "update", "0193a5c0-0000-7000-8000-0000000000ff"}, R"({"duree": 30})");
    CHECK(lines(result.err) ==
          std::vector<std::string>{"id: no record with the id “0193a5c0-0000-7000-8000-0000000000ff”"});
  }
  SECTION("the id of a collection lot") {
    result = cli.run({"session", "update", lot}, R"({"notes": "x"})");
    CHECK(lines(result.err) == std::vector<std::string>{"id: “lot” does not fit here: “session” expected"});
  }
  SECTION("no id") {
    result = cli.run({"session", "update"}, R"({"duree": 30})");
    CHECK(starts_with(result.err, "relais-cli: “session update” takes exactly one id\n"));
  }
  INFO(describe(result));
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(cli.show(id) == session_before);
  CHECK(cli.show(lot) == lot_before);
  CHECK(cli.journal() == journal_before);
}

// [SECTION] Deleting ---------------------------------------------------------------------------

TEST_CASE("delete is a soft delete: hidden from list, still shown, journaled, not twice", "[cli]") {
  Cli cli;
  const auto ids = cli.add("session", json{individual("2026-01-10"), individual("2026-01-11")});
  REQUIRE(ids.size() == 2);
  const auto journal_before = cli.journal().size();

  const auto removed = cli.run({"delete", ids[0]});
  INFO(describe(removed));
  REQUIRE(removed.exit_code == 0);
  CHECK(removed.out == ids[0] + "\n");

  CHECK(ids_of(cli.list()) == std::vector<std::string>{ids[1]});
  const auto with_deleted = cli.list("session", /*include_deleted=*/true);
  REQUIRE(with_deleted.size() == 2);
  for (const auto& record : with_deleted) CHECK(record.contains("deleted_at") == (record["id"] == ids[0]));

  const auto shown = cli.show(ids[0]);
  CHECK(shown["id"] == ids[0]);
  CHECK(shown.contains("deleted_at"));
  CHECK(shown["duree"] == 45);

  const auto table = cli.run({"list", "--include-deleted"});
  CHECK(contains(table.out, "deleted"));

  const auto journal = cli.journal();
  REQUIRE(journal.size() == journal_before + 1);
  CHECK(journal.back()["op"] == "delete");
  CHECK(journal.back()["record_id"] == ids[0]);

  const auto again = cli.run({"delete", ids[0]});
  CHECK(again.exit_code == 2);
  CHECK(lines(again.err) == std::vector<std::string>{"id: the record “" + ids[0] + "” was deleted"});
  CHECK(cli.journal().size() == journal_before + 1);

  const auto unknown = cli.run({"delete", "0193a5c0-0000-7000-8000-0000000000ff"});
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.err, "no record with the id"));

  // A deleted session cannot be updated.
  const auto update = cli.run({"session", "update", ids[0]}, R"({"duree": 30})");
  CHECK(update.exit_code == 2);
  CHECK(contains(update.err, "was deleted"));
}

// [SECTION] Equipment --------------------------------------------------------------------------

TEST_CASE("equipment add of a lot with nested devices and events prints parents before children", "[cli]") {
  Cli cli;
  const auto ids = cli.add("equipment", lot_with_laptop());
  REQUIRE(ids.size() == 5);  // lot, device, its three events

  const auto lot = cli.show(ids[0]);
  CHECK(lot["kind"] == "lot");
  CHECK(lot["nom_donateur"] == "Imprimerie Rhône Offset");

  const auto device = cli.show(ids[1]);
  CHECK(device["kind"] == "device");
  CHECK(device["lot_id"] == ids[0]);
  CHECK(device["numero_serie"] == "PF-0XK2L9");
  CHECK(device["devenir"] == "reemploi");
  CHECK(ids_of(device["events"]) == std::vector<std::string>(ids.begin() + 2, ids.end()));

  const std::vector<std::string> types{"recu", "efface", "remis"};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto shown = cli.show(ids[2 + i]);
    CHECK(shown["kind"] == "event");
    CHECK(shown["device_id"] == ids[1]);
    CHECK(shown["type"] == types[i]);
  }

  const auto table = cli.run({"list", "--kind", "equipment"});
  INFO(describe(table));
  REQUIRE(table.exit_code == 0);
  CHECK(contains(table.out, "Collection lot"));
  CHECK(contains(table.out, "Laptop"));
  CHECK(contains(table.out, "PF-0XK2L9"));
  CHECK(contains(table.out, ids[0]));
  CHECK(contains(table.out, ids[1]));
  CHECK(contains(table.out, "2 record(s)"));
  const auto french = cli.run({"list", "--kind", "equipment"}, {}, "fr");
  CHECK(contains(french.out, "Ordinateur portable"));
  CHECK(contains(french.out, "Réemploi"));
}

TEST_CASE("equipment add of a standalone device with lot_id and an event with device_id", "[cli]") {
  Cli cli;
  auto lot_only = lot_with_laptop();
  lot_only.erase("devices");
  const auto lot = cli.add_one("equipment", lot_only);
  const auto device = cli.add_one(
      "equipment", {{"kind", "device"}, {"lot_id", lot}, {"type", "smartphone"}, {"numero_serie", "490154203237518"}});
  const auto received = cli.add_one("equipment", event(device, "recu", "2026-01-08"));

  const auto shown = cli.show(device);
  CHECK(shown["lot_id"] == lot);
  CHECK(ids_of(shown["events"]) == std::vector<std::string>{received});
  CHECK(shown["devenir"] == "en_attente");
  CHECK(cli.stored_count("equipment") == 2);  // the lot and the device; events are in the device
}

TEST_CASE("Invalid equipment exits with 2 and stores nothing of the batch", "[cli]") {
  Cli cli;
  const auto first = cli.add("equipment", lot_with_laptop("SN-001"));
  const auto lot = first[0];
  const auto before = cli.list("equipment");
  REQUIRE(before.size() == 2);
  const auto journal_before = cli.journal().size();

  ProcessResult result;
  SECTION("no kind") {
    result = cli.run({"equipment", "add"}, json{{"lot_id", lot}, {"type", "smartphone"}}.dump());
    CHECK(lines(result.err) == std::vector<std::string>{"kind: is required: “lot”, “device” or “event”"});
  }
  SECTION("an unknown kind, in a batch") {
    result = cli.run({"equipment", "add"}, json{lot_with_laptop("SN-002"), {{"kind", "printer"}}}.dump());
    CHECK(every_line_starts_with(result.err, "[1].kind: unknown code “printer”"));
  }
  SECTION("a serial already recorded by an earlier run, written differently") {
    result = cli.run({"equipment", "add"},
                     json{{"kind", "device"}, {"lot_id", lot}, {"type", "ordinateur_portable"}, {"numero_serie", "sn 001"}}
                         .dump());
    CHECK(lines(result.err) ==
          std::vector<std::string>{"numero_serie: the serial number “sn 001” already belongs to a recorded device (" +
                                   first[1] + ")"});
  }
  SECTION("a serial already recorded, in French") {
    result = cli.run({"equipment", "add"}, lot_with_laptop("SN-001").dump(), "fr");
    CHECK(starts_with(result.err, "devices[0].numero_serie : le numéro de série « SN-001 » est déjà celui"));
  }
  SECTION("handed over before the erasure: the whole lot is refused") {
    auto given = lot_with_laptop("SN-003");
    auto& events = given["devices"][0]["events"];
    events[1]["date"] = "2026-01-08";  // the erasure now comes after the handing over (2026-01-07)
    result = cli.run({"equipment", "add"}, given.dump());
    CHECK(some_line_starts_with(result.err, "devices[0].events[2].type: “Handed over to a person” on 2026-01-07"));
    CHECK(contains(result.err, "no successful data erasure"));
  }
  SECTION("handed over before the erasure, in French") {
    auto given = lot_with_laptop("SN-003");
    given["devices"][0]["events"][1]["date"] = "2026-01-08";
    result = cli.run({"equipment", "add"}, given.dump(), "fr");
    CHECK(some_line_starts_with(result.err, "devices[0].events[2].type : « Remis à une personne » le 2026-01-07"));
    CHECK(contains(result.err, "effacement"));
  }
  SECTION("a failed erasure does not allow handing over") {
    auto given = lot_with_laptop("SN-004");
    given["devices"][0]["events"][1]["resultat"] = "echec";
    result = cli.run({"equipment", "add"}, given.dump());
    CHECK(lines(result.err).size() == 1);
    CHECK(starts_with(result.err, "devices[0].events[2].type: “Handed over to a person” on 2026-01-07"));
  }
  SECTION("an event for a device that does not exist") {
    result = cli.run({"equipment", "add"}, event("0193a5c0-0000-7000-8000-0000000000ff", "recu", "2026-01-08").dump());
    CHECK(lines(result.err) ==
          std::vector<std::string>{"device_id: no device with the id “0193a5c0-0000-7000-8000-0000000000ff”"});
  }
  INFO(describe(result));
  CHECK(result.exit_code == 2);
  CHECK(result.out.empty());
  CHECK(cli.list("equipment") == before);
  CHECK(cli.journal().size() == journal_before);
}

TEST_CASE("Handing over needs a successful erasure recorded by an earlier run", "[cli]") {
  Cli cli;
  auto lot_only = lot_with_laptop();
  lot_only.erase("devices");
  const auto lot = cli.add_one("equipment", lot_only);
  const auto device = cli.add_one(
      "equipment", {{"kind", "device"}, {"lot_id", lot}, {"type", "ordinateur_portable"}, {"numero_serie", "SN-9"}});

  auto failed = event(device, "efface", "2026-01-06");
  failed["resultat"] = "echec";
  cli.add_one("equipment", failed);
  const auto refused = cli.run({"equipment", "add"}, event(device, "remis", "2026-01-07").dump());
  INFO(describe(refused));
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "no successful data erasure"));
  CHECK(cli.show(device)["events"].size() == 1);

  cli.add_one("equipment", event(device, "efface", "2026-01-07"));
  cli.add_one("equipment", event(device, "remis", "2026-01-07"));
  const auto shown = cli.show(device);
  CHECK(shown["events"].size() == 3);
  CHECK(shown["devenir"] == "reemploi");
}

// [SECTION] Places -----------------------------------------------------------------------------

TEST_CASE("A session at a place of activity needs a recorded place", "[cli]") {
  Cli cli;
  const auto place = cli.add_one(
      "place", {{"nom", "Médiathèque Jean-Macé"}, {"adresse", "12 rue de la République"}, {"commune", "Villeurbanne"},
                {"code_postal", "69100"}, {"code_insee", "69266"}});
  CHECK(cli.show(place)["kind"] == "place");
  CHECK(contains(cli.run({"list", "--kind", "place"}).out, "Médiathèque Jean-Macé"));

  auto session = individual();
  for (const auto* field : {"lieu_commune", "lieu_code_postal", "lieu_code_insee"}) session.erase(field);
  session["type_lieu"] = "lieu_activite";

  SECTION("a known place") {
    session["lieu_id"] = place;
    const auto id = cli.add_one("session", session);
    CHECK(cli.show(id)["lieu_id"] == place);
    // The place is in use: it cannot be deleted from under the session.
    const auto removed = cli.run({"delete", place});
    CHECK(removed.exit_code == 2);
    CHECK(contains(removed.err, "still used by 1 record(s)"));
    CHECK(cli.stored_count("place") == 1);
  }
  SECTION("an unknown place") {
    session["lieu_id"] = "0193a5c0-0000-7000-8000-0000000000ff";
    const auto result = cli.run({"session", "add"}, session.dump());
    INFO(describe(result));
    CHECK(result.exit_code == 2);
    CHECK(lines(result.err) ==
          std::vector<std::string>{"lieu_id: no place with the id “0193a5c0-0000-7000-8000-0000000000ff”"});
    CHECK(cli.stored_count() == 0);
  }
  SECTION("no place at all") {
    const auto result = cli.run({"session", "add"}, session.dump());
    CHECK(result.exit_code == 2);
    CHECK(starts_with(result.err, "lieu_id: is required when type_lieu is “lieu_activite”"));
    CHECK(cli.stored_count() == 0);
  }
}

// [SECTION] Export -----------------------------------------------------------------------------

namespace {

const std::vector<std::string> kExportHeader{
    "Date", "Enregistré le", "Dernière modification le", "Type", "Participants", "Canaux d’accompagnement",
    "Nom du lieu", "Adresse", "Commune", "Code postal", "Code Insee", "Durée (min)", "Nom de l’atelier",
    "Matériel numérique utilisé", "Thématique(s) d’accompagnement", "Tags", "Nom de la démarche administrative",
    "Niveau d’autonomie (ou de l’atelier)", "Bénéficiaire réorienté", "Structure de redirection", "Commune",
    "Code postal", "Code Insee", "Genre", "Tranche d’âge", "Statut du bénéficiaire", "Notes supplémentaires", "ID CRA"};

std::size_t column(const std::string& name) {
  return static_cast<std::size_t>(std::find(kExportHeader.begin(), kExportHeader.end(), name) - kExportHeader.begin());
}

// Four sessions: two on the edges of January 10-15, one before, one deleted.
struct ExportFixture {
  Cli cli;
  std::string at_home;
  std::string group;
  std::string december;
  std::string deleted;
  std::string note = "Apporter l’avis d’imposition; dire \"bonjour\" au guichet";

  ExportFixture() {
    auto session = individual("2026-01-10");
    session["notes"] = note;
    at_home = cli.add_one("session", session);
    group = cli.add_one("session", workshop("2026-01-15"));
    december = cli.add_one("session", individual("2025-12-15"));
    deleted = cli.add_one("session", individual("2026-01-12"));
    const auto removed = cli.run({"delete", deleted});
    REQUIRE(removed.exit_code == 0);
  }

  ProcessResult run_export(std::vector<std::string> args) const {
    args.insert(args.begin(), "export");
    return cli.run(args);
  }
};

// The rows from La Coop's header on: the "Informations export" block comes first.
std::vector<std::vector<std::string>> activity_rows(const std::string& text) {
  const auto rows = relais::parse_csv(text);
  const auto header = std::find(rows.begin(), rows.end(), kExportHeader);
  REQUIRE(header != rows.end());
  return {header, rows.end()};
}

const std::vector<std::string>& row_of(const std::vector<std::vector<std::string>>& rows, const std::string& id) {
  for (const auto& row : rows) {
    if (!row.empty() && row.back() == id) return row;
  }
  FAIL("no row for " << id);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("export --format csv writes the activity export French Excel opens", "[cli]") {
  ExportFixture fixture;
  const auto out = fixture.cli.dir / "activites.csv";
  const auto result = fixture.run_export({"--format", "csv", "--out", out.string()});
  INFO(describe(result));
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err == "3 session(s) exported to " + out.string() + "\n");
  CHECK_FALSE(fs::exists(out.string() + ".part"));

  const auto text = relais::test::read_file(out);
  REQUIRE(starts_with(text, "\xEF\xBB\xBF"));
  CHECK(starts_with(text.substr(3), "Export information\r\nExport;Activities\r\nExported by;"));
  CHECK(contains(text, "\r\nNumber of rows;3\r\n"));
  CHECK(contains(text, "\r\n\r\nDate;Enregistré le;Dernière modification le;Type;Participants;Canaux d’accompagnement;"));
  const auto all_rows = relais::parse_csv(text);
  const auto rows = activity_rows(text);
  REQUIRE(rows.size() == 4);  // the header and the three live sessions
  CHECK(rows[0] == kExportHeader);
  for (const auto& row : rows) CHECK(row.size() == kExportHeader.size());

  // Each record ends with CRLF; line breaks inside a quoted cell are not record ends.
  std::size_t crlf = 0;
  for (auto at = text.find("\r\n"); at != std::string::npos; at = text.find("\r\n", at + 2)) ++crlf;
  CHECK(crlf == all_rows.size());
  CHECK(text.size() >= 2);
  CHECK(text.substr(text.size() - 2) == "\r\n");

  // Oldest first, the deleted one left out.
  CHECK(rows[1].back() == fixture.december);
  CHECK(rows[2].back() == fixture.at_home);
  CHECK(rows[3].back() == fixture.group);

  const auto& home = row_of(rows, fixture.at_home);
  CHECK(home[column("Date")] == "10/01/2026");
  CHECK(std::regex_match(home[column("Enregistré le")], std::regex("[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}")));
  CHECK(std::regex_match(home[column("Dernière modification le")],
                         std::regex("[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}")));
  CHECK(home[column("Type")] == "Accompagnement individuel");
  CHECK(home[column("Participants")] == "1");
  CHECK(home[column("Canaux d’accompagnement")] == "À domicile");
  CHECK(home[column("Commune")] == "Lyon");
  CHECK(home[column("Durée (min)")] == "45");
  CHECK(home[column("Matériel numérique utilisé")] == "Ordinateur\nTéléphone");
  CHECK(home[column("Thématique(s) d’accompagnement")] == "E-mail\nAide aux démarches administratives\nLogement");
  CHECK(home[column("Niveau d’autonomie (ou de l’atelier)")] == "Autonome avec guidage en cas de besoin");
  CHECK(home[column("Genre")] == "Féminin");
  CHECK(home[column("Notes supplémentaires")] == fixture.note);  // ';' and '"' round-trip
  CHECK(contains(text, "\"Ordinateur\nTéléphone\""));           // multi-valued cells are quoted
  CHECK(contains(text, "dire \"\"bonjour\"\" au guichet"));       // inner quotes doubled

  const auto& group = row_of(rows, fixture.group);
  CHECK(group[column("Type")] == "Atelier collectif");
  CHECK(group[column("Participants")] == "8");
  CHECK(group[column("Date")] == "15/01/2026");
  CHECK(group[column("Nom de l’atelier")] == "Reconnaître un message frauduleux");
  CHECK(group[column("Niveau d’autonomie (ou de l’atelier)")] == "Débutant");
  CHECK(group[column("Canaux d’accompagnement")] == "Autre lieu");

  CHECK_FALSE(contains(text, ";individuel;"));  // labels, never codes
  CHECK_FALSE(contains(text, ";domicile;"));
  CHECK_FALSE(contains(text, fixture.deleted));
}

TEST_CASE("export --from and --to are inclusive bounds", "[cli]") {
  ExportFixture fixture;
  const auto out = fixture.cli.dir / "janvier.csv";
  const auto result = fixture.run_export({"--format", "csv", "--from", "2026-01-10", "--to", "2026-01-15", "--out", out.string()});
  INFO(describe(result));
  REQUIRE(result.exit_code == 0);
  CHECK(result.err == "2 session(s) exported to " + out.string() + "\n");
  const auto rows = activity_rows(relais::test::read_file(out));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1].back() == fixture.at_home);
  CHECK(rows[2].back() == fixture.group);

  const auto one_day = fixture.cli.dir / "one-day.csv";
  REQUIRE(fixture.run_export({"--format", "csv", "--from", "2026-01-15", "--to", "2026-01-15", "--out", one_day.string()})
              .exit_code == 0);
  const auto day_rows = activity_rows(relais::test::read_file(one_day));
  REQUIRE(day_rows.size() == 2);
  CHECK(day_rows[1].back() == fixture.group);

  const auto empty = fixture.cli.dir / "empty.csv";
  REQUIRE(fixture.run_export({"--format", "csv", "--to", "2025-12-14", "--out", empty.string()}).exit_code == 0);
  CHECK(activity_rows(relais::test::read_file(empty)) == std::vector<std::vector<std::string>>{kExportHeader});
}

TEST_CASE("export --format json writes the information block and the sessions of the period", "[cli]") {
  ExportFixture fixture;
  const auto out = fixture.cli.dir / "activites.json";
  const auto result = fixture.run_export({"--format", "json", "--from", "2026-01-01", "--out", out.string()});
  INFO(describe(result));
  REQUIRE(result.exit_code == 0);
  const auto document = json::parse(relais::test::read_file(out));
  CHECK(document["informations"]["lignes"] == 2);
  CHECK(document["informations"]["periode"] == json{{"du", "2026-01-01"}, {"au", nullptr}});
  const auto& exported = document["activites"];
  REQUIRE(exported.is_array());
  CHECK(ids_of(exported) == std::vector<std::string>{fixture.at_home, fixture.group});
  for (const auto& record : exported) CHECK(record["kind"] == "session");
  CHECK(exported[0]["notes"] == fixture.note);
  check_same_fields(workshop("2026-01-15"), exported[1]);

  const auto none = fixture.cli.dir / "none.json";
  REQUIRE(fixture.run_export({"--format", "json", "--to", "2025-01-01", "--out", none.string()}).exit_code == 0);
  CHECK(json::parse(relais::test::read_file(none))["activites"] == json::array());
}

TEST_CASE("export refuses bad options with 2 and writes no file", "[cli]") {
  ExportFixture fixture;
  const auto out = fixture.cli.dir / "export.csv";
  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  const std::vector<Case> cases{
      {{"--format", "csv", "--from", "2026-02-30", "--out", out.string()},
       "relais-cli: --from: invalid date “2026-02-30” (YYYY-MM-DD)"},
      {{"--format", "csv", "--to", "15/01/2026", "--out", out.string()},
       "relais-cli: --to: invalid date “15/01/2026” (YYYY-MM-DD)"},
      {{"--format", "csv", "--from", "2026-01-15", "--to", "2026-01-10", "--out", out.string()},
       "relais-cli: invalid period: the start (2026-01-15) is after the end (2026-01-10)"},
      {{"--format", "csv"}, "relais-cli: option --out is required"},
      {{"--out", out.string()}, "relais-cli: option --format is required"},
      {{"--format", "xls", "--out", out.string()}, "relais-cli: --format: unknown value “xls”; allowed: csv, xlsx, json"},
      {{"--format", "csv", "--what", "sessions", "--out", out.string()},
       "relais-cli: --what: unknown value “sessions”; allowed: activities, stats, equipment, impact"},
      {{"--format", "csv", "--advisor", "x", "--out", out.string()}, "relais-cli: unknown option --advisor"},
      {{"--format", "csv", "--what", "stats", "--type", "atelier", "--out", out.string()},
       "relais-cli: --type: unknown value “atelier”; allowed: individuel, collectif"},
      {{"--format", "csv", "--out"}, "relais-cli: option --out needs a value"},
  };
  for (const auto& c : cases) {
    const auto result = fixture.run_export(c.args);
    INFO("args: " << json(c.args).dump() << "\n" << describe(result));
    CHECK(result.exit_code == 2);
    CHECK(lines(result.err) == std::vector<std::string>{c.reason, kUsageHint});
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out.string() + ".part"));
  }
}

TEST_CASE("export to a place it cannot write exits with 1 and leaves no file", "[cli]") {
  ExportFixture fixture;
  SECTION("a folder that does not exist") {
    const auto out = fixture.cli.dir / "missing" / "export.csv";
    const auto result = fixture.run_export({"--format", "csv", "--out", out.string()});
    INFO(describe(result));
    CHECK(result.exit_code == 1);
    CHECK(lines(result.err) == std::vector<std::string>{"cannot write the file " + out.string()});
    CHECK_FALSE(fs::exists(fixture.cli.dir / "missing"));
  }
  SECTION("an existing folder") {
    const auto out = fixture.cli.dir / "exports";
    fs::create_directory(out);
    const auto result = fixture.run_export({"--format", "csv", "--out", out.string()});
    INFO(describe(result));
    CHECK(result.exit_code == 1);
    CHECK(lines(result.err) == std::vector<std::string>{"cannot write the file " + out.string()});
    CHECK(fs::is_directory(out));
    CHECK(fs::is_empty(out));
    CHECK_FALSE(fs::exists(out.string() + ".part"));
  }
}

TEST_CASE("export --what stats|equipment|impact writes each format", "[cli]") {
  ExportFixture fixture;
  for (const char* what : {"stats", "equipment", "impact", "activities"}) {
    for (const char* format : {"csv", "xlsx", "json"}) {
      const auto out = fixture.cli.dir / (std::string(what) + "." + format);
      const auto result = fixture.run_export({"--format", format, "--what", what, "--out", out.string()});
      INFO(what << " " << format << "\n" << describe(result));
      CHECK(result.exit_code == 0);
      CHECK(fs::file_size(out) > 0);
      CHECK_FALSE(fs::exists(out.string() + ".part"));
    }
  }
  const auto stats = json::parse(relais::test::read_file(fixture.cli.dir / "stats.json"));
  CHECK(stats["statistiques"]["totals"]["accompagnements"] == 10);  // 1 + 8 + 1
  const auto impact = json::parse(relais::test::read_file(fixture.cli.dir / "impact.json"));
  CHECK(impact["informations"]["facteurs_impact"]["version"].is_string());
  const auto result = fixture.run_export(
      {"--format", "xlsx", "--what", "stats", "--out", (fixture.cli.dir / "s.xlsx").string()});
  CHECK(result.err == "“Statistics” export written to " + (fixture.cli.dir / "s.xlsx").string() + "\n");
}

TEST_CASE("stats prints the totals and the breakdowns, or the indicators as JSON", "[cli]") {
  ExportFixture fixture;
  const auto table = fixture.cli.run({"stats", "--from", "2026-01-01", "--to", "2026-01-31"});
  INFO(describe(table));
  REQUIRE(table.exit_code == 0);
  CHECK(starts_with(table.out, "Statistics: from 01/01/2026 to 31/01/2026\n"));
  CHECK(some_line_starts_with(table.out, "People helped (per session)  9"));
  CHECK(some_line_starts_with(table.out, "Workshops                    1"));
  CHECK(contains(table.out, "CO2e avoided (kg)"));

  const auto as_json = fixture.cli.run({"stats", "--format", "json", "--type", "collectif"});
  INFO(describe(as_json));
  REQUIRE(as_json.exit_code == 0);
  const auto indicators = json::parse(as_json.out);
  CHECK(indicators["totals"]["accompagnements"] == 8);
  CHECK(indicators["filter"] == json{{"type", "collectif"}});

  struct Case {
    std::vector<std::string> args;
    std::string reason;
  };
  for (const auto& c : std::vector<Case>{
           {{"stats", "--type", "groupe"}, "relais-cli: --type: unknown value “groupe”; allowed: individuel, collectif"},
           {{"stats", "--departement", "7"}, "relais-cli: --departement: invalid département “7” (for example 69, 2A, 971)"},
           {{"stats", "--theme", "cuisine"}, "relais-cli: --theme: unknown theme “cuisine” (a thematiques code, see docs/records.md)"},
           {{"stats", "--format", "csv"}, "relais-cli: --format: unknown value “csv”; allowed: table, json"},
           {{"stats", "--from", "2026-02-01", "--to", "2026-01-01"},
            "relais-cli: invalid period: the start (2026-02-01) is after the end (2026-01-01)"},
       }) {
    const auto result = fixture.cli.run(c.args);
    INFO(describe(result));
    CHECK(result.exit_code == 2);
    CHECK(lines(result.err) == std::vector<std::string>{c.reason, kUsageHint});
    CHECK(result.out.empty());
  }
}

// One rule for a statistics filter (stats::check_filter): relais-cli and relais-server refuse the
// same bad filters, naming the same field (the app's model: "app: statistics model: ..." in
// test_app.cpp).
TEST_CASE("statistics filters: relais-cli, relais-server and the core rule refuse the same ones, by the same field",
          "[cli][stats]") {
  relais::test::TempDir dir;
  const auto db = dir / "relais.db";
  REQUIRE(relais::test::run_process({RELAIS_CLI_PATH, "--db", db.string(), "init"}).exit_code == 0);
  const auto server_db = dir / "server.db";
  relais::test::run_process({RELAIS_SERVER_PATH, "--db", server_db.string(), "admin", "add-structure", "--name", "S"});
  struct Case {
    std::string field;
    std::string option;
    std::string value;
  };
  for (const auto& c : std::vector<Case>{{"departement", "departement", "00"},
                                         {"departement", "departement", "20"},
                                         {"departement", "departement", "7"},
                                         {"departement", "departement", "979"},
                                         {"type", "type", "atelier"},
                                         {"theme", "theme", "cuisine"},
                                         {"to", "from", "2026-02-01"}}) {
    INFO(c.option << " " << c.value);
    std::vector<std::string> options{"--" + c.option, c.value};
    if (c.field == "to") options.insert(options.end(), {"--to", "2026-01-01"});

    relais::stats::Filter filter;
    if (c.option == "departement") filter.departement = c.value;
    if (c.option == "type") filter.type = c.value;
    if (c.option == "theme") filter.thematique = c.value;
    if (c.field == "to") {
      filter.from = relais::parse_date("2026-02-01");
      filter.to = relais::parse_date("2026-01-01");
    }
    const auto problems = relais::stats::check_filter(filter, relais::test::vocabulary());
    REQUIRE(problems.size() == 1);
    CHECK(problems.front().field == c.field);

    std::vector<std::string> cli{RELAIS_CLI_PATH, "--db", db.string(), "stats"};
    cli.insert(cli.end(), options.begin(), options.end());
    const auto by_cli = relais::test::run_process(cli, {}, {"RELAIS_LANG=en"});
    INFO(by_cli.err);
    CHECK(by_cli.exit_code == 2);
    if (c.field != "to") CHECK(by_cli.err.find("--" + c.field + ":") != std::string::npos);

    std::vector<std::string> server{RELAIS_SERVER_PATH, "--db", server_db.string(), "export", "--format", "json",
                                    "--what", "stats", "--out", (dir / "out.json").string()};
    server.insert(server.end(), options.begin(), options.end());
    const auto by_server = relais::test::run_process(server);
    INFO(by_server.err);
    CHECK(by_server.exit_code != 0);
    CHECK(by_server.err.find("--" + c.field + ":") != std::string::npos);
  }
  // And what one accepts, the others do.
  for (const char* departement : {"01", "2a", "69", "95", "971", "978"}) {
    relais::stats::Filter filter;
    filter.departement = departement;
    CHECK(relais::stats::check_filter(filter, relais::test::vocabulary()).empty());
    CHECK(relais::test::run_process({RELAIS_CLI_PATH, "--db", db.string(), "stats", "--departement", departement}).exit_code == 0);
  }
}

// [SECTION] Persistence ------------------------------------------------------------------------

TEST_CASE("A store keeps its records and its journal from one run to the next", "[cli]") {
  Cli cli;
  const auto first = cli.add_one("session", individual("2026-01-10"));
  const auto second = cli.add_one("session", workshop("2026-01-15"));
  REQUIRE(cli.run({"session", "update", first}, R"({"duree": 60})").exit_code == 0);

  // A later run, reading the store directly, finds what the earlier runs wrote.
  auto store = relais::test::open_store(cli.db);
  CHECK(store->count(relais::RecordKind::session) == 2);
  const auto record = store->get(first);
  REQUIRE(record);
  CHECK((*record)["duree"] == 60);
  REQUIRE(store->get(second));
  const auto journal = store->journal();
  REQUIRE(journal.size() == 3);
  CHECK(journal[0].op == "create");
  CHECK(journal[2].op == "update");
  CHECK(journal[0].device_id == journal[2].device_id);  // one device identity across runs
  CHECK(journal[0].device_id == store->device_id());
}

TEST_CASE("Structures and advisors are added and listed as reference data", "[cli]") {
  Cli cli;
  const auto structure = cli.run({"structure", "add"},
                                 R"({"nom": "France Services Villeurbanne", "pivot": "21690266800013",
                                     "code_postal": "69100"})");
  INFO(describe(structure));
  REQUIRE(structure.exit_code == 0);
  const auto structure_id = lines(structure.out).at(0);

  const auto advisor = cli.run({"advisor", "add"}, json{{"nom", "Benali"},
                                                        {"prenom", "Samia"},
                                                        {"structure_id", structure_id},
                                                        {"role", "coordinateur"}}
                                                       .dump());
  INFO(describe(advisor));
  REQUIRE(advisor.exit_code == 0);

  const auto table = cli.run({"list", "--kind", "advisor"}, {}, "fr");
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("Samia Benali") != std::string::npos);
  CHECK(table.out.find("Coordinateur·rice") != std::string::npos);

  // An advisor of a structure that does not exist is refused, and nothing is stored.
  const auto orphan = cli.run({"advisor", "add"},
                              R"({"nom": "Martin", "structure_id": "0192f0c1-7a3e-7b2c-9d4e-5f6a7b8c9d0e",
                                  "role": "mediateur"})");
  CHECK(orphan.exit_code == 2);
  CHECK(orphan.err.rfind("structure_id", 0) == 0);
  const auto listed = json::parse(cli.run({"list", "--kind", "advisor", "--format", "json"}).out);
  CHECK(listed.size() == 1);
}

TEST_CASE("Sync on a device that is not enrolled fails, says why, and status keeps the error", "[cli]") {
  Cli cli;
  const auto result = cli.run({"sync"});
  INFO(describe(result));
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("not enrolled") != std::string::npos);
  const auto status = cli.run_json({"status", "--format", "json"});
  CHECK(status["enrolled"] == false);
  CHECK(status["last_error"].get<std::string>().find("not enrolled") != std::string::npos);
}
