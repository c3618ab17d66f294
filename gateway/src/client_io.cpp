#include "client_io.hpp"

#include <openssl/ssl.h>

namespace cg::gateway {

namespace net = boost::asio;

std::size_t read_available(net::ip::tcp::socket& s, std::span<char> into,
                           boost::beast::error_code& ec) {
    std::size_t filled = 0;
    while (filled < into.size()) {
        const auto n = s.read_some(net::buffer(into.data() + filled, into.size() - filled), ec);
        filled += n;
        if (ec) {
            break;
        }
    }
    if (ec == net::error::would_block || (ec && filled != 0)) {
        ec = {};
    }
    return filled;
}

std::size_t client_io::available() noexcept {
    if (tls_ != nullptr) {
        const int n = SSL_pending(tls_->native_handle());
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    boost::beast::error_code ec;
    const std::size_t n = tcp_.socket().available(ec);
    return ec ? 0 : n;
}

}  // namespace cg::gateway
