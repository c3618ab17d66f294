#pragma once
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace cg::consent {

/// RFC 4648 §5 base64url without padding: the alphabet is safe in cookie values and paths.
std::string base64url_encode(std::span<const unsigned char> bytes);

/// True when every character is in the base64url alphabet.
bool is_base64url(std::string_view text) noexcept;

/// Decodes exactly out.size() bytes from unpadded base64url; false on any mismatch.
template <std::size_t N>
bool base64url_decode(std::string_view text, std::array<unsigned char, N>& out) noexcept;

}  // namespace cg::consent
