#pragma once
#include <functional>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

namespace cg::gateway {

struct generation;

/// Starts the background work on a generation's upstream servers (issue 11), on `ex` (the
/// admin thread, never a worker): host names re-resolved every resolve_interval_ms, and the
/// active health checks where a site has one. Every loop ends at its next wake once
/// `current()` returns another generation; nothing here keeps `g` alive between rounds.
void monitor_upstreams(const boost::asio::any_io_executor& ex,
                       const std::shared_ptr<const generation>& g,
                       std::function<std::shared_ptr<const generation>()> current);

}  // namespace cg::gateway
