#pragma once
#include <string>
#include <string_view>

/// The banner's static files (banner/assets/banner.js and banner.css), compiled in, served
/// under /_consent/ with a content hash in the name and cached for a year as immutable.
namespace cg::banner {

struct asset {
    std::string path;  ///< "/_consent/banner.<12 hex>.js"
    std::string_view content_type;
    std::string_view body;
    std::string gzip_body;  ///< the body gzip-compressed (level 9), made once
    std::string integrity;  ///< "sha384-<base64>" for the script tag's integrity attribute
};

/// banner.js and banner.css.
const asset& script_asset();
const asset& style_asset();

/// The asset at `path` (hashed name, or the plain /_consent/banner.js and banner.css that
/// DESIGN §5 names), or nullptr. `immutable` tells which: only the hashed name may be cached
/// forever. Thread-safe; `path` is untrusted.
const asset* find_asset(std::string_view path, bool& immutable) noexcept;

/// Lower-case hex of the first `bytes` bytes of SHA-256(`data`).
std::string sha256_hex(std::string_view data, std::size_t bytes);

}  // namespace cg::banner
