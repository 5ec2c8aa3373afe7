// parse_push, the decoder of a push body: it throws ApiError only (400 or 413), and what it
// accepts is a JSON object whose changes it gives back in order, each with the text of its
// "fields" as it was sent and the key of its versions.
#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "relais/json_parse.hpp"
#include "relais/server/protocol.hpp"
#include "relais/uuid.hpp"

using namespace relais;
using namespace relais::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  PushRequest request;
  try {
    request = parse_push(text);
  } catch (const ApiError& error) {
    FUZZ_CHECK((error.status() == 400 && (error.code() == "invalid_json" || error.code() == "invalid_request")) ||
               (error.status() == 413 && error.code() == "too_many_records"));
    FUZZ_CHECK(error.problems().is_array());
    return 0;
  }
  FUZZ_CHECK(nlohmann::json::accept(text));
  const auto document = parse_json(text, kMaxJsonDepth);
  FUZZ_CHECK(document.is_object());
  FUZZ_CHECK(document.at("device_id") == request.device_id);
  const auto& changes = document.at("changes");
  FUZZ_CHECK(changes.is_array() && changes.size() == request.changes.size());
  FUZZ_CHECK(request.changes.size() <= kMaxChangesPerPush);
  for (std::size_t i = 0; i < request.changes.size(); ++i) {
    const auto& change = request.changes[i];
    const auto& item = changes[i];
    FUZZ_CHECK(is_uuid(change.id) && item.at("id") == change.id);
    FUZZ_CHECK(item.at("kind") == to_string(change.kind));
    FUZZ_CHECK(change.change.fields.is_object() && !change.change.fields.empty());
    FUZZ_CHECK(change.change.fields == item.at("fields"));
    // The fields' text is kept only when it is canonical (a number such as 3e1 is written 30).
    if (!change.fields_text.empty()) {
      FUZZ_CHECK(parse_json(change.fields_text, kMaxJsonDepth) == change.change.fields);
      JsonParser kept(change.fields_text, kMaxJsonDepth);
      kept.value();
      FUZZ_CHECK(!kept.read_noncanonical_number());
    }
    FUZZ_CHECK(!change.change.versions.empty());
    FUZZ_CHECK(change.key == change_key(change.kind, change.change));
    FUZZ_CHECK(!change.problems_as_new.has_value());
  }
  return 0;
}
