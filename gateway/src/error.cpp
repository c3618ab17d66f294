#include "gateway/error.hpp"

#include <string>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace cg::gateway {

namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "cg.gateway"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::header_too_large:
                return "request header too large";
            case errc::too_many_headers:
                return "too many request header fields";
            case errc::bare_cr:
                return "bare CR in request head";
            case errc::bare_lf:
                return "bare LF in request head";
            case errc::obs_fold:
                return "obsolete line folding in request head";
            case errc::bad_transfer_encoding:
                return "unsupported Transfer-Encoding";
            case errc::missing_host:
                return "missing or repeated Host";
            case errc::bad_target:
                return "malformed request target";
            case errc::unknown_host:
                return "no site is configured for this host";
            case errc::method_not_allowed:
                return "CONNECT is not supported";
            case errc::expectation_failed:
                return "unsupported Expect";
            case errc::body_too_large:
                return "request body too large";
        }
        return "unknown gateway error";
    }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

unsigned status_for(errc e) noexcept {
    switch (e) {
        case errc::header_too_large:
        case errc::too_many_headers:
            return 431;
        case errc::unknown_host:
            return 421;
        case errc::method_not_allowed:
            return 405;
        case errc::expectation_failed:
            return 417;
        case errc::body_too_large:
            return 413;
        default:
            return 400;
    }
}

unsigned status_for(const boost::system::error_code& ec) noexcept {
    namespace beast = boost::beast;
    namespace http = beast::http;
    namespace net = boost::asio;
    if (ec.category() == error_category()) {
        return status_for(static_cast<errc>(ec.value()));
    }
    if (ec == http::error::body_limit) {
        return 413;
    }
    if (ec == beast::error::timeout) {
        return 408;
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::broken_pipe) {
        return 499;
    }
    return 400;
}

unsigned status_for(upstream_failure f) noexcept {
    return f == upstream_failure::timeout ? 504 : 502;
}

}  // namespace cg::gateway
