#include "banner/assets.hpp"

#include <array>

#include <openssl/evp.h>
#include <zlib.h>

namespace cg::banner {

std::string_view builtin_banner_js() noexcept;   // builtin_assets.cpp (generated)
std::string_view builtin_banner_css() noexcept;

namespace {

std::string digest(const EVP_MD* md, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr) != 1) {
        return {};
    }
    return {reinterpret_cast<const char*>(out.data()), n};
}

std::string gzip(std::string_view data) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        return {};
    }
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? out : std::string{};
}

asset make(std::string_view body, std::string_view extension, std::string_view type) {
    asset a;
    a.path = "/_consent/banner." + sha256_hex(body, 6) + "." + std::string{extension};
    a.content_type = type;
    a.body = body;
    a.gzip_body = gzip(body);
    const std::string sha = digest(EVP_sha384(), body);
    std::string b64(4 * ((sha.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                                  reinterpret_cast<const unsigned char*>(sha.data()),
                                  static_cast<int>(sha.size()));
    b64.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    a.integrity = "sha384-" + b64;
    return a;
}

}  // namespace

std::string sha256_hex(std::string_view data, std::size_t bytes) {
    static constexpr std::string_view hex = "0123456789abcdef";
    const std::string d = digest(EVP_sha256(), data);
    std::string out;
    for (std::size_t i = 0; i < bytes && i < d.size(); ++i) {
        const auto b = static_cast<unsigned char>(d[i]);
        out += hex[b >> 4U];
        out += hex[b & 0x0FU];
    }
    return out;
}

const asset& script_asset() {
    static const asset a = make(builtin_banner_js(), "js", "text/javascript; charset=utf-8");
    return a;
}

const asset& style_asset() {
    static const asset a = make(builtin_banner_css(), "css", "text/css; charset=utf-8");
    return a;
}

const asset* find_asset(std::string_view path, bool& immutable) noexcept {
    for (const asset* a : {&script_asset(), &style_asset()}) {
        if (path == a->path) {
            immutable = true;
            return a;
        }
    }
    immutable = false;
    if (path == "/_consent/banner.js") {
        return &script_asset();
    }
    if (path == "/_consent/banner.css") {
        return &style_asset();
    }
    return nullptr;
}

}  // namespace cg::banner
