#include "consent_fixture.hpp"

#include <signal.h>

#include <thread>

#include <gtest/gtest.h>
#include <boost/system/system_error.hpp>

#include "support/prometheus.hpp"

namespace cg::test {

using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr std::string_view admin_token = "integration-tests-only-admin-token-0123456789";

std::string config_for(std::uint16_t upstream_port, const consent_site::options& opts) {
    gateway_settings settings;
    settings.upstream_port = upstream_port;
    json cfg = json::parse(gateway_config(settings));
    // Access lines are not what these tests look at; less output keeps failures readable.
    cfg["log"]["access"] = false;
    // The consent look-ups on the admin listener are for admins only: admin() sends it.
    cfg["admin"]["token"] = std::string{admin_token};
    if (opts.trusted_proxy) {
        cfg["trusted_proxies"] = json::array({"127.0.0.1"});
    }
    if (opts.retention_days != 0) {
        // Records must outlive the cookie that refers to them, so the lifetime goes down too.
        cfg["sites"][0]["consent"] =
            json{{"retention_days", opts.retention_days}, {"lifetime_days", opts.retention_days}};
    }
    if (!opts.consent_settings.empty()) {
        const json extra = json::parse(opts.consent_settings);
        for (const auto& [key, value] : extra.items()) {
            cfg["consent"][key] = value;
        }
    }
    return cfg.dump(2);
}

// Sends `bytes` on a new connection and reads one answer; a failure is in the answer's ec.
raw_response round_trip(std::uint16_t port, const std::string& bytes) {
    raw_response failed;
    try {
        raw_client client{port};
        failed.ec = client.send(bytes, 5s);
        if (!failed.ec) {
            return client.read_response(5s);
        }
    } catch (const boost::system::system_error& e) {
        failed.ec = e.code();
    }
    return failed;
}

}  // namespace

raw_response send_request(std::uint16_t port, const http_request& r) {
    std::string bytes = r.method + " " + r.target + " HTTP/1.1\r\nHost: " + std::string{site_host} +
                        "\r\nConnection: close\r\n";
    for (const auto& [name, value] : r.fields) {
        bytes += name + ": " + value + "\r\n";
    }
    if (!r.body.empty() || r.method == "POST") {
        bytes += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    bytes += "\r\n" + r.body;
    return round_trip(port, bytes);
}

http_request decision(std::string_view json_body, std::string_view cookie, std::string_view origin,
                      std::vector<std::pair<std::string, std::string>> extra) {
    http_request r;
    r.method = "POST";
    r.target = "/_consent";
    r.fields.emplace_back("Content-Type", "application/json");
    if (!origin.empty()) {
        r.fields.emplace_back("Origin", std::string{origin});
    }
    if (!cookie.empty()) {
        r.fields.emplace_back("Cookie", std::string{cookie});
    }
    for (auto& field : extra) {
        r.fields.push_back(std::move(field));
    }
    r.body = json_body;
    return r;
}

std::optional<std::string> consent_cookie(const raw_response& r) {
    const auto values = set_cookies_named(r, "cg_consent");
    if (values.empty()) {
        return std::nullopt;
    }
    const std::string_view v = values.front();
    const auto start = v.find('=') + 1;
    return std::string{v.substr(start, v.find(';') - start)};
}

upstream_saw seen_by_upstream(const raw_response& r) {
    upstream_saw saw;
    std::string_view body = r.body;
    while (!body.empty()) {
        const auto end = body.find('\n');
        const auto line = body.substr(0, end);
        body = end == std::string_view::npos ? std::string_view{} : body.substr(end + 1);
        if (line.starts_with("cookie: ")) {
            saw.cookie = line.substr(8);
        } else if (line.starts_with("consent-categories: ")) {
            saw.categories = line.substr(20);
        }
    }
    return saw;
}

json json_of(const raw_response& r) {
    return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

consent_site::consent_site(options opts) : config_(config_for(upstream_.port(), opts)) {
    if (opts.redis) {
        start_redis();
    }
    if (!start_gateway()) {
        ADD_FAILURE() << "the gateway did not start\n" << gateway_->output();
    }
}

void consent_site::start_redis() {
    redis_server::options o;
    o.dir = dir_.path();
    redis_.emplace(o);
}

bool consent_site::start_gateway() {
    gateway_.reset();
    gateway_.emplace(dir_, config_);
    return gateway_->wait_ready(10s);
}

void consent_site::kill_gateway() {
    gateway_->child().signal(SIGKILL);
    EXPECT_EQ(gateway_->child().wait_exit(5s), -SIGKILL);
}

bool consent_site::restart_gateway() {
    return start_gateway();
}

raw_response consent_site::get(std::string_view target, std::string_view cookie,
                               std::vector<std::pair<std::string, std::string>> extra) const {
    http_request r;
    r.target = target;
    if (!cookie.empty()) {
        r.fields.emplace_back("Cookie", std::string{cookie});
    }
    for (auto& field : extra) {
        r.fields.push_back(std::move(field));
    }
    return send(r);
}

raw_response consent_site::admin(std::string_view path) const {
    const std::string bytes = "GET " + std::string{path} +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                              std::string{admin_token} + "\r\nConnection: close\r\n\r\n";
    return round_trip(admin_port(), bytes);
}

json consent_site::readyz() const {
    return json_of(admin("/readyz"));
}

std::optional<double> consent_site::metric(std::string_view sample) const {
    return test::metric(admin("/metrics").body, sample);
}

}  // namespace cg::test
