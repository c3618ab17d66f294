#include "banner/html_rewriter.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace cg::banner {

namespace {

// What a browser with scripting off does with <noscript> content: parse it as markup from the
// data state (a nested <noscript> is then an ordinary element).
html_tokenizer_options noscript_options(const html_tokenizer_options& document) {
    html_tokenizer_options options;
    options.follow_tree_builder = true;
    options.scripting = false;
    options.max_token_bytes = document.max_token_bytes;
    return options;
}

}  // namespace

html_rewriter::html_rewriter(std::string snippet, start_tag_replacer replacer,
                             html_tokenizer_options options)
    : snippet_(std::move(snippet)),
      replacer_(std::move(replacer)),
      noscript_options_(noscript_options(options)),
      split_noscript_(options.follow_tree_builder && options.scripting),
      script_data_(options.follow_tree_builder),
      max_token_bytes_(options.max_token_bytes),
      tokenizer_(std::move(options)) {}

void html_rewriter::set_inline_script_replacer(inline_script_replacer replacer,
                                               std::size_t max_script_bytes) {
    inline_replacer_ = std::move(replacer);
    max_inline_script_bytes_ = std::max<std::size_t>(max_script_bytes, 1);
}

void html_rewriter::set_start_tag_replacer(start_tag_replacer replacer) {
    replacer_ = std::move(replacer);
}

void html_rewriter::set_noscript_replacer(start_tag_replacer replacer) {
    noscript_replacer_ = std::move(replacer);
}

void html_rewriter::set_replaced_tags(tag_names replaced) {
    replaced_tags_ = replaced;
}

bool html_rewriter::offered(std::string_view name) const {
    if (replaced_tags_ == nullptr || replaced_tags_(name)) {
        return true;
    }
    switch (name.size()) {  // asked for every tag: the length decides first
        case 4:
            return name == "html" || name == "head" || name == "body";
        case 6:
            return name == "script";
        case 8:
            return name == "noscript" || name == "template";
        default:
            return false;
    }
}

bool html_rewriter::wants(html_token_kind kind, std::string_view name) const {
    if (kind == html_token_kind::end_tag) {
        return name == "head" || name == "template";
    }
    // Before the snippet's place is known without <head> or <body>, every start tag counts
    // (see on_token: the first one that cannot be in a head).
    return (!inserted_ && !head_or_body_seen_ && template_depth_ == 0 && split_noscript_) ||
           offered(name);
}

std::uint64_t html_rewriter::inline_limit() const {
    // Past the bound, a complete end tag (at most the tokenizer's cap) may still be pending.
    return held_script_->end + max_inline_script_bytes_ + max_token_bytes_ + 16;
}

void html_rewriter::decide_inline_script(std::uint64_t text_end, std::string& out) {
    // The held tag and its text are still in bytes_: write() never flushes past the tag's
    // start while it is held.
    const html_token held = std::move(*held_script_);
    held_script_.reset();
    const std::string_view text = bytes_.substr(
        static_cast<std::size_t>(held.end - base_), static_cast<std::size_t>(text_end - held.end));
    if (auto replacement = inline_replacer_(held, text)) {
        flush_to(held.begin, out);
        out += *replacement;
        emitted_ = held.end;
    }
}

void html_rewriter::flush_to(std::uint64_t offset, std::string& out) {
    if (offset <= emitted_) {
        return;
    }
    out.append(bytes_.substr(static_cast<std::size_t>(emitted_ - base_),
                             static_cast<std::size_t>(offset - emitted_)));
    emitted_ = offset;
}

void html_rewriter::replace_start_tag(const html_token& token, std::string& out,
                                      const start_tag_replacer& replacer) {
    if (!replacer || token.truncated || token.begin < emitted_) {
        return;
    }
    if (auto replacement = replacer(token)) {
        flush_to(token.begin, out);
        out += *replacement;
        emitted_ = token.end;
    }
}

void html_rewriter::on_noscript_token(const html_token& token, std::string& out) {
    const start_tag_replacer& replacer = noscript_replacer_ ? noscript_replacer_ : replacer_;
    if (token.kind != html_token_kind::start_tag || !replacer) {
        return;
    }
    html_token in_document = token;  // offsets from the start of the response, as elsewhere
    in_document.begin += noscript_base_;
    in_document.end += noscript_base_;
    replace_start_tag(in_document, out, replacer);
}

void html_rewriter::feed_noscript(std::uint64_t until, bool last, std::string& out) {
    // Bytes before the nested tokenizer's position are never written (see noscript_hold), so
    // they are still in bytes_.
    const std::uint64_t fed = noscript_base_ + noscript_->offset();
    std::string_view bytes;
    if (until > fed) {
        bytes = bytes_.substr(static_cast<std::size_t>(fed - base_),
                                                  static_cast<std::size_t>(until - fed));
    }
    const html_tokenizer::tag_filter wanted = [this](html_token_kind kind, std::string_view name) {
        return kind == html_token_kind::start_tag && offered(name);
    };
    noscript_->feed(
        bytes, last, [&](const html_token& token) { on_noscript_token(token, out); }, &wanted);
}

std::uint64_t html_rewriter::noscript_hold(std::uint64_t limit) const {
    return std::min(limit, noscript_base_ + noscript_->hold_from().value_or(noscript_->offset()));
}

namespace {

// Elements the HTML parser keeps in a head ("in head" insertion mode), and html itself.
bool head_content(std::string_view name) noexcept {
    constexpr std::array<std::string_view, 13> names{
        "html", "base",    "basefont", "bgsound",  "link",  "meta",  "noframes",
        "script", "style", "template", "title",    "noscript", "head"};
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

void html_rewriter::on_token(const html_token& token, std::string& out) {
    if (held_script_) {
        // In script data the tokenizer reports text, and then the end tag that closes it. The
        // decision is taken on the same bytes for every split: the whole text, or exactly the
        // first max_inline_script_bytes_ of it.
        const std::uint64_t bound = held_script_->end + max_inline_script_bytes_;
        if (token.kind == html_token_kind::text) {
            if (token.end > bound) {
                decide_inline_script(bound, out);
            }
            return;
        }
        // An end tag that ends past the limit (one that outgrew the tokenizer's cap) would be
        // seen in chunks only after write() gave up at the limit: decide on the bound as it did.
        decide_inline_script(token.end > inline_limit() ? bound : std::min(token.begin, bound),
                             out);
    }
    if (noscript_) {
        // Inside <noscript> the document tokenizer is in RAWTEXT: it reports text, and then
        // the end tag that closes the element.
        if (token.kind == html_token_kind::text) {
            feed_noscript(token.end, false, out);
        } else {
            feed_noscript(token.begin, true, out);
            noscript_.reset();
        }
        return;
    }
    if (token.kind == html_token_kind::start_tag) {
        if (token.name == "head" || token.name == "body") {
            head_or_body_seen_ = head_or_body_seen_ || template_depth_ == 0;
        } else if (!inserted_ && !head_or_body_seen_ && template_depth_ == 0 && split_noscript_ &&
                   !head_content(token.name)) {
            // No <head> and no <body>: the first tag that cannot be in a head is where the
            // browser ends the head it implies (HTML §13.2.6.4.4 "anything else"): the snippet
            // goes right before it. An oversized tag may already be written in part: after it.
            // (Only when <noscript> is read as browsers with scripting do: else its content
            // comes here as tags, and the snippet must not land inside it.)
            flush_to(token.truncated ? token.end : token.begin, out);
            out += snippet_;
            inserted_ = true;
        }
        if (token.name == "template") {
            ++template_depth_;
        }
        replace_start_tag(token, out, replacer_);
        if (token.name == "script" && inline_replacer_ && script_data_ && !token.truncated &&
            emitted_ <= token.begin && token.find("src") == nullptr) {
            held_script_ = token;
            return;
        }
        if (token.name == "body" && !inserted_ && template_depth_ == 0) {
            flush_to(token.end, out);
            out += snippet_;
            inserted_ = true;
        }
        if (token.name == "noscript" && split_noscript_) {
            noscript_.emplace(noscript_options_);
            noscript_base_ = token.end;
        }
        return;
    }
    if (token.kind == html_token_kind::end_tag) {
        if (token.name == "template") {
            if (template_depth_ > 0) {
                --template_depth_;
            }
            return;
        }
        if (token.name == "head" && !inserted_ && template_depth_ == 0) {
            // A tag that outgrew the hold cap may already be written in part (how much depends
            // on where the chunks broke): put the snippet after such a tag, always, so the
            // output does not depend on the chunking (found by fuzz.html_rewriter).
            flush_to(token.truncated ? token.end : token.begin, out);
            out += snippet_;
            inserted_ = true;
        }
    }
}

void html_rewriter::write(std::string_view in, bool last, std::string& out) {
    if (finished_) {
        return;
    }
    // The bytes not yet written: the input itself when nothing was left over from the last
    // call (the usual case: no copy), else what was left with the input appended.
    const bool leftover = !pending_.empty();
    if (leftover) {
        pending_.append(in);
        bytes_ = pending_;
    } else {
        bytes_ = in;
    }
    const html_tokenizer::tag_filter wanted = [this](html_token_kind kind, std::string_view name) {
        return wants(kind, name);
    };
    tokenizer_.feed(
        in, last, [&](const html_token& token) { on_token(token, out); }, &wanted);
    if (last) {
        if (held_script_) {
            // The document ended inside the script (its text fit within the bound, or it would
            // have been decided on a text token).
            decide_inline_script(
                std::min(tokenizer_.offset(), held_script_->end + max_inline_script_bytes_), out);
        }
        const bool in_noscript = noscript_.has_value();
        if (in_noscript) {
            feed_noscript(tokenizer_.offset(), true, out);
            noscript_.reset();
        }
        flush_to(tokenizer_.offset(), out);
        if (!inserted_) {
            if (in_noscript) {
                out += "</noscript>";  // the snippet would be inert text inside it
            }
            out += snippet_;
            inserted_ = true;
        }
        finished_ = true;
    } else {
        std::uint64_t limit = tokenizer_.hold_from().value_or(tokenizer_.offset());
        if (noscript_) {
            // When the document tokenizer gives up holding an oversized `</...` candidate, its
            // bytes are written now: let the nested tokenizer see them first.
            feed_noscript(limit, false, out);
            limit = noscript_hold(limit);
        }
        if (held_script_ && tokenizer_.offset() >= inline_limit()) {
            // Still held this far past the bound: whatever ends the script now ends past the
            // limit, so reading it whole would decide on the bound too (see on_token).
            decide_inline_script(held_script_->end + max_inline_script_bytes_, out);
        }
        if (held_script_) {
            limit = std::min(limit, held_script_->begin);
        }
        flush_to(limit, out);
    }
    const std::string_view left = bytes_.substr(static_cast<std::size_t>(emitted_ - base_));
    if (leftover) {
        pending_.erase(0, pending_.size() - left.size());
    } else {
        pending_.assign(left);
    }
    bytes_ = {};
    base_ = emitted_;
}

}  // namespace cg::banner
