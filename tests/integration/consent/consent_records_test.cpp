// Proof of consent through the real gateway binary and a real redis-server (DESIGN §3 L7, L11;
// §6): what lands in Redis, the visitor's access and erasure endpoints, the admin views, and
// the outage journal across a Redis outage and a gateway crash.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "consent_fixture.hpp"
#include "support/read_file.hpp"

namespace {

using namespace std::chrono_literals;
using cg::test::consent_cookie;
using cg::test::consent_site;
using cg::test::decision;
using cg::test::eventually;
using cg::test::json_of;
using cg::test::read_file;
using cg::test::redis_server;
using cg::test::redis_value;
using cg::test::set_cookies_named;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

using entry = std::map<std::string, std::string>;

// The entries of the site's audit stream, fields by name.
std::vector<entry> audit_stream(redis_server& redis, const std::string& site = "a") {
    std::vector<entry> out;
    const redis_value reply = redis.command({"XRANGE", "cg:{c:" + site + "}:audit", "-", "+"});
    for (const auto& item : reply.elements) {
        if (item.elements.size() != 2) {
            ADD_FAILURE() << "not a stream entry";
            continue;
        }
        entry e;
        const auto& fields = item.elements[1].elements;
        for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
            e[fields[i].text] = fields[i + 1].text;
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<std::string> methods_of(const std::vector<entry>& entries, const std::string& id) {
    std::vector<std::string> out;
    for (const auto& e : entries) {
        if (e.count("consent_id") != 0 && e.at("consent_id") == id) {
            out.push_back(e.count("method") != 0 ? e.at("method") : "?");
        }
    }
    return out;
}

// Decides as a visitor with `cookie` (none when empty) and returns the answer's JSON and the
// consent cookie; the test fails when the decision is not taken.
struct decided {
    json body;
    std::string cookie;  ///< "cg_consent=VALUE"
};

decided decide(const consent_site& site, std::string_view body, std::string_view cookie = {}) {
    const auto r = site.send(decision(body, cookie));
    EXPECT_EQ(r.status, 200U) << r.ec.message() << r.body;
    return {json_of(r), "cg_consent=" + consent_cookie(r).value_or("")};
}

bool redis_caught_up(const consent_site& site) {
    const auto ready = site.readyz();
    return ready.is_object() && ready["consent_store"]["redis"] == "up" &&
           ready["consent_store"]["journal_events"] == 0;
}

// The event ids in a journal file (lines "<retention seconds> <event json>").
std::vector<std::string> journal_event_ids(const std::filesystem::path& file) {
    std::vector<std::string> ids;
    std::ifstream in{file};
    std::string line;
    while (std::getline(in, line)) {
        const auto space = line.find(' ');
        const auto event = json::parse(line.substr(space + 1), nullptr, false);
        if (event.is_object()) {
            ids.push_back(event.value("event_id", ""));
        } else {
            ADD_FAILURE() << "a journal line that is not an event";
        }
    }
    return ids;
}

TEST(ConsentRecords, DecisionsAreStoredInRedisWithTheSiteRetentionAndAnAuditEntryEach) {
    consent_site site{{.retention_days = 30}};
    const auto first = decide(site, R"({"categories": ["analytics"]})");
    const auto second = decide(site, R"({"action": "accept-all"})", first.cookie);
    const std::string id = first.body.value("consent_id", "");
    ASSERT_FALSE(id.empty()) << first.body;
    ASSERT_EQ(second.body.value("consent_id", ""), id) << "one visitor keeps one consent id";
    const std::string hash = "cg:{c:a}:consent:" + id;

    const auto method = site.redis().command({"HGET", hash, "method"});
    const auto ttl = site.redis().command({"PTTL", hash});
    const auto stream_ttl = site.redis().command({"PTTL", "cg:{c:a}:audit"});

    EXPECT_EQ(method.text, "accept-all");
    constexpr long long thirty_days_ms = 30LL * 24 * 3600 * 1000;
    EXPECT_GT(ttl.integer, thirty_days_ms - 60'000);
    EXPECT_LE(ttl.integer, thirty_days_ms);
    EXPECT_GT(stream_ttl.integer, thirty_days_ms - 60'000);
    EXPECT_THAT(methods_of(audit_stream(site.redis()), id), ElementsAre("custom", "accept-all"));
    for (const auto& e : audit_stream(site.redis())) {
        for (const auto& [field, value] : e) {
            EXPECT_NE(value, "GA1.1.111.222") << field << ": no cookie values in records";
        }
    }
}

TEST(ConsentRecords, TheVisitorDownloadsTheWholeHistoryOldestFirst) {
    consent_site site;
    const auto first = decide(site, R"({"categories": ["analytics"]})");
    const auto second = decide(site, R"({"categories": ["analytics", "marketing"]})", first.cookie);
    const auto third = decide(site, R"({"action": "reject-all"})", second.cookie);

    const auto r = site.get("/_consent/record", third.cookie);

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    EXPECT_THAT(r.header("Content-Disposition").value_or(""), StartsWith("attachment"));
    const auto doc = json_of(r);
    EXPECT_EQ(doc["consent_id"], first.body["consent_id"]) << r.body;
    const auto& events = doc["events"];
    ASSERT_EQ(events.size(), 3U) << r.body;
    EXPECT_EQ(events[0]["method"], "custom");
    EXPECT_EQ(events[0]["categories"], json::array({"necessary", "analytics"}));
    EXPECT_EQ(events[1]["categories"], json::array({"necessary", "analytics", "marketing"}));
    EXPECT_EQ(events[2]["method"], "withdraw");
    EXPECT_LE(events[0]["time_ms"], events[1]["time_ms"]);
    EXPECT_LE(events[1]["time_ms"], events[2]["time_ms"]);
    EXPECT_THAT(r.body, Not(HasSubstr("127.0.0.1")));
}

// Issue 8 item 1 and 6: a consent id's history is bounded. The visitor's download keeps the first
// decision and the latest 100 and says how many were folded in between.
TEST(ConsentRecords, ABusyConsentIdKeepsItsFirstAndLatestDecisionsAndCountsTheRest) {
    consent_site site{{.consent_settings = R"({"rate_limits": {"per_consent_id": 0}})"}};
    auto last = decide(site, R"({"action": "accept-all"})");
    for (int i = 0; i < 102; ++i) {
        last = decide(site,
                      i % 2 == 0 ? R"({"action": "reject-all"})" : R"({"action": "accept-all"})",
                      last.cookie);
    }

    const auto r = site.get("/_consent/record", last.cookie);

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    const auto doc = json_of(r);
    const auto& events = doc["events"];
    ASSERT_EQ(events.size(), 101U);
    EXPECT_EQ(events[0]["method"], "accept-all") << "the first decision stays";
    EXPECT_EQ(doc["events_folded"], 2);
    EXPECT_EQ(events[100]["method"], "accept-all");
    EXPECT_EQ(site.redis().command({"LLEN", "cg:{c:a}:history:" + doc["consent_id"].get<std::string>()})
                  .integer,
              100);
    EXPECT_LT(r.body.size(), 100U * 1024) << "bounded, whatever the visitor did";
}

TEST(ConsentRecords, TheRecordEndpointsNeedTheSignedCookie) {
    consent_site site;
    const auto d = decide(site, R"({"action": "accept-all"})");

    const auto none = site.get("/_consent/record");
    const auto forged =
        site.get("/_consent/record", "cg_consent=1.AAAAAAAAAAAAAAAAAAAAAA.f.a.0.1.x.y");
    cg::test::http_request erase;
    erase.method = "DELETE";
    erase.target = "/_consent/record";
    const auto erase_none = site.send(erase);

    EXPECT_EQ(none.status, 401U) << none.body;
    EXPECT_EQ(forged.status, 401U) << forged.body;
    EXPECT_EQ(erase_none.status, 401U) << erase_none.body;
    EXPECT_EQ(
        site.redis().command({"EXISTS", "cg:{c:a}:consent:" + d.body.value("consent_id", "")}).integer,
        1);
}

TEST(ConsentRecords, ErasureRemovesTheRecordItsAuditEntriesAndTheConsentCookie) {
    consent_site site;
    const auto other = decide(site, R"({"action": "accept-all"})");
    const auto first = decide(site, R"({"categories": ["analytics"]})");
    const auto second = decide(site, R"({"action": "accept-all"})", first.cookie);
    const std::string id = first.body.value("consent_id", "");
    const std::string other_id = other.body.value("consent_id", "");
    cg::test::http_request erase;
    erase.method = "DELETE";
    erase.target = "/_consent/record";
    erase.fields = {{"Origin", "http://site.test"},
                    {"Cookie", second.cookie + "; _ga=GA1.1.111.222"}};

    const auto r = site.send(erase);

    ASSERT_EQ(r.status, 200U) << r.ec.message() << r.body;
    EXPECT_EQ(json_of(r)["erased"], true) << r.body;
    const auto cleared = set_cookies_named(r, "cg_consent");
    ASSERT_EQ(cleared.size(), 1U);
    EXPECT_THAT(cleared[0], AllOf(StartsWith("cg_consent=;"), HasSubstr("Max-Age=0")));
    EXPECT_THAT(set_cookies_named(r, "_ga"), ElementsAre(HasSubstr("Max-Age=0")));
    EXPECT_EQ(site.redis().command({"EXISTS", "cg:{c:a}:consent:" + id}).integer, 0);
    const auto stream = audit_stream(site.redis());
    EXPECT_THAT(methods_of(stream, id), IsEmpty());
    EXPECT_THAT(methods_of(stream, other_id), ElementsAre("accept-all")) << "only this visitor";
    EXPECT_EQ(site.redis().command({"EXISTS", "cg:{c:a}:consent:" + other_id}).integer, 1);
    const auto after = site.get("/_consent/record", second.cookie);
    EXPECT_EQ(after.status, 200U) << after.body;
    EXPECT_THAT(json_of(after)["events"], IsEmpty()) << after.body;
}

TEST(ConsentRecords, TheAdminListenerShowsAHistoryAndTheCountsPerMethod) {
    consent_site site;
    const auto first = decide(site, R"({"categories": ["analytics"]})");
    decide(site, R"({"action": "reject-all"})", first.cookie);
    decide(site, R"({"action": "accept-all"})");
    const std::string id = first.body.value("consent_id", "");

    const auto history = site.admin("/consent/history?site=a&id=" + id);
    const auto counts = site.admin("/consent/counts");
    const auto bad = site.admin("/consent/history?site=nope&id=" + id);

    ASSERT_EQ(history.status, 200U) << history.body;
    const auto h = json_of(history);
    EXPECT_EQ(h["consent_id"], id);
    ASSERT_EQ(h["events"].size(), 2U) << history.body;
    EXPECT_EQ(h["events"][0]["method"], "custom");
    EXPECT_EQ(h["events"][1]["method"], "withdraw");
    ASSERT_EQ(counts.status, 200U) << counts.body;
    const auto c = json_of(counts);
    EXPECT_EQ(c["a"].value("custom", 0), 1) << counts.body;
    EXPECT_EQ(c["a"].value("withdraw", 0), 1) << counts.body;
    EXPECT_EQ(c["a"].value("accept-all", 0), 1) << counts.body;
    EXPECT_EQ(bad.status, 400U) << bad.body;
}

TEST(ConsentOutage, DecisionsTakeEffectWhileRedisIsDownAndAreReplayedWhenItComesBack) {
    consent_site site{{.redis = false}};

    const auto d = decide(site, R"({"categories": ["analytics"]})");
    const auto pages = site.get("/cookies", d.cookie);
    const auto ready = site.readyz();

    EXPECT_EQ(d.body["recorded"], "journaled") << d.body;
    EXPECT_THAT(cg::test::set_cookie_names(pages), ElementsAre("PHPSESSID", "_ga", "_ga_ABC123"));
    EXPECT_EQ(ready["ready"], true) << ready << "\nRedis down must not make the gateway unready";
    EXPECT_EQ(ready["consent_store"]["redis"], "down") << ready;
    EXPECT_EQ(ready["consent_store"]["journal_events"], 1) << ready;
    EXPECT_EQ(journal_event_ids(site.dir() / "consent-journal.jsonl").size(), 1U);

    site.start_redis();

    ASSERT_TRUE(eventually([&] { return redis_caught_up(site); }, 10s)) << site.readyz();
    const std::string id = d.body.value("consent_id", "");
    EXPECT_EQ(site.redis().command({"HGET", "cg:{c:a}:consent:" + id, "method"}).text, "custom");
    EXPECT_THAT(methods_of(audit_stream(site.redis()), id), ElementsAre("custom"));
    EXPECT_EQ(site.metric(R"(cg_consent_events_total{outcome="replayed"})"), 1.0);
    EXPECT_EQ(site.metric("cg_consent_journal_events"), 0.0);
    EXPECT_EQ(site.metric("cg_redis_up"), 1.0);
    const auto record = site.get("/_consent/record", d.cookie);
    EXPECT_EQ(json_of(record)["events"].size(), 1U) << record.body;
}

TEST(ConsentOutage, JournaledEventsSurviveAGatewayKillAndAreStoredExactlyOnce) {
    consent_site site{{.redis = false}};
    const auto a = decide(site, R"({"action": "accept-all"})");
    const auto b = decide(site, R"({"action": "reject-all"})");
    const auto c = decide(site, R"({"categories": ["preferences"]})", a.cookie);
    const auto journal = site.dir() / "consent-journal.jsonl";
    const auto journaled = journal_event_ids(journal);
    ASSERT_EQ(journaled.size(), 3U);
    const std::string saved = read_file(journal);

    site.kill_gateway();
    site.start_redis();
    ASSERT_TRUE(site.restart_gateway()) << site.gateway().output();

    ASSERT_TRUE(eventually([&] { return redis_caught_up(site); }, 10s)) << site.readyz();
    const auto stored = [&] {
        std::multiset<std::string> ids;
        for (const auto& e : audit_stream(site.redis())) {
            ids.insert(e.count("event_id") != 0 ? e.at("event_id") : "?");
        }
        return ids;
    };
    const std::multiset<std::string> expected(journaled.begin(), journaled.end());
    EXPECT_EQ(stored(), expected);
    EXPECT_EQ(json_of(site.get("/_consent/record", c.cookie))["events"].size(), 2U);
    EXPECT_EQ(json_of(site.get("/_consent/record", b.cookie))["events"].size(), 1U);

    // The same journal again (as if the gateway had died before truncating it): replaying is
    // idempotent by event id.
    ASSERT_EQ(site.gateway().stop(), 0) << site.gateway().output();
    cg::test::write_file(journal, saved);
    ASSERT_TRUE(site.restart_gateway()) << site.gateway().output();
    ASSERT_TRUE(eventually([&] { return redis_caught_up(site); }, 10s)) << site.readyz();
    EXPECT_EQ(stored(), expected);
    const auto counts = json_of(site.admin("/consent/counts"));
    int total = 0;
    for (const auto& [method, n] : counts["a"].items()) {
        total += n.get<int>();
    }
    EXPECT_EQ(total, 3) << counts;
}

}  // namespace
