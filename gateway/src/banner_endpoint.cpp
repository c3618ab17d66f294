#include "banner_endpoint.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include "async.hpp"
#include "banner/assets.hpp"
#include "banner/site_banner.hpp"
#include "consent/endpoints.hpp"
#include "responses.hpp"

namespace cg::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
using beast::iequals;

namespace {

constexpr std::string_view assets_prefix = "/_consent/banner.";
constexpr std::string_view documents_prefix = "/_consent/site.";
constexpr std::string_view declaration_path = "/_consent/declaration";
constexpr std::string_view immutable = "public, max-age=31536000, immutable";

struct answer {
    unsigned status = 200;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string_view cache_control = "no-cache";
    std::string etag;
    std::string body;
    bool gzip = false;
    bool vary_encoding = false;
};

// RFC 9110 §12.5.3: gzip is acceptable when listed without q=0.
bool accepts_gzip(const request_head& h) {
    for (const auto& f : h) {
        if (f.name() != http::field::accept_encoding) {
            continue;
        }
        for (const auto& coding : http::ext_list{f.value()}) {
            if (!iequals(coding.first, "gzip")) {
                continue;
            }
            for (const auto& param : coding.second) {
                if (iequals(param.first, "q") &&
                    param.second.find_first_not_of("0.") == std::string_view::npos) {
                    return false;
                }
            }
            return true;
        }
    }
    return false;
}

std::string_view query_value(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.size() > key.size() && pair.starts_with(key) && pair[key.size()] == '=') {
            return pair.substr(key.size() + 1);
        }
    }
    return {};
}

bool wants_json(std::string_view accept) {
    const auto json_at = accept.find("application/json");
    const auto html_at = accept.find("text/html");
    return json_at != std::string_view::npos && (html_at == std::string_view::npos || json_at < html_at);
}

answer asset_answer(const request_head& in, std::string_view path) {
    answer a;
    bool forever = false;
    const auto* asset = banner::find_asset(path, forever);
    if (asset == nullptr) {
        a.status = 404;
        a.body = "No such banner file.\n";
        return a;
    }
    a.content_type = asset->content_type;
    a.cache_control = forever ? immutable : std::string_view{"no-cache"};
    a.etag = "\"" + asset->path.substr(assets_prefix.size()) + "\"";
    a.vary_encoding = true;
    if (in[http::field::if_none_match].find(a.etag) != std::string_view::npos) {
        a.status = 304;
        return a;
    }
    a.gzip = !asset->gzip_body.empty() && accepts_gzip(in);
    a.body = a.gzip ? asset->gzip_body : std::string{asset->body};
    return a;
}

answer document_answer(const request_head& in, const banner::site_banner& site,
                       std::string_view path) {
    answer a;
    const auto rest = path.substr(documents_prefix.size());
    const auto lang = banner::language_of_tag(rest.substr(0, rest.find('.')));
    if (!lang || rest.find('.') != 2) {
        a.status = 404;
        a.body = "No such site document.\n";
        return a;
    }
    a.content_type = "application/json";
    // A page cached with an older hash still gets the current texts, but not for a year.
    a.cache_control = path == site.document_path(*lang) ? immutable : std::string_view{"no-cache"};
    a.etag = "\"" + site.policy_hash() + "-" + std::string{banner::name_of(*lang)} + "\"";
    if (in[http::field::if_none_match].find(a.etag) != std::string_view::npos) {
        a.status = 304;
        return a;
    }
    a.body = site.document(*lang);
    return a;
}

answer declaration_answer(const request_head& in, const transaction& tx,
                          const banner::site_banner& site) {
    answer a;
    if (wants_json(in[http::field::accept])) {
        a.content_type = "application/json";
        a.body = site.declaration_json();
        return a;
    }
    const auto lang = banner::language_of_tag(query_value(tx.query, "lang"))
                          .value_or(banner::language_of_accept(tx.facts.accept_language)
                                        .value_or(site.default_language()));
    a.content_type = "text/html; charset=utf-8";
    a.body = site.declaration_html(lang);
    return a;
}

}  // namespace

bool is_banner_path(std::string_view path) noexcept {
    return path.starts_with(assets_prefix) || path.starts_with(documents_prefix) ||
           path == declaration_path;
}

boost::asio::awaitable<void> answer_banner(worker& w, connection& c, request_parser&,
                                           transaction& tx) {
    const auto& in = tx.request;
    // A body on a GET is not read: the connection closes after the answer instead.
    tx.keep_client = tx.keep_alive && !w.draining() && !tx.has_body;
    const auto* site = c.gen->shared->banners[tx.site].get();
    answer a;
    if (tx.method != http::verb::get && tx.method != http::verb::head) {
        a.status = 405;
        a.body = "Use GET.\n";
    } else if (tx.path.starts_with(assets_prefix)) {
        a = asset_answer(in, tx.path);
    } else if (site == nullptr) {
        a.status = 404;
        a.body = "This site has no consent banner.\n";
    } else if (tx.path.starts_with(documents_prefix)) {
        a = document_answer(in, *site, tx.path);
    } else {
        a = declaration_answer(in, tx, *site);
    }

    http::response<http::string_body> res{static_cast<http::status>(a.status), tx.version};
    res.set(http::field::date, http_date_now());
    if (a.status == 405) {
        res.set(http::field::allow, "GET, HEAD");
    }
    if (a.status != 304) {
        res.set(http::field::content_type, a.content_type);
    }
    res.set(http::field::cache_control, a.status >= 400 ? std::string_view{"no-store"}
                                                        : a.cache_control);
    if (!a.etag.empty() && a.status < 400) {
        res.set(http::field::etag, a.etag);
    }
    if (a.vary_encoding) {
        res.set(http::field::vary, "Accept-Encoding");
    }
    if (a.gzip) {
        res.set(http::field::content_encoding, "gzip");
    }
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(a.body);
    res.prepare_payload();
    res.keep_alive(tx.keep_client);
    tx.status = a.status;
    tx.bytes = tx.method == http::verb::head ? 0 : res.body().size();
    c.stream.expires_after(c.gen->cfg().limits.body_timeout);
    beast::error_code ec;
    if (tx.method == http::verb::head) {
        http::response_serializer<http::string_body> sr{res};
        std::tie(ec, std::ignore) = co_await http::async_write_header(c.io, sr, use_ec);
    } else {
        std::tie(ec, std::ignore) = co_await http::async_write(c.io, res, use_ec);
    }
    if (ec) {
        tx.keep_client = false;
    }
}

}  // namespace cg::gateway
