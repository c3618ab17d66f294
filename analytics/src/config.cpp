#include "analytics/config.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <string_view>

#include <nlohmann/json.hpp>

#include "analytics/calendar.hpp"
#include "analytics/geoip.hpp"

namespace cg::analytics {

namespace {

using json = nlohmann::json;
using json_config::child;
using json_config::member;

constexpr std::array<std::string_view, 4> settings_keys{"ua_regexes", "geoip_db",
                                                        "flush_interval_ms", "forward"};
constexpr std::array<std::string_view, 4> forward_keys{"name", "url", "headers", "timeout_ms"};
// Set by the forwarder on every batch (or by Beast from the body): not configurable.
constexpr std::array<std::string_view, 6> reserved_headers{
    "host", "content-length", "transfer-encoding", "content-type", "idempotency-key", "connection"};
constexpr std::array<std::string_view, 5> site_keys{"enabled", "path_rules", "k",
                                                    "retention_days", "time_zone"};

// Why a path rule cannot be used, or "" when it can.
std::string_view rule_problem(std::string_view rule) noexcept {
    if (rule.empty() || rule.front() != '/') {
        return "must start with /";
    }
    if (rule.find_first_of("?#") != std::string_view::npos) {
        return "must be a path without ? or #";
    }
    if (rule.size() > 1 && rule.find("//") != std::string_view::npos) {
        return "must not have an empty segment";
    }
    const auto star = rule.find('*');
    if (star != std::string_view::npos && (star + 1 != rule.size() || rule[star - 1] != '/')) {
        return "may have * only as its whole last segment";
    }
    return {};
}

bool is_target_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || json_config::is_digit(c) || c == '.' || c == '_' ||
               c == '-';
    });
}

bool is_token(std::string_view name) noexcept {
    // RFC 9110 §5.6.2: a field name is a token.
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return json_config::is_alnum(c) ||
               std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
    });
}

// A target's `headers`. Values are secrets (Authorization): no message shows one.
void read_headers(json_config::reader& r, const json& v, const std::string& pointer,
                  forward_target& out) {
    if (!v.is_object()) {
        r.fail(pointer, "must be an object of header names and string values");
        return;
    }
    std::map<std::string, std::string> seen;  // lower-case name → its pointer
    for (const auto& [name, value] : v.items()) {
        const std::string here = child(pointer, name);
        if (!is_token(name)) {
            r.fail(here, "is not a valid header name");
            continue;
        }
        const std::string key = json_config::lower(name);
        if (std::find(reserved_headers.begin(), reserved_headers.end(), key) !=
            reserved_headers.end()) {
            r.fail(here, "is set by the forwarder (not allowed: " +
                             json_config::join(reserved_headers) + ")");
            continue;
        }
        if (const auto [it, fresh] = seen.emplace(key, here); !fresh) {
            r.fail(here, "is the same header as " + it->second);
            continue;
        }
        if (!value.is_string()) {
            r.fail(here, "must be a string");
            continue;
        }
        const auto text = value.get<std::string>();
        if (text.find_first_of(std::string_view{"\r\n\0", 3}) != std::string::npos) {
            r.fail(here, "must not contain CR, LF or NUL");
            continue;
        }
        out.headers.emplace_back(name, text);
    }
}

std::vector<forward_target> read_forward(json_config::reader& r, const json& v,
                                         const std::string& pointer) {
    std::vector<forward_target> out;
    if (!v.is_array()) {
        r.fail(pointer, "must be an array of targets" + json_config::got(v));
        return out;
    }
    std::map<std::string, std::string> owner;  // name → pointer of the first target
    for (std::size_t i = 0; i < v.size(); ++i) {
        const json& t = v[i];
        const std::string here = child(pointer, i);
        if (!r.check_object(t, here, forward_keys)) {
            continue;
        }
        forward_target target;
        bool ok = true;
        if (member(t, "name") == nullptr) {
            r.fail(child(here, "name"), "required field is missing");
            ok = false;
        } else if (const std::string* name = r.read_string(t, here, "name")) {
            if (!is_target_name(*name)) {
                r.fail(child(here, "name"),
                       "must be 1-64 characters of a-z, 0-9, '.', '_' and '-' (got " +
                           json_config::literal(*name) + ")");
                ok = false;
            } else if (const auto [it, fresh] = owner.emplace(*name, here); !fresh) {
                r.fail(child(here, "name"),
                       json_config::literal(*name) + " is already the name of " + it->second);
                ok = false;
            } else {
                target.name = *name;
            }
        } else {
            ok = false;
        }
        if (member(t, "url") == nullptr) {
            r.fail(child(here, "url"), "required field is missing");
            ok = false;
        } else if (const std::string* url = r.read_string(t, here, "url")) {
            // The URL is not repeated in the message: its query may hold a key.
            std::string why;
            if (parse_forward_url(*url, why)) {
                target.url = *url;
            } else {
                r.fail(child(here, "url"), why);
                ok = false;
            }
        } else {
            ok = false;
        }
        if (const json* headers = member(t, "headers")) {
            read_headers(r, *headers, child(here, "headers"), target);
        }
        unsigned timeout_ms = 10'000;
        r.read_uint(t, here, "timeout_ms", timeout_ms, {100, 120'000});
        target.timeout = std::chrono::milliseconds{timeout_ms};
        if (ok) {
            out.push_back(std::move(target));
        }
    }
    return out;
}

}  // namespace

settings read_settings(json_config::reader& r, const json* v,
                       const std::filesystem::path& base_dir) {
    settings s;
    if (v == nullptr || !r.check_object(*v, "/analytics", settings_keys)) {
        return s;
    }
    if (auto path = r.read_path(*v, "/analytics", "ua_regexes", base_dir)) {
        s.ua_regexes = std::move(*path);
    }
    if (auto path = r.read_path(*v, "/analytics", "geoip_db", base_dir)) {
        try {
            country_database check{*path};
            s.geoip_db = std::move(*path);
        } catch (const geoip_error& e) {
            r.fail("/analytics/geoip_db", e.what());
        }
    }
    r.read_uint(*v, "/analytics", "flush_interval_ms", s.flush_interval_ms, {100, 60'000});
    if (const json* forward = member(*v, "forward")) {
        s.forward = read_forward(r, *forward, "/analytics/forward");
    }
    return s;
}

site_settings read_site_settings(json_config::reader& r, const json& v,
                                 const std::string& pointer) {
    site_settings s;
    if (!r.check_object(v, pointer, site_keys)) {
        return s;
    }
    r.read_bool(v, pointer, "enabled", s.enabled);
    // DESIGN §5: no answer holds a row of fewer than k visitors, k >= 5; sites may only raise it.
    r.read_uint(v, pointer, "k", s.k, {5, 1000});
    r.read_uint(v, pointer, "retention_days", s.retention_days, {1, 760});
    if (const std::string* zone = r.read_string(v, pointer, "time_zone")) {
        try {
            site_calendar check{*zone};
            s.time_zone = *zone;
        } catch (const time_zone_error& e) {
            r.fail(child(pointer, "time_zone"), e.what());
        }
    }
    if (const json* rules = member(v, "path_rules")) {
        const auto here = child(pointer, "path_rules");
        if (!rules->is_array()) {
            r.fail(here, "must be an array of paths" + json_config::got(*rules));
            return s;
        }
        for (std::size_t i = 0; i < rules->size(); ++i) {
            const json& rule = (*rules)[i];
            if (!rule.is_string()) {
                r.fail(child(here, i), "must be a string" + json_config::got(rule));
                continue;
            }
            const auto text = rule.get<std::string>();
            if (const auto problem = rule_problem(text); !problem.empty()) {
                r.fail(child(here, i), std::string{problem} + " (got \"" + text + "\")");
                continue;
            }
            s.path_rules.push_back({text});
        }
    }
    return s;
}

std::shared_ptr<const ua_database> shared_ua_database(const std::filesystem::path& file) {
    static std::mutex lock;
    // Kept for the life of the process: a few MiB, and tests start many gateways.
    static std::map<std::filesystem::path, std::shared_ptr<const ua_database>> loaded;
    const std::lock_guard guard{lock};
    if (auto db = loaded[file]) {
        return db;
    }
    auto db = std::make_shared<const ua_database>(ua_database::load(file));
    loaded[file] = db;
    return db;
}

lazy_ua_database::lazy_ua_database(std::filesystem::path file) : file_(std::move(file)) {
    if (!std::ifstream{file_, std::ios::binary}) {
        throw ua_database_error(file_.string() + ": cannot be read");
    }
}

lazy_ua_database::~lazy_ua_database() {
    if (loader_.joinable()) {
        loader_.join();
    }
}

const ua_database* lazy_ua_database::get() {
    if (const ua_database* db = ready_.load(std::memory_order_acquire)) {
        return db;
    }
    std::call_once(start_, [this] {
        loader_ = std::thread([this] {
            try {
                db_ = shared_ua_database(file_);
                ready_.store(db_.get(), std::memory_order_release);
            } catch (const std::exception&) {
                failed_.store(true);
            }
        });
    });
    return ready_.load(std::memory_order_acquire);
}

}  // namespace cg::analytics
