#include "banner/content_coding.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace cg::banner {

namespace {

// Raw input held before the first decoded byte, so that undecodable bodies can still pass
// through untouched. gzip and zlib headers are a few bytes; a name or extra field in a gzip
// header larger than this is not worth waiting for.
constexpr std::size_t max_held_bytes = 64 * 1024;

// Output space asked of an encoder per call; out grows by what it really wrote.
constexpr std::size_t encode_chunk_bytes = 16 * 1024;

// zlib counts in uInt; pieces longer than that are fed in parts.
constexpr std::size_t max_zlib_bytes = std::numeric_limits<uInt>::max();

constexpr int gzip_window_bits = 16 + MAX_WBITS;  // zlib.h: +16 selects the gzip wrapper
// Level 5: on a 30 KB page about 1% larger than level 6 for half the CPU (measured with
// zlib 1.2.13); the page was compressed once upstream, this is the second time per request.
constexpr int zlib_level = 5;
// Encoder memory (zlib.h: (1 << (windowBits+2)) + (1 << (memLevel+9))): a 16 KiB window and
// memLevel 7 take 128 KiB instead of the default 256 KiB per response being rewritten, for
// about 1% more output on HTML. Decoding keeps the full 32 KiB window (any stream).
constexpr int encode_window_bits = 14;
constexpr int zlib_mem_level = 7;
constexpr int brotli_quality = 5;  // streaming speed over ratio
// A 256 KiB window instead of the default 4 MiB: memory per rewritten response stays small
// when a thousand are in flight (a page is rarely larger than the window anyway).
constexpr int brotli_window_bits = 18;

char lower_ascii(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return lower_ascii(x) == lower_ascii(y);
           });
}

std::string_view trim_ows(std::string_view s) noexcept {
    // RFC 9110 §5.6.3: optional whitespace is spaces and tabs.
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

Bytef* zlib_bytes(const char* p) noexcept {
    // zlib's next_in is not const-qualified (without ZLIB_CONST) but is never written through.
    return reinterpret_cast<Bytef*>(const_cast<char*>(p));
}

const std::uint8_t* brotli_bytes(const char* p) noexcept {
    return reinterpret_cast<const std::uint8_t*>(p);
}

// ---------------------------------------------------------------------------------------------
// Decoders

enum class step {
    more,        // call again: input is left, or output space ran out
    need_input,  // all input consumed
    end,         // the compressed stream (a gzip member) ended here
    error,       // not a valid stream of the coding; sticky
};

class decoder {
  public:
    virtual ~decoder() = default;
    // Decodes from the front of `in` (advanced past what was consumed) into out[0, cap) and sets
    // `produced`.
    virtual step decode(std::string_view& in, char* out, std::size_t cap,
                        std::size_t& produced) noexcept = 0;
    // True when the input so far is one or more complete streams (members).
    [[nodiscard]] virtual bool complete() const noexcept = 0;
};

// zlib states are large and each new one is allocated, page-faulted and cleared: for a 30 KB
// page that cost more than compressing it. A few per thread and kind are kept and reset for
// the next response instead (streams are made and destroyed on a worker's own thread).
template <bool Deflate>
class zlib_pool {
  public:
    // A reset stream made with `window_bits`, or nullptr (make one).
    static z_stream* take(int window_bits) noexcept {
        auto& free = local().free;
        for (auto it = free.begin(); it != free.end(); ++it) {
            if (it->first == window_bits) {
                z_stream* s = it->second;
                free.erase(it);
                return s;
            }
        }
        return nullptr;
    }

    // Takes `s` back: reset and kept, or ended when the pool is full or the reset fails.
    static void give(z_stream* s, int window_bits) noexcept {
        auto& free = local().free;
        const bool reset = (Deflate ? deflateReset(s) : inflateReset(s)) == Z_OK;
        if (reset && free.size() < max_kept) {
            try {
                free.emplace_back(window_bits, s);
                return;
            } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory: end it instead
            }
        }
        end(s);
    }

  private:
    static constexpr std::size_t max_kept = 8;

    static void end(z_stream* s) noexcept {
        if (Deflate) {
            deflateEnd(s);
        } else {
            inflateEnd(s);
        }
        delete s;
    }

    struct kept {
        std::vector<std::pair<int, z_stream*>> free;
        ~kept() {
            for (const auto& [bits, s] : free) {
                end(s);
            }
        }
    };

    static kept& local() noexcept {
        thread_local kept k;
        return k;
    }
};

// Gives a stream back to its pool (see zlib_pool) instead of freeing it.
template <bool Deflate>
struct pooled_deleter {
    int window_bits = 0;
    void operator()(z_stream* s) const noexcept { zlib_pool<Deflate>::give(s, window_bits); }
};
using inflate_deleter = pooled_deleter<false>;
using deflate_deleter = pooled_deleter<true>;

// gzip (several members allowed) and deflate (zlib or raw).
class zlib_decoder final : public decoder {
  public:
    explicit zlib_decoder(content_coding coding) noexcept : coding_(coding) {}

    step decode(std::string_view& in, char* out, std::size_t cap,
                std::size_t& produced) noexcept override {
        produced = 0;
        if (failed_) {
            return step::error;
        }
        if (!stream_) {
            if (!start(in)) {
                return failed_ ? step::error : step::need_input;
            }
        }
        std::string_view& src = head_pending_.empty() ? in : head_pending_;
        if (at_end_) {
            if (src.empty()) {
                return step::need_input;
            }
            // RFC 1952 §2.2: a gzip file is a series of members. Other codings have one stream,
            // so anything after it is garbage.
            if (coding_ != content_coding::gzip || inflateReset(stream_.get()) != Z_OK) {
                return fail();
            }
            at_end_ = false;
        }
        const auto in_len = static_cast<uInt>(std::min(src.size(), max_zlib_bytes));
        const auto out_len = static_cast<uInt>(std::min(cap, max_zlib_bytes));
        stream_->next_in = zlib_bytes(src.data());
        stream_->avail_in = in_len;
        stream_->next_out = reinterpret_cast<Bytef*>(out);
        stream_->avail_out = out_len;
        const int rc = inflate(stream_.get(), Z_NO_FLUSH);
        const std::size_t consumed = in_len - stream_->avail_in;
        src.remove_prefix(consumed);
        produced = out_len - stream_->avail_out;
        if (rc == Z_STREAM_END) {
            at_end_ = true;
            return step::end;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return fail();  // Z_DATA_ERROR, Z_NEED_DICT (no dictionary to give), Z_MEM_ERROR
        }
        const bool input_left = !head_pending_.empty() || !in.empty();
        if (consumed == 0 && produced == 0) {
            // No progress with output space: inflate wants input, so none may be left.
            return input_left ? fail() : step::need_input;
        }
        return (input_left || stream_->avail_out == 0) ? step::more : step::need_input;
    }

    [[nodiscard]] bool complete() const noexcept override { return at_end_; }

  private:
    step fail() noexcept {
        failed_ = true;
        return step::error;
    }

    // Sets up inflate. For deflate this waits for the first two bytes, which tell a zlib header
    // from raw deflate data. False while waiting or on failure (then failed_ is set).
    bool start(std::string_view& in) noexcept {
        int window_bits = gzip_window_bits;
        if (coding_ == content_coding::deflate) {
            while (head_size_ < head_.size() && !in.empty()) {
                head_[head_size_++] = in.front();
                in.remove_prefix(1);
            }
            if (head_size_ < head_.size()) {
                return false;
            }
            // RFC 1950 §2.2: CM = 8, CINFO <= 7 and the 16-bit header a multiple of 31. Some
            // servers send raw deflate (RFC 1951) for "deflate"; zlib reads that with negative
            // window bits.
            const auto b0 = static_cast<unsigned char>(head_[0]);
            const auto b1 = static_cast<unsigned char>(head_[1]);
            const bool zlib_header =
                (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && (b0 * 256 + b1) % 31 == 0;
            window_bits = zlib_header ? MAX_WBITS : -MAX_WBITS;
            head_pending_ = std::string_view(head_.data(), head_.size());
        }
        auto* raw = zlib_pool<false>::take(window_bits);
        if (raw == nullptr) {
            raw = new (std::nothrow) z_stream{};
            if (raw == nullptr) {
                failed_ = true;
                return false;
            }
            if (inflateInit2(raw, window_bits) != Z_OK) {
                delete raw;
                failed_ = true;
                return false;
            }
        }
        stream_ = std::unique_ptr<z_stream, inflate_deleter>(raw, inflate_deleter{window_bits});
        return true;
    }

    content_coding coding_;
    std::unique_ptr<z_stream, inflate_deleter> stream_;
    std::array<char, 2> head_{};  // deflate: the first two bytes, to detect the format
    std::size_t head_size_ = 0;
    std::string_view head_pending_;  // part of head_ not yet given to inflate
    bool at_end_ = false;
    bool failed_ = false;
};

class brotli_decoder final : public decoder {
  public:
    brotli_decoder() noexcept
        : state_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr),
                 &BrotliDecoderDestroyInstance) {}

    step decode(std::string_view& in, char* out, std::size_t cap,
                std::size_t& produced) noexcept override {
        produced = 0;
        if (failed_ || !state_) {
            return fail();
        }
        if (at_end_) {
            // RFC 7932 has no concatenation: bytes after the last meta-block are garbage.
            return in.empty() ? step::need_input : fail();
        }
        std::size_t avail_in = in.size();
        const std::uint8_t* next_in = brotli_bytes(in.data());
        std::size_t avail_out = cap;
        auto* next_out = reinterpret_cast<std::uint8_t*>(out);
        const BrotliDecoderResult rc = BrotliDecoderDecompressStream(
            state_.get(), &avail_in, &next_in, &avail_out, &next_out, nullptr);
        in.remove_prefix(in.size() - avail_in);
        produced = cap - avail_out;
        switch (rc) {
            case BROTLI_DECODER_RESULT_SUCCESS:
                at_end_ = true;
                return step::end;
            case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                return step::more;
            case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
                // It says so even when it filled the output and has more: ask again then.
                return avail_out == 0 ? step::more : step::need_input;
            case BROTLI_DECODER_RESULT_ERROR:
                break;
        }
        return fail();
    }

    [[nodiscard]] bool complete() const noexcept override { return at_end_; }

  private:
    step fail() noexcept {
        failed_ = true;
        return step::error;
    }

    std::unique_ptr<BrotliDecoderState, decltype(&BrotliDecoderDestroyInstance)> state_;
    bool at_end_ = false;
    bool failed_ = false;
};

// ---------------------------------------------------------------------------------------------
// Encoders

enum class flush_mode { none, flush, finish };

class encoder {
  public:
    virtual ~encoder() = default;
    // False when the codec could not be set up (out of memory).
    [[nodiscard]] virtual bool ok() const noexcept = 0;
    // Encodes `in` and appends the output to `out`; false when the codec failed (out of memory).
    virtual bool encode(std::string_view in, flush_mode mode, std::string& out) = 0;
};

// The compressor for bodies encoded in one go, one per thread (it is large and reused).
libdeflate_compressor* one_shot_compressor() noexcept {
    struct holder {
        libdeflate_compressor* c = libdeflate_alloc_compressor(zlib_level);
        holder() = default;
        holder(const holder&) = delete;
        holder& operator=(const holder&) = delete;
        ~holder() {
            if (c != nullptr) {
                libdeflate_free_compressor(c);
            }
        }
    };
    thread_local holder h;
    return h.c;
}

// gzip or zlib output. When the whole body reaches the encoder before any flush (a page that
// arrived in one read, the common case), it is compressed in one call by libdeflate, which on
// HTML takes about 60% of zlib's time at the same level for slightly smaller output; otherwise
// a zlib stream is started with what was buffered and carries on flushing piece by piece.
class zlib_encoder final : public encoder {
  public:
    explicit zlib_encoder(content_coding coding) noexcept : gzip_(coding == content_coding::gzip) {}

    [[nodiscard]] bool ok() const noexcept override { return true; }

    bool encode(std::string_view in, flush_mode mode, std::string& out) override {
        if (!started_) {
            if (mode == flush_mode::none && pending_.size() + in.size() <= max_one_shot_bytes) {
                pending_.append(in);
                return true;
            }
            if (libdeflate_compressor* c = one_shot_compressor();
                mode == flush_mode::finish && c != nullptr) {
                return compress_one_shot(*c, in, out);
            }
            if (!start()) {
                return false;
            }
            if (!pending_.empty()) {
                const bool fed = stream(pending_, flush_mode::none, out);
                std::string().swap(pending_);
                if (!fed) {
                    return false;
                }
            }
        }
        return stream(in, mode, out);
    }

  private:
    // A body buffered whole is compressed in one go up to this size; larger ones stream.
    static constexpr std::size_t max_one_shot_bytes = 256 * 1024;

    // Compresses pending_ + `in` as the whole body. False when that failed (the output did not
    // fit the bound, which cannot happen).
    bool compress_one_shot(libdeflate_compressor& c, std::string_view in, std::string& out) {
        std::string_view body = in;
        if (!pending_.empty()) {
            pending_.append(in);
            body = pending_;
        }
        const std::size_t bound = gzip_ ? libdeflate_gzip_compress_bound(&c, body.size())
                                        : libdeflate_zlib_compress_bound(&c, body.size());
        const std::size_t old_size = out.size();
        out.resize(old_size + bound);
        const std::size_t n =
            gzip_ ? libdeflate_gzip_compress(&c, body.data(), body.size(), out.data() + old_size,
                                             bound)
                  : libdeflate_zlib_compress(&c, body.data(), body.size(), out.data() + old_size,
                                             bound);
        out.resize(old_size + n);
        std::string().swap(pending_);
        started_ = true;  // and finished: nothing more is encoded
        return n != 0;
    }

    bool start() noexcept {
        started_ = true;
        // gzip: the gzip wrapper (RFC 1952); deflate: the zlib format (RFC 1950), which is what
        // RFC 9110 §8.4.1.2 calls "deflate".
        const int window_bits = gzip_ ? 16 + encode_window_bits : encode_window_bits;
        auto* raw = zlib_pool<true>::take(window_bits);
        if (raw == nullptr) {
            raw = new (std::nothrow) z_stream{};
            if (raw == nullptr) {
                return false;
            }
            if (deflateInit2(raw, zlib_level, Z_DEFLATED, window_bits, zlib_mem_level,
                             Z_DEFAULT_STRATEGY) != Z_OK) {
                delete raw;
                return false;
            }
        }
        stream_ = std::unique_ptr<z_stream, deflate_deleter>(raw, deflate_deleter{window_bits});
        return true;
    }

    bool stream(std::string_view in, flush_mode mode, std::string& out) {
        if (!stream_) {
            return false;
        }
        const int flush = mode == flush_mode::finish  ? Z_FINISH
                          : mode == flush_mode::flush ? Z_SYNC_FLUSH
                                                      : Z_NO_FLUSH;
        for (;;) {
            const auto in_len = static_cast<uInt>(std::min(in.size(), max_zlib_bytes));
            const bool final_part = in_len == in.size();
            stream_->next_in = zlib_bytes(in.data());
            stream_->avail_in = in_len;
            const int rc = run(final_part ? flush : Z_NO_FLUSH, out);
            in.remove_prefix(in_len - stream_->avail_in);
            if (rc == Z_STREAM_ERROR) {
                return false;
            }
            if (in.empty()) {
                return true;
            }
        }
    }

    // Calls deflate until it has taken all input and, with a flush, written all output.
    int run(int flush, std::string& out) {
        for (;;) {
            const std::size_t old_size = out.size();
            out.resize(old_size + encode_chunk_bytes);
            stream_->next_out = reinterpret_cast<Bytef*>(out.data() + old_size);
            stream_->avail_out = static_cast<uInt>(encode_chunk_bytes);
            const int rc = deflate(stream_.get(), flush);
            out.resize(old_size + encode_chunk_bytes - stream_->avail_out);
            if (rc == Z_STREAM_ERROR || rc == Z_STREAM_END) {
                return rc;
            }
            // zlib.h: while avail_out comes back 0 there may be more output for this flush.
            if (stream_->avail_in == 0 && stream_->avail_out != 0 && flush != Z_FINISH) {
                return rc;
            }
            if (rc == Z_BUF_ERROR && stream_->avail_out != 0) {
                return Z_STREAM_ERROR;  // no progress though it had room: cannot happen
            }
        }
    }

    bool gzip_;
    bool started_ = false;  // a zlib stream was started, or the one-shot output written
    std::string pending_;   // inner output before the first flush, while not started_
    std::unique_ptr<z_stream, deflate_deleter> stream_;
};

class brotli_encoder final : public encoder {
  public:
    brotli_encoder() noexcept
        : state_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr),
                 &BrotliEncoderDestroyInstance) {
        if (state_ && (BrotliEncoderSetParameter(state_.get(), BROTLI_PARAM_QUALITY,
                                                 brotli_quality) == BROTLI_FALSE ||
                       BrotliEncoderSetParameter(state_.get(), BROTLI_PARAM_MODE,
                                                 BROTLI_MODE_TEXT) == BROTLI_FALSE ||
                       BrotliEncoderSetParameter(state_.get(), BROTLI_PARAM_LGWIN,
                                                 brotli_window_bits) == BROTLI_FALSE)) {
            state_.reset();
        }
    }

    [[nodiscard]] bool ok() const noexcept override { return state_ != nullptr; }

    bool encode(std::string_view in, flush_mode mode, std::string& out) override {
        if (!state_) {
            return false;
        }
        const BrotliEncoderOperation op = mode == flush_mode::finish  ? BROTLI_OPERATION_FINISH
                                          : mode == flush_mode::flush ? BROTLI_OPERATION_FLUSH
                                                                      : BROTLI_OPERATION_PROCESS;
        std::size_t avail_in = in.size();
        const std::uint8_t* next_in = brotli_bytes(in.data());
        for (;;) {
            // encode.h: with no output space the encoder keeps its output for TakeOutput.
            std::size_t avail_out = 0;
            if (BrotliEncoderCompressStream(state_.get(), op, &avail_in, &next_in, &avail_out,
                                            nullptr, nullptr) == BROTLI_FALSE) {
                return false;
            }
            std::size_t size = 0;
            const std::uint8_t* data = BrotliEncoderTakeOutput(state_.get(), &size);
            out.append(reinterpret_cast<const char*>(data), size);
            // encode.h: a flush or finish is done once all input is taken and no output is left.
            if (avail_in == 0 && BrotliEncoderHasMoreOutput(state_.get()) == BROTLI_FALSE &&
                (op != BROTLI_OPERATION_FINISH ||
                 BrotliEncoderIsFinished(state_.get()) == BROTLI_TRUE)) {
                return true;
            }
        }
    }

  private:
    std::unique_ptr<BrotliEncoderState, decltype(&BrotliEncoderDestroyInstance)> state_;
};

}  // namespace

// -------------------------------------------------------------------------------------------------

std::optional<content_coding> parse_content_encoding(std::string_view value) noexcept {
    value = trim_ows(value);
    if (value.empty() || iequals(value, "identity")) {
        return content_coding::identity;
    }
    // RFC 9110 §8.4.1.1: x-gzip is an alias of gzip.
    if (iequals(value, "gzip") || iequals(value, "x-gzip")) {
        return content_coding::gzip;
    }
    if (iequals(value, "deflate")) {
        return content_coding::deflate;
    }
    if (iequals(value, "br")) {
        return content_coding::br;
    }
    return std::nullopt;
}

std::string_view name_of(content_coding c) noexcept {
    switch (c) {
        case content_coding::gzip:
            return "gzip";
        case content_coding::deflate:
            return "deflate";
        case content_coding::br:
            return "br";
        case content_coding::identity:
            break;
    }
    return "";
}

class recoding_transform::impl {
  public:
    impl(content_coding coding, body_stage inner) : inner_(std::move(inner)) {
        if (coding == content_coding::identity) {
            mode_ = mode::identity;
            return;
        }
        if (coding == content_coding::br) {
            decoder_ = std::make_unique<brotli_decoder>();
            encoder_ = std::make_unique<brotli_encoder>();
        } else {
            decoder_ = std::make_unique<zlib_decoder>(coding);
            encoder_ = std::make_unique<zlib_encoder>(coding);
        }
        slice_ = std::make_unique<char[]>(recoding_slice_bytes);
        if (!encoder_->ok()) {
            // Out of memory for the encoder: the body cannot be rewritten, so it goes as it is.
            mode_ = mode::passing;
            broken_ = true;
            passed_ = true;
        }
    }

    void write(std::string_view in, bool last, std::string& out) {
        if (finished_) {
            return;
        }
        finished_ = last;
        switch (mode_) {
            case mode::identity:
                inner_(in, last, out);
                return;
            case mode::passing:
                out.append(in);
                return;
            case mode::done:
                return;
            case mode::held:
                in = write_held(in, out);
                break;
            case mode::decoding:
                break;
        }
        if (mode_ == mode::passing) {
            out.append(in);
            return;
        }
        if (mode_ == mode::decoding) {
            if (!in.empty() && !encoder_failed_ && !feed(in, out)) {
                broken_ = true;
                finish(out);
                return;
            }
            if (encoder_failed_) {
                finish(out);  // nothing more can be encoded: end inner, ignore the rest
                return;
            }
            if (!last) {
                flush(out);
                return;
            }
            if (!decoder_->complete()) {
                broken_ = true;  // the body ended inside a stream: finish what was decoded
            }
            finish(out);
            return;
        }
        if (mode_ == mode::held && last) {
            end_held(out);
        }
    }

    [[nodiscard]] bool broken() const noexcept { return broken_; }
    [[nodiscard]] bool passed_through() const noexcept { return passed_; }

  private:
    enum class mode {
        identity,  // no coding: inner gets the body as it is
        held,      // no decoded byte yet: raw input is held in held_
        decoding,  // decoded bytes went to inner: decode -> inner -> encode
        passing,   // gave up before any decoded byte: raw input goes out unchanged
        done,      // the encoded stream is finished: input is ignored
    };

    // Feeds `in` while no decoded byte has appeared, keeping the raw bytes in held_ (at most
    // max_held_bytes). Returns the part of `in` not yet looked at, once mode_ changed.
    std::string_view write_held(std::string_view in, std::string& out) {
        while (mode_ == mode::held && !in.empty()) {
            if (held_.size() >= max_held_bytes) {
                pass_through(out);  // that much input and still no output: not worth holding
                break;
            }
            const std::string_view chunk = in.substr(0, max_held_bytes - held_.size());
            in.remove_prefix(chunk.size());
            held_.append(chunk);
            if (!feed(chunk, out)) {
                if (mode_ == mode::held) {
                    pass_through(out);
                } else {
                    // Decoded bytes went to inner before the error in this same chunk.
                    broken_ = true;
                    finish(out);
                }
                break;
            }
        }
        if (mode_ == mode::held && held_.size() >= max_held_bytes) {
            pass_through(out);
        }
        return in;
    }

    // The body ended before any decoded byte.
    void end_held(std::string& out) {
        if (held_.empty()) {
            passed_ = true;  // no body at all: nothing to decode, nothing to write
            mode_ = mode::passing;
            return;
        }
        if (decoder_->complete()) {
            // A valid stream of an empty document: inner may still have something to add.
            std::string().swap(held_);
            mode_ = mode::decoding;
            finish(out);
            return;
        }
        pass_through(out);  // truncated before the first decoded byte
    }

    void pass_through(std::string& out) {
        out.append(held_);
        std::string().swap(held_);
        mode_ = mode::passing;
        broken_ = true;
        passed_ = true;
    }

    // Decodes all of `in` in slices, handing each to inner and encoding inner's output before the
    // next slice, so that a high ratio never piles up decoded bytes. False when decoding failed.
    bool feed(std::string_view in, std::string& out) {
        for (;;) {
            std::size_t produced = 0;
            const step s = decoder_->decode(in, slice_.get(), recoding_slice_bytes, produced);
            if (produced > 0) {
                deliver(std::string_view(slice_.get(), produced), out);
                if (encoder_failed_) {
                    return true;
                }
            }
            if (s == step::error) {
                return false;
            }
            if (s == step::need_input || (s == step::end && in.empty())) {
                return true;
            }
        }
    }

    void deliver(std::string_view decoded, std::string& out) {
        if (mode_ == mode::held) {
            std::string().swap(held_);  // committed to decoding: the raw bytes are no longer needed
            mode_ = mode::decoding;
        }
        inner_(decoded, false, inner_out_);
        encode(flush_mode::none, out);
    }

    void encode(flush_mode fm, std::string& out) {
        if (encoder_failed_ || (inner_out_.empty() && fm == flush_mode::none)) {
            inner_out_.clear();
            return;
        }
        if (!encoder_->encode(inner_out_, fm, out)) {
            // The codec ran out of memory: the output stream is cut off here.
            broken_ = true;
            encoder_failed_ = true;
        }
        inner_out_.clear();
        dirty_ = fm == flush_mode::none;
    }

    // Flushes the encoder so that the client can decode all output so far.
    void flush(std::string& out) {
        if (dirty_) {
            encode(flush_mode::flush, out);
        }
    }

    // Ends inner and the encoded stream; later input is ignored.
    void finish(std::string& out) {
        mode_ = mode::done;
        finished_ = true;
        inner_(std::string_view(), true, inner_out_);
        encode(flush_mode::finish, out);
    }

    body_stage inner_;
    mode mode_ = mode::held;
    std::unique_ptr<decoder> decoder_;
    std::unique_ptr<encoder> encoder_;
    std::unique_ptr<char[]> slice_;  // recoding_slice_bytes of decoded output
    std::string held_;               // raw input while mode_ == held
    std::string inner_out_;          // inner's output for one slice, encoded at once
    bool encoder_failed_ = false;    // encoding failed: nothing more is encoded
    bool dirty_ = false;             // the encoder took input since the last flush
    bool finished_ = false;          // `last` was seen or the stream was finished
    bool broken_ = false;
    bool passed_ = false;
};

recoding_transform::recoding_transform(content_coding coding, body_stage inner)
    : impl_(std::make_unique<impl>(coding, std::move(inner))) {}

recoding_transform::~recoding_transform() = default;
recoding_transform::recoding_transform(recoding_transform&&) noexcept = default;
recoding_transform& recoding_transform::operator=(recoding_transform&&) noexcept = default;

void recoding_transform::write(std::string_view in, bool last, std::string& out) {
    impl_->write(in, last, out);
}

bool recoding_transform::broken() const noexcept {
    return impl_->broken();
}

bool recoding_transform::passed_through() const noexcept {
    return impl_->passed_through();
}

}  // namespace cg::banner
