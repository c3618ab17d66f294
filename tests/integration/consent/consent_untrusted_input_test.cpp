// Bytes a visitor sends that are not text (STYLE §4: untrusted input never throws): a form
// field percent-decodes to any byte, and the answer quoting it must still be sent, as JSON to a
// script and as an HTML page to a browser without JavaScript.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "consent_fixture.hpp"

namespace {

using cg::test::consent_site;
using cg::test::http_request;
using cg::test::json_of;
using cg::test::set_cookies;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

http_request form_post(std::string body, std::string accept = "application/json") {
    http_request r;
    r.method = "POST";
    r.target = "/_consent";
    r.fields = {{"Content-Type", "application/x-www-form-urlencoded"},
                {"Origin", std::string{cg::test::site_origin}}};
    if (!accept.empty()) {
        r.fields.emplace_back("Accept", std::move(accept));
    }
    r.body = std::move(body);
    return r;
}

TEST(ConsentUntrustedInput, AFormCategoryThatIsNotUtf8IsA400WithAJsonMessage) {
    consent_site site{{.redis = false}};

    const auto r = site.send(form_post("category=%FF"));

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U) << r.body;
    const auto body = json_of(r);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_THAT(body.value("error", ""), HasSubstr("unknown category \"\xEF\xBF\xBD\""));
    EXPECT_THAT(set_cookies(r), IsEmpty());
}

TEST(ConsentUntrustedInput, ABrowserGetsTheSameAnswerAsAReadablePage) {
    consent_site site{{.redis = false}};

    const auto r = site.send(form_post("category=%FF&language=nn", ""));

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_THAT(r.body, HasSubstr(R"(<html lang="nn">)"));
    EXPECT_THAT(r.body, HasSubstr("unknown category &quot;\xEF\xBF\xBD&quot;"));
    EXPECT_THAT(r.body, HasSubstr("Tilbake til sida"));
}

// Item 7: a quote of 40 bytes used to end inside "é".
TEST(ConsentUntrustedInput, ACategoryCutInsideACharacterIsA400) {
    consent_site site{{.redis = false}};

    const auto r = site.send(form_post("category=" + std::string(39, 'x') + "%C3%A9"));

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U) << r.body;
    EXPECT_THAT(json_of(r).value("error", ""),
                HasSubstr("unknown category \"" + std::string(39, 'x') + "...\""));
}

TEST(ConsentUntrustedInput, AFormActionThatIsNotUtf8IsA400AndTheGatewayGoesOn) {
    consent_site site{{.redis = false}};

    const auto bad = site.send(form_post("action=accept%C3%28all&category=analytics"));
    const auto good = site.send(form_post("action=reject-all"));

    ASSERT_FALSE(bad.ec) << bad.ec.message();
    EXPECT_EQ(bad.status, 400U) << bad.body;
    EXPECT_THAT(json_of(bad).value("error", ""), HasSubstr("unknown action"));
    EXPECT_EQ(good.status, 303U) << good.ec.message() << good.body;
}

TEST(ConsentUntrustedInput, AReturnPathBeyondAsciiIsPercentEncodedInLocation) {
    consent_site site{{.redis = false}};

    const auto r = site.send(form_post("action=reject-all&return_to=%2Fbl%C3%A5b%C3%A6r+%FF"));

    ASSERT_EQ(r.status, 303U) << r.ec.message() << r.body;
    EXPECT_EQ(r.header("Location"), "/bl%C3%A5b%C3%A6r%20%FF");
}

TEST(ConsentUntrustedInput, AJsonBodyThatIsNotUtf8IsA400) {
    consent_site site{{.redis = false}};

    const auto r = site.send(cg::test::decision("{\"categories\": [\"\xFF\"]}"));

    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 400U) << r.body;
    EXPECT_FALSE(json_of(r).value("error", "").empty()) << r.body;
}

}  // namespace
