#pragma once
#include <boost/asio/awaitable.hpp>

#include "proxy.hpp"

namespace cg::gateway {

/// Answers a request for /_consent/* with the consent module's endpoints (DESIGN §5): reads
/// the (small, bounded) body, hands the request over and writes the answer. Never forwards.
boost::asio::awaitable<exchange> answer_consent(worker& w, std::size_t site, connection& client,
                                                request_parser& req, const request_target& target);

}  // namespace cg::gateway
