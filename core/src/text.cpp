#include "relais/text.hpp"

#include <cctype>

namespace relais {

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= s.size() + 0 && i + extra > s.size() - 1) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string format_named(std::string_view pattern,
                         const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  out.reserve(pattern.size());
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      const auto close = pattern.find('}', i);
      if (close != std::string_view::npos) {
        const auto name = pattern.substr(i + 1, close - i - 1);
        bool replaced = false;
        for (const auto& [key, value] : values) {
          if (key == name) {
            out += value;
            replaced = true;
            break;
          }
        }
        if (replaced) {
          i = close + 1;
          continue;
        }
      }
    }
    out += pattern[i++];
  }
  return out;
}

bool contains_email_address(std::string_view s) {
  // Something@something.tld: a word character before '@' and a dot after it.
  for (std::size_t at = s.find('@'); at != std::string_view::npos; at = s.find('@', at + 1)) {
    if (at == 0 || !std::isalnum(static_cast<unsigned char>(s[at - 1]))) continue;
    std::size_t j = at + 1;
    bool saw_dot = false;
    std::size_t after_dot = 0;
    while (j < s.size()) {
      const auto ch = static_cast<unsigned char>(s[j]);
      if (ch == '.') {
        saw_dot = true;
        after_dot = 0;
      } else if (std::isalnum(ch) || ch == '-' || ch == '_') {
        ++after_dot;
      } else {
        break;
      }
      ++j;
    }
    if (saw_dot && after_dot >= 2 && j > at + 3) return true;
  }
  return false;
}

bool contains_phone_number(std::string_view s) {
  // French numbers: ten digits starting with 0 (06 12 34 56 78, 06.12.34.56.78, 0612345678)
  // or +33 followed by nine digits. Separators between digit groups are spaces, dots or dashes.
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::size_t j = i;
    int needed = 0;
    if (s[j] == '+' && s.substr(j, 3) == "+33") {
      j += 3;
      needed = 9;
    } else if (s[j] == '0' && (i == 0 || !std::isdigit(static_cast<unsigned char>(s[i - 1])))) {
      needed = 10;
    } else {
      continue;
    }
    int digits = 0;
    while (j < s.size() && digits < needed) {
      const char ch = s[j];
      if (std::isdigit(static_cast<unsigned char>(ch))) {
        ++digits;
      } else if (!(ch == ' ' || ch == '.' || ch == '-') || digits == 0) {
        if (!(digits == 0 && ch == ' ' && needed == 9)) break;
      }
      ++j;
    }
    if (digits == needed && (j >= s.size() || !std::isdigit(static_cast<unsigned char>(s[j])))) return true;
  }
  return false;
}

}  // namespace relais
