#pragma once
// Page views as a worker's tap would hand them over, and the statistics API's answers, for
// the tests of the analytics recorder against real redis-servers.
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "analytics/aggregator.hpp"
#include "analytics/stats.hpp"
#include "analytics/visitor.hpp"

namespace cg::analytics::testing {

struct page {
    std::string path;
    std::uint8_t visitor;  ///< the first byte of the visitor id
};

/// `pages` counted by one worker at Unix time `now` (UTC days), one desktop Firefox on Linux
/// in Norway, drained as the flush hands it to the recorder.
inline flush_batch views(const std::vector<page>& pages, std::int64_t now) {
    aggregator a;
    const site_calendar utc{"UTC"};
    const auto when = utc.at(now);
    std::vector<page_dimensions> where(pages.size());
    std::vector<visitor_id> ids(pages.size());
    user_agent ua;
    ua.browser = "Firefox";
    ua.os = "Linux";
    ua.kind = device_class::desktop;
    for (std::size_t i = 0; i < pages.size(); ++i) {
        where[i].path = pages[i].path;
        ids[i][0] = pages[i].visitor;
        page_view v;
        v.when = when;
        v.minute = now / 60;
        v.where = &where[i];
        v.ua = &ua;
        v.country = "NO";
        v.visitor = &ids[i];
        a.add(v);
    }
    return a.drain();
}

/// `report` with `query` asked of `reader` as at `now`; the parsed answer (its status must be
/// 200), or null after 10 s without one.
inline nlohmann::json ask(stats_reader& reader, const std::string& report, const std::string& query,
                          std::int64_t now) {
    std::promise<stats_answer> p;
    auto f = p.get_future();
    reader.answer(report, query, now, [&p](stats_answer a) { p.set_value(std::move(a)); });
    if (f.wait_for(std::chrono::seconds{10}) != std::future_status::ready) {
        ADD_FAILURE() << "no answer";
        return {};
    }
    const auto a = f.get();
    EXPECT_EQ(a.status, 200U) << a.body;
    return nlohmann::json::parse(a.body, nullptr, false);
}

}  // namespace cg::analytics::testing
