#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "support/raw_client.hpp"
#include "support/test_upstream.hpp"

namespace cg::test {

/// A gateway::server started in this process from a config built in code. The constructor
/// starts it and learns its ports; the destructor shuts it down and waits for its threads.
/// Not copyable or movable.
class inprocess_gateway {
  public:
    explicit inprocess_gateway(gateway::config cfg);
    ~inprocess_gateway();
    inprocess_gateway(const inprocess_gateway&) = delete;
    inprocess_gateway& operator=(const inprocess_gateway&) = delete;

    /// The client-facing port on 127.0.0.1.
    std::uint16_t port() const noexcept { return port_; }
    /// The admin listener's port on 127.0.0.1.
    std::uint16_t admin_port() const noexcept { return admin_port_; }

  private:
    gateway::server server_;
    std::uint16_t port_ = 0;
    std::uint16_t admin_port_ = 0;
};

/// Proxy and admin listeners on 127.0.0.1 port 0, `workers` threads, a 1 s shutdown deadline
/// (so a test that leaves a request in flight ends quickly), and no sites.
gateway::config loopback_config(unsigned workers = 1);

/// A site called `name` for `hosts`, proxied to http://127.0.0.1:`port`.
gateway::site_config loopback_site(std::string name, std::vector<std::string> hosts,
                                   std::uint16_t port);

/// One test_upstream behind one in-process gateway with one site, "demo", for host
/// "site.test". `adjust` may change the config (limits, timeouts, more sites) before start.
struct proxied_site {
    static constexpr std::string_view host = "site.test";
    static constexpr std::string_view site_name = "demo";

    explicit proxied_site(const std::function<void(gateway::config&)>& adjust = {});

    /// A new client connection to the gateway.
    raw_client connect() const { return raw_client{proxy.port()}; }

    test_upstream upstream;
    inprocess_gateway proxy;
};

/// A port on 127.0.0.1 where nothing listens: bound to port 0 and closed again.
std::uint16_t closed_port();

/// POSTs `n` pattern bytes to the upstream's /upload on `client` (Content-Length framing) and
/// returns the answer; /upload replies upload_reply_for_pattern(n) when every byte arrived.
raw_response upload_pattern(raw_client& client, std::uint64_t n,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// "GET `target` HTTP/1.1", Host, then `fields` (complete "Name: value\r\n" lines), then the
/// empty line.
std::string get_request(std::string_view target, std::string_view host = proxied_site::host,
                        std::string_view fields = {});

/// The first value of `name` (case-insensitive) the upstream received in `r`, if any.
std::optional<std::string> received_header(const recorded_request& r, std::string_view name);

/// A GET of `path` on a new connection to the admin listener, with a bearer token when
/// `token` is not empty.
raw_response admin_get(std::uint16_t admin_port, std::string_view path,
                       std::string_view token = {});

/// The value of `sample` (a metric name with its labels exactly as rendered, such as
/// `cg_requests_total{site="demo",class="2xx"}`) in a Prometheus text exposition, if present.
std::optional<double> metric(std::string_view exposition, std::string_view sample);

/// Reads `sample` from /metrics until it equals `expected` or `deadline` passes; returns the
/// last value seen. The gateway counts a request after writing its answer, so a client may
/// see the answer a moment before the count.
std::optional<double> await_metric(std::uint16_t admin_port, std::string_view sample,
                                   double expected,
                                   std::chrono::milliseconds deadline = std::chrono::seconds{2});

/// Calls `done` every 10 ms until it returns true or `deadline` passes; returns its last result.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds deadline = std::chrono::seconds{2});

}  // namespace cg::test
