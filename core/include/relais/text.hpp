#pragma once
// Small text helpers shared by validation, exports and the CLI.
#include <string>
#include <string_view>
#include <vector>

namespace relais {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

// Number of Unicode code points in a valid UTF-8 string.
std::size_t utf8_length(std::string_view s);
// Appends the code point `code` (at most U+10FFFF) as UTF-8.
void append_utf8(std::string& out, char32_t code);

std::string trim(std::string_view s);
std::string to_lower_ascii(std::string_view s);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

// Lower case without accents, so that "Médiathèque", "MEDIATHEQUE" and "mediatheque" read the
// same in searches and filters. Bytes that are not valid UTF-8 are copied as they are.
void append_folded(std::string& out, std::string_view text);
std::string fold_for_search(std::string_view text);

// Replaces each "{name}" in `pattern` by its value; unknown names are left as they are.
std::string format_named(std::string_view pattern,
                         const std::vector<std::pair<std::string, std::string>>& values);

// Heuristics for the "no names or contact details in notes" rule.
bool contains_email_address(std::string_view s);
bool contains_phone_number(std::string_view s);

}  // namespace relais
