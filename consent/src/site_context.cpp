#include "consent/site_context.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
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

namespace {

std::int64_t unix_seconds() noexcept {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

template <class Value>
Value& cookie_observations::recent_names<Value>::touch(std::string_view name, std::int64_t now) {
    if (const auto it = index.find(name); it != index.end()) {
        order.splice(order.begin(), order, it->second);  // now the most recent; O(1)
        it->second->last_seen = now;
        return it->second->value;
    }
    // Full: forget the name seen least recently rather than stop learning (issue 8 item 10):
    // a site that adds a tracker after a thousand junk names must still see it.
    if (order.size() >= max_names) {
        index.erase(order.back().name);
        order.pop_back();
        ++evicted;
    }
    order.push_front(entry{std::string{name}, Value{}, now});
    try {
        index.emplace(order.front().name, order.begin());
    } catch (...) {
        order.pop_front();  // keep the two in step
        throw;
    }
    return order.front().value;
}

template <class Value>
const Value* cookie_observations::recent_names<Value>::find(std::string_view name) const {
    const auto it = index.find(name);
    return it == index.end() ? nullptr : &it->second->value;
}

void cookie_observations::dropped(std::string_view name) {
    name = name.substr(0, max_name_bytes);
    const auto now = unix_seconds();
    const std::lock_guard lock{mutex_};
    ++dropped_.touch(name, now);
}

void cookie_observations::unknown(std::string_view name) {
    name = name.substr(0, max_name_bytes);
    const auto now = unix_seconds();
    const std::lock_guard lock{mutex_};
    ++unknown_.touch(name, now);
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
    // An eviction may have forgotten what a slot remembers, so a slot counts only while no
    // name has been evicted since it was filled.
    struct remembered {
        std::uint64_t inventory = 0;
        std::size_t hash = 0;
        std::uint64_t evictions = 0;
    };
    thread_local std::array<remembered, 256> seen{};
    const std::size_t h = std::hash<std::string_view>{}(name)*31 +
                          std::hash<std::string_view>{}(path)*7 +
                          std::hash<std::string_view>{}(domain);
    const std::uint64_t evictions = variant_evictions_.load(std::memory_order_acquire);
    auto& slot = seen[h % seen.size()];
    if (slot.inventory == id_ && slot.hash == h && slot.evictions == evictions) {
        return;
    }
    slot = {id_, h, evictions};
    const auto now = unix_seconds();
    const std::lock_guard lock{mutex_};
    auto& list = variants_.touch(name, now);
    variant_evictions_.store(variants_.evicted, std::memory_order_release);
    const bool known = std::any_of(list.begin(), list.end(), [&](const auto& v) {
        return v.first == path && v.second == domain;
    });
    if (!known && list.size() < max_variants) {
        list.emplace_back(std::string{path}, std::string{domain});
    }
}

cookie_observations::counts cookie_observations::sorted_counts(
    const recent_names<std::uint64_t>& names) {
    counts out;
    out.reserve(names.index.size());
    for (const auto& [name, it] : names.index) {
        out.emplace_back(std::string{name}, it->value);
    }
    return out;
}

std::vector<cookie_observations::sighting> cookie_observations::sightings(
    const recent_names<std::uint64_t>& names) {
    std::vector<sighting> out;
    out.reserve(names.order.size());
    for (const auto& e : names.order) {
        out.push_back(sighting{e.name, e.value, e.last_seen});
    }
    return out;
}

cookie_observations::counts cookie_observations::dropped_counts() const {
    const std::lock_guard lock{mutex_};
    return sorted_counts(dropped_);
}

cookie_observations::counts cookie_observations::unknown_counts() const {
    const std::lock_guard lock{mutex_};
    return sorted_counts(unknown_);
}

std::vector<cookie_observations::sighting> cookie_observations::recent_unknown() const {
    const std::lock_guard lock{mutex_};
    return sightings(unknown_);
}

std::vector<cookie_observations::sighting> cookie_observations::recent_dropped() const {
    const std::lock_guard lock{mutex_};
    return sightings(dropped_);
}

std::uint64_t cookie_observations::unknown_evicted() const {
    const std::lock_guard lock{mutex_};
    return unknown_.evicted;
}

std::uint64_t cookie_observations::dropped_evicted() const {
    const std::lock_guard lock{mutex_};
    return dropped_.evicted;
}

std::uint64_t cookie_observations::variants_evicted() const {
    const std::lock_guard lock{mutex_};
    return variants_.evicted;
}

std::vector<std::pair<std::string, std::string>> cookie_observations::variants(
    std::string_view name) const {
    const std::lock_guard lock{mutex_};
    const auto* list = variants_.find(name);
    return list == nullptr ? std::vector<std::pair<std::string, std::string>>{} : *list;
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
      host_cookie_name_("__Host-" + cookie_name_),
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

std::string site_context::consent_cookie_name(bool https) const {
    return host_prefix_ && https ? host_cookie_name_ : cookie_name_;
}

bool site_context::allowed(std::string_view name, category_set granted) const noexcept {
    if (is_consent_cookie(name)) {
        return true;
    }
    return allowed_by(rule_for(name), granted, /*decided=*/true);
}

bool site_context::allowed(std::string_view name, const visitor_consent& visitor) const noexcept {
    if (is_consent_cookie(name)) {
        return true;
    }
    return allowed_by(rule_for(name), visitor.granted, visitor.state.has_value());
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

bool site_context::allowed_by(const cookie_rule* rule, category_set granted,
                              bool decided) const noexcept {
    if (rule != nullptr) {
        return granted.contains(rule->cat);
    }
    // Unknown cookies (issue 8 item 4): only an explicit decision that granted everything
    // offered covers them. Without a decision "every category granted" must not be vacuously
    // true, and on a site that offers only `necessary` no decision agrees to anything more
    // (DESIGN L1, T6: only the justified necessary list passes there).
    const category_set necessary_only{category::necessary};
    return policy_.unknown == unknown_cookies::after_accept_all && decided &&
           offered_ != necessary_only && granted.includes(offered_);
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
    // DESIGN §5: an erased visitor's id is revoked on every gateway, so a copy of the old
    // cookie no longer counts. Asked on every use: a remembered value may be revoked later.
    const auto revoked = [this](const consent_state& s) {
        return revoked_ != nullptr && revoked_->revoked(s.id);
    };
    if (slot.site == id_ && slot.value == value) {
        if (slot.state.issued + lifetime <= now || revoked(slot.state)) {
            return std::nullopt;  // expired or revoked since it was verified
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
    if (revoked(*state)) {
        return std::nullopt;
    }
    return std::move(*state);
}

visitor_consent site_context::read_visitor(const std::vector<std::string_view>& cookie_headers,
                                           bool gpc, bool https, std::int64_t now) const {
    return filter_request_cookies(cookie_headers, gpc, https, now).visitor;
}

request_cookies site_context::filter_request_cookies(
    std::span<const std::string_view> cookie_headers, bool gpc, bool https,
    std::int64_t now) const {
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
    // Cookie tossing: a sibling subdomain can set a cookie for the parent domain, and any page
    // can set one under a longer Path; the browser sends all of them, the most specific path
    // first. Which one is the visitor's cannot be told, so several mean no decision. With the
    // host prefix on HTTPS only `__Host-` counts: browsers keep it host-only, Path=/ and
    // Secure, so it cannot be tossed, and a plain-named copy may be planted (it is ignored).
    const std::string_view decision_name =
        host_prefix_ && https ? std::string_view{host_cookie_name_} : cookie_name_;
    bool drop_any = cookie_headers.size() > 1;  // several headers are merged into one
    std::size_t consent_cookies = 0;
    std::string_view consent_value;
    for (const auto& p : pairs) {
        if (!is_consent_cookie(p.name)) {
            continue;
        }
        drop_any = true;  // the consent cookie is the gateway's, never the upstream's
        if (p.name == decision_name) {
            ++consent_cookies;
            consent_value = p.value;
        }
    }
    if (consent_cookies > 1) {
        out.visitor.conflicting = true;
    } else if (consent_cookies == 1) {
        if (auto state = verify(consent_value, now)) {
            out.visitor.granted = state->granted;
            out.visitor.state = std::move(state);
        }
    }
    const bool decided = out.visitor.state.has_value();
    keep.assign(pairs.size(), 0);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        keep[i] = !is_consent_cookie(pairs[i].name) &&
                          allowed_by(rule_for(pairs[i].name), out.visitor.granted, decided)
                      ? 1
                      : 0;
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

bool site_context::keep_set_cookie(std::string_view header, const visitor_consent& visitor) const {
    const auto c = parse_set_cookie(header);
    if (!c) {
        return false;  // a browser would ignore it too (RFC 6265 §5.2)
    }
    if (is_consent_cookie(c->name)) {
        observations_->dropped(c->name);  // only the gateway sets the consent cookie
        return false;
    }
    observations_->variant(c->name, c->path.value_or(""), c->domain.value_or(""));
    // A cookie being deleted stores nothing: letting the site remove it only helps (L6). But
    // only when every browser reads it as a deletion (issue 8 item 9): "Max-Age=0;
    // Max-Age=+31536000" is one under RFC 6265 and a year-long cookie in Chromium.
    constexpr std::int64_t year_2000 = 946'684'800;
    const bool rfc_deletion =
        (c->max_age && *c->max_age <= 0) || (!c->max_age && c->expires && *c->expires < year_2000);
    if (rfc_deletion && is_deletion(header)) {
        return true;
    }
    const cookie_rule* rule = rule_for(c->name);
    if (rule == nullptr) {
        observations_->unknown(c->name);
    }
    if (allowed_by(rule, visitor.granted, visitor.state.has_value())) {
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
