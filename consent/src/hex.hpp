#pragma once
// Lower-case hex text of bytes, for digests and random ids that go into JSON records and Redis
// key names.
#include <span>
#include <string>
#include <string_view>

namespace cg::consent {

/// Two lower-case hex digits per byte, most significant nibble first. Allocates only (may throw
/// std::bad_alloc); thread-safe.
inline std::string to_hex(std::span<const unsigned char> bytes) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char b : bytes) {
        out.push_back(digits[b >> 4U]);
        out.push_back(digits[b & 0x0FU]);
    }
    return out;
}

}  // namespace cg::consent
