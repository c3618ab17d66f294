#include "support/set_cookies.hpp"

#include <boost/beast/core/string.hpp>

namespace cg::test {

namespace http = boost::beast::http;

std::string_view set_cookie_name(std::string_view set_cookie) {
    auto name = set_cookie.substr(0, set_cookie.find('='));
    while (!name.empty() && name.front() == ' ') {
        name.remove_prefix(1);
    }
    while (!name.empty() && name.back() == ' ') {
        name.remove_suffix(1);
    }
    return name;
}

std::vector<std::string> set_cookies(const raw_response& r) {
    std::vector<std::string> out;
    for (const auto& [name, value] : r.headers) {
        if (boost::beast::iequals(name, "Set-Cookie")) {
            out.push_back(value);
        }
    }
    return out;
}

std::vector<std::string> set_cookie_names(const raw_response& r) {
    std::vector<std::string> out;
    for (const auto& value : set_cookies(r)) {
        out.emplace_back(set_cookie_name(value));
    }
    return out;
}

std::vector<std::string> cookie_values(const http::fields& fields) {
    std::vector<std::string> values;
    for (const auto& field : fields) {
        if (field.name() == http::field::cookie) {
            values.emplace_back(field.value());
        }
    }
    return values;
}

std::vector<std::string> set_cookie_names(const http::fields& fields) {
    std::vector<std::string> out;
    for (const auto& field : fields) {
        if (field.name() == http::field::set_cookie) {
            const auto value = field.value();
            out.emplace_back(set_cookie_name(std::string_view{value.data(), value.size()}));
        }
    }
    return out;
}

std::vector<std::string> set_cookies_named(const raw_response& r, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& value : set_cookies(r)) {
        if (set_cookie_name(value) == name) {
            out.push_back(value);
        }
    }
    return out;
}

}  // namespace cg::test
