#include "relais/uuid.hpp"

#include <array>
#include <cstdint>
#include <mutex>
#include <random>

#include "relais/dates.hpp"

namespace relais {

namespace {

std::array<std::uint8_t, 10> random_bytes() {
  // One generator per thread, seeded from the OS (getrandom) once.
  thread_local std::mt19937_64 generator{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  std::array<std::uint8_t, 10> bytes{};
  std::uint64_t a = generator();
  std::uint64_t b = generator();
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(a >> (8 * i));
  for (std::size_t i = 8; i < 10; ++i) bytes[i] = static_cast<std::uint8_t>(b >> (8 * (i - 8)));
  return bytes;
}

}  // namespace

std::string make_uuid_v7() {
  const auto ms = static_cast<std::uint64_t>(now_unix_ms());
  const auto rnd = random_bytes();
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  bytes[6] = static_cast<std::uint8_t>(0x70 | (rnd[0] & 0x0F));  // version 7
  bytes[7] = rnd[1];
  bytes[8] = static_cast<std::uint8_t>(0x80 | (rnd[2] & 0x3F));  // RFC variant
  for (std::size_t i = 9; i < 16; ++i) bytes[i] = rnd[i - 6];

  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[bytes[i] >> 4];
    out += hex[bytes[i] & 0x0F];
  }
  return out;
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
    } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace relais
