#include "consent/site_context.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>

#include <openssl/evp.h>

#include "category_names.hpp"
#include "consent/cookie.hpp"
#include "hex.hpp"

namespace cg::consent {

// ---------------------------------------------------------------------------------------------
// cookie_observations

std::uint64_t unique_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

void cookie_observations::bump(std::map<std::string, std::uint64_t, std::less<>>& m,
                               std::string_view name) {
    name = name.substr(0, max_name_bytes);
    if (auto it = m.find(name); it != m.end()) {
        ++it->second;
    } else if (m.size() < max_names) {
        m.emplace(std::string{name}, 1);
    }
}

void cookie_observations::dropped(std::string_view name) {
    const std::lock_guard lock{mutex_};
    bump(dropped_, name);
}

void cookie_observations::unknown(std::string_view name) {
    const std::lock_guard lock{mutex_};
    bump(unknown_, name);
}

void cookie_observations::variant(std::string_view name, std::string_view path,
                                  std::string_view domain) {
    if (name.size() > max_name_bytes || path.size() > max_name_bytes ||
        domain.size() > max_name_bytes) {
        return;
    }
    // A site sets the same few cookies on every response: remember per thread which variants
    // this inventory already holds and skip the lock for them. A hash collision only means a
    // variant goes unrecorded on this thread until another thread records it; the inventory is
    // a best effort for expiring cookies on withdrawal (with Path=/ always tried as well).
    thread_local std::array<std::pair<std::uint64_t, std::size_t>, 256> seen{};
    const std::size_t h = std::hash<std::string_view>{}(name)*31 +
                          std::hash<std::string_view>{}(path)*7 +
                          std::hash<std::string_view>{}(domain);
    auto& slot = seen[h % seen.size()];
    if (slot.first == id_ && slot.second == h) {
        return;
    }
    slot = {id_, h};
    const std::lock_guard lock{mutex_};
    auto it = variants_.find(name);
    if (it == variants_.end()) {
        if (variants_.size() >= max_names) {
            return;
        }
        it =
            variants_.emplace(std::string{name}, std::vector<std::pair<std::string, std::string>>{})
                .first;
    }
    auto& list = it->second;
    const bool known = std::any_of(list.begin(), list.end(), [&](const auto& v) {
        return v.first == path && v.second == domain;
    });
    if (!known && list.size() < max_variants) {
        list.emplace_back(std::string{path}, std::string{domain});
    }
}

cookie_observations::counts cookie_observations::dropped_counts() const {
    const std::lock_guard lock{mutex_};
    return {dropped_.begin(), dropped_.end()};
}

cookie_observations::counts cookie_observations::unknown_counts() const {
    const std::lock_guard lock{mutex_};
    return {unknown_.begin(), unknown_.end()};
}

std::vector<std::pair<std::string, std::string>> cookie_observations::variants(
    std::string_view name) const {
    const std::lock_guard lock{mutex_};
    const auto it = variants_.find(name);
    return it == variants_.end() ? std::vector<std::pair<std::string, std::string>>{} : it->second;
}

// ---------------------------------------------------------------------------------------------
// site_context

namespace {

std::string hex_sha256(std::string_view text) {
    std::array<unsigned char, 32> digest{};
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &len, EVP_sha256(), nullptr);
    return to_hex(digest);
}

// DESIGN L7: the record must prove what the visitor was shown. Every text that decides what
// the visitor agrees to goes into the hash, with lengths so that no two lists hash alike.
std::string banner_hash_of(const site_policy& policy, language l) {
    std::string canonical = "consent-gateway banner v1\npolicy " + policy.policy_version + "\n";
    canonical += "language ";
    canonical += name_of(l);
    canonical += '\n';
    for (const auto& c : policy.categories) {
        const auto& t = c.texts[static_cast<std::size_t>(l)];
        canonical += name_of(c.id);
        canonical += ' ' + std::to_string(t.name.size()) + ':' + t.name;
        canonical += ' ' + std::to_string(t.description.size()) + ':' + t.description + '\n';
    }
    return hex_sha256(canonical);
}

}  // namespace

site_context::site_context(std::string site, site_policy policy, std::string cookie_name,
                           const std::vector<cookie_rule>& catalogue,
                           std::shared_ptr<const key_ring> keys, bool host_prefix,
                           std::shared_ptr<const revocations> revoked)
    : site_(std::move(site)),
      policy_(std::move(policy)),
      cookie_name_(std::move(cookie_name)),
      classifier_(catalogue, policy_.cookies),
      keys_(std::move(keys)),
      host_prefix_(host_prefix),
      revoked_(std::move(revoked)),
      observations_(std::make_unique<cookie_observations>()) {
    if (policy_.categories.empty()) {
        policy_.categories = default_categories();
    }
    offered_ = policy_.offered();
    if (!offered_.contains(category::necessary) || keys_ == nullptr) {
        throw std::invalid_argument("site " + site_ + ": consent policy without necessary");
    }
    for (const auto l : all_languages) {
        banner_hashes_[static_cast<std::size_t>(l)] = banner_hash_of(policy_, l);
    }
}

bool site_context::allowed(std::string_view name, category_set granted) const noexcept {
    if (name == cookie_name_) {
        return true;
    }
    return allowed_by(rule_for(name), granted);
}

namespace {

// Classifications, per thread: a site's visitors send and its upstream sets the same few
// cookie names again and again, and a name that only a pattern matches (`_ga_ABC123`) walks
// the pattern list each time. Direct-mapped and keyed by the exact name, so a hit gives what
// the classifier would; a collision or a new name costs one classifier lookup. Long names
// are not kept (a hostile client's junk names cannot make the slots allocate much).
struct classified_name {
    std::uint64_t site = 0;  // site_context::id_
    std::string name;
    const cookie_rule* rule = nullptr;
};
constexpr std::size_t classified_slots = 256;
constexpr std::size_t max_cached_name = 64;
thread_local std::array<classified_name, classified_slots> classified;

}  // namespace

const cookie_rule* site_context::rule_for(std::string_view name) const noexcept {
    if (name.size() > max_cached_name) {
        return classifier_.find(name);
    }
    auto& slot = classified[std::hash<std::string_view>{}(name) % classified_slots];
    if (slot.site == id_ && slot.name == name) {
        return slot.rule;
    }
    const cookie_rule* rule = classifier_.find(name);
    try {
        slot.name.assign(name);  // at most max_cached_name bytes; SSO for most names
    } catch (...) {
        slot.site = 0;  // out of memory: just not remembered
        return rule;
    }
    slot.site = id_;
    slot.rule = rule;
    return rule;
}

bool site_context::allowed_by(const cookie_rule* rule, category_set granted) const noexcept {
    if (rule != nullptr) {
        return granted.contains(rule->cat);
    }
    // Unknown cookies: only a visitor who accepted everything offered has agreed to them.
    return policy_.unknown == unknown_cookies::after_accept_all && granted.includes(offered_);
}

namespace {

// Verified consent cookies, per thread: a visitor sends the same cookie with every request,
// and the HMAC (with OpenSSL 3's per-call algorithm fetch) was most of the enforcement cost.
// Only values that verified are kept, matched by their exact bytes, so a hit proves what a
// fresh check would; only the expiry depends on the clock and is checked again. Direct-mapped:
// a collision just costs one HMAC.
struct verified_cookie {
    std::uint64_t site = 0;  // site_context::id_ (not its address: one may be reused)
    std::string value;
    consent_state state;
};
constexpr std::size_t verified_slots = 512;
thread_local std::array<verified_cookie, verified_slots> verified;

}  // namespace

std::optional<consent_state> site_context::verify(std::string_view value, std::int64_t now) const {
    auto& slot = verified[std::hash<std::string_view>{}(value) % verified_slots];
    const std::int64_t lifetime = policy_.lifetime.count();
    if (slot.site == id_ && slot.value == value) {
        if (slot.state.issued + lifetime <= now) {
            return std::nullopt;  // expired since it was verified
        }
        return slot.state;
    }
    const cookie_check check{.site = site_,
                             .policy_version = policy_.policy_version,
                             .lifetime_seconds = lifetime,
                             .now = now,
                             .offered = offered_};
    auto state = decode_consent(value, check, *keys_);
    if (!state) {
        return std::nullopt;
    }
    slot.site = id_;
    slot.value.assign(value);
    slot.state = *state;
    return std::move(*state);
}

visitor_consent site_context::read_visitor(const std::vector<std::string_view>& cookie_headers,
                                           bool gpc, std::int64_t now) const {
    return filter_request_cookies(cookie_headers, gpc, now).visitor;
}

request_cookies site_context::filter_request_cookies(
    std::span<const std::string_view> cookie_headers, bool gpc, std::int64_t now) const {
    request_cookies out;
    out.visitor.gpc = gpc;
    if (cookie_headers.empty()) {
        return out;
    }
    // Runs for every proxied request: the pairs and their verdicts live in per-thread storage
    // that keeps its capacity (no allocation once warm). Nothing here suspends or recurses.
    struct scratch {
        std::vector<cookie_pair> pairs;
        std::vector<char> keep;
    };
    thread_local scratch mine;
    auto& pairs = mine.pairs;
    auto& keep = mine.keep;
    pairs.clear();
    std::size_t header_bytes = 0;
    for (const auto header : cookie_headers) {
        parse_cookie_header(header, pairs);
        header_bytes += header.size() + 2;
    }
    bool drop_any = cookie_headers.size() > 1;  // several headers are merged into one
    for (const auto& p : pairs) {
        if (p.name != cookie_name_) {
            continue;
        }
        drop_any = true;  // the consent cookie is the gateway's, never the upstream's
        // Several copies can exist (other paths or domains); the first valid one counts.
        if (!out.visitor.state) {
            if (auto state = verify(p.value, now)) {
                out.visitor.granted = state->granted;
                out.visitor.state = std::move(state);
            }
        }
    }
    keep.assign(pairs.size(), 0);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        keep[i] =
            pairs[i].name != cookie_name_ && allowed(pairs[i].name, out.visitor.granted) ? 1 : 0;
        drop_any = drop_any || keep[i] == 0;
    }
    if (!drop_any) {
        return out;
    }
    out.changed = true;
    out.cookie.reserve(header_bytes);  // never longer than the headers it came from
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (keep[i] == 0) {
            continue;
        }
        if (!out.cookie.empty()) {
            out.cookie += "; ";
        }
        if (!pairs[i].name.empty()) {
            out.cookie += pairs[i].name;
            out.cookie += '=';
        }
        out.cookie += pairs[i].value;
    }
    return out;
}

bool site_context::keep_set_cookie(std::string_view header, category_set granted) const {
    const auto c = parse_set_cookie(header);
    if (!c) {
        return false;  // a browser would ignore it too (RFC 6265 §5.2)
    }
    if (c->name == cookie_name_) {
        observations_->dropped(c->name);  // only the gateway sets the consent cookie
        return false;
    }
    observations_->variant(c->name, c->path.value_or(""), c->domain.value_or(""));
    // A cookie being deleted stores nothing: letting the site remove it only helps (L6).
    constexpr std::int64_t year_2000 = 946'684'800;
    if ((c->max_age && *c->max_age <= 0) ||
        (!c->max_age && c->expires && *c->expires < year_2000)) {
        return true;
    }
    const cookie_rule* rule = rule_for(c->name);
    if (rule == nullptr) {
        observations_->unknown(c->name);
    }
    if (allowed_by(rule, granted)) {
        return true;
    }
    observations_->dropped(c->name);
    return false;
}

const std::string& categories_header(category_set granted) {
    // Sixteen possible values, made once: this runs for every proxied request.
    static const auto table = [] {
        std::array<std::string, 16> t;
        for (std::uint8_t b = 0; b < t.size(); ++b) {
            t[b] = category_names(category_set::from_bits(b), ", ");
        }
        return t;
    }();
    return table[granted.bits()];
}

}  // namespace cg::consent
