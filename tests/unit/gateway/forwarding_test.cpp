#include "gateway/forwarding.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/fields.hpp>

namespace cg::gateway {
namespace {

namespace http = boost::beast::http;
using names = std::vector<std::string>;

// Field names in order, as they would go on the wire.
names field_names(const http::fields& f) {
    names out;
    for (const auto& field : f) {
        out.emplace_back(field.name_string());
    }
    return out;
}

// Every value of `name`, in order.
names values(const http::fields& f, std::string_view name) {
    names out;
    for (const auto& field : f) {
        if (boost::beast::iequals(field.name_string(), name)) {
            out.emplace_back(field.value());
        }
    }
    return out;
}

// --- strip_hop_by_hop -----------------------------------------------------------------------

TEST(StripHopByHop, RemovesConnectionAndTheFieldsItNames) {
    http::fields f;
    f.insert(http::field::host, "example.no");
    f.insert(http::field::connection, "close, X-Secret");
    f.insert("X-Secret", "1");
    f.insert("X-Kept", "2");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"Host", "X-Kept"}));
}

TEST(StripHopByHop, RemovesEveryCopyOfANamedField) {
    http::fields f;
    f.insert(http::field::connection, "x-secret");
    f.insert("X-Secret", "1");
    f.insert("X-Kept", "2");
    f.insert("x-SECRET", "3");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-Kept"}));
}

TEST(StripHopByHop, HonoursSeveralConnectionFields) {
    http::fields f;
    f.insert(http::field::connection, "X-A");
    f.insert("X-A", "1");
    f.insert("X-Kept", "k");
    f.insert(http::field::connection, "X-B, X-C");
    f.insert("X-B", "2");
    f.insert("X-C", "3");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-Kept"}));
}

TEST(StripHopByHop, ToleratesOddSpacingInConnection) {
    http::fields f;
    f.insert(http::field::connection, "X-A ,X-B\t,   X-C");
    f.insert("X-A", "1");
    f.insert("X-B", "2");
    f.insert("X-C", "3");
    f.insert("X-Kept", "k");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-Kept"}));
}

// RFC 9110 §5.6.1: a recipient must accept empty list elements such as ", ,".
TEST(StripHopByHop, ToleratesEmptyListElementsInConnection) {
    http::fields f;
    f.insert(http::field::connection, ", X-A,, X-B ,");
    f.insert("X-A", "1");
    f.insert("X-B", "2");
    f.insert("X-Kept", "k");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-Kept"}));
}

TEST(StripHopByHop, RemovesTheFixedHopByHopSet) {
    http::fields f;
    f.insert(http::field::host, "example.no");
    f.insert(http::field::keep_alive, "timeout=5");
    f.insert(http::field::te, "trailers");
    f.insert(http::field::trailer, "X-T");
    f.insert(http::field::upgrade, "h2c");
    f.insert(http::field::proxy_connection, "keep-alive");
    f.insert(http::field::proxy_authenticate, "Basic");
    f.insert(http::field::proxy_authorization, "Basic eDp5");
    f.insert(http::field::content_type, "text/plain");
    f.insert("X-End", "kept");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"Host", "Content-Type", "X-End"}));
}

TEST(StripHopByHop, RemovesFixedSetWrittenInAnyCase) {
    http::fields f;
    f.insert("keep-alive", "timeout=5");
    f.insert("PROXY-AUTHORIZATION", "Basic eDp5");
    f.insert("te", "trailers");
    f.insert("X-End", "kept");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-End"}));
}

TEST(StripHopByHop, KeepsEndToEndFieldsAndTheOrderOfTheirValues) {
    http::fields f;
    f.insert(http::field::host, "example.no");
    f.insert(http::field::cookie, "a=1");
    f.insert(http::field::accept, "*/*");
    f.insert(http::field::cookie, "b=2");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(values(f, "Host"), (names{"example.no"}));
    EXPECT_EQ(values(f, "Accept"), (names{"*/*"}));
    EXPECT_EQ(values(f, "Cookie"), (names{"a=1", "b=2"}));
    EXPECT_EQ(field_names(f).size(), 4U);
}

TEST(StripHopByHop, RemovesUpgradeWithoutKeepUpgrade) {
    http::fields f;
    f.insert(http::field::connection, "Upgrade");
    f.insert(http::field::upgrade, "websocket");
    f.insert("X-End", "kept");

    strip_hop_by_hop(f, false);

    EXPECT_EQ(field_names(f), (names{"X-End"}));
}

TEST(StripHopByHop, KeepsUpgradeWhenAskedAndConnectionNamesIt) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive, Upgrade, X-Secret");
    f.insert(http::field::upgrade, "websocket");
    f.insert("X-Secret", "1");
    f.insert(http::field::keep_alive, "timeout=5");
    f.insert("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");

    strip_hop_by_hop(f, true);

    EXPECT_EQ(values(f, "Upgrade"), (names{"websocket"}));
    EXPECT_EQ(values(f, "Connection"), (names{"upgrade"}));
    EXPECT_EQ(f.count("X-Secret"), 0U);
    EXPECT_EQ(f.count(http::field::keep_alive), 0U);
    EXPECT_EQ(values(f, "Sec-WebSocket-Key"), (names{"dGhlIHNhbXBsZSBub25jZQ=="}));
}

TEST(StripHopByHop, KeepsUpgradeNamedInASecondConnectionField) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive");
    f.insert(http::field::upgrade, "websocket");
    f.insert(http::field::connection, "upgrade");

    strip_hop_by_hop(f, true);

    EXPECT_EQ(values(f, "Upgrade"), (names{"websocket"}));
    EXPECT_EQ(values(f, "Connection"), (names{"upgrade"}));
}

TEST(StripHopByHop, DropsUpgradeWhenConnectionDoesNotNameIt) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive");
    f.insert(http::field::upgrade, "websocket");
    f.insert("X-End", "kept");

    strip_hop_by_hop(f, true);

    EXPECT_EQ(field_names(f), (names{"X-End"}));
}

TEST(StripHopByHop, DropsUpgradeWithoutAnyConnection) {
    http::fields f;
    f.insert(http::field::upgrade, "websocket");

    strip_hop_by_hop(f, true);

    EXPECT_EQ(f.count(http::field::upgrade), 0U);
    EXPECT_EQ(f.count(http::field::connection), 0U);
}

TEST(StripHopByHop, LeavesNoConnectionWhenItNamesUpgradeButNoUpgradeFieldExists) {
    http::fields f;
    f.insert(http::field::connection, "upgrade");
    f.insert("X-End", "kept");

    strip_hop_by_hop(f, true);

    EXPECT_EQ(field_names(f), (names{"X-End"}));
}

TEST(StripHopByHop, LeavesEmptyFieldsEmpty) {
    http::fields f;

    strip_hop_by_hop(f, false);

    EXPECT_EQ(f.begin(), f.end());
}

// --- set_forwarded --------------------------------------------------------------------------

TEST(SetForwarded, UntrustedPeerReplacesSpoofedForwardingFields) {
    http::fields f;
    f.insert(http::field::host, "shop.example.no");
    f.insert("X-Forwarded-For", "6.6.6.6");
    f.insert("x-forwarded-for", "7.7.7.7");
    f.insert("X-Forwarded-Proto", "https");
    f.insert("X-Forwarded-Host", "evil.example");
    f.insert(http::field::forwarded, "for=6.6.6.6;proto=https");
    f.insert("X-Real-IP", "6.6.6.6");

    set_forwarded(f, client_info{"192.0.2.10", false, {}}, "shop.example.no");

    EXPECT_EQ(values(f, "X-Forwarded-For"), (names{"192.0.2.10"}));
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), (names{"http"}));
    EXPECT_EQ(values(f, "X-Forwarded-Host"), (names{"shop.example.no"}));
    EXPECT_EQ(f.count(http::field::forwarded), 0U);
    EXPECT_EQ(f.count("X-Real-IP"), 0U);
    EXPECT_EQ(values(f, "Host"), (names{"shop.example.no"}));
}

TEST(SetForwarded, UntrustedPeerWithoutIncomingFieldsGetsThemSet) {
    http::fields f;

    set_forwarded(f, client_info{"2001:db8::7", false, {}}, "shop.example.no:8080");

    EXPECT_EQ(values(f, "X-Forwarded-For"), (names{"2001:db8::7"}));
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), (names{"http"}));
    EXPECT_EQ(values(f, "X-Forwarded-Host"), (names{"shop.example.no:8080"}));
}

TEST(SetForwarded, TrustedPeerAppendsItselfToTheChain) {
    http::fields f;
    f.insert("X-Forwarded-For", "203.0.113.9");

    set_forwarded(f, client_info{"10.0.0.5", true, {}}, "shop.example.no");

    EXPECT_EQ(values(f, "X-Forwarded-For"), (names{"203.0.113.9, 10.0.0.5"}));
}

TEST(SetForwarded, TrustedPeerJoinsSeveralForwardedForFieldsIntoOne) {
    http::fields f;
    f.insert("X-Forwarded-For", "203.0.113.9");
    f.insert(http::field::accept, "*/*");
    f.insert("x-forwarded-for", "198.51.100.1, 198.51.100.2");

    set_forwarded(f, client_info{"10.0.0.5", true, {}}, "shop.example.no");

    EXPECT_EQ(values(f, "X-Forwarded-For"),
              (names{"203.0.113.9, 198.51.100.1, 198.51.100.2, 10.0.0.5"}));
    EXPECT_EQ(values(f, "Accept"), (names{"*/*"}));
}

TEST(SetForwarded, TrustedPeerKeepsProtoHostForwardedAndRealIp) {
    http::fields f;
    f.insert("X-Forwarded-For", "203.0.113.9");
    f.insert("X-Forwarded-Proto", "https");
    f.insert("X-Forwarded-Host", "www.example.no");
    f.insert(http::field::forwarded, "for=203.0.113.9;proto=https");
    f.insert("X-Real-IP", "203.0.113.9");

    set_forwarded(f, client_info{"10.0.0.5", true, {}}, "internal.example.no");

    EXPECT_EQ(values(f, "X-Forwarded-Proto"), (names{"https"}));
    EXPECT_EQ(values(f, "X-Forwarded-Host"), (names{"www.example.no"}));
    EXPECT_EQ(values(f, "Forwarded"), (names{"for=203.0.113.9;proto=https"}));
    EXPECT_EQ(values(f, "X-Real-IP"), (names{"203.0.113.9"}));
}

TEST(SetForwarded, TrustedPeerWithoutIncomingFieldsStartsTheChain) {
    http::fields f;

    set_forwarded(f, client_info{"10.0.0.5", true, {}}, "shop.example.no");

    EXPECT_EQ(values(f, "X-Forwarded-For"), (names{"10.0.0.5"}));
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), (names{"http"}));
    EXPECT_EQ(values(f, "X-Forwarded-Host"), (names{"shop.example.no"}));
}

// --- is_websocket_upgrade -------------------------------------------------------------------

TEST(IsWebsocketUpgrade, RecognisesTheHandshake) {
    http::fields f;
    f.insert(http::field::connection, "Upgrade");
    f.insert(http::field::upgrade, "websocket");

    EXPECT_TRUE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, IgnoresCaseAndOtherTokens) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive, UPGRADE");
    f.insert(http::field::upgrade, "WebSocket");

    EXPECT_TRUE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, FindsUpgradeInASecondConnectionField) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive");
    f.insert(http::field::connection, "upgrade");
    f.insert(http::field::upgrade, "websocket");

    EXPECT_TRUE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, RefusesUpgradeNotNamedByConnection) {
    http::fields f;
    f.insert(http::field::connection, "keep-alive");
    f.insert(http::field::upgrade, "websocket");

    EXPECT_FALSE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, RefusesOtherProtocols) {
    http::fields f;
    f.insert(http::field::connection, "upgrade");
    f.insert(http::field::upgrade, "h2c");

    EXPECT_FALSE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, RefusesConnectionUpgradeWithoutUpgradeField) {
    http::fields f;
    f.insert(http::field::connection, "upgrade");

    EXPECT_FALSE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, RefusesTokenThatOnlyContainsUpgrade) {
    http::fields f;
    f.insert(http::field::connection, "upgraded");
    f.insert(http::field::upgrade, "websocketx");

    EXPECT_FALSE(is_websocket_upgrade(f));
}

TEST(IsWebsocketUpgrade, RefusesPlainRequest) {
    http::fields f;
    f.insert(http::field::host, "example.no");

    EXPECT_FALSE(is_websocket_upgrade(f));
}

}  // namespace
}  // namespace cg::gateway
