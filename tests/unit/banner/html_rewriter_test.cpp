#include "banner/html_rewriter.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using cg::banner::html_rewriter;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer_options;
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
    {"\xEF\xBB\xBF<!DOCTYPE html><p>x", "\xEF\xBB\xBF<!DOCTYPE html><p>x[[CG]]"},
    {"<!doctype html><body class=\"a>b\"><p>hi", "<!doctype html><body class=\"a>b\">[[CG]]<p>hi"},
    {"<!doctype html><p>hi", "<!doctype html><p>hi[[CG]]"},
    {"", "[[CG]]"},
    {"<html><head><title>x", "<html><head><title>x[[CG]]"},
    {"<p>a<", "<p>a<[[CG]]"},
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
    EXPECT_EQ(rewrite_chunks(page, {1, 7, 4096, 4097, 30000}), page + std::string{snippet});
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
    expect_rewrite("<p><BODY onload=x()>t", "<p><body data-cg>[[CG]]t", mark_body);
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

}  // namespace
