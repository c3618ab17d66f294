#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cg::test {

/// The deterministic body pattern served by test_upstream's /bytes and /chunked routes:
/// byte i of a body is 'a' + i % 26. Writes the `n` bytes that start at body offset `offset`
/// into `dst`. No allocation; safe from any thread.
void pattern_fill(char* dst, std::size_t offset, std::size_t n) noexcept;

/// The first `n` bytes of the pattern as a string (for expected bodies in tests).
std::string pattern(std::size_t n);

/// Incremental FNV-1a 64-bit hash, as test_upstream's /upload route computes it.
class fnv1a {
  public:
    static constexpr std::uint64_t offset_basis = 0xcbf29ce484222325ULL;
    static constexpr std::uint64_t prime = 0x100000001b3ULL;

    void update(std::string_view bytes) noexcept;
    void update(const void* data, std::size_t n) noexcept;
    std::uint64_t value() const noexcept { return hash_; }

  private:
    std::uint64_t hash_ = offset_basis;
};

/// FNV-1a 64 of the first `n` bytes of the pattern, computed in fixed-size pieces (never
/// allocates `n` bytes); takes about 1 ms per MB.
std::uint64_t pattern_fnv1a(std::uint64_t n);

/// `value` as 16 lowercase hexadecimal digits, zero-padded: the form /upload answers with.
std::string hex64(std::uint64_t value);

/// The exact body test_upstream's /upload answers after receiving `n` pattern bytes:
/// "bytes=N fnv1a=HEX".
std::string upload_reply_for_pattern(std::uint64_t n);

}  // namespace cg::test
