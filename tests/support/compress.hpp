#pragma once
#include <string>
#include <string_view>

namespace cg::test {

/// `data` compressed whole in the HTTP content coding `coding` ("gzip", "deflate" = the zlib
/// format of RFC 9110 §8.4.1.2, or "br"). Throws std::runtime_error for an unknown coding.
std::string compress(std::string_view coding, std::string_view data);

/// The inverse; throws std::runtime_error when `data` is not one complete stream.
std::string decompress(std::string_view coding, std::string_view data);

}  // namespace cg::test
