#pragma once
#include <optional>
#include <string_view>

namespace relais {

// The languages the product speaks. French is the default everywhere.
enum class Lang { fr, en };

constexpr std::string_view to_string(Lang lang) { return lang == Lang::fr ? "fr" : "en"; }

std::optional<Lang> parse_lang(std::string_view code);

// The language asked for by the environment (RELAIS_LANG, then LC_ALL, LC_MESSAGES, LANG):
// English when it starts with "en", French otherwise.
Lang lang_from_environment();

}  // namespace relais
