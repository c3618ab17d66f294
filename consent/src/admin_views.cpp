#include "consent/admin_views.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "async/from_thread.hpp"
#include "iso_time.hpp"
#include "json_config/dump.hpp"

namespace cg::consent {

namespace {

using json = nlohmann::json;

/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
constexpr std::string_view replacement = "\xEF\xBF\xBD";

/// How many of the most recently seen names /consent/cookies lists with their times.
constexpr std::size_t recent_names_shown = 100;

admin_answer text(unsigned status, std::string body) {
    return admin_answer{status, "text/plain", std::move(body)};
}

admin_answer json_answer(const json& body) {
    return admin_answer{200, "application/json", json_config::dump(body)};
}

// A query parameter's raw value (ids and site names need no percent-decoding).
std::string_view param(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto piece = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (piece.size() > key.size() && piece.starts_with(key) && piece[key.size()] == '=') {
            return piece.substr(key.size() + 1);
        }
    }
    return {};
}

const site_context* site_named(admin_sites sites, std::string_view name) {
    for (const auto& s : sites) {
        if (s->site() == name) {
            return s.get();
        }
    }
    return nullptr;
}

bool continuation(unsigned char c) noexcept {
    return c >= 0x80 && c <= 0xBF;
}

// The length of the well-formed UTF-8 sequence that starts s[i] (Unicode §3.9, table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 when none starts there.
std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto at = [&s, i](std::size_t k) -> unsigned {
        return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0U;
    };
    const unsigned c = at(0);
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        return continuation(static_cast<unsigned char>(at(1))) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        const unsigned lo = c == 0xE0 ? 0xA0 : 0x80;
        const unsigned hi = c == 0xED ? 0x9F : 0xBF;
        return at(1) >= lo && at(1) <= hi && continuation(static_cast<unsigned char>(at(2))) ? 3
                                                                                             : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        const unsigned lo = c == 0xF0 ? 0x90 : 0x80;
        const unsigned hi = c == 0xF4 ? 0x8F : 0xBF;
        return at(1) >= lo && at(1) <= hi && continuation(static_cast<unsigned char>(at(2))) &&
                       continuation(static_cast<unsigned char>(at(3)))
                   ? 4
                   : 0;
    }
    return 0;
}

// `name` with every byte that is not part of well-formed UTF-8 (and every control byte)
// replaced by U+FFFD: upstream cookie names become JSON keys and strings that any client parses.
std::string safe_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (std::size_t i = 0; i < name.size();) {
        const auto u = static_cast<unsigned char>(name[i]);
        const std::size_t n = u < 0x20 || u == 0x7F ? 0 : sequence_length(name, i);
        if (n == 0) {
            out += replacement;
            ++i;
            continue;
        }
        out.append(name.substr(i, n));
        i += n;
    }
    return out;
}

// {name: count}. Names that differ only in bytes that are not UTF-8 would print as the same
// key; their counts are added up, so the object never holds a key twice.
json counts_json(const cookie_observations::counts& counts) {
    json o = json::object();
    for (const auto& [name, n] : counts) {
        auto& slot = o[safe_name(name)];
        slot = (slot.is_number() ? slot.get<std::uint64_t>() : 0) + n;
    }
    return o;
}

// The most recently seen names first, each with its count and last sighting.
json recent_json(const std::vector<cookie_observations::sighting>& recent) {
    json a = json::array();
    for (const auto& s : recent) {
        if (a.size() >= recent_names_shown) {
            break;
        }
        a.push_back({{"name", safe_name(s.name)},
                     {"count", s.count},
                     {"last_seen", iso_time(s.last_seen * 1000, /*with_millis=*/false)}});
    }
    return a;
}

void append_evicted(std::string& out, std::string_view site, std::string_view inventory,
                    std::uint64_t n) {
    out += "cg_cookie_inventory_evicted_total{site=\"";
    append_label_value(out, site);
    out += "\",inventory=\"";
    out += inventory;
    out += "\"} " + std::to_string(n) + "\n";
}

void append_counter(std::string& out, std::string_view outcome, std::uint64_t n) {
    out += "cg_consent_events_total{outcome=\"";
    out += outcome;
    out += "\"} " + std::to_string(n) + "\n";
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
    // Prometheus text format 0.0.4: label values are UTF-8 with \\, \" and \n escaped. Cookie
    // names come from upstreams, so anything else odd becomes U+FFFD rather than reaching a
    // scraper that may refuse the whole exposition over one byte.
    for (std::size_t i = 0; i < value.size();) {
        const char c = value[i];
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
            ++i;
            continue;
        }
        if (c == '\n') {
            out += "\\n";
            ++i;
            continue;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            out += replacement;
            ++i;
            continue;
        }
        const std::size_t n = sequence_length(value, i);
        if (n == 0) {
            out += replacement;
            ++i;
            continue;
        }
        out.append(value.substr(i, n));
        i += n;
    }
}

boost::asio::awaitable<admin_answer> history_view(admin_sites sites, store& records,
                                                  std::string_view query) {
    const auto* site = site_named(sites, param(query, "site"));
    const auto id = param(query, "id");
    if (site == nullptr || id.empty() || id.size() > 64) {
        co_return text(400, "give ?site=<site name>&id=<consent id>\n");
    }
    const std::string consent_id{id};
    auto history = co_await async::from_thread<std::optional<consent_history>>(
        [&records, site, &consent_id](auto done) {
            records.history(site->site(), consent_id, std::move(done));
        });
    if (!history) {
        co_return text(503, "redis is unreachable\n");
    }
    json events = json::array();
    for (const auto& e : history->events) {
        events.push_back(json::parse(to_json(e), nullptr, /*allow_exceptions=*/false));
    }
    co_return json_answer(
        json{{"site", site->site()},
             {"consent_id", consent_id},
             {"events", std::move(events)},
             {"events_folded", history->folded}});
}

boost::asio::awaitable<admin_answer> counts_view(admin_sites sites, store& records) {
    json out = json::object();
    for (const auto& site : sites) {
        auto counts =
            co_await async::from_thread<std::optional<std::map<std::string, std::uint64_t>>>(
                [&records, &site](auto done) { records.counts(site->site(), std::move(done)); });
        if (!counts) {
            co_return text(503, "redis is unreachable\n");
        }
        out[site->site()] = *counts;
    }
    co_return json_answer(out);
}

admin_answer cookies_view(admin_sites sites) {
    json out = json::object();
    for (const auto& site : sites) {
        json rules = json::array();
        for (const auto& r : site->policy().cookies) {
            rules.push_back({{"name", r.name},
                             {"category", name_of(r.cat)},
                             {"provider", r.provider},
                             {"purpose", r.purpose},
                             {"lifetime", r.lifetime},
                             {"justification", r.justification}});
        }
        out[site->site()] = {
            {"policy_version", site->policy().policy_version},
            {"site_rules", rules},
            {"catalogue_rules", site->cookies().rules().size() - rules.size()},
            {"unknown_cookies_seen", counts_json(site->observations().unknown_counts())},
            {"unknown_cookies_recent", recent_json(site->observations().recent_unknown())},
            {"unknown_cookies_evicted", site->observations().unknown_evicted()},
            {"set_cookie_dropped", counts_json(site->observations().dropped_counts())},
            {"set_cookie_dropped_recent", recent_json(site->observations().recent_dropped())},
            {"set_cookie_dropped_evicted", site->observations().dropped_evicted()},
            {"cookie_variants_evicted", site->observations().variants_evicted()}};
    }
    return json_answer(out);
}

std::string metrics_text(admin_sites sites, const store_status& status) {
    std::string out =
        "# HELP cg_set_cookie_dropped_total Set-Cookie headers dropped for lack of consent.\n"
        "# TYPE cg_set_cookie_dropped_total counter\n";
    for (const auto& site : sites) {
        for (const auto& [name, n] : site->observations().dropped_counts()) {
            out += "cg_set_cookie_dropped_total{site=\"";
            append_label_value(out, site->site());
            out += "\",cookie=\"";
            append_label_value(out, name);
            out += "\"} " + std::to_string(n) + "\n";
        }
    }
    out +=
        "# HELP cg_cookie_inventory_evicted_total Cookie names forgotten by a full inventory "
        "to make room for newer ones.\n"
        "# TYPE cg_cookie_inventory_evicted_total counter\n";
    for (const auto& site : sites) {
        const auto& o = site->observations();
        append_evicted(out, site->site(), "unknown", o.unknown_evicted());
        append_evicted(out, site->site(), "dropped", o.dropped_evicted());
        append_evicted(out, site->site(), "variants", o.variants_evicted());
    }
    out +=
        "# HELP cg_consent_events_total Consent decisions by where they were recorded.\n"
        "# TYPE cg_consent_events_total counter\n";
    append_counter(out, "stored", status.stored);
    append_counter(out, "journaled", status.journaled);
    append_counter(out, "failed", status.failed);
    append_counter(out, "replayed", status.replayed);
    out +=
        "# HELP cg_consent_journal_events Consent events waiting in the journal for Redis.\n"
        "# TYPE cg_consent_journal_events gauge\n"
        "cg_consent_journal_events " +
        std::to_string(status.journal_events) + "\n";
    out +=
        "# HELP cg_consent_journal_bytes Size of the consent journal.\n"
        "# TYPE cg_consent_journal_bytes gauge\n"
        "cg_consent_journal_bytes " +
        std::to_string(status.journal_bytes) + "\n";
    out +=
        "# HELP cg_redis_up Whether the consent record store reaches Redis.\n"
        "# TYPE cg_redis_up gauge\n"
        "cg_redis_up " +
        std::string(status.redis_up ? "1" : "0") + "\n";
    out +=
        "# HELP cg_redis_slow Whether Redis last failed by not answering in time on an open "
        "connection (busy, not gone).\n"
        "# TYPE cg_redis_slow gauge\n"
        "cg_redis_slow " +
        std::string(status.redis_slow ? "1" : "0") +
        "\n"
        "# HELP cg_consent_refusing Whether decisions are being refused (Redis down and the "
        "journal full).\n"
        "# TYPE cg_consent_refusing gauge\n"
        "cg_consent_refusing " +
        std::string(status.refusing ? "1" : "0") +
        "\n"
        "# HELP cg_consent_revoked_ids Erased consent ids this gateway holds as revoked.\n"
        "# TYPE cg_consent_revoked_ids gauge\n"
        "cg_consent_revoked_ids " +
        std::to_string(status.revoked_ids) + "\n";
    return out;
}

}  // namespace cg::consent
