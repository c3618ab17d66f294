#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cg::banner {

/// What an html_token is.
enum class html_token_kind { text, start_tag, end_tag, comment, doctype };

/// The text states the tokenizer can start in (WHATWG HTML §13.2.5); used by tests and the
/// html5lib conformance runner. Normal documents start in `data`.
enum class html_text_state { data, rcdata, rawtext, script_data, plaintext };

/// One attribute of a start or end tag.
struct html_attribute {
    std::string name;       ///< ASCII-lowercased name as the tokenizer builds it.
    std::string raw_value;  ///< Value bytes exactly as written (without quotes).
    std::string value;      ///< Value with common character references decoded (&amp; &#NN;).
};

/// One token. Byte offsets count from the start of the stream (all chunks together).
struct html_token {
    html_token_kind kind = html_token_kind::text;
    std::string name;  ///< Tag name, ASCII lowercase (tags only).
    std::vector<html_attribute> attributes;
    bool self_closing = false;
    std::string data;         ///< Comment text (comments only; capped like tags).
    std::uint64_t begin = 0;  ///< Offset of the first byte of the token.
    std::uint64_t end = 0;    ///< Offset one past the last byte of the token.
    bool truncated = false;   ///< The tag outgrew the cap: its bytes were not held back and
                              ///< its attributes may be incomplete.

    /// The first attribute called `attribute_name` (lowercase), or nullptr.
    [[nodiscard]] const html_attribute* find(std::string_view attribute_name) const;
};

/// Options for html_tokenizer.
struct html_tokenizer_options {
    /// Switch to RCDATA/RAWTEXT/script data/PLAINTEXT after the start tags for which the HTML
    /// tree builder does so (title, textarea, style, script, noscript, ...). Off for the
    /// html5lib tokenizer tests, which exercise the tokenizer alone.
    bool follow_tree_builder = true;
    /// Whether the tree builder being followed has scripting enabled: with it (browsers that
    /// run JavaScript) `noscript` switches to RAWTEXT; without it (a browser with JavaScript
    /// off) `noscript` content is ordinary markup. Only used with follow_tree_builder.
    bool scripting = true;
    html_text_state initial_state = html_text_state::data;
    /// The "last start tag" used to recognise the appropriate end tag when starting in a
    /// non-data state.
    std::string last_start_tag;
    /// Largest pending tag (bytes from its `<`) held back across chunks; beyond it the tag is
    /// still parsed, so the state stays right, but it is reported `truncated` and not held.
    std::size_t max_token_bytes = 64 * 1024;
};

/// A streaming, resumable HTML tokenizer after the WHATWG tokenizer states that matter for
/// finding tags: data, tags and attributes, comments, DOCTYPE (one token), bogus comments,
/// RCDATA, RAWTEXT, script data with its escaped states, and PLAINTEXT.
///
/// Input is untrusted and arrives in arbitrary chunks; any split gives the same tokens. It
/// never throws on input and keeps at most one pending token's name, attributes and comment
/// data (capped by max_token_bytes). Character references in text are not decoded. Foreign
/// content (svg, math) and CDATA sections are not modelled. Not thread safe; one per stream.
class html_tokenizer {
  public:
    /// Receives each token; the reference is valid during the call only.
    using token_handler = std::function<void(const html_token&)>;
    /// Says whether a consumer wants a tag reported: kind start_tag or end_tag, the name as a
    /// token carries it (ASCII lowercase).
    using tag_filter = std::function<bool(html_token_kind kind, std::string_view name)>;

    explicit html_tokenizer(html_tokenizer_options options = {});

    /// Tokenizes `chunk`, calling `on_token` for every token completed by it. Text is reported
    /// as text tokens covering all bytes that belong to no other token (a text run may be split
    /// into several tokens). With `last`, the stream ends: a pending comment or doctype is
    /// emitted, an unfinished tag becomes text. Call nothing after `last`.
    ///
    /// With `wanted`, a start or end tag that begins in the data state and that `wanted` turns
    /// down is not reported: its bytes stay in the text around it. Such tags are passed over
    /// without building their attributes (the fast path for the many tags a rewriter ignores).
    /// Start tags that switch the text state (script, style, title, textarea, ... with
    /// follow_tree_builder) are always reported, and so are end tags in RCDATA, RAWTEXT and
    /// script data. The tokens are the same for every split of the input as long as `wanted`
    /// answers the same for the same tag after the same tokens.
    void feed(std::string_view chunk, bool last, const token_handler& on_token,
              const tag_filter* wanted = nullptr);

    /// Offset of the `<` of a tag (or markup declaration) not yet complete whose bytes a
    /// rewriter should hold back, or nullopt when none is pending or it outgrew the cap.
    [[nodiscard]] std::optional<std::uint64_t> hold_from() const;

    /// Bytes consumed so far.
    [[nodiscard]] std::uint64_t offset() const { return pos_; }

  private:
    enum class state : std::uint8_t;

    bool step(unsigned char c);
    /// How many bytes at the start of `rest` the current state passes over unchanged (taking
    /// them into an attribute value when it is in one).
    std::size_t skip_run(std::string_view rest);
    void start_tag_token(html_token_kind kind);
    void start_comment();
    void begin_attribute();
    void finish_attribute();
    /// Appends a tag or attribute name character, lower-cased (NUL becomes U+FFFD).
    void append_lowered(std::string& to, unsigned char c);
    void append_attr_value(unsigned char c);
    void append_data(std::string_view s);
    void emit_tag();
    void emit_comment(std::uint64_t end);
    void emit_text_until(std::uint64_t limit);
    void drop_token();
    void begin_candidate();
    [[nodiscard]] bool appropriate_end_tag() const;
    [[nodiscard]] bool holding() const;
    /// The text state a start tag switches to (following the tree builder), or nullopt.
    [[nodiscard]] std::optional<state> text_state_for(std::string_view tag) const;
    /// Whether a tag is reported (see feed's `wanted`).
    [[nodiscard]] bool reported(html_token_kind kind, std::string_view name, bool from_data) const;
    /// The length of the tag at the start of `rest` (which starts with '<' in the data state)
    /// when it is complete in `rest` and plain enough to read in one go, else 0 (step() reads
    /// it). Sets `report`; when it is reported, the tag is in token_, ready for
    /// emit_reported_tag().
    [[nodiscard]] std::size_t read_whole_tag(std::string_view rest, bool& report);
    void emit_reported_tag();

    html_tokenizer_options options_;
    state state_;
    state end_return_;  // where a failed end tag candidate in RCDATA/RAWTEXT/script resumes
    std::uint64_t pos_ = 0;
    std::uint64_t text_from_ = 0;
    std::uint64_t token_begin_ = 0;
    bool in_token_ = false;
    bool overflow_ = false;
    bool attr_open_ = false;
    bool from_data_ = false;  // the pending tag began in the data state
    html_token token_;
    std::vector<html_attribute> spare_;  // attributes of earlier tags, buffers kept for reuse
    html_token text_token_;
    html_attribute attr_;
    std::string buffer_;  // markup declaration lookahead, or the temporary buffer of §13.2.5
    std::string last_start_tag_;
    const token_handler* handler_ = nullptr;
    const tag_filter* wanted_ = nullptr;
};

}  // namespace cg::banner
