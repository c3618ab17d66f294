#include "analytics/config.hpp"

#include <array>
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

constexpr std::array<std::string_view, 3> settings_keys{"ua_regexes", "geoip_db",
                                                        "flush_interval_ms"};
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
