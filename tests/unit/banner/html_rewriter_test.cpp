#include "banner/html_rewriter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using cg::banner::html_rewriter;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer_options;
using cg::banner::inline_script_replacer;
using cg::banner::start_tag_replacer;

constexpr std::string_view snippet = "[[CG]]";

std::string rewrite_chunks(std::string_view input, const std::vector<std::size_t>& cuts,
                           const start_tag_replacer& replacer = {},
                           html_tokenizer_options options = {}) {
    html_rewriter rewriter{std::string{snippet}, replacer, std::move(options)};
    std::string out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        rewriter.write(input.substr(from, cut - from), false, out);
        from = cut;
    }
    rewriter.write(input.substr(from), true, out);
    EXPECT_TRUE(rewriter.inserted());
    return out;
}

std::string rewrite(std::string_view input, const start_tag_replacer& replacer = {}) {
    return rewrite_chunks(input, {}, replacer);
}

// Runs `input` whole, split at every offset, and in 1-byte chunks; all must equal `expected`.
void expect_rewrite(std::string_view input, std::string_view expected,
                    const start_tag_replacer& replacer = {}) {
    EXPECT_EQ(rewrite(input, replacer), expected) << "whole: " << input;
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        EXPECT_EQ(rewrite_chunks(input, {cut}, replacer), expected)
            << "split at " << cut << ": " << input;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < input.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_chunks(input, bytes, replacer), expected) << "1-byte chunks: " << input;
}

struct rewrite_case {
    std::string_view input;
    std::string_view expected;
};

// The snippet is written as [[CG]] in the expectations.
const rewrite_case awkward_corpus[] = {
    {"<html><head><title>t</title></head><body>b</body></html>",
     "<html><head><title>t</title>[[CG]]</head><body>b</body></html>"},
    {"<HTML><HEAD></HEAD ><BODY>", "<HTML><HEAD>[[CG]]</HEAD ><BODY>"},
    {"<head><meta content='a > </head>' x=\">\"></head>",
     "<head><meta content='a > </head>' x=\">\">[[CG]]</head>"},
    {"<head><script>x='</head>'</script></head>",
     "<head><script>x='</head>'</script>[[CG]]</head>"},
    {"<head><script>var a='<!--';var b='</head>';</script></head>",
     "<head><script>var a='<!--';var b='</head>';</script>[[CG]]</head>"},
    {"<head><script><!--\ndocument.write('<script>x</script></head>');\n--></script></head>",
     "<head><script><!--\ndocument.write('<script>x</script></head>');\n--></script>[[CG]]</head>"},
    {"<head><!-- </head> --></head>", "<head><!-- </head> -->[[CG]]</head>"},
    {"<head><!--[if IE]></head><![endif]--></head>",
     "<head><!--[if IE]></head><![endif]-->[[CG]]</head>"},
    {"<head><textarea></head></textarea></head>",
     "<head><textarea></head></textarea>[[CG]]</head>"},
    {"<head><title></head></title></head>", "<head><title></head></title>[[CG]]</head>"},
    {"<head><style>/*</head>*/</style><noscript></head></noscript></head>",
     "<head><style>/*</head>*/</style><noscript></head></noscript>[[CG]]</head>"},
    {"<head><template><template></head></template></head></template></head>",
     "<head><template><template></head></template></head></template>[[CG]]</head>"},
    {"\xEF\xBB\xBF<!DOCTYPE html><head></head>", "\xEF\xBB\xBF<!DOCTYPE html><head>[[CG]]</head>"},
    {"\xEF\xBB\xBF<!DOCTYPE html><p>x", "\xEF\xBB\xBF<!DOCTYPE html>[[CG]]<p>x"},
    {"<!doctype html><body class=\"a>b\"><p>hi", "<!doctype html><body class=\"a>b\">[[CG]]<p>hi"},
    {"<!doctype html><p>hi", "<!doctype html>[[CG]]<p>hi"},
    {"<!doctype html><html lang=nb><meta charset=utf-8><title>t</title><div>x",
     "<!doctype html><html lang=nb><meta charset=utf-8><title>t</title>[[CG]]<div>x"},
    {"<template><p>x</template><p>y", "<template><p>x</template>[[CG]]<p>y"},
    {"", "[[CG]]"},
    {"<html><head><title>x", "<html><head><title>x[[CG]]"},
    {"<p>a<", "[[CG]]<p>a<"},
    {"<head></head", "<head></head[[CG]]"},
    {"<head><!-- open", "<head><!-- open[[CG]]"},
    {"</head></head><body>", "[[CG]]</head></head><body>"},
    {"<head></ head></head>", "<head></ head>[[CG]]</head>"},
    {"<head><!--></head>", "<head><!-->[[CG]]</head>"},
    {"<head><!---></head>", "<head><!--->[[CG]]</head>"},
    {"<head><!-- a --!></head>", "<head><!-- a --!>[[CG]]</head>"},
    {"<head><plaintext></head>", "<head><plaintext></head>[[CG]]"},
    {"<head></head/ x=1>", "<head>[[CG]]</head/ x=1>"},
    {"<body><head></head>", "<body>[[CG]]<head></head>"},
};

TEST(HtmlRewriter, InsertsSnippetOnceInAwkwardDocumentsForEverySplit) {
    for (const auto& c : awkward_corpus) {
        expect_rewrite(c.input, c.expected);
    }
}

TEST(HtmlRewriter, CopiesBytesWithoutHeadOrBodyUnchanged) {
    std::string page = "<div>";
    for (int i = 0; i < 2000; ++i) {
        page += "<a href='/p?i=" + std::to_string(i) + "&amp;x'>\xC3\xA9</a>\r\n";
    }
    EXPECT_EQ(rewrite_chunks(page, {1, 7, 4096, 4097, 30000}), std::string{snippet} + page);
}

TEST(HtmlRewriter, StreamsAroundAnOversizedTag) {
    html_tokenizer_options options;
    options.max_token_bytes = 32;
    const std::string big = "<head><meta content=\"" + std::string(500, 'z') + "\"></head>";
    const std::string expected =
        "<head><meta content=\"" + std::string(500, 'z') + "\">[[CG]]</head>";
    EXPECT_EQ(rewrite_chunks(big, {10, 100, 200, 521}, {}, options), expected);
    // An oversized </head> itself gets the snippet after it, never inside it.
    const std::string big_end = "<head></head " + std::string(100, ' ') + ">";
    EXPECT_EQ(rewrite_chunks(big_end, {8, 60}, {}, options), big_end + "[[CG]]");
}

// Found by fuzz.html_rewriter: with an oversized </head>, where the snippet went depended on
// where the chunks broke. Now it goes after such a tag however the input arrives.
TEST(HtmlRewriter, AnOversizedHeadEndTagGetsTheSnippetAfterItForEverySplit) {
    html_tokenizer_options options;
    options.max_token_bytes = 8;
    const std::string input = R"(<head></head x="</head>"><body>)";
    const std::string expected = R"(<head></head x="</head>">[[CG]]<body>)";
    EXPECT_EQ(rewrite_chunks(input, {}, {}, options), expected);
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        EXPECT_EQ(rewrite_chunks(input, {cut}, {}, options), expected) << "cut at " << cut;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < input.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_chunks(input, bytes, {}, options), expected);
}

// Test-only stand-in for tracker hold-back: neutralises scripts loaded from a tracker host.
std::optional<std::string> hold_tracker_scripts(const html_token& tag) {
    if (tag.name != "script") {
        return std::nullopt;
    }
    const auto* src = tag.find("src");
    if (src == nullptr || src->value.find("tracker.example") == std::string::npos) {
        return std::nullopt;
    }
    return "<script type=\"text/plain\" data-cg-src=\"" + src->raw_value + "\">";
}

TEST(HtmlRewriter, ReplacesStartTagAndStreamsItsScriptContent) {
    expect_rewrite(
        "<head><SCRIPT SRC='https://tracker.example/t.js?a=1&amp;b'>var x='</head>';</script>"
        "<script src=/app.js></script></head>",
        "<head><script type=\"text/plain\" data-cg-src=\"https://tracker.example/t.js?a=1&amp;b\">"
        "var x='</head>';</script><script src=/app.js></script>[[CG]]</head>",
        hold_tracker_scripts);
}

TEST(HtmlRewriter, OffersOnlyRealStartTagsToTheReplacer) {
    expect_rewrite(
        "<head><script>'<script src=//tracker.example/x>'</script>"
        "<!--<script src=//tracker.example/y>--></head>",
        "<head><script>'<script src=//tracker.example/x>'</script>"
        "<!--<script src=//tracker.example/y>-->[[CG]]</head>",
        hold_tracker_scripts);
}

TEST(HtmlRewriter, PutsSnippetAfterAReplacedBodyTag) {
    const start_tag_replacer mark_body = [](const html_token& tag) -> std::optional<std::string> {
        if (tag.kind == html_token_kind::start_tag && tag.name == "body") {
            return std::string{"<body data-cg>"};
        }
        return std::nullopt;
    };
    expect_rewrite("<head></head><p><BODY onload=x()>t", "<head>[[CG]]</head><p><body data-cg>t",
                   mark_body);
    expect_rewrite("<BODY onload=x()>t", "<body data-cg>[[CG]]t", mark_body);
}

// Test-only stand-in for tracker hold-back inside noscript: marks any start tag whose src
// points at a tracker host.
std::optional<std::string> hold_tracker_sources(const html_token& tag) {
    const auto* src = tag.find("src");
    if (src == nullptr || src->value.find("tracker.example") == std::string::npos) {
        return std::nullopt;
    }
    return "<" + tag.name + " data-cg-held>";
}

TEST(HtmlRewriter, HoldsTrackerTagsInsideNoscriptForEverySplit) {
    // The Meta pixel and the GTM iframe, as pasted into pages for visitors without JavaScript.
    expect_rewrite(
        "<head><noscript><img height=\"1\" width=\"1\" "
        "src=\"https://tracker.example/tr?id=1&ev=PageView&noscript=1\"/></noscript></head>"
        "<body><noscript><iframe src=\"https://tracker.example/ns.html?id=GTM-X\" height=\"0\" "
        "width=\"0\" style=\"display:none\"></iframe></noscript><img src=/logo.png>",
        "<head><noscript><img data-cg-held></noscript>[[CG]]</head>"
        "<body><noscript><iframe data-cg-held></iframe></noscript><img src=/logo.png>",
        hold_tracker_sources);
    // Several tags in one noscript, with text and first-party tags between them.
    expect_rewrite(
        "<noscript>a<IMG SRC=//tracker.example/a>b<img src=/x.png><img src='//tracker.example/"
        "b'></noscript>c",
        "<noscript>a<img data-cg-held>b<img src=/x.png><img data-cg-held></noscript>c[[CG]]",
        hold_tracker_sources);
}

TEST(HtmlRewriter, OffersNoscriptStartTagsAsMarkupWithScriptingOffWouldParse) {
    // Comments, script data and RCDATA inside noscript hold no tags; the tags around them do.
    expect_rewrite(
        "<noscript><!--<img src=//tracker.example/c>--><script>'<img src=//tracker.example/s>'"
        "</script><textarea><img src=//tracker.example/t></textarea>"
        "<img src=//tracker.example/ok></noscript>",
        "<noscript><!--<img src=//tracker.example/c>--><script>'<img src=//tracker.example/s>'"
        "</script><textarea><img src=//tracker.example/t></textarea>"
        "<img data-cg-held></noscript>[[CG]]",
        hold_tracker_sources);
    // A replaced <iframe> inside noscript still has its content read as RAWTEXT.
    expect_rewrite(
        "<noscript><iframe src=//tracker.example/f><img src=//tracker.example/i></iframe>"
        "</noscript>",
        "<noscript><iframe data-cg-held><img src=//tracker.example/i></iframe></noscript>[[CG]]",
        hold_tracker_sources);
}

TEST(HtmlRewriter, FirstNoscriptEndTagEndsTheNoscriptContent) {
    // A nested <noscript> is an ordinary element with scripting off; the document's RAWTEXT
    // still ends at the first </noscript>, and what follows is document data again.
    expect_rewrite(
        "<noscript><noscript><img src=//tracker.example/a></noscript>"
        "<img src=//tracker.example/b></noscript><p>",
        "<noscript><noscript><img data-cg-held></noscript>[[CG]]<img data-cg-held></noscript><p>",
        hold_tracker_sources);
    // Browsers end the RAWTEXT at </noscript> even inside what looks like a comment.
    expect_rewrite(
        "<head><noscript><!-- </noscript> --><img src=//tracker.example/a></noscript></head>",
        "<head><noscript><!-- </noscript> --><img data-cg-held></noscript>[[CG]]</head>",
        hold_tracker_sources);
    // ... or an attribute value: the unfinished tag inside is copied as text.
    expect_rewrite("<noscript><img src=\"</noscript>\"><img src=//tracker.example/a></noscript>",
                   "<noscript><img src=\"</noscript>\">[[CG]]<img data-cg-held></noscript>",
                   hold_tracker_sources);
    // Almost-end tags stay noscript content.
    expect_rewrite("<noscript></noscrip><img src=//tracker.example/a></noscripts></noscript>",
                   "<noscript></noscrip><img data-cg-held></noscripts></noscript>[[CG]]",
                   hold_tracker_sources);
}

TEST(HtmlRewriter, NeverPutsTheSnippetInsideNoscript) {
    expect_rewrite("<noscript></head><body></noscript><p>t",
                   "<noscript></head><body></noscript>[[CG]]<p>t", hold_tracker_sources);
    expect_rewrite("<head><noscript><style></head></style></noscript></head>",
                   "<head><noscript><style></head></style></noscript>[[CG]]</head>");
    // Unterminated at the end of the document: closed before the snippet, which would
    // otherwise be inert text; tags inside are still held.
    expect_rewrite("<head><noscript><img src=//tracker.example/a><p",
                   "<head><noscript><img data-cg-held><p</noscript>[[CG]]", hold_tracker_sources);
    expect_rewrite("<noscript><!-- <img src=//tracker.example/a>",
                   "<noscript><!-- <img src=//tracker.example/a></noscript>[[CG]]",
                   hold_tracker_sources);
    // An unterminated noscript after the snippet was placed is left as it is.
    expect_rewrite("<head></head><noscript><img src=//tracker.example/a>",
                   "<head>[[CG]]</head><noscript><img data-cg-held>", hold_tracker_sources);
}

TEST(HtmlRewriter, KeepsNoscriptBytesIdenticalWhenTheReplacerDeclines) {
    const std::string page =
        "<!DOCTYPE html><head><noscript><IMG height=1 src=\"https://tracker.example/t?a&amp;b\"/>"
        "<!-- x --><link rel=stylesheet href=/n.css></noscript></head><body>"
        "<noscript><noscript><iframe src='//tracker.example/f'></iframe>\r\n\xC3\xA9<a </noscript>"
        "<noscript><img src=\"x";
    struct offered_tag {
        std::string name;
        std::string bytes;
    };
    std::vector<offered_tag> offered;
    const start_tag_replacer record = [&](const html_token& tag) -> std::optional<std::string> {
        offered.push_back({tag.name, page.substr(static_cast<std::size_t>(tag.begin),
                                                 static_cast<std::size_t>(tag.end - tag.begin))});
        return std::nullopt;
    };
    const std::string expected =
        "<!DOCTYPE html><head><noscript><IMG height=1 "
        "src=\"https://tracker.example/t?a&amp;b\"/><!-- x --><link "
        "rel=stylesheet href=/n.css></noscript>[[CG]]</head><body>"
        "<noscript><noscript><iframe src='//tracker.example/f'></iframe>"
        "\r\n\xC3\xA9<a </noscript><noscript><img src=\"x";
    EXPECT_EQ(rewrite(page, record), expected);
    // Every start tag is offered once, with its offsets in the whole response.
    const std::vector<std::pair<std::string, std::string>> want = {
        {"head", "<head>"},
        {"noscript", "<noscript>"},
        {"img", "<IMG height=1 src=\"https://tracker.example/t?a&amp;b\"/>"},
        {"link", "<link rel=stylesheet href=/n.css>"},
        {"body", "<body>"},
        {"noscript", "<noscript>"},
        {"noscript", "<noscript>"},
        {"iframe", "<iframe src='//tracker.example/f'>"},
        {"noscript", "<noscript>"},
    };
    ASSERT_EQ(offered.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(offered[i].name, want[i].first) << i;
        EXPECT_EQ(offered[i].bytes, want[i].second) << i;
    }
    const start_tag_replacer decline = [](const html_token&) -> std::optional<std::string> {
        return std::nullopt;
    };
    expect_rewrite(page, expected, decline);
}

TEST(HtmlRewriter, StreamsAroundOversizedTagsInsideNoscript) {
    html_tokenizer_options options;
    options.max_token_bytes = 32;
    // An oversized tag is never offered; the next one is. An oversized `</...` candidate of the
    // document tokenizer is written before it resolves, and the nested tokenizer keeps up.
    const std::string page = "<noscript><img src=//tracker.example/a data-x=\"" +
                             std::string(100, 'z') + "\"><img src=//tracker.example/b></" +
                             std::string(100, 'q') + "><img src=//tracker.example/c></noscript>";
    const std::string expected = "<noscript><img src=//tracker.example/a data-x=\"" +
                                 std::string(100, 'z') + "\"><img data-cg-held></" +
                                 std::string(100, 'q') + "><img data-cg-held></noscript>[[CG]]";
    for (std::size_t cut = 0; cut <= page.size(); ++cut) {
        EXPECT_EQ(rewrite_chunks(page, {cut}, hold_tracker_sources, options), expected)
            << "split at " << cut;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < page.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_chunks(page, bytes, hold_tracker_sources, options), expected);
}

TEST(HtmlRewriter, LeavesNoscriptToTheDocumentTokenizerWhenNotFollowingTheTreeBuilder) {
    html_tokenizer_options options;
    options.follow_tree_builder = false;
    EXPECT_EQ(rewrite_chunks("<noscript><img src=//tracker.example/a></noscript>", {12},
                             hold_tracker_sources, options),
              "<noscript><img data-cg-held></noscript>[[CG]]");
}

TEST(HtmlRewriter, MalformedBytesNeverCrashAndCopyThrough) {
    std::string input;
    for (int i = 0; i < 3000; ++i) {
        input += static_cast<char>((i * 131 + i / 7) % 256);
        if (i % 29 == 0) {
            input += "<scr<!--<script></head ";
        }
    }
    const auto whole = rewrite(input);
    EXPECT_EQ(rewrite_chunks(input, {1, 2, 333, 1500, 2999}), whole);
    // Whatever it decided, only the snippet was added.
    EXPECT_EQ(whole.size(), input.size() + snippet.size());
}

// --- inline scripts -----------------------------------------------------------------------

struct inline_setup {
    inline_script_replacer inline_replacer;
    std::size_t bound = html_rewriter::default_max_inline_script_bytes;
    html_tokenizer_options options = {};
    start_tag_replacer replacer = {};
    start_tag_replacer noscript_replacer = {};
};

std::string rewrite_inline(std::string_view input, const std::vector<std::size_t>& cuts,
                           const inline_setup& setup, std::size_t* most_held = nullptr) {
    html_rewriter rewriter{std::string{snippet}, setup.replacer, setup.options};
    rewriter.set_inline_script_replacer(setup.inline_replacer, setup.bound);
    if (setup.noscript_replacer) {
        rewriter.set_noscript_replacer(setup.noscript_replacer);
    }
    std::string out;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        rewriter.write(input.substr(from, cut - from), false, out);
        from = cut;
        if (most_held != nullptr && cut >= out.size()) {
            *most_held = std::max(*most_held, cut - out.size());
        }
    }
    rewriter.write(input.substr(from), true, out);
    return out;
}

void expect_inline_rewrite(std::string_view input, std::string_view expected,
                           const inline_setup& setup) {
    EXPECT_EQ(rewrite_inline(input, {}, setup), expected) << "whole: " << input;
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
        EXPECT_EQ(rewrite_inline(input, {cut}, setup), expected) << "split at " << cut;
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i < input.size(); ++i) {
        bytes.push_back(i);
    }
    EXPECT_EQ(rewrite_inline(input, bytes, setup), expected) << "1-byte chunks: " << input;
}

// Test-only stand-in: holds inline scripts that mention "tracker.example", and records what it
// was offered.
struct recording_replacer {
    std::vector<std::string>* seen;
    std::optional<std::string> operator()(const html_token& tag, std::string_view text) const {
        seen->push_back(tag.name + ":" + std::string{text});
        if (text.find("tracker.example") == std::string_view::npos) {
            return std::nullopt;
        }
        return std::string{"<script type=\"text/plain\" data-cg-inline>"};
    }
};

TEST(HtmlRewriter, OffersInlineScriptTextAndReplacesTheStartTagForEverySplit) {
    std::vector<std::string> seen;
    inline_setup setup;
    setup.inline_replacer = recording_replacer{&seen};
    const std::string_view input =
        "<head><script>load('//tracker.example/t.js')</script>"
        "<script type=module>app()</script><script src=a.js>x</script>"
        "<SCRIPT>a<!--<script>b</script>c--></SCRIPT></head><body><script></script>";
    const std::string_view expected =
        "<head><script type=\"text/plain\" data-cg-inline>load('//tracker.example/t.js')</script>"
        "<script type=module>app()</script><script src=a.js>x</script>"
        "<SCRIPT>a<!--<script>b</script>c--></SCRIPT>[[CG]]</head><body><script></script>";
    expect_inline_rewrite(input, expected, setup);
    seen.clear();
    rewrite_inline(input, {}, setup);
    EXPECT_EQ(seen,
              (std::vector<std::string>{"script:load('//tracker.example/t.js')", "script:app()",
                                        "script:a<!--<script>b</script>c-->", "script:"}));
}

TEST(HtmlRewriter, DecidesOnTheFirstBoundBytesOfALongScriptForEverySplit) {
    std::vector<std::string> seen;
    inline_setup setup;
    setup.inline_replacer = recording_replacer{&seen};
    setup.bound = 24;
    // The tracker host within the first 24 bytes counts; one after them does not.
    expect_inline_rewrite("<script>x='//tracker.example/';" + std::string(100, ' ') + "</script>",
                          "<script type=\"text/plain\" data-cg-inline>x='//tracker.example/';" +
                              std::string(100, ' ') + "</script>[[CG]]",
                          setup);
    expect_inline_rewrite("<script>" + std::string(30, ' ') + "'//tracker.example/'</script>",
                          "<script>" + std::string(30, ' ') + "'//tracker.example/'</script>[[CG]]",
                          setup);
    seen.clear();
    rewrite_inline("<script>" + std::string(30, 'a') + "</script>", {5, 9, 40}, setup);
    EXPECT_EQ(seen, std::vector<std::string>{"script:" + std::string(24, 'a')});
}

TEST(HtmlRewriter, DecidesAnUnterminatedScriptAtTheEnd) {
    std::vector<std::string> seen;
    inline_setup setup;
    setup.inline_replacer = recording_replacer{&seen};
    expect_inline_rewrite("<p><script>go('//tracker.example')</scr",
                          "[[CG]]<p><script type=\"text/plain\" data-cg-inline>"
                          "go('//tracker.example')</scr",
                          setup);
}

TEST(HtmlRewriter, OffersNoScriptWithSrcReplacedOrInsideNoscript) {
    std::vector<std::string> seen;
    inline_setup setup;
    setup.inline_replacer = recording_replacer{&seen};
    setup.replacer = [](const html_token& tag) -> std::optional<std::string> {
        if (tag.find("data-replace") != nullptr) {
            return std::string{"<script data-replaced>"};
        }
        return std::nullopt;
    };
    const std::string_view input =
        "<script src=x.js>tracker.example</script><script data-replace>tracker.example</script>"
        "<noscript><script>tracker.example</script></noscript>";
    expect_inline_rewrite(input,
                          "<script src=x.js>tracker.example</script><script data-replaced>"
                          "tracker.example</script><noscript><script>tracker.example</script>"
                          "</noscript>[[CG]]",
                          setup);
    seen.clear();
    rewrite_inline(input, {}, setup);
    EXPECT_TRUE(seen.empty());
}

TEST(HtmlRewriter, HoldsNoMoreThanTheBoundAndOneTagWhileDecidingAScript) {
    inline_setup setup;
    setup.inline_replacer = [](const html_token&, std::string_view) {
        return std::optional<std::string>{};
    };
    setup.bound = 1000;
    setup.options.max_token_bytes = 100;
    std::string input = "<script>";
    input += std::string(500, 'x');
    input += "</script " + std::string(3000, 'y') + ">";  // an end tag that outgrows the cap
    input += std::string(5000, 'z');
    std::vector<std::size_t> cuts;
    for (std::size_t i = 50; i < input.size(); i += 50) {
        cuts.push_back(i);
    }
    std::size_t most_held = 0;
    EXPECT_EQ(rewrite_inline(input, cuts, setup, &most_held), input + "[[CG]]");
    EXPECT_LE(most_held, 8 + 1000 + 100 + 16 + 50);
    EXPECT_GE(most_held, 1000U);
}

TEST(HtmlRewriter, AnOversizedEndTagOfAHeldScriptGivesTheSameOutputForEverySplit) {
    std::vector<std::string> seen;
    inline_setup setup;
    setup.inline_replacer = recording_replacer{&seen};
    setup.options.max_token_bytes = 8;
    for (const std::size_t bound : {4U, 16U, 40U, 200U}) {
        setup.bound = bound;
        const std::string input =
            "<script>tracker.example</script x=\"" + std::string(30, 'y') + "\"><p>after</p>";
        const std::string whole = rewrite_inline(input, {}, setup);
        for (std::size_t cut = 0; cut <= input.size(); ++cut) {
            EXPECT_EQ(rewrite_inline(input, {cut}, setup), whole) << bound << " split " << cut;
        }
        std::vector<std::size_t> bytes;
        for (std::size_t i = 1; i < input.size(); ++i) {
            bytes.push_back(i);
        }
        EXPECT_EQ(rewrite_inline(input, bytes, setup), whole) << bound;
    }
}

TEST(HtmlRewriter, NoscriptReplacerTakesTheStartTagsInsideNoscript) {
    inline_setup setup;
    setup.replacer = [](const html_token& tag) -> std::optional<std::string> {
        return tag.name == "img" ? std::optional<std::string>{"<img outside>"} : std::nullopt;
    };
    setup.noscript_replacer = [](const html_token& tag) -> std::optional<std::string> {
        return tag.name == "img" ? std::optional<std::string>{"<img inside>"} : std::nullopt;
    };
    expect_inline_rewrite("<img src=a><noscript><img src=b></noscript><img src=c>",
                          "[[CG]]<img outside><noscript><img inside></noscript><img outside>",
                          setup);
}

}  // namespace
