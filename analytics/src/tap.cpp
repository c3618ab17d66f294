#include "analytics/tap.hpp"

#include <algorithm>
#include <initializer_list>

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

std::optional<not_counted> tap::count(std::uint32_t site, const site_settings& settings,
                                      const std::vector<std::string>& own_hosts,
                                      const exchange& e) {
    exchange_facts f = e.facts;
    // The request's header values were read long before its answer ended and are out of the
    // caches by now: ask for them all at once rather than wait for each in turn.
    for (const std::string_view s : {f.content_type, f.sec_fetch_dest, f.accept_language,
                                     e.user_agent, e.target, e.referer}) {
        for (std::size_t at = 0; at < std::min<std::size_t>(s.size(), 192); at += 64) {
            __builtin_prefetch(s.data() + at);
        }
    }
    auto reason = classify(f);
    const user_agent* ua = nullptr;
    if (!reason || reason == not_counted::no_language) {
        // Could be a page view: only now is the User-Agent worth parsing (and its database
        // worth loading).
        if (!user_agents_ && shared_.user_agents) {
            if (const ua_database* db = shared_.user_agents->get()) {
                user_agents_.emplace(*db, 4096);
            }
        }
        if (!user_agents_) {
            reason = not_counted::ua_loading;
        } else {
            ua = &user_agents_->parse(e.user_agent);
            f.bot = ua->kind == device_class::bot;
            reason = classify(f);
        }
    }
    if (reason) {
        return reason;
    }
    const site_plan& plan = shared_.sites[site];
    const local_moment when = local_time(site, e.now);
    page_view v;
    v.site = site;
    v.when = when;
    v.minute = e.now / 60;
    if (e.banner_shown) {
        counts_.add_count(site, when.day, dimension::consent, "shown", 1);
    }
    // DESIGN C8: an objection leaves one anonymous count in the totals, nothing else: no id,
    // no visit, no row.
    v.anonymous = e.gpc || e.do_not_track || e.analytics_refused;
    if (v.anonymous) {
        counts_.add(v);
        return std::nullopt;
    }
    read_dimensions(where_, e.target, e.referer, own_hosts, settings.path_rules);
    v.where = &where_;
    v.ua = ua;
    page_rows rows = rows_of(v);  // no entry row, no country yet
    visit_step step;
    if (const visitor_hasher* h = hasher_for(site, when.day)) {
        const visitor_source who{h, per_site_[site].generation, plan.name, e.visitor,
                                 ua->digest};
        step = shared_.visits.touch(site, when, v.minute, who, e.now, rows,
                                    shared_.countries.get(), counts_);
        v.visitor = &step.id;
        v.entry = step.started;
        v.remember = step.remember;
        if (v.entry) {
            v.remember |= 1U << 1;  // unique_rows[1]: the entry page
            rows.values[1] = rows.values[0];
            rows.hashes[1] = rows.hashes[0];
            counts_.add_count(site, when.day, dimension::entry, where_.path, 1);
        }
    } else if (shared_.countries) {
        step.country = shared_.countries->lookup(e.visitor);  // no visit without an id
    }
    v.country = step.country.view();
    rows.set(7, v.country);  // this step's copy: touch's view pointed into its own
    wait(v, rows);
    return std::nullopt;
}

void tap::wait(const page_view& v, const page_rows& rows) {
    waiting_view& w = waiting_.emplace_back();
    w.site = v.site;
    w.when = v.when;
    w.minute = v.minute;
    w.remember = v.remember;
    w.identified = v.visitor != nullptr;
    if (w.identified) {
        w.id = *v.visitor;
    }
    w.text = static_cast<std::uint32_t>(waiting_text_.size());
    for (std::size_t i = 0; i < unique_rows.size(); ++i) {
        waiting_text_ += rows.values[i];
        w.sizes[i] = static_cast<std::uint32_t>(rows.values[i].size());
    }
    w.hashes = rows.hashes;
    if (waiting_.size() >= group_size) {
        add_waiting();
    }
}

void tap::add_waiting() {
    page_rows rows;
    for (const waiting_view& w : waiting_) {
        std::size_t at = w.text;
        for (std::size_t i = 0; i < unique_rows.size(); ++i) {
            rows.values[i] = std::string_view{waiting_text_}.substr(at, w.sizes[i]);
            at += w.sizes[i];
        }
        rows.hashes = w.hashes;
        page_view v;
        v.site = w.site;
        v.when = w.when;
        v.minute = w.minute;
        v.remember = w.remember;
        v.visitor = w.identified ? &w.id : nullptr;
        counts_.add(v, rows);
    }
    waiting_.clear();
    waiting_text_.clear();
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
