#include "proxy_fixture.hpp"

#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/string.hpp>

#include "consent/catalogue.hpp"

namespace cg::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

// A test must never write to a Redis it did not start or to a file another test shares.
std::shared_ptr<const gateway::config> hermetic(gateway::config cfg,
                                                const std::filesystem::path& dir) {
    auto& journal = cfg.consent.journal.path;
    if (journal.is_relative()) {
        journal = dir / journal;
    }
    auto& redis = cfg.consent.redis;
    const consent::redis_config defaults;
    if (redis.socket.empty() && redis.host == defaults.host && redis.port == defaults.port) {
        redis.socket = (dir / "redis.sock").string();
    }
    if (cfg.consent.keys.empty()) {
        cfg.consent.keys.emplace_back(test_consent_key);
    }
    return std::make_shared<const gateway::config>(std::move(cfg));
}

}  // namespace

inprocess_gateway::inprocess_gateway(gateway::config cfg,
                                     std::vector<gateway::body_filter> body_filters)
    : server_(hermetic(std::move(cfg), dir_.path()), std::move(body_filters)) {
    server_.start();
    port_ = server_.proxy_endpoint().port();
    admin_port_ = server_.admin_endpoint().port();
}

inprocess_gateway::~inprocess_gateway() {
    server_.shutdown();
    server_.wait();
}

gateway::config loopback_config(unsigned workers) {
    gateway::config cfg;
    cfg.listen.address = "127.0.0.1";
    cfg.listen.port = 0;
    cfg.admin.address = "127.0.0.1";
    cfg.admin.port = 0;
    cfg.workers = workers;
    cfg.shutdown_timeout = 1000ms;
    cfg.consent.catalogue =
        consent::parse_catalogue(consent::builtin_catalogue_json(), "built-in catalogue");
    return cfg;
}

gateway::site_config loopback_site(std::string name, std::vector<std::string> hosts,
                                   std::uint16_t port) {
    gateway::site_config site;
    site.name = std::move(name);
    site.hosts = std::move(hosts);
    site.upstream.servers = {{"http://127.0.0.1:" + std::to_string(port), "127.0.0.1", port}};
    return site;
}

namespace {

gateway::config one_site_config(std::uint16_t upstream_port,
                                const std::function<void(gateway::config&)>& adjust) {
    auto cfg = loopback_config();
    cfg.sites.push_back(loopback_site(std::string{proxied_site::site_name},
                                      {std::string{proxied_site::host}}, upstream_port));
    if (adjust) {
        adjust(cfg);
    }
    return cfg;
}

}  // namespace

proxied_site::proxied_site(const std::function<void(gateway::config&)>& adjust,
                           std::vector<gateway::body_filter> body_filters)
    : proxy(one_site_config(upstream.port(), adjust), std::move(body_filters)) {}

std::uint16_t closed_port() {
    net::io_context ioc;
    tcp::acceptor acceptor{ioc, tcp::endpoint{net::ip::make_address_v4("127.0.0.1"), 0}};
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();
    return port;
}

std::string get_request(std::string_view target, std::string_view host, std::string_view fields) {
    std::string out = "GET ";
    out.append(target).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
    out.append(fields).append("\r\n");
    return out;
}

std::optional<std::string> received_header(const recorded_request& r, std::string_view name) {
    for (const auto& [key, value] : r.headers) {
        if (boost::beast::iequals(key, name)) {
            return value;
        }
    }
    return std::nullopt;
}

raw_response upload_pattern(raw_client& client, std::uint64_t n,
                            std::chrono::milliseconds timeout) {
    const auto head = "POST /upload HTTP/1.1\r\nHost: " + std::string{proxied_site::host} +
                      "\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
    raw_response failed;
    failed.ec = client.send(head);
    if (!failed.ec) {
        failed.ec = client.send_pattern_body(n);
    }
    return failed.ec ? failed : client.read_response(timeout);
}

raw_response admin_get(std::uint16_t admin_port, std::string_view path, std::string_view token) {
    raw_client client{admin_port};
    std::string request = "GET ";
    request.append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if (!token.empty()) {
        request.append("Authorization: Bearer ").append(token).append("\r\n");
    }
    request.append("\r\n");
    if (const auto ec = client.send(request, 5s)) {
        raw_response failed;
        failed.ec = ec;
        return failed;
    }
    return client.read_response(5s);
}

}  // namespace cg::test
