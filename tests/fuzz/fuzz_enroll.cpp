// parse_enroll: it throws ApiError 400 only, and what it accepts follows docs/protocol.md
// ("device_id must be a lower-case UUID; device_name is optional (200 bytes at most)").
#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "relais/json_parse.hpp"
#include "relais/server/protocol.hpp"
#include "relais/uuid.hpp"

using namespace relais;
using namespace relais::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  EnrollRequest request;
  try {
    request = parse_enroll(text);
  } catch (const ApiError& error) {
    FUZZ_CHECK((error.status() == 400 && (error.code() == "invalid_json" || error.code() == "invalid_request")) ||
               (error.status() == 413 && error.code() == "body_too_large" && text.size() > kMaxEnrollBodyBytes));
    return 0;
  }
  FUZZ_CHECK(is_uuid(request.device_id));
  FUZZ_CHECK(request.device_name.size() <= 200);
  const auto document = parse_json(text, kMaxJsonDepth);
  FUZZ_CHECK(document.is_object());
  FUZZ_CHECK(document.at("code") == request.code);
  FUZZ_CHECK(document.at("device_id") == request.device_id);
  // A flat object of the three strings, nothing else (the reader does not build a document).
  for (const auto& [key, value] : document.items()) {
    FUZZ_CHECK(key == "code" || key == "device_id" || key == "device_name");
    FUZZ_CHECK(value.is_string() || value.is_null());
  }
  return 0;
}
