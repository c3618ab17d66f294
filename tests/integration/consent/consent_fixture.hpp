#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway_process.hpp"
#include "support/eventually.hpp"
#include "support/raw_client.hpp"
#include "support/redis_server.hpp"
#include "support/set_cookies.hpp"
#include "support/temp_dir.hpp"
#include "support/test_upstream.hpp"

namespace cg::test {

/// Every cookie test_upstream's /cookies sets, as a browser would send them all back.
inline constexpr std::string_view all_site_cookies =
    "PHPSESSID=sess1; _ga=GA1.1.111.222; _ga_ABC123=GS1.1.333; _fbp=fb.1.444; mystery=zzz";

/// The Origin of the test site over plain HTTP.
inline constexpr std::string_view site_origin = "http://site.test";

/// One request as a test writes it. Host is site_host, and `Connection: close` and (with a
/// body) Content-Length are added.
struct http_request {
    std::string method = "GET";
    std::string target = "/";
    std::vector<std::pair<std::string, std::string>> fields;  ///< in this order
    std::string body;
};

/// Sends `r` on a new connection to 127.0.0.1:`port` and reads the answer (5 s deadline).
/// Failures are in raw_response::ec.
raw_response send_request(std::uint16_t port, const http_request& r);

/// A POST /_consent with a JSON body, Origin `origin` (none when empty) and a Cookie header
/// `cookie` (none when empty), then `extra` fields.
http_request decision(std::string_view json_body, std::string_view cookie = {},
                      std::string_view origin = site_origin,
                      std::vector<std::pair<std::string, std::string>> extra = {});

/// The value `r` sets for the consent cookie cg_consent (nullopt when it sets none).
std::optional<std::string> consent_cookie(const raw_response& r);

/// What test_upstream's /cookies answered it had received ("-" for an absent header).
struct upstream_saw {
    std::string cookie;
    std::string categories;
};
/// Reads the `cookie:` and `consent-categories:` lines of a /cookies answer.
upstream_saw seen_by_upstream(const raw_response& r);

/// The body of `r` as JSON (a discarded value when it is not JSON).
nlohmann::json json_of(const raw_response& r);

/// The test site behind the real gateway binary: a temp dir with the gateway's config (from
/// gateway_config(): journal and Redis socket in the dir), a test_upstream, and optionally a
/// redis-server on that socket. Destroyed gateway first, then Redis, then the dir.
/// Not thread safe; not copyable or movable.
class consent_site {
  public:
    struct options {
        bool redis = true;           ///< start redis-server before the gateway
        bool trusted_proxy = false;  ///< trusted_proxies: ["127.0.0.1"]
        /// The site's consent.retention_days and lifetime_days; 0 = the defaults.
        unsigned retention_days = 0;
        /// Members merged into the top-level `consent` object, as JSON object text ("" = none),
        /// e.g. R"({"host_prefix": false})".
        std::string consent_settings = {};
    };

    /// Starts everything and waits until the gateway listens; fails the test (ADD_FAILURE)
    /// with the gateway's output when it does not within 10 s.
    explicit consent_site(options opts);
    consent_site() : consent_site(options{}) {}

    std::uint16_t port() const noexcept { return gateway_->proxy_port(); }
    std::uint16_t admin_port() const noexcept { return gateway_->admin_port(); }
    const temp_dir& dir() const noexcept { return dir_; }
    gateway_process& gateway() { return *gateway_; }
    /// The Redis server (started by the constructor or start_redis()).
    redis_server& redis() { return *redis_; }
    /// Starts redis-server on the socket the gateway is configured with.
    void start_redis();
    /// SIGKILLs the gateway (no shutdown, no flush) and waits until it is gone.
    void kill_gateway();
    /// Starts the gateway again with the same config file; true once it listens.
    bool restart_gateway();

    /// Sends `r` to the gateway.
    raw_response send(const http_request& r) const { return send_request(port(), r); }
    /// GET `target` with Cookie `cookie` (none when empty).
    raw_response get(std::string_view target, std::string_view cookie = {},
                     std::vector<std::pair<std::string, std::string>> extra = {}) const;
    /// GET `path` on the admin listener, as an admin (the config has an admin.token).
    raw_response admin(std::string_view path) const;
    /// /readyz's JSON.
    nlohmann::json readyz() const;
    /// A sample of /metrics (`name{labels}` as rendered), if present.
    std::optional<double> metric(std::string_view sample) const;

  private:
    bool start_gateway();

    temp_dir dir_{"cg-consent"};
    test_upstream upstream_;
    std::string config_;
    std::optional<redis_server> redis_;
    std::optional<gateway_process> gateway_;
};

}  // namespace cg::test
