#pragma once
#include <boost/asio/awaitable.hpp>

#include "proxy.hpp"

namespace cg::gateway {

/// Answers a request for /_consent/* with the consent module's endpoints (DESIGN §5): reads
/// the (small, bounded) body, hands the request over and writes the answer. Never forwards.
/// Fills the answer's part of `tx`.
boost::asio::awaitable<void> answer_consent(worker& w, connection& client, request_parser& req,
                                            transaction& tx);

}  // namespace cg::gateway
