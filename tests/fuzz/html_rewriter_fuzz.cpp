// Fuzz target for html_rewriter (every HTML body the gateway rewrites comes from upstream).
// The first input byte is a control byte: bits 0-1 pick a chunking pattern, bits 2-4 its
// parameter, bits 5-7 the tokenizer's hold cap (small caps reach the "truncated tag" paths).
// The rest is the document, rewritten with the snippet "<!--CG-->" once whole and once in
// chunks, with and without replacers: one that swaps every `<script>` start tag with a src, and
// an inline_script_replacer (bound: the hold cap) that swaps inline `<script>` start tags whose
// text mentions "track" or has a length of 1 modulo 3.
// With the replacers, the rewrite is also done with set_replaced_tags offering only `<script>`,
// so the tokenizer passes over all other tags in its fast path.
// Checks: chunked output equals whole output, and the output with only `<script>` offered
// equals the output with every tag offered; without a replacer the output is the input with
// the snippet inserted once, at the end, before a `</head` or after a tag's `>`; the snippet
// appears exactly once when the input does not contain it; replaced tags are `<script ...>`
// bytes of the input; inline script texts are the input bytes right after their start tag and
// within the bound; bytes held back between chunks stay within the cap. Violations are
// __builtin_trap.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "banner/html_rewriter.hpp"
#include "banner/html_tokenizer.hpp"

namespace {

using cg::banner::html_rewriter;
using cg::banner::html_token;
using cg::banner::html_token_kind;
using cg::banner::html_tokenizer_options;
using cg::banner::start_tag_replacer;

constexpr std::string_view snippet = "<!--CG-->";
constexpr std::string_view replacement = "<script type=\"text/plain\" data-cg-held>";
constexpr std::string_view inline_replacement = "<script type=\"text/plain\" data-cg-inline>";

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (lower(s[i]) != prefix[i]) {
            return false;
        }
    }
    return true;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

// Chunk sizes covering `size` bytes, from the control byte. Zero-sized chunks are kept: the
// rewriter must accept empty writes.
std::vector<std::size_t> chunk_sizes(std::uint8_t control, std::string_view doc) {
    const unsigned param = (control >> 2) & 7U;
    std::vector<std::size_t> sizes;
    std::size_t left = doc.size();
    switch (control & 3U) {
        case 0:  // one byte at a time, an empty write every (param + 2) chunks
            for (std::size_t i = 0; left > 0; ++i) {
                const std::size_t n = (i % (param + 2) == param + 1) ? 0 : 1;
                sizes.push_back(n);
                left -= n;
            }
            break;
        case 1: {  // fixed size 2..9 (1 << param if param > 5)
            const std::size_t n = param > 5 ? (std::size_t{1} << param) : param + 2;
            while (left > 0) {
                sizes.push_back(std::min(n, left));
                left -= sizes.back();
            }
            break;
        }
        case 2: {  // pseudo-random sizes 0..16 from a seed
            std::uint32_t x = 0x9e3779b9U ^ (param * 0x85ebca6bU);
            while (left > 0) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                sizes.push_back(std::min<std::size_t>(x % 17, left));
                left -= sizes.back();
            }
            break;
        }
        default: {  // split around every '<' or '>' (before, on or after, by param)
            std::size_t from = 0;
            for (std::size_t i = 0; i < doc.size(); ++i) {
                if (doc[i] != '<' && doc[i] != '>') {
                    continue;
                }
                const std::size_t cut = std::min(doc.size(), i + (param % 3));
                if (cut > from) {
                    sizes.push_back(cut - from);
                    from = cut;
                }
            }
            sizes.push_back(doc.size() - from);
            break;
        }
    }
    if (sizes.empty()) {
        sizes.push_back(0);  // an empty document is still one (last) write
    }
    return sizes;
}

std::size_t hold_cap(std::uint8_t control) {
    static constexpr std::size_t caps[] = {0, 0, 0, 0, 1, 8, 24, 200};  // 0: the default
    const std::size_t cap = caps[control >> 5];
    return cap == 0 ? html_tokenizer_options{}.max_token_bytes : cap;
}

struct rewrite_setup {
    std::string_view doc;
    std::size_t cap = 0;
    bool replace = false;
    bool only_scripts = false;  // set_replaced_tags: only <script> is offered to the replacer
};

html_rewriter make_rewriter(const rewrite_setup& setup) {
    html_tokenizer_options options;
    options.max_token_bytes = setup.cap;
    start_tag_replacer replacer;
    if (setup.replace) {
        const std::string_view doc = setup.doc;
        replacer = [doc](const html_token& token) -> std::optional<std::string> {
            check(token.kind == html_token_kind::start_tag && !token.truncated);
            check(token.begin < token.end && token.end <= doc.size());
            const std::string_view bytes = doc.substr(token.begin, token.end - token.begin);
            check(bytes.front() == '<' && bytes.back() == '>');
            // The name is the lowercased bytes after `<`, except that NUL becomes U+FFFD.
            if (token.name.find("\xEF\xBF\xBD") == std::string::npos) {
                check(starts_with_ci(bytes.substr(1), token.name));
            }
            if (token.name == "script" && token.find("src") != nullptr) {
                return std::string{replacement};
            }
            return std::nullopt;
        };
    }
    html_rewriter rewriter{std::string{snippet}, std::move(replacer), options};
    if (setup.only_scripts) {
        rewriter.set_replaced_tags([](std::string_view name) { return name == "script"; });
    }
    if (setup.replace) {
        const std::string_view doc = setup.doc;
        const std::size_t bound = setup.cap;
        rewriter.set_inline_script_replacer(
            [doc, bound](const html_token& token,
                         std::string_view text) -> std::optional<std::string> {
                check(token.kind == html_token_kind::start_tag && token.name == "script");
                check(!token.truncated && token.find("src") == nullptr);
                check(token.end <= doc.size() && text.size() <= bound);
                check(doc.substr(token.end, text.size()) == text);
                if (text.find("track") != std::string_view::npos || text.size() % 3 == 1) {
                    return std::string{inline_replacement};
                }
                return std::nullopt;
            },
            bound);
    }
    return rewriter;
}

std::string rewrite_whole(const rewrite_setup& setup) {
    html_rewriter rewriter = make_rewriter(setup);
    std::string out;
    rewriter.write(setup.doc, true, out);
    check(rewriter.inserted());
    rewriter.write("ignored after last", true, out);  // calls after `last` do nothing
    return out;
}

std::string rewrite_chunked(const rewrite_setup& setup, const std::vector<std::size_t>& sizes,
                            bool empty_last) {
    html_rewriter rewriter = make_rewriter(setup);
    std::string out;
    std::size_t at = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const bool last = !empty_last && i + 1 == sizes.size();
        rewriter.write(setup.doc.substr(at, sizes[i]), last, out);
        at += sizes[i];
        if (!last && !setup.replace) {
            // Bounded memory: all but one pending tag (at most the cap, plus the few bytes
            // of lookahead) is written; the snippet counts once it is in.
            const std::size_t written = out.size() - (rewriter.inserted() ? snippet.size() : 0);
            check(written <= at);
            check(at - written <= setup.cap + 16);
        }
    }
    check(at == setup.doc.size());
    if (empty_last) {
        rewriter.write({}, true, out);
    }
    check(rewriter.inserted());
    return out;
}

// Without a replacer the output must be `doc` with the snippet inserted at one offset `p`,
// and `p` must be one the contract allows: the end, before `</head`, or after a tag's `>`.
void check_plain_insert(std::string_view doc, std::string_view out) {
    // A document that ends inside an unclosed <noscript> gets it closed before the snippet at
    // the end (inside it, a browser running scripts would show the banner's tags as text).
    constexpr std::string_view close_noscript = "</noscript>";
    if (out.size() == doc.size() + close_noscript.size() + snippet.size() &&
        out.substr(0, doc.size()) == doc &&
        out.substr(doc.size()) == std::string{close_noscript} + std::string{snippet}) {
        return;
    }
    check(out.size() == doc.size() + snippet.size());
    std::size_t prefix = 0;
    while (prefix < doc.size() && doc[prefix] == out[prefix]) {
        ++prefix;
    }
    std::size_t suffix = 0;
    while (suffix < doc.size() && doc[doc.size() - 1 - suffix] == out[out.size() - 1 - suffix]) {
        ++suffix;
    }
    bool found = false;
    for (std::size_t p = doc.size() - suffix; p <= prefix && !found; ++p) {
        if (out.substr(p, snippet.size()) != snippet) {
            continue;
        }
        // The end, before </head, after a tag, or before a tag that ends an implied head.
        found = p == doc.size() || starts_with_ci(doc.substr(p), "</head") ||
                (p > 0 && doc[p - 1] == '>') || doc[p] == '<';
    }
    check(found);
    if (doc.find(snippet) == std::string_view::npos) {
        check(count(out, snippet) == 1);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    const std::string_view doc{reinterpret_cast<const char*>(data) + 1, size - 1};
    const std::vector<std::size_t> sizes = chunk_sizes(control, doc);
    const bool empty_last = (control & 0x10U) != 0;
    const bool no_snippet_in_input = doc.find(snippet) == std::string_view::npos;

    for (const bool replace : {false, true}) {
        const rewrite_setup setup{doc, hold_cap(control), replace};
        const std::string whole = rewrite_whole(setup);
        const std::string chunked = rewrite_chunked(setup, sizes, empty_last);
        check(chunked == whole);
        if (!replace) {
            check_plain_insert(doc, whole);
        } else {
            if (no_snippet_in_input) {
                check(count(whole, snippet) == 1);
            }
            const rewrite_setup filtered{doc, hold_cap(control), true, true};
            check(rewrite_whole(filtered) == whole);
            check(rewrite_chunked(filtered, sizes, empty_last) == whole);
        }
    }
    return 0;
}
