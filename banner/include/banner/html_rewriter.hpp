#pragma once

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

/// Streams an HTML response body through unchanged except for two edits: it inserts `snippet`
/// exactly once, and lets a start_tag_replacer swap start tags (tracker hold-back).
///
/// Where the snippet goes: before the first `</head>` end tag outside `<template>`; else, if a
/// `<body>` start tag comes first, right after it; else at the end of the document. It is
/// therefore never placed before a byte order mark or DOCTYPE, and never inside `<noscript>`:
/// if the document ends inside an unterminated `<noscript>`, `</noscript>` is written before it.
///
/// `<noscript>` content, which the tokenizer reads as RAWTEXT (as browsers with scripting on
/// do, html_tokenizer_options::follow_tree_builder and scripting), is tokenized again as markup
/// by a nested streaming tokenizer up to the first `</noscript>`, so that a visitor with
/// JavaScript off does not load trackers there either; only its start tags are offered to the
/// replacer, and all its other bytes are copied unchanged.
///
/// Input is untrusted and may be split anywhere: output is the same for every split. Memory is
/// bounded by one chunk plus one pending tag (html_tokenizer_options::max_token_bytes) of the
/// document and, inside `<noscript>`, one of the nested tokenizer. Never
/// throws on input. Not thread safe; use one per response.
class html_rewriter {
  public:
    explicit html_rewriter(std::string snippet, start_tag_replacer replacer = {},
                           html_tokenizer_options options = {});

    /// Appends to `out` the output for `in`. Bytes of a tag not yet complete are held until a
    /// later call; with `last` everything left is written (and the snippet, if not yet placed).
    /// Calls after `last` do nothing.
    void write(std::string_view in, bool last, std::string& out);

    /// True once the snippet has been written.
    [[nodiscard]] bool inserted() const { return inserted_; }

  private:
    void on_token(const html_token& token, std::string& out);
    void on_noscript_token(const html_token& token, std::string& out);
    void replace_start_tag(const html_token& token, std::string& out);
    void feed_noscript(std::uint64_t until, bool last, std::string& out);
    [[nodiscard]] std::uint64_t noscript_hold(std::uint64_t limit) const;
    void flush_to(std::uint64_t offset, std::string& out);

    std::string snippet_;
    start_tag_replacer replacer_;
    html_tokenizer_options noscript_options_;  // for the nested tokenizer: scripting off
    bool split_noscript_ = false;              // the document tokenizer reads noscript as RAWTEXT
    html_tokenizer tokenizer_;
    std::optional<html_tokenizer> noscript_;  // inside <noscript>: tokenizes its content
    std::uint64_t noscript_base_ = 0;         // stream offset of the nested tokenizer's byte 0
    std::string pending_;                     // input bytes from base_ not yet written
    std::uint64_t base_ = 0;                  // stream offset of pending_[0]
    std::uint64_t emitted_ = 0;               // stream offset up to which output is decided
    int template_depth_ = 0;
    bool inserted_ = false;
    bool finished_ = false;
};

}  // namespace cg::banner
