#include "analytics/tap.hpp"

#include <algorithm>

namespace cg::analytics {

const visitor_hasher* tap::hasher_for(std::uint32_t site, day_number day) {
    per_site& h = per_site_[site];
    const std::uint64_t generation = shared_.keys->generation();
    if (h.day != day || h.generation != generation) {
        h.day = day;
        h.generation = generation;
        const auto key = shared_.keys->get(site, day);
        h.hasher = key ? std::make_unique<visitor_hasher>(*key) : nullptr;
    }
    return h.hasher.get();
}

local_moment tap::local_time(std::uint32_t site, std::int64_t now) {
    // Every zone's offsets change on a minute boundary: one calendar look-up per minute.
    per_site& cached = per_site_[site];
    const std::int64_t minute = now / 60 - (now % 60 < 0 ? 1 : 0);
    if (cached.minute != minute) {
        cached.minute = minute;
        cached.minute_at = shared_.sites[site].calendar.at(minute * 60);
    }
    return cached.minute_at;
}

void tap::hold(std::shared_ptr<const void> owner) {
    if (owners_.size() >= 4) {
        measure();  // reloads in quick succession: let the older configurations go
    }
    owner_ = owner.get();
    owners_.push_back(std::move(owner));
}

std::optional<not_counted> tap::judge_request(const exchange_facts& f, std::string_view user_agent,
                                              const ua_summary*& ua) {
    const auto reason = classify_request(f);
    if (reason && reason != not_counted::no_language) {
        return reason;
    }
    // Could be a page view: only now is the User-Agent worth parsing (and its database worth
    // loading).
    if (!user_agents_ && shared_.user_agents) {
        if (const ua_database* db = shared_.user_agents->get()) {
            user_agents_.emplace(*db, 4096);
        }
    }
    if (!user_agents_) {
        return not_counted::ua_loading;
    }
    ua = &user_agents_->parse(user_agent);
    // What classify_request says with f.bot set: of its reasons only no_language comes after.
    return ua->kind == device_class::bot ? not_counted::bot : reason;
}

void tap::look(const exchange& e, request_look& out) {
    out.ua = nullptr;
    out.reason = judge_request(e.facts, e.user_agent, out.ua);
    out.ua_generation = user_agents_ ? user_agents_->generation() : 0;
    out.looked = true;
    out.round = 0;
    if (!out.reason) {
        // Could be a page view: its target and Referer are copied now, while they are in the
        // caches; at the answer, after the page has passed through, each would be a wait for
        // main memory. A request that turns out not to be one leaves its copy unused until the
        // next group is measured (bounded by max_queue_text, as the queue's own).
        out.text = copy_text(e.target, e.referer, *out.ua, out.sizes);
        out.round = round_;
        if (queue_text_.size() >= max_queue_text) {
            measure();  // the look's copy is dropped too: its answer copies again
        }
    }
}

boost::asio::ip::address tap::queued_view::visitor() const noexcept {
    if (v6) {
        return boost::asio::ip::address_v6{address};
    }
    return boost::asio::ip::address_v4{{address[0], address[1], address[2], address[3]}};
}

std::uint32_t tap::copy_text(std::string_view target, std::string_view referer,
                             const ua_summary& ua, std::array<std::uint16_t, 4>& sizes) {
    const std::size_t at = queue_text_.size();
    std::array<std::string_view, 4> parts{target, referrer_origin(referer), ua.browser, ua.os};
    std::size_t size = 0;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        parts[i] = parts[i].substr(0, UINT16_MAX);  // a longer target loses the rest of its query
        sizes[i] = static_cast<std::uint16_t>(parts[i].size());
        size += parts[i].size();
    }
    queue_text_.resize(at + size);  // one size check, then plain copies
    char* to = queue_text_.data() + at;
    for (const std::string_view part : parts) {
        to = std::copy(part.begin(), part.end(), to);
    }
    return static_cast<std::uint32_t>(at);  // below max_queue_text plus one page view's text
}

std::optional<not_counted> tap::take(std::uint32_t site, const exchange& e) {
    const request_look* look = e.look;
    std::optional<not_counted> request_reason;
    const ua_summary* ua = nullptr;
    const request_look* copied = nullptr;  // the look whose text copy is still in queue_text_
    if (look != nullptr && look->looked && look->reason != not_counted::ua_loading &&
        (look->ua == nullptr ||
         (user_agents_ && user_agents_->generation() == look->ua_generation))) {
        request_reason = look->reason;
        ua = look->ua;
        copied = look->round == round_ ? look : nullptr;
    } else {
        request_reason = judge_request(e.facts, e.user_agent, ua);
    }
    const auto reason = classify_answer(request_reason, e.facts.status, e.facts.content_type);
    if (reason) {
        return reason;
    }
    const bool anonymous = e.gpc || e.do_not_track || e.analytics_refused;
    if (e.banner_shown || anonymous) {
        const local_moment when = local_time(site, e.now);
        if (e.banner_shown) {
            counts_.add_count(site, when.day, dimension::consent, "shown", 1);
        }
        if (anonymous) {
            // DESIGN C8: an objection leaves one anonymous count in the totals, nothing else:
            // no id, no visit, no row.
            page_view v;
            v.site = site;
            v.when = when;
            v.minute = e.now / 60;
            v.anonymous = true;
            counts_.add(v);
            return std::nullopt;
        }
    }
    queued_view& q = queue_.emplace_back();
    q.site = site;
    q.now = e.now;
    if (e.visitor.is_v6()) {
        q.v6 = true;
        q.address = e.visitor.to_v6().to_bytes();
    } else {
        const auto v4 = e.visitor.to_v4().to_bytes();
        std::copy(v4.begin(), v4.end(), q.address.begin());
    }
    q.kind = ua->kind;
    q.digest = ua->digest;
    if (copied != nullptr) {
        q.text = copied->text;
        q.sizes = copied->sizes;
    } else {
        q.text = copy_text(e.target, e.referer, *ua, q.sizes);
    }
    if (queue_.size() >= group_size || queue_text_.size() >= max_queue_text) {
        measure();
    }
    return std::nullopt;
}

void tap::measure() {
    // A group's visits are spread over a table too big to stay in the caches between groups:
    // each page view asks for its visit's slot `ahead` page views before it is measured. Its
    // visit key is computed then, once, and kept in `asked` until it is measured.
    constexpr std::size_t ahead = 6;
    std::array<visit_key_for, 8> asked;
    static_assert(asked.size() > ahead);
    const auto ask = [&](std::size_t i) {
        const queued_view& q = queue_[i];
        visit_key_for& k = asked[i % asked.size()];
        k.generation = per_site_[q.site].generation;
        const visitor_source who{nullptr, k.generation, {}, q.visitor(), q.digest};
        k.key = shared_.visits.key_of(q.site, local_time(q.site, q.now).day, who);
        shared_.visits.prefetch(k.key);
    };
    for (std::size_t i = 0; i < std::min(ahead, queue_.size()); ++i) {
        ask(i);
    }
    for (std::size_t i = 0; i < queue_.size(); ++i) {
        if (i + ahead < queue_.size()) {
            ask(i + ahead);
        }
        const queued_view& q = queue_[i];
        std::string_view text = std::string_view{queue_text_}.substr(q.text);
        const auto next = [&](std::size_t field) {
            const std::string_view s = text.substr(0, q.sizes[field]);
            text.remove_prefix(s.size());
            return s;
        };
        const std::string_view target = next(0);
        const std::string_view origin = next(1);
        agent_.browser = next(2);
        agent_.os = next(3);
        measure(q, target, origin, asked[i % asked.size()]);
    }
    queue_.clear();
    queue_text_.clear();
    ++round_;
    referrers_.forget();  // before the own hosts it knows by address may go with their owners
    owners_.clear();
    owner_ = nullptr;
}

void tap::measure(const queued_view& q, std::string_view target, std::string_view origin,
                  const visit_key_for& asked) {
    const site_plan& plan = shared_.sites[q.site];
    const per_site& inputs = per_site_[q.site];
    page_view v;
    v.site = q.site;
    v.when = local_time(q.site, q.now);
    v.minute = q.now / 60;
    read_dimensions(where_, target, origin, *inputs.own_hosts, inputs.settings->path_rules,
                    &referrers_);
    v.where = &where_;
    agent_.kind = q.kind;
    v.ua = &agent_;
    page_rows rows = rows_of(v);  // no entry row, no country yet
    visit_step step;
    if (const visitor_hasher* h = hasher_for(q.site, v.when.day)) {
        const std::uint64_t generation = inputs.generation;  // hasher_for's
        const visitor_source who{h, generation, plan.name, q.visitor(), q.digest};
        // The day's key may have come since the view was asked for: then its key is another.
        const visit_table::visit_key key = asked.generation == generation
                                               ? asked.key
                                               : shared_.visits.key_of(q.site, v.when.day, who);
        step = shared_.visits.touch(key, q.site, v.when, v.minute, who, q.now, rows,
                                    shared_.countries.get(), counts_);
        v.visitor = &step.id;
        v.entry = step.started;
        v.remember = step.remember;
        if (v.entry) {
            v.remember |= 1U << 1;  // unique_rows[1]: the entry page
            rows.values[1] = rows.values[0];
            rows.hashes[1] = rows.hashes[0];
            counts_.add_count(q.site, v.when.day, dimension::entry, where_.path, 1);
        }
    } else if (shared_.countries) {
        step.country = shared_.countries->lookup(q.visitor());  // no visit without an id
        rows.set(7, step.country.view());
    }
    rows.values[7] = step.country.view();  // this step's copy: touch's pointed into its own
    counts_.add(v, rows);
}

void tap::count_decision(std::uint32_t site, std::int64_t now, decision_kind kind,
                         std::span<const std::string> granted, bool gpc) {
    if (site >= shared_.sites.size()) {
        return;
    }
    const day_number day = shared_.sites[site].calendar.at(now).day;
    static constexpr std::string_view names[] = {"accept_all", "reject_all", "custom"};
    counts_.add_count(site, day, dimension::consent, names[static_cast<int>(kind)], 1);
    if (kind == decision_kind::custom && !granted.empty()) {
        // The consent rate counts a custom choice that granted something as consent.
        counts_.add_count(site, day, dimension::consent, "custom_granting", 1);
    }
    if (gpc) {
        counts_.add_count(site, day, dimension::consent, "gpc", 1);
    }
    for (const auto& c : granted) {
        counts_.add_count(site, day, dimension::opt_in, c, 1);
    }
}

}  // namespace cg::analytics
