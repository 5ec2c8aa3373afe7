#include "relais/text.hpp"

#include <cctype>

namespace relais {

namespace {

// What a Latin letter with a diacritic (or a typographic apostrophe) reads as in a search;
// nullptr for every other code point, which is kept as it is.
const char* fold_code_point(char32_t c) {
  switch (c) {
    case 0xDF: return "ss";
    case 0xFF: case 0x178: return "y";
    case 0x152: case 0x153: return "oe";
    case 0x2018: case 0x2019: return "'";  // ‘ ’: French text is full of them
    default: break;
  }
  if (c < 0xC0 || c > 0xFE || c == 0xD7 || c == 0xF7) return nullptr;  // × and ÷ are not letters
  if (c >= 0xE0) c -= 0x20;  // Latin-1's lower-case letters mirror its upper-case ones
  if (c <= 0xC5) return "a";
  if (c == 0xC6) return "ae";
  if (c == 0xC7) return "c";
  if (c <= 0xCB) return "e";
  if (c <= 0xCF) return "i";
  if (c == 0xD1) return "n";
  if ((c >= 0xD2 && c <= 0xD6) || c == 0xD8) return "o";
  if (c >= 0xD9 && c <= 0xDC) return "u";
  if (c == 0xDD) return "y";
  return nullptr;
}

}  // namespace

// Appends `text` lower-cased and without accents, so that "Médiathèque", "MEDIATHEQUE" and
// "mediatheque" read the same. Bytes that are not valid UTF-8 are copied as they are.
void append_folded(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out += lead >= 'A' && lead <= 'Z' ? static_cast<char>(lead - 'A' + 'a') : text[i];
      ++i;
      continue;
    }
    const std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (length == 1 || i + length > text.size()) {
      out += text[i++];
      continue;
    }
    char32_t c = lead & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    if (const char* folded = fold_code_point(c)) {
      out += folded;
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
}

std::string fold_for_search(std::string_view text) {
  std::string out;
  append_folded(out, text);
  return out;
}


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

void append_utf8(std::string& out, char32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
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
