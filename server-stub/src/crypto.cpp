#include "relais/server/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <memory>
#include <stdexcept>

namespace relais::server {

namespace {

constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int base64url_value(char ch) {
  const auto at = kBase64Url.find(ch);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::vector<std::uint8_t> random_bytes(std::size_t count) {
  std::vector<std::uint8_t> bytes(count);
  if (count > 0 && RAND_bytes(bytes.data(), static_cast<int>(count)) != 1) {
    throw std::runtime_error("the system random generator failed (RAND_bytes)");
  }
  return bytes;
}

std::string sha256_hex(std::string_view data) {
  // OpenSSL 3 looks the algorithm up and makes a context at each EVP_Digest call: a quarter of
  // the cost of hashing a pushed change's key. The algorithm is looked up once, and each thread
  // keeps its context.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct ContextFree {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, ContextFree> context(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (sha256 == nullptr || context == nullptr || EVP_DigestInit_ex2(context.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest.data(), &size) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0F];
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char ch : bytes) {
    buffer = (buffer << 8) | static_cast<std::uint8_t>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kBase64Url[(buffer << (6 - bits)) & 0x3F];
  return out;
}

bool base64url_decode(std::string_view text, std::string& bytes) {
  bytes.clear();
  if (text.size() % 4 == 1) return false;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char ch : text) {
    const int value = base64url_value(ch);
    if (value < 0) return false;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // The unused low bits of the last character must be zero (one encoding per value).
  return (buffer & ((1u << bits) - 1)) == 0;
}

std::string make_device_token() {
  const auto bytes = random_bytes(32);
  return "rls_" + base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string make_enroll_code() {
  const auto bytes = random_bytes(12);
  std::string code;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0 && i % 4 == 0) code += '-';
    code += kCrockford[bytes[i] & 0x1F];  // 32 symbols: the low 5 bits are uniform
  }
  return code;
}

std::string normalize_enroll_code(std::string_view typed) {
  std::string out;
  for (const char raw : typed) {
    if (raw == '-' || raw == ' ') continue;
    char ch = static_cast<char>(std::toupper(static_cast<unsigned char>(raw)));
    if (ch == 'O') ch = '0';
    if (ch == 'I' || ch == 'L') ch = '1';
    if (kCrockford.find(ch) == std::string_view::npos) return {};
    out += ch;
  }
  return out.size() == 12 ? out : std::string{};
}

}  // namespace relais::server
