#pragma once
// gzip (RFC 1952) in memory, at zlib's fastest level: request bodies the sync engine sends, and
// the answers relais-server gzips itself.
#include <string>
#include <string_view>

namespace relais {

// gzip format, as sent with Content-Encoding: gzip.
std::string gzip_compress(std::string_view data);
// Throws std::runtime_error on data that is not gzip, is truncated, or fails its checksum.
std::string gzip_decompress(std::string_view data);

}  // namespace relais
