#include "support/pattern.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace cg::test {

void pattern_fill(char* dst, std::size_t offset, std::size_t n) noexcept {
    auto phase = static_cast<unsigned>(offset % 26);
    for (std::size_t i = 0; i < n; ++i) {
        dst[i] = static_cast<char>('a' + phase);
        if (++phase == 26) {
            phase = 0;
        }
    }
}

void fnv1a::update(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = hash_;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= prime;
    }
    hash_ = h;
}

void fnv1a::update(std::string_view bytes) noexcept {
    update(bytes.data(), bytes.size());
}

std::uint64_t pattern_fnv1a(std::uint64_t n) {
    std::array<char, 64 * 1024> piece{};
    fnv1a hash;
    std::uint64_t done = 0;
    while (done < n) {
        const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), n - done));
        pattern_fill(piece.data(), static_cast<std::size_t>(done), len);
        hash.update(piece.data(), len);
        done += len;
    }
    return hash.value();
}

std::string hex64(std::uint64_t value) {
    std::array<char, 17> text{};
    std::snprintf(text.data(), text.size(), "%016llx", static_cast<unsigned long long>(value));
    return std::string(text.data(), 16);
}

std::string upload_reply_for_pattern(std::uint64_t n) {
    return "bytes=" + std::to_string(n) + " fnv1a=" + hex64(pattern_fnv1a(n));
}

std::string pattern(std::size_t n) {
    std::string out(n, '\0');
    pattern_fill(out.data(), 0, n);
    return out;
}

}  // namespace cg::test
