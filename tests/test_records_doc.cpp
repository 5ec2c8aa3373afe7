// docs/records.md promises what relais-cli accepts and refuses: its examples are run here, in
// the order they appear, against one fresh store, through the real binary.
#include <algorithm>

#include <catch2/catch.hpp>

#include "support.hpp"

namespace {

struct DocExample {
  std::string command;   // "session", "equipment", "place"
  bool must_fail = false;
  std::string json;
  std::string expected_errors;  // the ```text block after a failing example
};

// The text of the fenced block that opens with `fence` at or after `from`, or "" when the next
// non-blank text is something else. `from` moves past the block.
std::string fenced_block(const std::string& markdown, std::size_t& from, const std::string& fence) {
  const auto start = markdown.find_first_not_of(" \n", from);
  if (start == std::string::npos || markdown.compare(start, fence.size(), fence) != 0) return {};
  const auto body = start + fence.size();
  const auto end = markdown.find("```", body);
  if (end == std::string::npos) return {};
  from = end + 3;
  return markdown.substr(body, end - body);
}

// Blocks introduced by "<!-- example: KIND add -->" or "<!-- example: KIND add, fails -->".
std::vector<DocExample> examples_of(const std::string& markdown) {
  std::vector<DocExample> out;
  const std::string marker = "<!-- example: ";
  for (auto at = markdown.find(marker); at != std::string::npos; at = markdown.find(marker, at)) {
    const auto close = markdown.find(" -->", at);
    REQUIRE(close != std::string::npos);
    const auto words = markdown.substr(at + marker.size(), close - at - marker.size());
    DocExample example;
    example.command = words.substr(0, words.find(' '));
    example.must_fail = words.size() > 7 && words.compare(words.size() - 7, 7, ", fails") == 0;
    at = close + 4;
    example.json = fenced_block(markdown, at, "```json\n");
    REQUIRE(!example.json.empty());
    if (example.must_fail) example.expected_errors = fenced_block(markdown, at, "```text\n");
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
