// decode_cursor, what a pull request decodes (its "since" cursor): it never throws, and a
// cursor it accepts is the one encoding of an epoch UUID and a sequence number of 0 or more
// (encode_cursor gives the same text back, and decoding that gives the same cursor).
#include "fuzz_check.hpp"
#include "relais/server/protocol.hpp"

using namespace relais::server;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = relais::fuzz::as_text(data, size);
  const auto cursor = decode_cursor(text);
  if (!cursor) return 0;
  FUZZ_CHECK(cursor->seq >= 0);
  FUZZ_CHECK(cursor->epoch.size() == 36);
  const auto encoded = encode_cursor(*cursor);
  FUZZ_CHECK(encoded == text);
  const auto again = decode_cursor(encoded);
  FUZZ_CHECK(again && again->epoch == cursor->epoch && again->seq == cursor->seq);
  return 0;
}
