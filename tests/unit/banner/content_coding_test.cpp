#include "banner/content_coding.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::banner {
namespace {

// ---------------------------------------------------------------------------------------------
// Fixtures made with zlib and brotli directly.

// How a test body is encoded: the four shapes a server may send.
enum class shape { gzip, zlib, raw_deflate, br };

content_coding coding_of(shape s) {
    switch (s) {
        case shape::gzip:
            return content_coding::gzip;
        case shape::zlib:
        case shape::raw_deflate:
            return content_coding::deflate;
        case shape::br:
            break;
    }
    return content_coding::br;
}

const std::vector<shape> all_shapes = {shape::gzip, shape::zlib, shape::raw_deflate, shape::br};

Bytef* bytes(const char* p) {
    return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

// Streams `total` bytes made by repeating `unit` through zlib; window_bits picks the wrapper.
std::string zlib_compress(std::string_view unit, std::size_t total, int window_bits,
                          int level = 6) {
    z_stream s{};
    EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out;
    std::array<char, 65536> buf{};
    std::size_t left = total;
    do {
        const std::size_t n = std::min(left, unit.size());
        left -= n;
        s.next_in = bytes(unit.data());
        s.avail_in = static_cast<uInt>(n);
        const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        int rc = Z_OK;
        do {
            s.next_out = reinterpret_cast<Bytef*>(buf.data());
            s.avail_out = static_cast<uInt>(buf.size());
            rc = deflate(&s, flush);
            out.append(buf.data(), buf.size() - s.avail_out);
        } while (s.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    } while (left > 0);
    deflateEnd(&s);
    return out;
}

std::string brotli_compress(std::string_view unit, std::size_t total, int quality = 5) {
    std::unique_ptr<BrotliEncoderState, decltype(&BrotliEncoderDestroyInstance)> st(
        BrotliEncoderCreateInstance(nullptr, nullptr, nullptr), &BrotliEncoderDestroyInstance);
    BrotliEncoderSetParameter(st.get(), BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(quality));
    std::string out;
    std::size_t left = total;
    do {
        const std::size_t n = std::min(left, unit.size());
        left -= n;
        const auto op = left == 0 ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
        std::size_t avail_in = n;
        const auto* next_in = reinterpret_cast<const std::uint8_t*>(unit.data());
        for (;;) {
            std::size_t avail_out = 0;
            EXPECT_TRUE(BrotliEncoderCompressStream(st.get(), op, &avail_in, &next_in, &avail_out,
                                                    nullptr, nullptr));
            std::size_t size = 0;
            const auto* data = BrotliEncoderTakeOutput(st.get(), &size);
            out.append(reinterpret_cast<const char*>(data), size);
            if (avail_in == 0 && !BrotliEncoderHasMoreOutput(st.get()) &&
                (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(st.get()))) {
                break;
            }
        }
    } while (left > 0);
    return out;
}

std::string compress(shape s, std::string_view data) {
    switch (s) {
        case shape::gzip:
            return zlib_compress(data, data.size(), 16 + MAX_WBITS);
        case shape::zlib:
            return zlib_compress(data, data.size(), MAX_WBITS);
        case shape::raw_deflate:
            return zlib_compress(data, data.size(), -MAX_WBITS);
        case shape::br:
            break;
    }
    return brotli_compress(data, data.size());
}

struct decoded {
    std::string data;
    bool complete = false;  // the stream ended properly, with nothing after it
    bool error = false;
};

// Decodes what the transform wrote: gzip as one or more members, deflate as zlib only (the
// transform always encodes zlib). Without the end, gives what was decodable so far.
decoded decompress(content_coding c, std::string_view in) {
    decoded d;
    std::array<char, 65536> buf{};
    if (c == content_coding::br) {
        std::unique_ptr<BrotliDecoderState, decltype(&BrotliDecoderDestroyInstance)> st(
            BrotliDecoderCreateInstance(nullptr, nullptr, nullptr), &BrotliDecoderDestroyInstance);
        std::size_t avail_in = in.size();
        const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
        for (;;) {
            std::size_t avail_out = buf.size();
            auto* next_out = reinterpret_cast<std::uint8_t*>(buf.data());
            const auto rc = BrotliDecoderDecompressStream(st.get(), &avail_in, &next_in, &avail_out,
                                                          &next_out, nullptr);
            d.data.append(buf.data(), buf.size() - avail_out);
            if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
                continue;
            }
            d.error = rc == BROTLI_DECODER_RESULT_ERROR;
            d.complete = rc == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0;
            return d;
        }
    }
    z_stream s{};
    EXPECT_EQ(inflateInit2(&s, c == content_coding::gzip ? 16 + MAX_WBITS : MAX_WBITS), Z_OK);
    s.next_in = bytes(in.data());
    s.avail_in = static_cast<uInt>(in.size());
    for (;;) {
        s.next_out = reinterpret_cast<Bytef*>(buf.data());
        s.avail_out = static_cast<uInt>(buf.size());
        const int rc = inflate(&s, Z_SYNC_FLUSH);
        d.data.append(buf.data(), buf.size() - s.avail_out);
        if (rc == Z_STREAM_END) {
            if (s.avail_in == 0) {
                d.complete = true;
                break;
            }
            inflateReset(&s);
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            d.error = true;
            break;
        }
        if (s.avail_out != 0 && (s.avail_in == 0 || rc == Z_BUF_ERROR)) {
            break;
        }
    }
    inflateEnd(&s);
    return d;
}

// Text that compresses like a web page: words from a small vocabulary, deterministic.
std::string page_text(std::size_t size) {
    static constexpr std::array<std::string_view, 12> words = {"<div class=\"x\">",
                                                               "consent ",
                                                               "banner ",
                                                               "tracker ",
                                                               "</div>\n",
                                                               "<p>",
                                                               "lorem ",
                                                               "ipsum ",
                                                               "dolor ",
                                                               "sit ",
                                                               "amet ",
                                                               "</p>\n"};
    std::string s = "<!DOCTYPE html><html><head><title>t</title></head><body>";
    std::uint32_t x = 12345;
    while (s.size() < size) {
        x = x * 1103515245u + 12345u;
        s += words[(x >> 16) % words.size()];
    }
    s.resize(size);
    return s;
}

std::string random_bytes(std::size_t size, std::uint32_t seed) {
    std::string s(size, '\0');
    for (auto& c : s) {
        seed = seed * 1664525u + 1013904223u;
        c = static_cast<char>(seed >> 24);
    }
    return s;
}

body_stage identity_stage() {
    return [](std::string_view in, bool, std::string& out) { out.append(in); };
}

body_stage upper_stage() {
    return [](std::string_view in, bool, std::string& out) {
        for (const char c : in) {
            out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
    };
}

std::string upper(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

// Counts what inner gets without keeping it.
struct inner_log {
    std::size_t bytes = 0;
    std::size_t calls = 0;
    std::size_t largest = 0;
    int last_calls = 0;
};

body_stage counting_stage(inner_log& log) {
    return [&log](std::string_view in, bool last, std::string&) {
        log.bytes += in.size();
        ++log.calls;
        log.largest = std::max(log.largest, in.size());
        log.last_calls += last ? 1 : 0;
    };
}

// Runs `body` through a transform in the given pieces (the last one carries last=true).
std::string run(recoding_transform& t, const std::vector<std::string_view>& pieces) {
    std::string out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        t.write(pieces[i], i + 1 == pieces.size(), out);
    }
    return out;
}

std::string run_whole(content_coding c, body_stage inner, std::string_view body) {
    recoding_transform t(c, std::move(inner));
    return run(t, {body});
}

// ---------------------------------------------------------------------------------------------

TEST(ContentEncoding, ParsesSingleCodings) {
    const std::vector<std::pair<std::string_view, content_coding>> table = {
        {"", content_coding::identity},         {"  ", content_coding::identity},
        {"identity", content_coding::identity}, {"Identity", content_coding::identity},
        {"gzip", content_coding::gzip},         {"GZIP", content_coding::gzip},
        {"x-gzip", content_coding::gzip},       {"X-Gzip", content_coding::gzip},
        {"\tgzip ", content_coding::gzip},      {"deflate", content_coding::deflate},
        {"DEFLATE", content_coding::deflate},   {"br", content_coding::br},
        {" br ", content_coding::br},           {"Br", content_coding::br},
    };
    for (const auto& [value, expected] : table) {
        EXPECT_EQ(parse_content_encoding(value), expected) << '"' << value << '"';
    }
}

TEST(ContentEncoding, RejectsStackedAndUnknownCodings) {
    for (const std::string_view value :
         {"gzip, br", "gzip,gzip", "identity, gzip", "compress", "x-compress", "zstd", "gzip;q=1",
          "g zip", "gzip\r\n", "brotli", "deflate-raw", ","}) {
        EXPECT_EQ(parse_content_encoding(value), std::nullopt) << '"' << value << '"';
    }
}

TEST(ContentEncoding, NamesCodings) {
    EXPECT_EQ(name_of(content_coding::identity), "");
    EXPECT_EQ(name_of(content_coding::gzip), "gzip");
    EXPECT_EQ(name_of(content_coding::deflate), "deflate");
    EXPECT_EQ(name_of(content_coding::br), "br");
}

TEST(RecodingTransform, IdentityCallsInnerDirectly) {
    recoding_transform t(content_coding::identity, upper_stage());
    std::string out;
    t.write("<p>a", false, out);
    t.write("b</p>", true, out);
    EXPECT_EQ(out, "<P>AB</P>");
    EXPECT_FALSE(t.broken());
    EXPECT_FALSE(t.passed_through());
}

// In one write: gzip and deflate pages up to 256 KiB are compressed in one go (libdeflate),
// larger ones start streaming (zlib) within the write.
TEST(RecodingTransform, RoundTripsEveryCodingAndSize) {
    for (const shape s : all_shapes) {
        for (const std::size_t size :
             {std::size_t{1}, std::size_t{100}, std::size_t{100'000}, std::size_t{300'000}}) {
            const std::string text = page_text(size);
            recoding_transform t(coding_of(s), identity_stage());
            const std::string out = run(t, {compress(s, text)});

            const decoded d = decompress(coding_of(s), out);
            EXPECT_TRUE(d.complete) << static_cast<int>(s) << ' ' << size;
            EXPECT_EQ(d.data, text) << static_cast<int>(s) << ' ' << size;
            EXPECT_FALSE(t.broken());
            EXPECT_FALSE(t.passed_through());
        }
    }
}

TEST(RecodingTransform, EncodesWhatTheInnerStageWrites) {
    const std::string text = page_text(100'000);
    for (const shape s : all_shapes) {
        const decoded d =
            decompress(coding_of(s), run_whole(coding_of(s), upper_stage(), compress(s, text)));
        EXPECT_TRUE(d.complete);
        EXPECT_EQ(d.data, upper(text)) << static_cast<int>(s);
    }
}

TEST(RecodingTransform, EmptyDocumentStillReachesInnerAtTheEnd) {
    for (const shape s : all_shapes) {
        const auto snippet_at_end = [](std::string_view in, bool last, std::string& out) {
            out.append(in);
            if (last) {
                out.append("<script src=/cg.js></script>");
            }
        };
        recoding_transform t(coding_of(s), snippet_at_end);
        const decoded d = decompress(coding_of(s), run(t, {compress(s, "")}));
        EXPECT_TRUE(d.complete) << static_cast<int>(s);
        EXPECT_EQ(d.data, "<script src=/cg.js></script>") << static_cast<int>(s);
        EXPECT_FALSE(t.passed_through());
    }
}

TEST(RecodingTransform, EmptyBodyWritesNothing) {
    for (const shape s : all_shapes) {
        inner_log log;
        recoding_transform t(coding_of(s), counting_stage(log));
        std::string out;
        t.write("", false, out);
        t.write("", true, out);
        EXPECT_EQ(out, "");
        EXPECT_EQ(log.calls, 0u);
        EXPECT_TRUE(t.passed_through());
        EXPECT_FALSE(t.broken());
    }
}

TEST(RecodingTransform, EveryTwoPieceSplitGivesSameOutput) {
    const std::string text = page_text(400);
    for (const shape s : all_shapes) {
        const std::string body = compress(s, text);
        for (std::size_t at = 0; at <= body.size(); ++at) {
            const std::string_view v = body;
            recoding_transform t(coding_of(s), upper_stage());
            const decoded d = decompress(coding_of(s), run(t, {v.substr(0, at), v.substr(at)}));
            ASSERT_TRUE(d.complete) << static_cast<int>(s) << " split at " << at;
            ASSERT_EQ(d.data, upper(text)) << static_cast<int>(s) << " split at " << at;
            ASSERT_FALSE(t.broken());
        }
    }
}

TEST(RecodingTransform, OneBytePiecesGiveSameOutput) {
    const std::string text = page_text(400);
    for (const shape s : all_shapes) {
        const std::string body = compress(s, text);
        recoding_transform t(coding_of(s), upper_stage());
        std::string out;
        for (const char c : body) {
            t.write(std::string_view(&c, 1), false, out);
        }
        t.write("", true, out);
        const decoded d = decompress(coding_of(s), out);
        EXPECT_TRUE(d.complete) << static_cast<int>(s);
        EXPECT_EQ(d.data, upper(text)) << static_cast<int>(s);
        EXPECT_FALSE(t.broken());
    }
}

TEST(RecodingTransform, EachWriteIsDecodableAtOnce) {
    const std::string text = page_text(100'000);
    for (const shape s : all_shapes) {
        const std::string body = compress(s, text);
        recoding_transform t(coding_of(s), identity_stage());
        std::string out;
        t.write(std::string_view(body).substr(0, body.size() / 2), false, out);

        const decoded d = decompress(coding_of(s), out);
        EXPECT_FALSE(d.error) << static_cast<int>(s);
        EXPECT_FALSE(d.complete) << static_cast<int>(s);
        EXPECT_GT(d.data.size(), text.size() / 4) << static_cast<int>(s);
        EXPECT_EQ(d.data, text.substr(0, d.data.size())) << static_cast<int>(s);
    }
}

TEST(RecodingTransform, PlainTextLabelledGzipPassesThrough) {
    const std::string text = page_text(5'000);
    for (const content_coding c :
         {content_coding::gzip, content_coding::deflate, content_coding::br}) {
        inner_log log;
        recoding_transform t(c, counting_stage(log));
        const std::string_view v = text;
        EXPECT_EQ(run(t, {v.substr(0, 1), v.substr(1, 2000), v.substr(2001)}), text);
        EXPECT_TRUE(t.passed_through());
        EXPECT_TRUE(t.broken());
        EXPECT_EQ(log.calls, 0u);
    }
}

TEST(RecodingTransform, RandomBytesLabelledBrPassThrough) {
    const std::string body = random_bytes(3'000, 7);
    inner_log log;
    recoding_transform t(content_coding::br, counting_stage(log));
    const std::string_view v = body;
    EXPECT_EQ(run(t, {v.substr(0, 100), v.substr(100)}), body);
    EXPECT_TRUE(t.passed_through());
    EXPECT_EQ(log.calls, 0u);
}

TEST(RecodingTransform, HeaderWithoutOutputPassesThroughAfter64KiB) {
    // A gzip header whose file name (FNAME) never ends: valid so far, but nothing decodes.
    std::string body("\x1f\x8b\x08\x08\0\0\0\0\0\x03", 10);
    body += std::string(100'000, 'n');
    inner_log log;
    recoding_transform t(content_coding::gzip, counting_stage(log));
    std::string out;
    t.write(std::string_view(body).substr(0, 70'000), false, out);
    EXPECT_TRUE(t.passed_through());
    t.write(std::string_view(body).substr(70'000), true, out);
    EXPECT_EQ(out, body);
    EXPECT_EQ(log.calls, 0u);
}

TEST(RecodingTransform, CorruptionMidStreamFinishesCleanly) {
    const std::string text = page_text(100'000);
    for (const shape s : all_shapes) {
        std::string body = compress(s, text);
        const std::size_t at = body.size() * 6 / 10;
        // What the intact first 60% decodes to.
        std::string intact = decompress(coding_of(s), body.substr(0, at)).data;
        if (s == shape::raw_deflate) {
            z_stream z{};
            inflateInit2(&z, -MAX_WBITS);
            std::string buf(text.size(), '\0');
            z.next_in = bytes(body.data());
            z.avail_in = static_cast<uInt>(at);
            z.next_out = reinterpret_cast<Bytef*>(buf.data());
            z.avail_out = static_cast<uInt>(buf.size());
            inflate(&z, Z_SYNC_FLUSH);
            intact = buf.substr(0, buf.size() - z.avail_out);
            inflateEnd(&z);
        }
        ASSERT_GT(intact.size(), 0u);
        for (std::size_t i = at; i < at + 64 && i < body.size(); ++i) {
            body[i] = static_cast<char>(body[i] ^ 0x5a);
        }
        inner_log log;
        std::string seen;
        recoding_transform t(coding_of(s),
                             [&seen, &log](std::string_view in, bool last, std::string& out) {
                                 seen.append(in);
                                 log.last_calls += last ? 1 : 0;
                                 out.append(in);
                             });
        const std::string_view v = body;
        const std::string out = run(t, {v.substr(0, at / 2), v.substr(at / 2)});

        const decoded d = decompress(coding_of(s), out);
        EXPECT_TRUE(d.complete) << static_cast<int>(s);
        EXPECT_EQ(d.data, seen);
        EXPECT_FALSE(t.passed_through());
        EXPECT_EQ(log.last_calls, 1);
        if (s == shape::gzip || s == shape::zlib) {
            // A checksum catches the damage at the latest at the end.
            EXPECT_TRUE(t.broken()) << static_cast<int>(s);
            EXPECT_EQ(d.data.substr(0, intact.size()), intact) << static_cast<int>(s);
        } else {
            // Raw deflate and br carry no checksum: damage may decode to other bytes, and brotli
            // drops what it held in its ring buffer when it finds an error. What went out is
            // still a valid stream that starts like the page.
            const auto diverge = std::mismatch(d.data.begin(), d.data.end(), text.begin());
            EXPECT_GT(diverge.first - d.data.begin(), 1000) << static_cast<int>(s);
        }
    }
}

TEST(RecodingTransform, TruncatedBodyFinishesCleanly) {
    const std::string text = page_text(100'000);
    for (const shape s : all_shapes) {
        const std::string body = compress(s, text);
        inner_log log;
        recoding_transform t(coding_of(s),
                             [&log](std::string_view in, bool last, std::string& out) {
                                 log.last_calls += last ? 1 : 0;
                                 out.append(in);
                             });
        const decoded d =
            decompress(coding_of(s), run(t, {std::string_view(body).substr(0, body.size() / 2)}));
        EXPECT_TRUE(d.complete) << static_cast<int>(s);
        EXPECT_GT(d.data.size(), 0u);
        EXPECT_LT(d.data.size(), text.size());
        EXPECT_EQ(d.data, text.substr(0, d.data.size()));
        EXPECT_TRUE(t.broken());
        EXPECT_FALSE(t.passed_through());
        EXPECT_EQ(log.last_calls, 1);
    }
}

TEST(RecodingTransform, GarbageAfterTheStreamIsIgnored) {
    const std::string text = page_text(3'000);
    for (const shape s : all_shapes) {
        const std::string body = compress(s, text);
        recoding_transform t(coding_of(s), identity_stage());
        const decoded d = decompress(coding_of(s), run(t, {body, "garbage after the end", "x"}));
        EXPECT_TRUE(d.complete) << static_cast<int>(s);
        EXPECT_EQ(d.data, text) << static_cast<int>(s);
        EXPECT_TRUE(t.broken()) << static_cast<int>(s);
        EXPECT_FALSE(t.passed_through());
    }
}

TEST(RecodingTransform, GzipMembersAreAllDecoded) {
    const std::string a = page_text(30'000);
    const std::string b = "<p>second member</p>";
    const std::string c = page_text(50'000);
    const std::string body =
        compress(shape::gzip, a) + compress(shape::gzip, b) + compress(shape::gzip, c);
    for (const std::size_t piece : {body.size(), std::size_t{1000}, std::size_t{7}}) {
        recoding_transform t(content_coding::gzip, identity_stage());
        std::string out;
        for (std::size_t i = 0; i < body.size(); i += piece) {
            t.write(std::string_view(body).substr(i, piece), false, out);
        }
        t.write("", true, out);
        const decoded d = decompress(content_coding::gzip, out);
        EXPECT_TRUE(d.complete);
        EXPECT_EQ(d.data, a + b + c) << piece;
        EXPECT_FALSE(t.broken());
    }
}

TEST(RecodingTransform, CompressionBombDecodesInBoundedSlices) {
    constexpr std::size_t bomb_bytes = 64 * 1024 * 1024;  // 1 GB would only be slower
    const std::string zeros(1024 * 1024, '\0');
    for (const content_coding c : {content_coding::gzip, content_coding::br}) {
        const std::string body = c == content_coding::gzip
                                     ? zlib_compress(zeros, bomb_bytes, 16 + MAX_WBITS, 9)
                                     : brotli_compress(zeros, bomb_bytes, 1);
        ASSERT_LT(body.size(), bomb_bytes / 500);
        inner_log log;
        recoding_transform t(c, counting_stage(log));
        std::string out;
        t.write(body, false, out);  // all of it at once
        t.write("", true, out);
        EXPECT_EQ(log.bytes, bomb_bytes);
        EXPECT_LE(log.largest, recoding_slice_bytes);
        EXPECT_EQ(log.last_calls, 1);
        EXPECT_FALSE(t.broken());
        EXPECT_TRUE(decompress(c, out).complete);
    }
}

TEST(RecodingTransform, WritesAfterTheLastDoNothing) {
    const std::string body = compress(shape::gzip, "<p>x</p>");
    inner_log log;
    recoding_transform t(content_coding::gzip, counting_stage(log));
    std::string out;
    t.write(body, true, out);
    const std::string done = out;
    t.write(body, true, out);
    EXPECT_EQ(out, done);
    EXPECT_EQ(log.last_calls, 1);
}

}  // namespace
}  // namespace cg::banner
