#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "support/raw_client.hpp"

namespace cg::test {

/// The cookie name of a Set-Cookie value: what precedes the first '=', without the spaces
/// around it (the whole value when there is no '=').
std::string_view set_cookie_name(std::string_view set_cookie);

/// Every Set-Cookie value of `r`, in order.
std::vector<std::string> set_cookies(const raw_response& r);
/// The cookie names of `r`'s Set-Cookie fields, in order.
std::vector<std::string> set_cookie_names(const raw_response& r);
/// The cookie names of the Set-Cookie fields in `fields`, in order.
std::vector<std::string> set_cookie_names(const boost::beast::http::fields& fields);
/// The values of the Cookie fields in `fields`, in order.
std::vector<std::string> cookie_values(const boost::beast::http::fields& fields);
/// The Set-Cookie values of `r` for cookie `name`, in order.
std::vector<std::string> set_cookies_named(const raw_response& r, std::string_view name);

}  // namespace cg::test
