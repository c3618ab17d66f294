#include "banner/html_tokenizer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;
using cg::banner::html_text_state;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer;
using cg::banner::html_tokenizer_options;

// Renders tokens compactly: <name a="decoded"/>, </name>, <!--data-->, <!DOCTYPE>, and text
// as the input bytes it covers. Adjacent text pieces are merged so splits compare equal.
struct recorder {
    std::string_view input;
    std::vector<std::string> tokens;
    std::vector<std::uint64_t> spans;  // begin, end pairs, to check coverage
    bool last_was_text = false;

    void operator()(const html_token& t) {
        spans.push_back(t.begin);
        spans.push_back(t.end);
        std::string s;
        switch (t.kind) {
            case html_token_kind::text: {
                const auto text = std::string{input.substr(t.begin, t.end - t.begin)};
                if (last_was_text) {
                    tokens.back() += text;
                } else {
                    tokens.push_back("#" + text);
                }
                last_was_text = true;
                return;
            }
            case html_token_kind::start_tag:
            case html_token_kind::end_tag:
                s = t.kind == html_token_kind::start_tag ? "<" : "</";
                s += t.name;
                for (const auto& a : t.attributes) {
                    s += " " + a.name + "=\"" + a.value + "\"";
                }
                s += t.self_closing ? "/>" : ">";
                break;
            case html_token_kind::comment:
                s = "<!--" + t.data + "-->";
                break;
            case html_token_kind::doctype:
                s = "<!DOCTYPE>";
                break;
        }
        tokens.push_back(s);
        last_was_text = false;
    }
};

std::vector<std::string> tokenize_chunks(std::string_view input,
                                         const std::vector<std::size_t>& cuts,
                                         html_tokenizer_options options = {}) {
    html_tokenizer tokenizer{std::move(options)};
    recorder rec{input, {}, {}, false};
    html_tokenizer::token_handler handler = [&](const html_token& t) { rec(t); };
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        tokenizer.feed(input.substr(from, cut - from), false, handler);
        from = cut;
    }
    tokenizer.feed(input.substr(from), true, handler);
    // Spans are contiguous and cover the whole input.
    std::uint64_t at = 0;
    for (std::size_t i = 0; i < rec.spans.size(); i += 2) {
        EXPECT_EQ(rec.spans[i], at) << "gap or overlap in " << input;
        at = rec.spans[i + 1];
    }
    EXPECT_EQ(at, input.size());
    return rec.tokens;
}

// The tags a test filter wants: those that switch the text state (always reported anyway),
// <b> and </p>.
bool test_wanted(html_token_kind kind, std::string_view name) {
    for (std::string_view n : {"script", "style", "title", "textarea", "xmp", "iframe", "noembed",
                               "noframes", "noscript", "plaintext"}) {
        if (name == n) {
            return true;
        }
    }
    return name == "b" || (kind == html_token_kind::end_tag && name == "p");
}

// Tokens with test_wanted as the filter, the input cut at `cuts`.
std::vector<std::string> tokenize_filtered(std::string_view input,
                                           const std::vector<std::size_t>& cuts) {
    html_tokenizer tokenizer;
    recorder rec{input, {}, {}, false};
    const html_tokenizer::token_handler handler = [&](const html_token& t) { rec(t); };
    const html_tokenizer::tag_filter wanted = test_wanted;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        tokenizer.feed(input.substr(from, cut - from), false, handler, &wanted);
        from = cut;
    }
    tokenizer.feed(input.substr(from), true, handler, &wanted);
    return rec.tokens;
}

// What the filtered tokens must be: all tokens, with the tags test_wanted turns down as text.
std::vector<std::string> tokenize_then_filter(std::string_view input) {
    html_tokenizer tokenizer;
    recorder rec{input, {}, {}, false};
    tokenizer.feed(input, true, [&](const html_token& t) {
        if ((t.kind == html_token_kind::start_tag || t.kind == html_token_kind::end_tag) &&
            !test_wanted(t.kind, t.name)) {
            html_token text;
            text.begin = t.begin;
            text.end = t.end;
            rec(text);
            return;
        }
        rec(t);
    });
    return rec.tokens;
}

std::vector<std::string> tokenize(std::string_view input, html_tokenizer_options options = {}) {
    return tokenize_chunks(input, {}, std::move(options));
}

// Every split at one offset, and one-byte chunks, must give the same tokens.
void expect_split_invariant(std::string_view input) {
    const auto whole = tokenize(input);
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        EXPECT_EQ(tokenize_chunks(input, {cut}), whole) << "split at " << cut << ": " << input;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < input.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(tokenize_chunks(input, bytes), whole) << "1-byte chunks: " << input;
}

using tokens = std::vector<std::string>;

TEST(HtmlTokenizer, ReadsStartAndEndTagsWithAttributes) {
    EXPECT_EQ(tokenize("<P Class=x id='a>b' data-X=\"1 &amp; 2\">hi</P >"),
              (tokens{"<p class=\"x\" id=\"a>b\" data-x=\"1 & 2\">", "#hi", "</p>"}));
}

TEST(HtmlTokenizer, KeepsRawAttributeValueAndDecodesCommonReferences) {
    html_tokenizer tokenizer;
    std::vector<html_token> seen;
    tokenizer.feed("<a href=\"/x?a=1&amp;b=2&lt;&#65;&#x42;&quot\" title=&copy=x>", true,
                   [&](const html_token& t) { seen.push_back(t); });
    ASSERT_EQ(seen.size(), 1U);
    const auto* href = seen[0].find("href");
    ASSERT_NE(href, nullptr);
    EXPECT_EQ(href->raw_value, "/x?a=1&amp;b=2&lt;&#65;&#x42;&quot");
    EXPECT_EQ(href->value, "/x?a=1&b=2<AB\"");
    ASSERT_NE(seen[0].find("title"), nullptr);
    EXPECT_EQ(seen[0].find("title")->value, "&copy=x");  // legacy rule: '=' blocks decoding
    EXPECT_EQ(seen[0].begin, 0U);
}

TEST(HtmlTokenizer, DropsDuplicateAttributes) {
    EXPECT_EQ(tokenize("<a x=1 X=2>"), (tokens{"<a x=\"1\">"}));
}

TEST(HtmlTokenizer, ReadsSelfClosingFlag) {
    EXPECT_EQ(tokenize("<br/><img src=a />"), (tokens{"<br/>", "<img src=\"a\"/>"}));
}

TEST(HtmlTokenizer, ReadsCommentsIncludingAbruptOnes) {
    EXPECT_EQ(tokenize("<!-->a<!--->b<!-- x --!>c<!--a--b-->"),
              (tokens{"<!---->", "#a", "<!---->", "#b", "<!-- x -->", "#c", "<!--a--b-->"}));
}

TEST(HtmlTokenizer, ReadsDoctypeAsOneToken) {
    EXPECT_EQ(tokenize("<!DocType html PUBLIC \"x\"><html>"), (tokens{"<!DOCTYPE>", "<html>"}));
}

TEST(HtmlTokenizer, TurnsOddMarkupIntoBogusComments) {
    EXPECT_EQ(tokenize("<?xml v?><![CDATA[x]]><!x></ y>"),
              (tokens{"<!--?xml v?-->", "<!--[CDATA[x]]-->", "<!--x-->", "<!-- y-->"}));
}

TEST(HtmlTokenizer, TreatsStrayLessThanAsText) {
    EXPECT_EQ(tokenize("a < b <3 </> c"), (tokens{"#a < b <3 </> c"}));
}

TEST(HtmlTokenizer, ScriptContentIsNotTags) {
    EXPECT_EQ(tokenize("<script>if (a<b) x='</head>';</script><b>"),
              (tokens{"<script>", "#if (a<b) x='</head>';", "</script>", "<b>"}));
    EXPECT_EQ(tokenize("<script>a<b>'</scripty>'</SCRIPT>x"),
              (tokens{"<script>", "#a<b>'</scripty>'", "</script>", "#x"}));
}

TEST(HtmlTokenizer, ScriptEscapedStatesHideEndTagAfterScriptStart) {
    // Browsers: after "<!--" and "<script", "</script>" does not end the element until "-->".
    EXPECT_EQ(tokenize("<script><!--<script>x='</script>'--></script><p>"),
              (tokens{"<script>", "#<!--<script>x='</script>'-->", "</script>", "<p>"}));
    // Without a nested "<script" the escaped state still ends at </script>.
    EXPECT_EQ(tokenize("<script><!--x='</script>'--><p>"),
              (tokens{"<script>", "#<!--x='", "</script>", "#'-->", "<p>"}));
}

TEST(HtmlTokenizer, RcdataAndRawtextEndOnlyAtTheirOwnEndTag) {
    EXPECT_EQ(tokenize("<title>a</head><b></title><textarea></textarea ></textarea>"),
              (tokens{"<title>", "#a</head><b>", "</title>", "<textarea>", "</textarea>",
                      "</textarea>"}));
    EXPECT_EQ(tokenize("<style>p{}</head><!--</style>-->"),
              (tokens{"<style>", "#p{}</head><!--", "</style>", "#-->"}));
    EXPECT_EQ(tokenize("<noscript><p></noscript>"), (tokens{"<noscript>", "#<p>", "</noscript>"}));
}

TEST(HtmlTokenizer, PlaintextNeverEnds) {
    EXPECT_EQ(tokenize("<plaintext></plaintext><b>"), (tokens{"<plaintext>", "#</plaintext><b>"}));
}

TEST(HtmlTokenizer, StartsInRequestedState) {
    html_tokenizer_options options;
    options.initial_state = html_text_state::rcdata;
    options.last_start_tag = "xmp";
    EXPECT_EQ(tokenize("<a></xmp>", options), (tokens{"#<a>", "</xmp>"}));
}

TEST(HtmlTokenizer, EndOfInputInsideTagBecomesText) {
    EXPECT_EQ(tokenize("a<b c=\"d"), (tokens{"#a<b c=\"d"}));
    EXPECT_EQ(tokenize("a<"), (tokens{"#a<"}));
    EXPECT_EQ(tokenize("<!-- open"), (tokens{"<!-- open-->"}));
    EXPECT_EQ(tokenize("<!d"), (tokens{"<!--d-->"}));
}

TEST(HtmlTokenizer, HoldsPendingTagAcrossChunks) {
    html_tokenizer tokenizer;
    std::vector<std::string> names;
    const auto handler = [&](const html_token& t) { names.push_back(t.name); };
    tokenizer.feed("ab<di", false, handler);
    ASSERT_TRUE(tokenizer.hold_from().has_value());
    EXPECT_EQ(*tokenizer.hold_from(), 2U);
    tokenizer.feed("v class=x>", false, handler);
    EXPECT_FALSE(tokenizer.hold_from().has_value());
    EXPECT_EQ(names, (std::vector<std::string>{"", "div"}));
}

TEST(HtmlTokenizer, GivesUpHoldingOversizedTagButStaysInStep) {
    html_tokenizer_options options;
    options.max_token_bytes = 16;
    html_tokenizer tokenizer{options};
    std::vector<html_token> seen;
    const auto handler = [&](const html_token& t) { seen.push_back(t); };
    tokenizer.feed("<script data-x=\"", false, handler);
    tokenizer.feed(std::string(100, 'y'), false, handler);
    EXPECT_FALSE(tokenizer.hold_from().has_value());
    tokenizer.feed("\"></head></script>", true, handler);
    ASSERT_GE(seen.size(), 3U);
    EXPECT_EQ(seen[0].kind, html_token_kind::start_tag);
    EXPECT_EQ(seen[0].name, "script");
    EXPECT_TRUE(seen[0].truncated);
    EXPECT_EQ(seen[1].kind, html_token_kind::text);  // </head> is script text
    EXPECT_EQ(seen.back().kind, html_token_kind::end_tag);
    EXPECT_EQ(seen.back().name, "script");
}

const char* const awkward_corpus[] = {
    "<!DOCTYPE html><html><head><title>x</head></title></HEAD ><body>",
    "\xEF\xBB\xBF<!doctype html><head><meta a='>'></head>",
    "<script>var s = \"<!--\"; document.write('<script>x</script>'); </script></head>",
    "<!--[if IE]><script src=ie.js></script><![endif]--></head>",
    "<template><head></head></template></head>",
    "<textarea></head></textarea><p a=b/c d = \"e\" f>",
    "<a href=x?a=1&amp;b=2&c>t</a><!---><!-->--!>",
    "<script><!--<script></script>--></script><script><!--</script>",
    "<p =x \"y 'z <q>< /p><p/ a><",
    "<!DOCTYPE html SYSTEM \"a>b\"><?pi?></ x><!a--b>",
};

TEST(HtmlTokenizer, AwkwardCorpusIsSplitInvariant) {
    for (const char* input : awkward_corpus) {
        expect_split_invariant(input);
    }
}

// The fast path for unwanted tags (skip_unreported_tag) and the state machine (for tags cut by
// a chunk boundary) must agree on where every tag ends: each case has a wanted tag (<b>, </p>)
// where a wrong idea of an unwanted tag's end would swallow it or make it up.
constexpr std::string_view filter_corpus[] = {
    "<i class=\"a><b>\" id='c><b>'>x</p><b>y</b>"sv,
    "<a =\"x><b>y\">z</a><b =\"x>y\">z</b>"sv,
    "<div a\"b='c><b>'>e</div ><i/ a='<b>'/>f<i a=b/ ><b>g</P x='>'>"sv,
    "<span a = \"1<b>\" b= '2<b>' c =3<b> d>t</span><b\ta\n=\r\"v>\"/>"sv,
    "<ul><li a=b'<b>c<li a='b'c><b>d</ul><b a='x' b=\"y\"c=d>e</b>"sv,
    "<i a= =\"<b>\"><i a=\"\"\"<b>\"><i a=''b'<b>'><i a/='<b>'><i / ='<b>'>"sv,
    "<x-very-long-custom-element-name-indeed a='<b>'>y</x-very-long-custom-element-name-indeed>"sv,
    "<i a='unterminated><b>and more text"sv,
    "<i a=\"x\0y<b>\">z<q\0r a='<b>'>s</q\0r><B>t</B>"sv,
    "<br/><img src=a.png/><hr /><i/>x<script a='>'>if (a<b) x='</p>'</script><p>"sv,
    "<title><p></title><i><textarea>a</textarea><style>p{}</style></P>"sv,
    "<template><p>x</p></template><noscript><p>y</p></noscript></p>"sv,
    "</i a='<b>'></i a=\"></p>\"></i =\"<b>\">"sv,
    "<i a=b c='x>'<b>d><i a=b\"c\" d='>'<b>"sv,
    // Wanted tags read in one go build the same attributes as step().
    "<b a=1 A=2 a='3'><B CLASS=X Id=\"y\"><b/><b a/><b a= ><b =a><b a=\"\" b><b/ a =b / >"sv,
    "<b href='/x?a=1&amp;b=2&c' t=\"a\r\nb\" u=&lt;&#65;&#x42;>"sv,
};

TEST(HtmlTokenizer, FilteredTagsStayTextAtEverySplit) {
    std::vector<std::string_view> inputs(std::begin(filter_corpus), std::end(filter_corpus));
    inputs.insert(inputs.end(), std::begin(awkward_corpus), std::end(awkward_corpus));
    for (const std::string_view in : inputs) {
        const auto expected = tokenize_then_filter(in);
        EXPECT_EQ(tokenize_filtered(in, {}), expected) << in;
        for (std::size_t cut = 0; cut <= in.size(); ++cut) {
            EXPECT_EQ(tokenize_filtered(in, {cut}), expected) << "split at " << cut << ": " << in;
        }
    }
}

TEST(HtmlTokenizer, MalformedBytesNeverCrash) {
    std::string input;
    for (int i = 0; i < 4096; ++i) {
        input += static_cast<char>((i * 7919 + i / 13) % 256);
        if (i % 17 == 0) {
            input += "<!--<script></x><a b='";
        }
    }
    const auto whole = tokenize(input);
    EXPECT_FALSE(whole.empty());
    EXPECT_EQ(tokenize_chunks(input, {1, 2, 100, 1000, 2047}), whole);
}

}  // namespace
