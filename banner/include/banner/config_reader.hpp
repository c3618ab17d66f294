#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "banner/site_banner.hpp"
#include "json_config/reader.hpp"

namespace cg::banner {

/// Reads a site's `banner` object `v` at JSON Pointer `pointer` ("/sites/0/banner"). Keys:
/// `enabled` (bool), `controller` {`name`, `contact`, `privacy_url`}, `third_parties` (vendor
/// names of the tracker catalogue), `trackers` (the site's own hosts, in the tracker
/// catalogue's format), `reopen` ("bottom-left", "bottom-right", "none"), `consent_mode`
/// ("off", "basic", "advanced"), `texts` {`nb`|`nn`|`en`: {key: text}} and `cache` (bool:
/// rewritten pages may be reused, default true).
///
/// Also the banner lint (issue 9): an enabled banner needs the controller's name and contact
/// and an http(s) privacy-policy URL (DESIGN L2); texts may not be empty, may not make
/// reject look weaker than accept (longer than 40 characters, or accept's own text), and may
/// not claim consent from browsing, continuing or browser settings (L3, N1). Problems go to
/// `r` with their JSON Pointer. Untrusted input; nothing throws except std::bad_alloc.
site_banner_config read_site_banner(json_config::reader& r, const nlohmann::json& v,
                                    const std::string& pointer);

}  // namespace cg::banner
