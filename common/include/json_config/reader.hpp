#pragma once
// This is the one public header in the project that includes nlohmann/json (STYLE.md §1 keeps
// json in src/ elsewhere): this library's whole purpose is reading JSON configuration
// documents, so the DOM type is its interface. Modules that parse their own part of the
// configuration (STYLE.md §6) include it from their config reader, not from their main headers.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cg::json_config {

/// Deepest nesting of arrays and objects a document may have.
inline constexpr std::size_t max_depth = 64;
/// Upper bound of every `*_ms` timeout read with reader::read_millis (one day).
inline constexpr std::uint64_t max_timeout_ms = 86'400'000;

/// A document that is not JSON. what() is the whole one-line problem:
/// `SOURCE: invalid JSON at line L, column C: reason`.
class syntax_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A parsed document and the JSON Pointers of keys that appeared twice in one object (the
/// later value is kept; the reader reports each as a problem, see reader::report_duplicates).
struct document {
    nlohmann::json root;
    std::vector<std::string> duplicates;
};

/// Parses strict JSON (no comments, no trailing commas) with at most max_depth levels of
/// nesting. `source` names the document in the message. Throws syntax_error for anything that
/// is not one JSON value; only std::bad_alloc otherwise. Input is untrusted: any bytes, any
/// length; deep nesting does not recurse. Thread-safe.
document parse_document(std::string_view text, std::string_view source);

/// Offset of the first '[' or '{' of `text` nested deeper than `depth` levels, or text.size()
/// when nothing is. A linear scan, not a parse: brackets inside strings are skipped, and on
/// text that is not JSON the answer is still bounded and cheap, so it can refuse deep input
/// before a parser builds it. Input is untrusted: any bytes, any length. Thread-safe.
std::size_t offset_beyond_depth(std::string_view text, std::size_t depth) noexcept;

/// Reads a whole file of at most `max_bytes`. Returns nullopt and sets `error` to the reason
/// ("No such file or directory", "Is a directory", "larger than 16 MiB") when it cannot.
/// Thread-safe.
std::optional<std::string> read_file(const std::filesystem::path& file, std::size_t max_bytes,
                                     std::string& error);

// --- Pieces of messages ---------------------------------------------------------------------
// All of these are safe on untrusted values: long values are cut, control characters escaped.

/// `pointer` extended by one object key, escaped per RFC 6901 §3 and cut if very long.
std::string child(const std::string& pointer, std::string_view key);
/// `pointer` extended by one array index.
std::string child(const std::string& pointer, std::size_t index);
/// The start of `v` as compact JSON, at most 40 characters (with "..." when cut).
std::string preview(const nlohmann::json& v);
/// `s` as a quoted JSON string, at most 40 characters.
std::string literal(std::string_view s);
/// ` (got PREVIEW)`, the suffix of a message about a wrong value. Never use it for secrets.
std::string got(const nlohmann::json& v);
/// The words separated by ", ".
std::string join(std::span<const std::string_view> words);
/// The lines separated by '\n', e.g. a list of problems as one exception's what().
std::string join_lines(std::span<const std::string> lines);
/// The member `key` of an object, or nullptr when absent (or when `object` is not an object).
const nlohmann::json* member(const nlohmann::json& object, std::string_view key);

/// An inclusive range for reader::read_uint.
struct uint_range {
    std::uint64_t min;
    std::uint64_t max;
};

/// "MIN-MAX".
std::string range_text(uint_range r);

// --- Value checks shared by the modules -----------------------------------------------------

/// '0'-'9'.
inline bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
/// ASCII letters and digits (no locale).
inline bool is_alnum(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
/// 'A'-'Z' lowered; every other byte unchanged (no locale).
inline char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
/// ASCII-only lower-casing (host names, codes); other bytes are left alone.
std::string lower(std::string_view s);
/// A DNS-style name: letters, digits, '-', '_' and '.', no empty label except a final dot.
bool is_host_name(std::string_view s);
/// A host name or IPv4 literal; something that looks like a dotted quad must be a valid one.
bool is_name_or_ipv4(std::string_view s);

/// Collects problems while a module reads its part of a document, each as
/// `SOURCE: /json/pointer: reason` (STYLE.md §6). The read_* functions report a present but
/// invalid value and leave `out` unchanged; an absent key is not a problem (defaults stay).
/// Values read are untrusted; nothing here throws except std::bad_alloc. Not thread-safe: one
/// reader per document.
class reader {
  public:
    /// `source` names the document (usually its file path) at the start of every problem.
    explicit reader(std::string source) : source_(std::move(source)) {}

    const std::string& source() const noexcept { return source_; }

    /// Records `SOURCE: POINTER: REASON`.
    void fail(const std::string& pointer, std::string_view reason);
    /// Records `SOURCE: REASON`, for a problem with the document as a whole.
    void fail_document(std::string_view reason);
    /// Records a line that already names its source, e.g. one from a file the config refers to.
    void add_problem(std::string line);
    /// Records `SOURCE: POINTER: duplicate field` for each duplicate key of `doc`.
    void report_duplicates(const document& doc);

    /// Every problem so far, in the order found.
    const std::vector<std::string>& problems() const noexcept { return problems_; }
    /// Moves the problems out (for throwing them as one error).
    std::vector<std::string> take_problems() noexcept { return std::move(problems_); }

    /// Requires `v` to be an object and reports every key not in `allowed` as an unknown field
    /// (naming the allowed ones). Returns false, after reporting, when `v` is not an object.
    bool check_object(const nlohmann::json& v, const std::string& pointer,
                      std::span<const std::string_view> allowed);

    /// Reads the whole number `object[key]` within `range` into `out` (which must be able to
    /// hold range.max). A float without a fraction (1e3) counts. Returns true when it was
    /// present and valid.
    template <typename T>
    bool read_uint(const nlohmann::json& object, const std::string& pointer, std::string_view key,
                   T& out, uint_range range) {
        const auto value = read_uint64(object, pointer, key, range);
        if (value) {
            out = static_cast<T>(*value);
        }
        return value.has_value();
    }

    /// Reads a timeout in milliseconds, 1-max_timeout_ms.
    template <typename Duration>
    bool read_millis(const nlohmann::json& object, const std::string& pointer, std::string_view key,
                     Duration& out) {
        const auto ms = read_uint64(object, pointer, key, {1, max_timeout_ms});
        if (ms) {
            out = Duration{static_cast<typename Duration::rep>(*ms)};
        }
        return ms.has_value();
    }

    /// Reads true or false.
    bool read_bool(const nlohmann::json& object, const std::string& pointer, std::string_view key,
                   bool& out);

    /// The string `object[key]`, or nullptr when absent or (reported) not a string.
    const std::string* read_string(const nlohmann::json& object, const std::string& pointer,
                                   std::string_view key);

    /// A file path `object[key]`: a non-empty string without control characters (paths appear
    /// in messages), a relative one resolved against `base_dir` (an absolute one stays as it
    /// is). nullopt when absent or (reported) not such a string.
    std::optional<std::filesystem::path> read_path(const nlohmann::json& object,
                                                   const std::string& pointer, std::string_view key,
                                                   const std::filesystem::path& base_dir);

    /// The index in `choices` of the string `object[key]`; nullopt when absent or (reported)
    /// not one of them: `must be one of a, b, c (got "x")`.
    std::optional<std::size_t> read_choice(const nlohmann::json& object, const std::string& pointer,
                                           std::string_view key,
                                           std::span<const std::string_view> choices);

  private:
    std::optional<std::uint64_t> read_uint64(const nlohmann::json& object,
                                             const std::string& pointer, std::string_view key,
                                             uint_range range);

    std::string source_;
    std::vector<std::string> problems_;
};

/// Parses `text` as `source` and hands the root to `read(reader&, const nlohmann::json&)`;
/// returns every problem: the syntax error alone, or the duplicate keys and whatever `read`
/// reported. Meant for tests of a module's reader and for config check tools.
template <typename Read>
std::vector<std::string> problems_in(std::string_view text, std::string_view source, Read&& read) {
    reader r{std::string(source)};
    try {
        const document doc = parse_document(text, source);
        r.report_duplicates(doc);
        std::forward<Read>(read)(r, doc.root);
    } catch (const syntax_error& e) {
        r.add_problem(e.what());
    }
    return r.take_problems();
}

}  // namespace cg::json_config
