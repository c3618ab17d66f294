#include "support/compress.hpp"

#include <stdexcept>

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>

namespace cg::test {

namespace {

int window_bits(std::string_view coding) {
    if (coding == "gzip") {
        return 16 + MAX_WBITS;
    }
    if (coding == "deflate") {
        return MAX_WBITS;
    }
    throw std::runtime_error("unknown coding: " + std::string{coding});
}

Bytef* bytes(std::string_view s) {
    return reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
}

}  // namespace

std::string compress(std::string_view coding, std::string_view data) {
    if (coding == "br") {
        std::string out(BrotliEncoderMaxCompressedSize(data.size()) + 64, '\0');
        std::size_t size = out.size();
        if (BrotliEncoderCompress(5, 18, BROTLI_MODE_TEXT, data.size(),
                                  reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                                  reinterpret_cast<std::uint8_t*>(out.data())) == BROTLI_FALSE) {
            throw std::runtime_error("brotli failed");
        }
        out.resize(size);
        return out;
    }
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, window_bits(coding), 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw std::runtime_error("deflateInit2 failed");
    }
    std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
    z.next_in = bytes(data);
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("deflate failed");
    }
    return out;
}

std::string decompress(std::string_view coding, std::string_view data) {
    std::string out;
    if (coding == "br") {
        auto* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
        std::size_t in_left = data.size();
        const auto* in = reinterpret_cast<const std::uint8_t*>(data.data());
        BrotliDecoderResult rc = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
        while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
            std::uint8_t buf[16384];
            std::size_t out_left = sizeof buf;
            std::uint8_t* next = buf;
            rc = BrotliDecoderDecompressStream(s, &in_left, &in, &out_left, &next, nullptr);
            out.append(reinterpret_cast<const char*>(buf), sizeof buf - out_left);
        }
        BrotliDecoderDestroyInstance(s);
        if (rc != BROTLI_DECODER_RESULT_SUCCESS || in_left != 0) {
            throw std::runtime_error("not one complete br stream");
        }
        return out;
    }
    z_stream z{};
    if (inflateInit2(&z, window_bits(coding)) != Z_OK) {
        throw std::runtime_error("inflateInit2 failed");
    }
    z.next_in = bytes(data);
    z.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
        char buf[16384];
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            break;
        }
    }
    const bool complete = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!complete) {
        throw std::runtime_error("not one complete " + std::string{coding} + " stream");
    }
    return out;
}

}  // namespace cg::test
