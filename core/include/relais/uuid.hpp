#pragma once
// Record ids are UUIDs made on the device, so records can be created offline without
// asking anyone. Version 7 (RFC 9562): a millisecond timestamp then random bits, so new
// ids sort after older ones and B-tree inserts stay local.
#include <string>
#include <string_view>

namespace relais {

std::string make_uuid_v7();
// Lower-case canonical form 8-4-4-4-12 of hexadecimal digits (any version).
bool is_uuid(std::string_view text);

}  // namespace relais
