#include "base64url.hpp"

#include <algorithm>

namespace cg::consent {

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int value_of(char c) noexcept {
    const auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::string base64url_encode(std::span<const unsigned char> bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const unsigned char b : bytes) {
        acc = (acc << 8U) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> static_cast<unsigned>(bits)) & 0x3FU];
        }
    }
    if (bits > 0) {
        out += alphabet[(acc << static_cast<unsigned>(6 - bits)) & 0x3FU];
    }
    return out;
}

bool is_base64url(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), [](char c) { return value_of(c) >= 0; });
}

template <std::size_t N>
bool base64url_decode(std::string_view text, std::array<unsigned char, N>& out) noexcept {
    if (text.size() != (N * 4 + 2) / 3) {
        return false;
    }
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t n = 0;
    for (const char c : text) {
        const int v = value_of(c);
        if (v < 0) {
            return false;
        }
        acc = (acc << 6U) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == N) {
                return false;
            }
            out[n++] = static_cast<unsigned char>((acc >> static_cast<unsigned>(bits)) & 0xFFU);
        }
    }
    // Unused trailing bits must be zero, or two texts would decode to the same bytes.
    return n == N && (acc & ((1U << static_cast<unsigned>(bits)) - 1U)) == 0;
}

template bool base64url_decode<32>(std::string_view, std::array<unsigned char, 32>&) noexcept;
template bool base64url_decode<16>(std::string_view, std::array<unsigned char, 16>&) noexcept;

}  // namespace cg::consent
