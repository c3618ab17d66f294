// The per-response page rewrite of a site's banner, and its cookie declaration.
#include <nlohmann/json.hpp>

#include "banner/assets.hpp"
#include "json_config/reader.hpp"
#include "banner/holdback.hpp"
#include "banner/html_rewriter.hpp"
#include "banner/site_banner.hpp"
#include "banner_text.hpp"

namespace cg::banner {

using json = nlohmann::json;

namespace {

// A CSP nonce is base64 (RFC 7636-like charset); anything else is not copied into the page.
bool plain_nonce(std::string_view n) noexcept {
    return !n.empty() && n.size() <= 256 && std::all_of(n.begin(), n.end(), [](char c) {
               return json_config::is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '-' ||
                      c == '_';
           });
}

std::string nonce_attr(std::string_view nonce) {
    return plain_nonce(nonce) ? " nonce=\"" + std::string{nonce} + "\"" : std::string{};
}

constexpr std::array<std::string_view, 3> reopen_names{"bottom-left", "bottom-right", "none"};
constexpr std::array<std::string_view, 3> mode_names{"off", "basic", "advanced"};

class page_rewrite_impl final : public page_rewrite {
  public:
    page_rewrite_impl(const site_banner& site, const page_context& ctx, std::string snippet,
                      std::shared_ptr<const holdback_options> options)
        : site_(site),
          decided_(ctx.decided),
          fallback_(ctx.fallback),
          return_to_(ctx.return_to),
          rewriter_(std::move(snippet)) {
        // Hold-back everywhere (inline scripts and <noscript> content included), then our own
        // document-level replacer around it for the no-JavaScript form after <body> (the
        // rewriter offers <html> and <body> whatever install_holdback's replaced tags say).
        install_holdback(rewriter_, site.trackers(), ctx.granted, options);
        rewriter_.set_start_tag_replacer(
            [this, hold = make_holdback(site.trackers(), ctx.granted, std::move(options))](
                const html_token& tag) { return on_start_tag(tag, hold); });
    }

    void write(std::string_view in, bool last, std::string& out) override {
        rewriter_.write(in, last, out);
    }

  private:
    std::optional<std::string> on_start_tag(const html_token& tag, const start_tag_replacer& hold) {
        if (tag.name == "html" && !page_language_) {
            if (const auto* lang = tag.find("lang")) {
                page_language_ = language_of_tag(lang->value);
            }
            if (!page_language_) {
                page_language_ = fallback_;
            }
        }
        auto replaced = hold(tag);
        if (tag.name == "body" && !decided_ && !form_written_) {
            form_written_ = true;
            std::string out = replaced ? std::move(*replaced) : serialize_start_tag(tag);
            out += site_.noscript_form(page_language_.value_or(fallback_), return_to_);
            return out;
        }
        return replaced;
    }

    const site_banner& site_;
    bool decided_;
    language fallback_;
    std::string return_to_;
    std::optional<language> page_language_;
    bool form_written_ = false;
    html_rewriter rewriter_;
};

}  // namespace

void site_banner::prepare_pages() {
    const auto& css = style_asset();
    const auto& js = script_asset();
    std::string doc = document_paths_[0];
    doc.replace(doc.find(".nb."), 4, ".{lang}.");
    snippet_parts_ = {
        "<link rel=\"stylesheet\" href=\"" + css.path + "\"",
        "><script src=\"" + js.path + "\" defer id=\"cg-banner-script\" integrity=\"" +
            js.integrity + "\"",
        " data-doc=\"" + doc + "\" data-languages=\"nb nn en\" data-default-language=\"" +
            std::string{name_of(facts_.default_language)} + "\" data-decided=\"",
        "\" data-consent-mode=\"" +
            std::string{mode_names[static_cast<std::size_t>(config_.google)]} +
            "\" data-reopen=\"" +
            std::string{reopen_names[static_cast<std::size_t>(config_.reopen)]} + "\"></script>"};
    // Item "without JavaScript" of issue 9: a form that posts the choice to /_consent and comes
    // back with 303 to this page. Browsers with scripting on read <noscript> as text.
    for (const auto l : all_languages) {
        const auto t = [&](std::string_view key) { return ascii_html(text(l, key)); };
        const std::string lang{name_of(l)};
        std::string f = "<noscript><form class=\"cg-noscript\" method=\"post\" "
                        "action=\"/_consent\" lang=\"" +
                        lang + "\"><p><strong>" + t("title") + "</strong></p><p>" +
                        t("noscript_intro") + "</p><p>" + t("controller") + ": " +
                        ascii_html(config_.who.name) + " (" + ascii_html(config_.who.contact) +
                        ")";
        if (!third_party_names_.empty()) {
            f += ". " + t("third_parties") + ": " + ascii_html(third_party_names_);
        }
        f += ". <a href=\"/_consent/declaration?lang=" + lang + "\">" + t("declaration") +
             "</a></p>";
        f += "<input type=\"hidden\" name=\"language\" value=\"" + lang + "\">";
        f += "<input type=\"hidden\" name=\"return_to\" value=\"";
        std::string after =
            "\"><button type=\"submit\" class=\"cg-btn\" name=\"action\" value=\"accept-all\">" +
            t("accept_all") + "</button> ";
        after += "<button type=\"submit\" class=\"cg-btn\" name=\"action\" value=\"reject-all\">" +
                 t("reject_all") + "</button></form></noscript>";
        noscript_forms_[static_cast<std::size_t>(l)] = {std::move(f), std::move(after)};
    }
}

std::string site_banner::noscript_form(language l, std::string_view return_to) const {
    const auto& [before, after] = noscript_forms_[static_cast<std::size_t>(l)];
    std::string f;
    f.reserve(before.size() + return_to.size() + after.size() + 16);
    f += before;
    append_ascii_html(f, return_to);
    f += after;
    return f;
}

std::string site_banner::snippet(const page_context& ctx) const {
    std::string s;
    s.reserve(snippet_parts_[0].size() + snippet_parts_[1].size() + snippet_parts_[2].size() +
              snippet_parts_[3].size() + ctx.nonce.size() + ctx.style_nonce.size() + 128);
    s += snippet_parts_[0];
    s += nonce_attr(ctx.style_nonce);
    s += snippet_parts_[1];
    s += nonce_attr(ctx.nonce);
    s += snippet_parts_[2];
    s += ctx.decided ? "1" : "0";
    s += "\" data-granted=\"";
    bool first = true;
    for (const auto& g : ctx.granted_names) {
        if (!first) {
            s += ' ';
        }
        first = false;
        append_ascii_html(s, g);
    }
    s += "\" data-gpc=\"";
    s += ctx.gpc ? "1" : "0";
    s += snippet_parts_[3];
    return s;
}

std::unique_ptr<page_rewrite> site_banner::page(const page_context& ctx) const {
    return std::make_unique<page_rewrite_impl>(
        *this, ctx, snippet(ctx), holdback_options_[static_cast<std::size_t>(ctx.fallback)]);
}

std::string site_banner::declaration_json() const {
    json doc = json::parse(documents_[static_cast<std::size_t>(language::en)]);
    json out{{"site", facts_.site},
             {"policy", doc["policy"]},
             {"controller", doc["controller"]},
             {"languages", {"nb", "nn", "en"}},
             {"categories", json::array()}};
    for (auto& c : doc["categories"]) {
        c.erase("erase");
        out["categories"].push_back(std::move(c));
    }
    return out.dump(2);
}

std::string site_banner::declaration_html(language l) const {
    const json doc = json::parse(documents_[static_cast<std::size_t>(l)]);
    const auto t = [&](std::string_view key) { return ascii_html(text(l, key)); };
    std::string title = text(l, "declaration_title");
    if (const auto at = title.find("{site}"); at != std::string::npos) {
        title.replace(at, 6, config_.who.name.empty() ? facts_.site : config_.who.name);
    }
    std::string h = "<!DOCTYPE html>\n<html lang=\"" + std::string{name_of(l)} +
                    "\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width, initial-scale=1\"><title>" +
                    ascii_html(title) +
                    "</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:48em;"
                    "margin:2em auto;padding:0 1em;color:#1f2328;background:#fff}"
                    "table{border-collapse:collapse;width:100%;font-size:.9em}"
                    "th,td{text-align:left;border-bottom:1px solid #d0d7de;padding:.4em;"
                    "vertical-align:top}h2{margin-top:2em}"
                    "@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}"
                    "a{color:#7cb7ff}th,td{border-color:#30363d}}</style></head>\n<body>\n";
    h += "<h1>" + ascii_html(title) + "</h1>\n<p>" + t("controller") + ": " +
         ascii_html(config_.who.name) + ". " + t("contact") + ": " +
         ascii_html(config_.who.contact) + ". <a href=\"" + ascii_html(config_.who.privacy_url) +
         "\">" + t("privacy_policy") + "</a>.</p>\n";
    for (const auto& c : doc["categories"]) {
        h += "<h2>" + ascii_html(c["name"].get<std::string>()) + "</h2>\n<p>" +
             ascii_html(c["description"].get<std::string>()) + "</p>\n";
        h += "<h3>" + t("cookies") + "</h3>\n";
        if (c["cookies"].empty()) {
            h += "<p>" + t("none_listed") + "</p>\n";
        } else {
            h += "<table><tr><th>" + t("name") + "</th><th>" + t("provider") + "</th><th>" +
                 t("purpose") + "</th><th>" + t("lifetime") + "</th></tr>\n";
            for (const auto& k : c["cookies"]) {
                h += "<tr><td><code>" + ascii_html(k["name"].get<std::string>()) + "</code></td><td>" +
                     ascii_html(k["provider"].get<std::string>()) + "</td><td>" +
                     ascii_html(k["purpose"].get<std::string>()) + "</td><td>" +
                     ascii_html(k["lifetime"].get<std::string>()) + "</td></tr>\n";
            }
            h += "</table>\n";
        }
        if (!c["third_parties"].empty()) {
            h += "<h3>" + t("third_parties") + "</h3>\n<ul>\n";
            for (const auto& p : c["third_parties"]) {
                h += "<li><strong>" + ascii_html(p["vendor"].get<std::string>()) + "</strong>: " +
                     ascii_html(p["purpose"].get<std::string>()) + "</li>\n";
            }
            h += "</ul>\n";
        }
    }
    h += "</body>\n</html>\n";
    return h;
}

std::string site_banner::text(language l, std::string_view key) const {
    return resolved_text(config_, l, key);
}

}  // namespace cg::banner
