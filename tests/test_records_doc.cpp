// docs/records.md promises what relais-cli accepts and refuses: its examples are run here, in
// the order they appear, against one fresh store, through the real binary.
#include <regex>

#include <catch2/catch.hpp>

#include "support.hpp"

namespace {

struct DocExample {
  std::string command;   // "session", "equipment", "place"
  bool must_fail = false;
  std::string json;
  std::string expected_errors;  // the ```text block after a failing example
};

std::vector<DocExample> examples_of(const std::string& markdown) {
  std::vector<DocExample> out;
  const std::regex marker(R"(<!-- example: (\w+) add(, fails)? -->\n```json\n([\s\S]*?)```)");
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), marker); it != std::sregex_iterator(); ++it) {
    DocExample example{(*it)[1].str(), (*it)[2].matched, (*it)[3].str(), {}};
    if (example.must_fail) {
      const auto after = markdown.substr(static_cast<std::size_t>(it->position() + it->length()));
      std::smatch text;
      if (std::regex_search(after, text, std::regex(R"(^\s*```text\n([\s\S]*?)```)"))) example.expected_errors = text[1];
    }
    out.push_back(std::move(example));
  }
  return out;
}

}  // namespace

TEST_CASE("every example of docs/records.md behaves as the page says", "[docs][cli]") {
  const auto markdown = relais::test::read_file(std::string(RELAIS_TEST_DOCS_DIR) + "/records.md");
  const auto examples = examples_of(markdown);
  REQUIRE(examples.size() >= 7);

  relais::test::TempDir dir;
  const auto db = (dir / "doc.db").string();
  std::size_t stored = 0;
  for (const auto& example : examples) {
    INFO(example.command << " example:\n" << example.json);
    const auto result =
        relais::test::run_process({RELAIS_CLI_PATH, "--db", db, example.command, "add"}, example.json, {"RELAIS_LANG=fr"});
    INFO("stderr:\n" << result.err);
    if (example.must_fail) {
      REQUIRE(!example.expected_errors.empty());
      CHECK(result.exit_code == 2);
      CHECK(result.out.empty());
      CHECK(result.err == example.expected_errors);
    } else {
      CHECK(result.exit_code == 0);
      CHECK(!result.out.empty());
      stored += static_cast<std::size_t>(std::count(result.out.begin(), result.out.end(), '\n'));
    }
  }

  // What the page stored is all there, and the refused examples left nothing behind.
  auto store = relais::test::open_store(db);
  std::size_t in_store = 0;
  for (const auto kind : {relais::RecordKind::place, relais::RecordKind::session, relais::RecordKind::lot,
                          relais::RecordKind::device, relais::RecordKind::device_event}) {
    in_store += static_cast<std::size_t>(store->count(kind));
  }
  CHECK(in_store == stored);
  const auto laptop = store->get("0193a5c0-0000-7000-8000-00000000c001");
  REQUIRE(laptop.has_value());
  CHECK((*laptop)["devenir"] == "reemploi");
  CHECK((*laptop)["events"].size() == 5);
}
