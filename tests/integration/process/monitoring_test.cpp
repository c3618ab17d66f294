// The monitoring files we ship (packaging/monitoring/: Prometheus rules, a Grafana dashboard)
// against the real gateway's /metrics: every metric they name exists, with the labels they
// select on, so a renamed metric cannot silently blank a panel or mute an alert.
#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_process.hpp"
#include "support/raw_client.hpp"
#include "support/read_file.hpp"
#include "support/test_upstream.hpp"

namespace {

using cg::test::gateway_process;
using cg::test::temp_dir;
using cg::test::test_upstream;

const std::filesystem::path monitoring = std::filesystem::path{CG_SOURCE_DIR} / "packaging" /
                                         "monitoring";

/// Metric name -> the label names its samples carry, from a text exposition. Histogram series
/// (_bucket, _sum, _count) count under their own names. A family declared by "# TYPE" without
/// samples (the certificate expiry without TLS) is known, with no labels.
std::map<std::string, std::set<std::string>> exposed(const std::string& text) {
    std::map<std::string, std::set<std::string>> out;
    const std::regex sample{R"(^(cg_[a-z0-9_]+)(\{([^}]*)\})? )"};
    const std::regex label{R"(([a-z_]+)=")"};
    const std::regex family{R"(^# TYPE (cg_[a-z0-9_]+) )"};
    for (const auto& line : cg::test::lines_of(text)) {
        std::smatch m;
        if (std::regex_search(line, m, family)) {
            out[m[1].str()];
            continue;
        }
        if (!std::regex_search(line, m, sample)) {
            continue;
        }
        auto& labels = out[m[1].str()];
        const std::string inside = m[3].str();
        for (auto it = std::sregex_iterator(inside.begin(), inside.end(), label);
             it != std::sregex_iterator(); ++it) {
            labels.insert((*it)[1].str());
        }
    }
    return out;
}

/// Every `cg_...` metric a PromQL text selects, with the label names in its selector.
std::multimap<std::string, std::set<std::string>> selected(const std::string& text) {
    std::multimap<std::string, std::set<std::string>> out;
    const std::regex selector{R"((cg_[a-z0-9_]+)(\{([^}]*)\})?)"};
    const std::regex label{R"(([a-z_]+)\s*(=~|!~|!=|=))"};
    for (auto it = std::sregex_iterator(text.begin(), text.end(), selector);
         it != std::sregex_iterator(); ++it) {
        std::set<std::string> labels;
        const std::string inside = (*it)[3].str();
        for (auto l = std::sregex_iterator(inside.begin(), inside.end(), label);
             l != std::sregex_iterator(); ++l) {
            labels.insert((*l)[1].str());
        }
        out.emplace((*it)[1].str(), std::move(labels));
    }
    return out;
}

/// The PromQL expressions of a Grafana dashboard's panels.
std::vector<std::string> dashboard_queries(const nlohmann::json& d) {
    std::vector<std::string> out;
    for (const auto& p : d.at("panels")) {
        for (const auto& t : p.at("targets")) {
            out.push_back(t.at("expr").get<std::string>());
        }
    }
    for (const auto& v : d.at("templating").at("list")) {
        if (v.contains("definition")) {
            out.push_back(v.at("definition").get<std::string>());
        }
    }
    return out;
}

void expect_known(const std::string& where, const std::string& text,
                  const std::map<std::string, std::set<std::string>>& metrics) {
    const std::set<std::string> scrape_labels{"instance", "job"};
    for (const auto& [name, labels] : selected(text)) {
        const auto it = metrics.find(name);
        if (it == metrics.end()) {
            ADD_FAILURE() << where << " names " << name << ", which /metrics does not have";
            continue;
        }
        for (const auto& l : labels) {
            EXPECT_TRUE(it->second.contains(l) || scrape_labels.contains(l))
                << where << " selects " << name << " by label " << l
                << ", which its samples do not carry";
        }
    }
}

TEST(Monitoring, TheRulesAndTheDashboardNameOnlyMetricsAndLabelsTheGatewayExposes) {
    test_upstream upstream;
    temp_dir dir{"cg-monitoring"};
    cg::test::gateway_settings settings;
    settings.upstream_port = upstream.port();
    gateway_process gateway{dir, cg::test::gateway_config(settings)};
    ASSERT_TRUE(gateway.wait_ready()) << gateway.output();
    const auto scrape = cg::test::http_get(gateway.admin_port(), "localhost", "/metrics");
    ASSERT_EQ(scrape.status, 200U);
    const auto metrics = exposed(scrape.body);
    ASSERT_GT(metrics.size(), 30U);

    const std::string rules = cg::test::read_file(monitoring / "consent-gateway.rules.yml");
    expect_known("consent-gateway.rules.yml", rules, metrics);

    const auto dashboard =
        nlohmann::json::parse(cg::test::read_file(monitoring / "consent-gateway.grafana.json"));
    std::set<std::string> recorded;
    const std::regex record{R"(record:\s*(cg:[a-z0-9_:]+))"};
    for (auto it = std::sregex_iterator(rules.begin(), rules.end(), record);
         it != std::sregex_iterator(); ++it) {
        recorded.insert((*it)[1].str());
    }
    std::set<int> ids;
    for (const auto& p : dashboard.at("panels")) {
        EXPECT_TRUE(ids.insert(p.at("id").get<int>()).second) << "panel id " << p.at("id");
        EXPECT_FALSE(p.at("targets").empty()) << p.at("title");
    }
    for (const auto& q : dashboard_queries(dashboard)) {
        expect_known("the dashboard", q, metrics);
        const std::regex uses_record{R"(cg:[a-z0-9_:]+)"};
        for (auto it = std::sregex_iterator(q.begin(), q.end(), uses_record);
             it != std::sregex_iterator(); ++it) {
            EXPECT_TRUE(recorded.contains(it->str())) << it->str() << " is not recorded";
        }
    }
    EXPECT_EQ(gateway.stop(), 0) << gateway.output();
}

}  // namespace
