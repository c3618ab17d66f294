#pragma once
#include <string>
#include <string_view>

#include "banner/site_banner.hpp"

namespace cg::banner {

/// The text `key` of a site in `l`: the site's override, else the built-in one, with
/// `{controller}` replaced by the controller's name (texts.cpp).
std::string resolved_text(const site_banner_config& c, language l, std::string_view key);

}  // namespace cg::banner
