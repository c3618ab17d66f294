#pragma once

#include <string_view>

namespace cg::analytics {

/// One of the dashboard's static files, compiled into the binary: its name below /stats/
/// ("" for the page itself, "dashboard.js", "uPlot.min.js", ...), type and bytes.
struct dashboard_file {
    std::string_view name;
    std::string_view content_type;
    std::string_view body;
};

/// The dashboard file called `name`, or nullptr. The page expects this Content-Security-Policy
/// (no inline script or style): dashboard_csp.
const dashboard_file* dashboard_file_named(std::string_view name) noexcept;

inline constexpr std::string_view dashboard_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

}  // namespace cg::analytics
