#pragma once
// The few cryptographic helpers the server needs (OpenSSL): random secrets, SHA-256 and
// base64url. Secrets are stored only as their SHA-256, so a stolen database gives no token.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relais::server {

// `count` bytes from the operating system's CSPRNG (RAND_bytes). Throws when it fails.
std::vector<std::uint8_t> random_bytes(std::size_t count);

// Lower-case hexadecimal SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// RFC 4648 §5 base64url, without padding.
std::string base64url_encode(std::string_view bytes);
// Nullopt-like: returns false when `text` is not unpadded base64url.
bool base64url_decode(std::string_view text, std::string& bytes);

// A device token: "rls_" then 32 random bytes in base64url (43 characters).
std::string make_device_token();

// A one-time enrollment code: 12 characters of Crockford's base32 (no I, L, O, U) in groups of
// four, "K7QF-2M9D-XW4P" (60 random bits).
std::string make_enroll_code();
// The form a typed code is hashed in: upper-case, without dashes or spaces, with the
// characters people confuse mapped as Crockford says (O -> 0, I and L -> 1). Empty when the
// text cannot be a code.
std::string normalize_enroll_code(std::string_view typed);

}  // namespace relais::server
