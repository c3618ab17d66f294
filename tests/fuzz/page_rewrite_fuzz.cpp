// Fuzz target for a site banner's page rewrite behind its content decoders: what the gateway runs
// on every HTML body it rewrites (recoding_transform(coding, page_rewrite)); upstream bodies, and
// so their gzip, deflate and br streams, are untrusted.
//
// Input: two parameter bytes, then the body (at most 64 KiB).
//   byte 0: bits 0-1 the coding (identity, gzip, deflate, br); bit 2 the harness compresses the
//           body with that coding first (a valid stream), else the body is fed as it is (mostly
//           a broken stream); bit 3 with bit 2: gzip as two members, deflate as raw deflate
//           instead of zlib; bits 4-6 the granted categories (preferences, analytics,
//           marketing); bit 7 the visitor has decided.
//   byte 1: bits 0-1 the largest chunk (1, 17, 257 or 4097 bytes), bits 2-5 the seed of the
//           pseudo-random chunk sizes (zero-sized chunks included); bit 6 `last` comes in an
//           empty write of its own; bit 7 the site uses Google Consent Mode (advanced).
// The body is rewritten once in one write and once in chunks. Checks (__builtin_trap):
// - a passed-through body (passed_through()) comes out byte for byte as it went in;
// - every other output is one complete, valid stream of the coding (decoded here);
// - chunked and whole runs agree (the decoded output for the compressed codings, whose encoded
//   bytes differ with flush points; broken(), passed_through()) whenever the stream is valid
//   (identity, harness-compressed, or neither run found it broken), and for gzip and deflate
//   also when it is broken;
// - a valid stream is never broken nor passed through, and its decoded output holds the banner's
//   script tag exactly once (when the body does not already hold one); a broken stream that was
//   not passed through still gets it (inner always sees `last`).
// Bodies decoding to more than 1 MiB (compression bombs) are cut off by the harness.
#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "banner/content_coding.hpp"
#include "banner/holdback.hpp"
#include "banner/site_banner.hpp"
#include "banner/tracker_catalogue.hpp"

namespace {

using cg::banner::content_coding;

constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr std::size_t max_decoded_bytes = 1024 * 1024;
constexpr std::string_view marker = "<script src=\"/_consent/banner.";

void check(bool ok) {
    if (!ok) {
        __builtin_trap();
    }
}

std::size_t count(std::string_view haystack, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// The site: a controller, two third parties, the four categories with names in each language.

cg::banner::site_facts make_facts() {
    cg::banner::site_facts facts;
    facts.site = "fuzz.example";
    facts.policy_version = "2026-01";
    facts.default_language = cg::banner::language::nb;
    const auto category = [](std::string id, bool required, std::string name) {
        cg::banner::category_info c;
        c.id = std::move(id);
        c.required = required;
        c.names = {name + " (nb)", name + " (nn)", name};
        c.descriptions = {"Beskrivelse", "Skildring", "Description of " + name};
        return c;
    };
    facts.categories.push_back(category("necessary", true, "Necessary"));
    facts.categories.push_back(category("preferences", false, "Preferences"));
    facts.categories.push_back(category("analytics", false, "Statistics"));
    facts.categories.push_back(category("marketing", false, "Marketing"));
    facts.cookies.push_back({"__Host-cg_consent, cg_consent", "necessary", "Fuzz AS",
                             "Remembers the visitor's cookie choice.", "12 months"});
    facts.cookies.push_back({"_ga*", "analytics", "Google Analytics", "Counts visits.",
                             "2 years"});
    facts.catalogue.push_back({"_fbp", "marketing", "Meta", "Ad delivery.", "3 months"});
    return facts;
}

cg::banner::site_banner_config make_config(bool google) {
    cg::banner::site_banner_config c;
    c.enabled = true;
    c.who = {"Fuzz AS <&>", "privacy@fuzz.example", "https://fuzz.example/privacy"};
    c.third_parties = {"Google Analytics", "Hotjar"};
    c.google = google ? cg::banner::consent_mode::advanced : cg::banner::consent_mode::off;
    c.trackers_json =
        R"([{"host":"cdn.fuzz-tracker.example","vendor":"Fuzz Tracker","category":"marketing",)"
        R"("kind":"advertising",)"
        R"("purpose":"Follows visitors."}])";
    return c;
}

const cg::banner::site_banner& site(bool google) {
    static const cg::banner::site_banner plain{make_config(false), make_facts()};
    static const cg::banner::site_banner with_google{make_config(true), make_facts()};
    return google ? with_google : plain;
}

// ---------------------------------------------------------------------------------------------
// The harness's own codecs (level 1; the product's encoders are level 6 / quality 5).

std::string zlib_compress(std::string_view in, int window_bits) {
    z_stream s{};
    check(deflateInit2(&s, 1, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&s, static_cast<uLong>(in.size())) + 64, '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s.avail_in = static_cast<uInt>(in.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    check(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

std::string brotli_compress(std::string_view in) {
    std::string out(BrotliEncoderMaxCompressedSize(in.size()) + 64, '\0');
    std::size_t size = out.size();
    check(BrotliEncoderCompress(1, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, in.size(),
                                reinterpret_cast<const std::uint8_t*>(in.data()), &size,
                                reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_TRUE);
    out.resize(size);
    return out;
}

std::string compress(content_coding coding, bool variant, std::string_view in) {
    switch (coding) {
        case content_coding::gzip:
            if (variant) {  // two members (RFC 1952 §2.2)
                const std::size_t half = in.size() / 2;
                return zlib_compress(in.substr(0, half), 16 + MAX_WBITS) +
                       zlib_compress(in.substr(half), 16 + MAX_WBITS);
            }
            return zlib_compress(in, 16 + MAX_WBITS);
        case content_coding::deflate:
            return zlib_compress(in, variant ? -MAX_WBITS : MAX_WBITS);
        case content_coding::br:
            return brotli_compress(in);
        case content_coding::identity:
            break;
    }
    return std::string{in};
}

// The product's output decoded: it must be exactly one complete stream (gzip: one member;
// deflate: zlib). nullopt when it is not.
std::optional<std::string> decode_output(content_coding coding, std::string_view in) {
    std::string out;
    std::array<char, 16 * 1024> buf{};
    if (coding == content_coding::br) {
        std::unique_ptr<BrotliDecoderState, decltype(&BrotliDecoderDestroyInstance)> s(
            BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), &BrotliDecoderDestroyInstance);
        check(s != nullptr);
        std::size_t avail_in = in.size();
        const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
        for (;;) {
            std::size_t avail_out = buf.size();
            auto* next_out = reinterpret_cast<std::uint8_t*>(buf.data());
            const auto rc = BrotliDecoderDecompressStream(s.get(), &avail_in, &next_in,
                                                          &avail_out, &next_out, nullptr);
            out.append(buf.data(), buf.size() - avail_out);
            if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
                return avail_in == 0 ? std::optional{out} : std::nullopt;
            }
            if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
                return std::nullopt;  // an error, or the stream ends too early
            }
        }
    }
    z_stream s{};
    check(inflateInit2(&s, coding == content_coding::gzip ? 16 + MAX_WBITS : MAX_WBITS) == Z_OK);
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s.avail_in = static_cast<uInt>(in.size());
    std::optional<std::string> result;
    for (;;) {
        s.next_out = reinterpret_cast<Bytef*>(buf.data());
        s.avail_out = static_cast<uInt>(buf.size());
        const int rc = inflate(&s, Z_NO_FLUSH);
        out.append(buf.data(), buf.size() - s.avail_out);
        if (rc == Z_STREAM_END) {
            if (s.avail_in == 0) {
                result = std::move(out);
            }
            break;
        }
        if (rc != Z_OK) {
            break;  // Z_BUF_ERROR: cut short; anything else: invalid
        }
    }
    inflateEnd(&s);
    return result;
}

// ---------------------------------------------------------------------------------------------
// One run of the page rewrite behind its decoders.

struct too_much_decoded {};

struct run_result {
    std::string out;
    bool broken = false;
    bool passed_through = false;
    bool cut = false;  // decoded more than max_decoded_bytes: the harness gave up
};

struct params {
    content_coding coding = content_coding::identity;
    bool google = false;
    cg::banner::page_context ctx;
};

run_result run(const params& p, std::string_view body, const std::vector<std::size_t>& sizes,
               bool empty_last) {
    const auto page = site(p.google).page(p.ctx);
    std::size_t decoded = 0;
    cg::banner::recoding_transform transform(
        p.coding, [&](std::string_view in, bool last, std::string& out) {
            decoded += in.size();
            if (decoded > max_decoded_bytes) {
                throw too_much_decoded{};  // documented: propagates, the transform is unusable
            }
            page->write(in, last, out);
        });
    run_result r;
    try {
        std::size_t at = 0;
        for (std::size_t i = 0; i < sizes.size(); ++i) {
            const bool last = !empty_last && i + 1 == sizes.size();
            transform.write(body.substr(at, sizes[i]), last, r.out);
            at += sizes[i];
        }
        check(at == body.size());
        if (empty_last) {
            transform.write({}, true, r.out);
        }
        transform.write("ignored after last", true, r.out);  // calls after `last` do nothing
    } catch (const too_much_decoded&) {
        r.cut = true;
        return r;
    }
    r.broken = transform.broken();
    r.passed_through = transform.passed_through();
    return r;
}

// Chunk sizes covering `size` bytes: pseudo-random, 0..max from a seed.
std::vector<std::size_t> chunk_sizes(std::uint8_t control, std::size_t size) {
    static constexpr std::array<std::size_t, 4> max_chunk{1, 17, 257, 4097};
    const std::size_t max = max_chunk[control & 3U];
    std::uint32_t x = 0x9e3779b9U ^ (((control >> 2) & 15U) * 0x85ebca6bU);
    std::vector<std::size_t> sizes;
    std::size_t left = size;
    while (left > 0) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // One byte at a time has no room for empty writes; otherwise some chunks are empty.
        const std::size_t n = max == 1 ? 1 : x % (max + 1);
        sizes.push_back(std::min(n, left));
        left -= sizes.back();
    }
    if (sizes.empty()) {
        sizes.push_back(0);  // an empty body is still one (last) write
    }
    return sizes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2 || size - 2 > max_body_bytes) {
        return 0;
    }
    const std::uint8_t p0 = data[0];
    const std::uint8_t p1 = data[1];
    const std::string_view plain{reinterpret_cast<const char*>(data) + 2, size - 2};

    params p;
    p.coding = static_cast<content_coding>(p0 & 3U);
    const bool compressed = (p0 & 4U) != 0 && p.coding != content_coding::identity;
    const bool variant = (p0 & 8U) != 0;
    using cg::banner::tracker_category;
    const std::array<std::pair<tracker_category, const char*>, 3> categories{{
        {tracker_category::preferences, "preferences"},
        {tracker_category::analytics, "analytics"},
        {tracker_category::marketing, "marketing"},
    }};
    p.ctx.granted_names.emplace_back("necessary");
    for (std::size_t i = 0; i < categories.size(); ++i) {
        if ((p0 & (16U << i)) != 0) {
            p.ctx.granted.grant(categories[i].first);
            p.ctx.granted_names.emplace_back(categories[i].second);
        }
    }
    p.ctx.decided = (p0 & 128U) != 0;
    p.ctx.nonce = "bm9uY2U=";
    p.ctx.return_to = "/page?a=1&b=\"2\"";
    p.google = (p1 & 128U) != 0;
    const bool empty_last = (p1 & 64U) != 0;

    const std::string body = compressed ? compress(p.coding, variant, plain) : std::string{plain};
    const run_result whole = run(p, body, {body.size()}, false);
    const run_result chunked = run(p, body, chunk_sizes(p1, body.size()), empty_last);
    if (whole.cut || chunked.cut) {
        check(!compressed);  // harness-compressed bodies are at most 64 KiB decoded
        return 0;
    }

    // A body passed through goes out untouched; nothing else is ever passed through.
    for (const run_result* r : {&whole, &chunked}) {
        if (r->passed_through) {
            check(r->out == body);
            check(p.coding != content_coding::identity);
        }
    }
    const bool valid = p.coding == content_coding::identity || compressed ||
                       (!whole.broken && !chunked.broken);
    if (valid) {
        check(!whole.broken && !chunked.broken);
    }
    // zlib decodes everything before the point of failure whatever the chunks, so for gzip and
    // deflate even a broken stream comes out the same (a client sees the same page however
    // upstream's body was split). Brotli's decoder writes out its ring buffer when it runs out of
    // input, but not when it fails, so a broken br stream may end earlier in one run than in the
    // other, or be passed through in one and cut short in the other.
    const bool same_result = valid || p.coding != content_coding::br;
    if (same_result) {
        check(whole.broken == chunked.broken);
        check(whole.passed_through == chunked.passed_through);
    }
    // Decoded outputs (identity: the output itself). An empty body (no byte at all) is passed
    // through as nothing, and that is the only valid stream passed through.
    std::array<std::optional<std::string>, 2> decoded;
    const std::array<const run_result*, 2> runs{&whole, &chunked};
    for (std::size_t i = 0; i < runs.size(); ++i) {
        if (runs[i]->passed_through) {
            if (valid) {
                check(body.empty());
            }
            continue;
        }
        decoded[i] = p.coding == content_coding::identity
                         ? std::optional{runs[i]->out}
                         : decode_output(p.coding, runs[i]->out);
        check(decoded[i].has_value());  // a rewritten body is always one complete stream
        // inner always sees `last`, so the banner's tags went in.
        check(count(*decoded[i], marker) >= 1);
    }
    if (same_result) {
        check(decoded[0] == decoded[1]);
    }
    if (valid) {
        if (p.coding == content_coding::identity) {
            check(whole.out == chunked.out);
        }
        // The decoded body is `plain` when the harness compressed it or there is no coding.
        const bool plain_known = compressed || p.coding == content_coding::identity;
        if (decoded[0] && plain_known && plain.find(marker) == std::string_view::npos) {
            check(count(*decoded[0], marker) == 1);
        }
    }
    return 0;
}
