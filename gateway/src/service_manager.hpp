#pragma once

#include <string_view>

namespace cg::gateway {

/// Tells systemd (or any service manager speaking its notify protocol) about the gateway's
/// state: "READY=1" once both listeners accept, "STOPPING=1" when a shutdown begins. Sends one
/// datagram to the AF_UNIX socket named in $NOTIFY_SOCKET (a path, or "@name" in the abstract
/// namespace); does nothing without it. Returns whether the datagram was sent; never throws.
/// The unit's `Type=notify` makes `systemctl start` wait for READY=1.
bool notify_service_manager(std::string_view state) noexcept;

}  // namespace cg::gateway
