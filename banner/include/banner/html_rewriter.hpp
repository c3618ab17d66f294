#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "banner/html_tokenizer.hpp"

namespace cg::banner {

/// Called for each start tag in the document's data (not inside script, RAWTEXT, RCDATA or
/// comments), and for each start tag inside `<noscript>` as a browser with scripting off would
/// parse it; returning a string replaces the tag's bytes with it, nullopt keeps them. The
/// tokenizer still follows the original tag (a replaced `<script>` keeps its content streaming
/// as script data up to `</script>`). Truncated (oversized) tags are never offered.
using start_tag_replacer = std::function<std::optional<std::string>(const html_token&)>;

/// Called once for each `<script>` start tag of the document (not inside `<noscript>`) that has
/// no `src` attribute, was not replaced by the start_tag_replacer and is not truncated, with the
/// script's text: the bytes up to its `</script>` end tag (or the end of the document), or,
/// when that is longer than the rewriter's bound (set_inline_script_replacer), exactly the
/// first `bound` bytes (also when its end tag outgrew the tokenizer's cap and ends more than
/// bound + cap bytes after the start tag). Offered only when the tokenizer follows the tree
/// builder (html_tokenizer_options::follow_tree_builder), in document order, after the
/// start_tag_replacer calls for earlier tags. Returning a string replaces the start tag's bytes
/// with it; the text and end tag are always copied unchanged. `script_text` is untrusted and raw
/// (not decoded); the view and the token are valid during the call only.
using inline_script_replacer = std::function<std::optional<std::string>(
    const html_token& start_tag, std::string_view script_text)>;

/// Streams an HTML response body through unchanged except for these edits: it inserts `snippet`
/// exactly once, and lets a start_tag_replacer (and an inline_script_replacer) swap start tags
/// (tracker hold-back, holdback.hpp install_holdback).
///
/// Where the snippet goes: before the first `</head>` end tag outside `<template>`; else, if a
/// `<body>` start tag comes first, right after it; else, when there is neither `<head>` nor
/// `<body>`, right before the first start tag that cannot be in a head (`<p>`, `<div>`...:
/// where browsers end the head they imply), after it if that tag is oversized; else at the end
/// of the document. It is
/// therefore never placed before a byte order mark or DOCTYPE, and never inside `<noscript>`:
/// if the document ends inside an unterminated `<noscript>`, `</noscript>` is written before it.
///
/// `<noscript>` content, which the tokenizer reads as RAWTEXT (as browsers with scripting on
/// do, html_tokenizer_options::follow_tree_builder and scripting), is tokenized again as markup
/// by a nested streaming tokenizer up to the first `</noscript>`, so that a visitor with
/// JavaScript off does not load trackers there either; only its start tags are offered to the
/// replacer, and all its other bytes are copied unchanged.
///
/// With an inline_script_replacer (set_inline_script_replacer), a `<script>` start tag without
/// `src` is held back together with its text until its `</script>` or until the text passes
/// the bound, so that the tag can be replaced according to what the script does (inline
/// tracker snippets); everything after it waits too. Optionally a separate replacer takes the
/// start tags inside `<noscript>` (set_noscript_replacer), for rewrites that make no sense
/// there (hold-back's click-to-load placeholders).
///
/// Input is untrusted and may be split anywhere: output is the same for every split. Memory is
/// bounded by one chunk plus one pending tag (html_tokenizer_options::max_token_bytes) of the
/// document and, inside `<noscript>`, one of the nested tokenizer; with an
/// inline_script_replacer, also by the held `<script>` tag, the inline script bound (64 KiB
/// by default) and one more pending tag: a script whose text is still undecided that far past
/// its start tag (its end tag outgrew the cap) is decided on the bound. Never throws on input. Not
/// thread safe; use one per response.
class html_rewriter {
  public:
    explicit html_rewriter(std::string snippet, start_tag_replacer replacer = {},
                           html_tokenizer_options options = {});

    /// The default bound on the inline script text held for an inline_script_replacer.
    static constexpr std::size_t default_max_inline_script_bytes = 64 * 1024;

    /// Sets the replacer offered inline scripts and the bound on the text held for it (at least
    /// 1; 0 counts as 1). Call before the first write(); an empty function turns it off.
    void set_inline_script_replacer(inline_script_replacer replacer,
                                    std::size_t max_script_bytes = default_max_inline_script_bytes);

    /// Replaces the start_tag_replacer given to the constructor. Call before the first write().
    void set_start_tag_replacer(start_tag_replacer replacer);

    /// Sets the replacer for start tags inside `<noscript>`; while none is set (the default)
    /// the constructor's start_tag_replacer gets them. Call before the first write().
    void set_noscript_replacer(start_tag_replacer replacer);
    /// The start tags the replacers may change, by name (lowercase); others are not offered to
    /// them, which lets the tokenizer pass over such tags without building their attributes.
    /// Null (the default) offers every start tag. `<html>`, `<head>`, `<body>`, `<script>`,
    /// `<noscript>` and `<template>` are always offered. Call before the first write().
    using tag_names = bool (*)(std::string_view name);
    void set_replaced_tags(tag_names replaced);

    /// Appends to `out` the output for `in`. Bytes of a tag not yet complete are held until a
    /// later call; with `last` everything left is written (and the snippet, if not yet placed).
    /// Calls after `last` do nothing.
    void write(std::string_view in, bool last, std::string& out);

    /// True once the snippet has been written.
    [[nodiscard]] bool inserted() const { return inserted_; }

  private:
    void on_token(const html_token& token, std::string& out);
    [[nodiscard]] bool wants(html_token_kind kind, std::string_view name) const;
    [[nodiscard]] bool offered(std::string_view name) const;
    void on_noscript_token(const html_token& token, std::string& out);
    void replace_start_tag(const html_token& token, std::string& out,
                           const start_tag_replacer& replacer);
    void decide_inline_script(std::uint64_t text_end, std::string& out);
    [[nodiscard]] std::uint64_t inline_limit() const;
    void feed_noscript(std::uint64_t until, bool last, std::string& out);
    [[nodiscard]] std::uint64_t noscript_hold(std::uint64_t limit) const;
    void flush_to(std::uint64_t offset, std::string& out);

    std::string snippet_;
    start_tag_replacer replacer_;
    start_tag_replacer noscript_replacer_;
    inline_script_replacer inline_replacer_;
    tag_names replaced_tags_ = nullptr;
    std::size_t max_inline_script_bytes_ = default_max_inline_script_bytes;
    std::optional<html_token> held_script_;    // a <script> start tag waiting for its text
    html_tokenizer_options noscript_options_;  // for the nested tokenizer: scripting off
    bool split_noscript_ = false;              // the document tokenizer reads noscript as RAWTEXT
    bool script_data_ = false;                 // the document tokenizer reads script as script
    std::size_t max_token_bytes_ = 0;          // the document tokenizer's hold cap
    html_tokenizer tokenizer_;
    std::optional<html_tokenizer> noscript_;  // inside <noscript>: tokenizes its content
    std::uint64_t noscript_base_ = 0;         // stream offset of the nested tokenizer's byte 0
    std::string pending_;                     // input bytes from base_ not yet written
    std::string_view bytes_;                  // during write(): pending_ or the input
    std::uint64_t base_ = 0;                  // stream offset of bytes_[0] and pending_[0]
    std::uint64_t emitted_ = 0;               // stream offset up to which output is decided
    int template_depth_ = 0;
    bool head_or_body_seen_ = false;  // a <head> or <body> start tag outside <template>
    bool inserted_ = false;
    bool finished_ = false;
};

}  // namespace cg::banner
