#pragma once
#include <string>
#include <string_view>

#include "banner/site_banner.hpp"

namespace cg::banner {

/// The text `key` of a site in `l`: the site's override, else the built-in one, with
/// `{controller}` replaced by the controller's name (texts.cpp).
std::string resolved_text(const site_banner_config& c, language l, std::string_view key);

/// A cookie's lifetime as the declaration shows it in `l`: "session" and "<number> <unit>"
/// (seconds to years, as the catalogue writes them) in nb or nn; anything else, and every
/// lifetime in en, as written.
std::string lifetime_in(language l, std::string_view lifetime);

}  // namespace cg::banner
