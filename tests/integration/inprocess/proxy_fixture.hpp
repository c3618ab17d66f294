#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "support/eventually.hpp"
#include "support/prometheus.hpp"
#include "support/raw_client.hpp"
#include "support/temp_dir.hpp"
#include "support/test_keys.hpp"
#include "support/test_upstream.hpp"

namespace cg::test {

/// A gateway::server started in this process from a config built in code. The constructor
/// starts it and learns its ports; the destructor shuts it down and waits for its threads.
/// Not copyable or movable.
///
/// Hermetic: each gateway has a temp dir of its own (dir()). A relative consent journal path
/// (the default one included) is put in it; Redis left at its default 127.0.0.1:6379 is
/// pointed at dir()/redis.sock instead, where nothing listens unless the test starts a
/// redis_server there; without consent keys the gateway signs with test_consent_key. Throws
/// what gateway::server throws (a journal it cannot open, a port it cannot bind).
class inprocess_gateway {
  public:
    /// `body_filters` go to gateway::server as they are (the body-filter seam).
    explicit inprocess_gateway(gateway::config cfg,
                               std::vector<gateway::body_filter> body_filters = {});
    ~inprocess_gateway();
    inprocess_gateway(const inprocess_gateway&) = delete;
    inprocess_gateway& operator=(const inprocess_gateway&) = delete;

    /// The client-facing port on 127.0.0.1.
    std::uint16_t port() const noexcept { return port_; }
    /// The admin listener's port on 127.0.0.1.
    std::uint16_t admin_port() const noexcept { return admin_port_; }
    /// The gateway's own temp dir (journal, Redis socket path).
    const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  private:
    temp_dir dir_{"cg-inproc"};  // before server_: the server's journal lives in it
    gateway::server server_;
    std::uint16_t port_ = 0;
    std::uint16_t admin_port_ = 0;
};

/// Proxy and admin listeners on 127.0.0.1 port 0, `workers` threads, a 1 s shutdown deadline
/// (so a test that leaves a request in flight ends quickly), the built-in cookie catalogue
/// (as a config file without `consent.catalogue` gets), and no sites.
gateway::config loopback_config(unsigned workers = 1);

/// A site called `name` for `hosts`, proxied to http://127.0.0.1:`port`.
gateway::site_config loopback_site(std::string name, std::vector<std::string> hosts,
                                   std::uint16_t port);

/// One test_upstream behind one in-process gateway with one site, "demo", for host
/// "site.test". `adjust` may change the config (limits, timeouts, more sites) before start.
struct proxied_site {
    static constexpr std::string_view host = "site.test";
    static constexpr std::string_view site_name = "demo";

    explicit proxied_site(const std::function<void(gateway::config&)>& adjust = {},
                          std::vector<gateway::body_filter> body_filters = {});

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

}  // namespace cg::test
