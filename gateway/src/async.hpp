#pragma once
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cg::gateway {

/// Completion token for awaited operations: errors come back as values, never as exceptions
/// (STYLE §5; Boost 1.81 requires an explicit token).
inline constexpr auto use_ec = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace cg::gateway
