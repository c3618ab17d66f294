#pragma once
// TODO(core): remove once its users include the common header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "async/from_thread.hpp"

namespace cg::consent {

/// Awaits a store callback without blocking the calling thread: async::from_thread under its
/// old name (see async/from_thread.hpp for the contract). `T` is the callback's argument type.
template <class T, class Start>
boost::asio::awaitable<T> from_store(Start start) {
    return async::from_thread<T>(std::move(start));
}

}  // namespace cg::consent
