// Record validation: any JSON document, checked as each kind of record by check_record, which
// documents no exception (a record is refused with problems, never by throwing). The canonical
// JSON (to_json) of a valid record is valid again and the same once more.
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "relais/json_parse.hpp"
#include "relais/records.hpp"
#include "relais/vocabulary.hpp"

using namespace relais;

namespace {

const Vocabulary& vocabulary() {
  static const Vocabulary loaded = [] {
    const char* directory = std::getenv("RELAIS_ASSETS_DIR");
    return Vocabulary::load_file(std::filesystem::path(directory ? directory : RELAIS_FUZZ_ASSETS_DIR) /
                                 "vocabulary.json");
  }();
  return loaded;
}

constexpr RecordKind kKinds[] = {RecordKind::session, RecordKind::lot,       RecordKind::device, RecordKind::device_event,
                                 RecordKind::place,   RecordKind::structure, RecordKind::advisor};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)vocabulary();  // a missing vocabulary stops the run at once, not at the first input
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json document;
  try {
    document = parse_json(fuzz::as_text(data, size));
  } catch (const JsonSyntaxError&) {
    return 0;
  }
  const ValidationContext context{vocabulary(), Date{2026, 11, 22}};
  for (const auto kind : kKinds) {
    const auto checked = check_record(kind, document, context);
    FUZZ_CHECK(kind_of(checked.record) == kind);
    const auto canonical = to_json(checked.record);
    if (!checked.ok()) continue;
    const auto again = check_record(kind, canonical, context);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(to_json(again.record) == canonical);
  }
  return 0;
}
