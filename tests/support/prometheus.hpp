#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cg::test {

/// The value of `sample` (a metric name with its labels exactly as rendered, such as
/// `cg_requests_total{site="demo",class="2xx"}`) in a Prometheus text exposition, if present
/// and a number.
std::optional<double> metric(std::string_view exposition, std::string_view sample);

/// Reads `sample` from GET /metrics on 127.0.0.1:`admin_port` (no token) until it equals
/// `expected` or `deadline` passes; returns the last value seen. A server counts a request
/// after writing its answer, so a client may see the answer a moment before the count.
std::optional<double> await_metric(std::uint16_t admin_port, std::string_view sample,
                                   double expected,
                                   std::chrono::milliseconds deadline = std::chrono::seconds{2});

}  // namespace cg::test
