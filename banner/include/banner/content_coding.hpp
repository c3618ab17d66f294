#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cg::banner {

/// The content codings whose bodies the gateway can decode, rewrite and encode again
/// (RFC 9110 §8.4.1).
enum class content_coding { identity, gzip, deflate, br };

/// Parses a Content-Encoding field value. Absent/empty/"identity" -> identity; exactly one of
/// gzip, x-gzip, deflate, br (case-insensitive, surrounding spaces and tabs ok) -> that (x-gzip
/// gives gzip); anything else (unknown codings, several stacked codings like "gzip, br") ->
/// nullopt: the body is not rewritable and must stream through untouched. Input is untrusted.
std::optional<content_coding> parse_content_encoding(std::string_view value) noexcept;

/// Name as sent in Content-Encoding ("gzip", "deflate", "br"; "" for identity).
std::string_view name_of(content_coding c) noexcept;

/// The inner transform: gets decoded bytes, appends its output to `out` (like
/// html_rewriter::write). It is called with `last` true exactly once, at the end.
using body_stage = std::function<void(std::string_view in, bool last, std::string& out)>;

/// The most decoded bytes a recoding_transform hands to its inner stage in one call. Decoding
/// goes in slices of this size, each encoded again before the next is decoded, so memory does
/// not grow with the compression ratio (a 16 KB zip bomb may inflate to gigabytes).
inline constexpr std::size_t recoding_slice_bytes = 16 * 1024;

/// Streams an HTTP response body in `coding` through decode -> inner -> encode (the same coding
/// again). With identity, write() just calls inner.
///
/// Output is prompt: each write() ends with a flush (Z_SYNC_FLUSH; BROTLI_OPERATION_FLUSH) of
/// whatever inner gave, so a browser can decode everything decoded so far; the call with `last`
/// finishes the stream. gzip bodies may hold several members (RFC 1952), all decoded; the output
/// is one member. "deflate" is decoded as zlib (RFC 1950), or as raw deflate when the first two
/// bytes are no zlib header, and always encoded as zlib. Encoders: gzip/zlib level 5, brotli
/// quality 5. A gzip or deflate body whose rewritten output (at most 256 KiB) is complete before
/// any flush, i.e. one that came in a single write() with `last`, is compressed in one call by
/// libdeflate (faster, slightly smaller); otherwise zlib streams it.
///
/// The body is untrusted. Invalid input never throws; instead:
/// - Before any decoded byte reached inner, raw input is held (at most 64 KiB). If decoding
///   fails then (bad data, trailing garbage, a body that ends too early, or 64 KiB without a
///   decoded byte), the transform passes everything through byte for byte: the held bytes and
///   all later input go to `out` unchanged, inner is never called; broken() and
///   passed_through() are true.
/// - After decoded bytes reached inner, a failure (bad data, a stream cut short by `last`, data
///   after the end of a br or deflate stream, or after the last gzip member that is no valid
///   member) ends the output: inner is called with last=true, the encoded stream is finished
///   cleanly (the client gets a valid, shorter body), and all later input is ignored; broken()
///   is true, passed_through() false.
/// - An empty body (no byte at all before `last`) gives empty output; inner is not called;
///   passed_through() is true, broken() false. A valid stream that decodes to nothing is a real
///   (empty) document: inner gets ("", true) and its output is encoded.
///
/// Memory is bounded by one slice, the held raw input, the codecs' own state (brotli's window is
/// the largest, a few MiB) and inner's own buffering; `out` grows by the encoded output of the
/// piece written. Exceptions thrown by inner (and std::bad_alloc while appending to `out`)
/// propagate and leave the transform unusable; zlib or brotli running out of memory counts as
/// broken input. Not thread safe; use one per response. Calls after `last` do nothing.
class recoding_transform {
  public:
    /// Throws std::bad_alloc only; codec set-up failures show up as broken input later.
    recoding_transform(content_coding coding, body_stage inner);
    ~recoding_transform();
    recoding_transform(recoding_transform&&) noexcept;
    /// A moved-from transform may only be destroyed or assigned to.
    recoding_transform& operator=(recoding_transform&&) noexcept;

    /// Appends to `out` the encoded output for the next piece `in` of the encoded body;
    /// `last` marks the end of the body. Never throws for bad input.
    void write(std::string_view in, bool last, std::string& out);

    /// True when the input turned out not to be a valid stream of the coding (see above).
    [[nodiscard]] bool broken() const noexcept;

    /// True when the transform gave up decoding before any decoded byte went to the inner
    /// transform, so everything is being passed through byte for byte (see above).
    [[nodiscard]] bool passed_through() const noexcept;

  private:
    class impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace cg::banner
