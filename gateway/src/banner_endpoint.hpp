#pragma once
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "proxy.hpp"

namespace cg::gateway {

/// True for the paths the banner answers: its assets (/_consent/banner.*), the site documents
/// (/_consent/site.*) and the cookie declaration (/_consent/declaration).
bool is_banner_path(std::string_view path) noexcept;

/// Answers GET and HEAD for a banner path (DESIGN §5): the hashed assets immutable for a year
/// (gzip when accepted, ETag and If-None-Match), a site document, the declaration as HTML in
/// `?lang=`, Accept-Language or the site's language, or JSON when Accept asks for it. 404 on a
/// site without a banner, 405 for other methods. Fills the answer's part of `tx`.
boost::asio::awaitable<void> answer_banner(worker& w, connection& client, request_parser& req,
                                           transaction& tx);

}  // namespace cg::gateway
