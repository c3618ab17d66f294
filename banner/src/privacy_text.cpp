// The cookie and statistics section of a site's privacy statement (issue 12): built as a small
// list of blocks from the banner's site document and the gateway's figures, then written out
// as Markdown or HTML.
#include "banner/privacy_text.hpp"

#include <nlohmann/json.hpp>

#include "banner/holdback.hpp"

namespace cg::banner {

using json = nlohmann::json;

namespace {

// A piece of running text: plain, code (a cookie name), a link, or the re-open link.
struct span {
    enum class kind : std::uint8_t { text, code, link, reopen } k = kind::text;
    std::string text;
    std::string href{};
};
using line = std::vector<span>;

struct block {
    enum class kind : std::uint8_t { h2, h3, para, list, table } k = kind::para;
    /// h2/h3/para: one; list: one per item; table: one per row, each span a cell, the first
    /// row the header.
    std::vector<line> lines;
};

// Markdown's special characters escaped, line ends as spaces (a value stays in its cell).
std::string markdown_escaped(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (c == '\\' || c == '`' || c == '*' || c == '_' || c == '[' || c == ']' || c == '<' ||
            c == '>' || c == '|' || c == '#') {
            out += '\\';
        }
        out += c == '\n' ? ' ' : c;
    }
    return out;
}

std::string markdown_span(const span& s) {
    switch (s.k) {
        case span::kind::code: {
            // Cookie names hold no backtick (config validation); a double fence covers one.
            const std::string fence = s.text.find('`') == std::string::npos ? "`" : "`` ";
            const std::string close = fence == "`" ? "`" : " ``";
            return fence + s.text + close;
        }
        case span::kind::link:
            return "[" + markdown_escaped(s.text) + "](" + s.href + ")";
        case span::kind::reopen:
            return "<a href=\"#\" data-consent-open>" + ascii_html(s.text) + "</a>";
        case span::kind::text:
            break;
    }
    return markdown_escaped(s.text);
}

std::string html_span(const span& s) {
    switch (s.k) {
        case span::kind::code:
            return "<code>" + ascii_html(s.text) + "</code>";
        case span::kind::link:
            return "<a href=\"" + ascii_html(s.href) + "\">" + ascii_html(s.text) + "</a>";
        case span::kind::reopen:
            return "<a href=\"#\" data-consent-open>" + ascii_html(s.text) + "</a>";
        case span::kind::text:
            break;
    }
    return ascii_html(s.text);
}

template <typename Span>
std::string joined(const line& l, Span one) {
    std::string out;
    for (const auto& s : l) {
        out += one(s);
    }
    return out;
}

std::string markdown(const std::vector<block>& blocks) {
    std::string out;
    for (const auto& b : blocks) {
        const auto first = b.lines.empty() ? std::string{} : joined(b.lines[0], markdown_span);
        switch (b.k) {
            case block::kind::h2:
                out += "## " + first + "\n\n";
                break;
            case block::kind::h3:
                out += "### " + first + "\n\n";
                break;
            case block::kind::para:
                out += first + "\n\n";
                break;
            case block::kind::list:
                for (const auto& l : b.lines) {
                    out += "- " + joined(l, markdown_span) + "\n";
                }
                out += "\n";
                break;
            case block::kind::table:
                for (std::size_t r = 0; r < b.lines.size(); ++r) {
                    out += "|";
                    for (const auto& cell : b.lines[r]) {
                        out += " " + markdown_span(cell) + " |";
                    }
                    out += "\n";
                    if (r == 0) {
                        out += "|";
                        for (std::size_t c = 0; c < b.lines[r].size(); ++c) {
                            out += " --- |";
                        }
                        out += "\n";
                    }
                }
                out += "\n";
                break;
        }
    }
    return out;
}

std::string html(const std::vector<block>& blocks) {
    std::string out;
    for (const auto& b : blocks) {
        const auto first = b.lines.empty() ? std::string{} : joined(b.lines[0], html_span);
        switch (b.k) {
            case block::kind::h2:
                out += "<h2>" + first + "</h2>\n";
                break;
            case block::kind::h3:
                out += "<h3>" + first + "</h3>\n";
                break;
            case block::kind::para:
                out += "<p>" + first + "</p>\n";
                break;
            case block::kind::list:
                out += "<ul>\n";
                for (const auto& l : b.lines) {
                    out += "<li>" + joined(l, html_span) + "</li>\n";
                }
                out += "</ul>\n";
                break;
            case block::kind::table:
                out += "<table>\n";
                for (std::size_t r = 0; r < b.lines.size(); ++r) {
                    const std::string cell = r == 0 ? "th" : "td";
                    out += "<tr>";
                    for (const auto& c : b.lines[r]) {
                        out += "<" + cell + ">" + html_span(c) + "</" + cell + ">";
                    }
                    out += "</tr>\n";
                }
                out += "</table>\n";
                break;
        }
    }
    return out;
}

span text(std::string s) {
    return {span::kind::text, std::move(s)};
}

block heading(block::kind k, std::string s) {
    return {k, {{text(std::move(s))}}};
}
block para(line l) {
    return {block::kind::para, {std::move(l)}};
}
block para(std::string s) {
    return para(line{text(std::move(s))});
}

// The section's blocks in one language: `tr(nb, en)` picks the text.
std::vector<block> section(const json& doc, const privacy_facts& f, bool en) {
    const auto tr = [en](std::string_view nb, std::string_view english) {
        return std::string{en ? english : nb};
    };
    const auto& who = doc["controller"];
    const std::string name = who["name"].get<std::string>();
    const std::string days = en ? " days" : " dager";
    std::vector<block> out;
    out.push_back(heading(block::kind::h2,
                          tr("Informasjonskapsler og statistikk", "Cookies and statistics")));
    out.push_back(para(name +
                       tr(" er behandlingsansvarlig for det som lagres på enheten din når "
                          "du bruker dette nettstedet (kontakt: ",
                          " is the controller for what is stored on your device when you "
                          "use this website (contact: ") +
                       who["contact"].get<std::string>() + ")."));
    out.push_back(para(tr("Denne delen er laget av consent-gateway fra det samme oppsettet som "
                          "avgjør hva nettstedet får lagre, så den stemmer med det som faktisk "
                          "skjer (versjon ",
                          "This section is generated by consent-gateway from the same "
                          "configuration that decides what the website may store, so it matches "
                          "what actually happens (version ") +
                       doc["policy"].get<std::string>() + ")."));

    out.push_back(heading(block::kind::h3, tr("Rettslig grunnlag", "Legal basis")));
    out.push_back(para(
        tr("Å lagre informasjon på enheten din, eller lese den derfra, krever samtykke fra deg med "
           "mindre det er strengt nødvendig for å levere tjenesten du har bedt om (ekomloven § 2-7 "
           "b). Fra 1. januar 2025 krever ekomloven samtykke av samme kvalitet som "
           "personvernforordningen: et aktivt og konkret valg, aldri gjennom "
           "nettleserinnstillinger eller ved at du fortsetter å bruke nettstedet. Det gjelder all "
           "lagring på enheten: informasjonskapsler, lokal lagring og sporingspiksler.",
           "Storing information on your device, or reading it from there, needs your consent "
           "unless it is strictly necessary to deliver the service you asked for (Norwegian "
           "electronic communications act, ekomloven § 2-7 b). Since 1 January 2025 the act "
           "requires consent of the same quality as the GDPR: an active, specific choice, never "
           "through browser settings or by going on using the website. This covers every kind of "
           "storage on the device: cookies, local storage and tracking pixels.")));
    block bases{block::kind::list, {}};
    for (const auto& c : doc["categories"]) {
        const std::string cat = c["name"].get<std::string>() + ": ";
        bases.lines.push_back({text(
            cat + (c["required"].get<bool>()
                       ? tr("krever ikke samtykke, fordi de er strengt nødvendige; behandlingen "
                            "bygger på vår berettigede interesse i et nettsted som virker og er "
                            "sikkert (personvernforordningen art. 6 nr. 1 bokstav f).",
                            "no consent needed, because they are strictly necessary; the "
                            "processing rests on our legitimate interest in a website that works "
                            "and is secure (GDPR art. 6(1)(f)).")
                       : tr("bare med ditt samtykke (personvernforordningen art. 6 nr. 1 bokstav "
                            "a); ingenting i denne kategorien lagres, leses eller lastes før du "
                            "har sagt ja.",
                            "only with your consent (GDPR art. 6(1)(a)); nothing in this "
                            "category is stored, read or loaded before you have said yes.")))});
    }
    out.push_back(std::move(bases));

    for (const auto& c : doc["categories"]) {
        out.push_back(heading(block::kind::h3, c["name"].get<std::string>()));
        out.push_back(para(c["description"].get<std::string>()));
        if (c["cookies"].empty()) {
            out.push_back(para(tr("Ingen informasjonskapsler i denne kategorien.",
                                  "No cookies in this category.")));
        } else {
            block table{block::kind::table,
                        {{text(tr("Navn", "Name")), text(tr("Leverandør", "Provider")),
                          text(tr("Formål", "Purpose")), text(tr("Varighet", "Lifetime"))}}};
            for (const auto& k : c["cookies"]) {
                table.lines.push_back({{span::kind::code, k["name"].get<std::string>()},
                                       text(k["provider"].get<std::string>()),
                                       text(k["purpose"].get<std::string>()),
                                       text(k["lifetime"].get<std::string>())});
            }
            out.push_back(std::move(table));
        }
        if (!c["third_parties"].empty()) {
            out.push_back(para(tr("Tredjeparter:", "Third parties:")));
            block parties{block::kind::list, {}};
            for (const auto& p : c["third_parties"]) {
                parties.lines.push_back({text(p["vendor"].get<std::string>() + ": " +
                                              p["purpose"].get<std::string>())});
            }
            out.push_back(std::move(parties));
        }
    }

    out.push_back(heading(block::kind::h3, tr("Samtykket ditt", "Your consent")));
    out.push_back(
        {block::kind::list,
         {{text(tr("Valget ditt lagres i en informasjonskapsel i ",
                   "Your choice is kept in a cookie for ") +
                std::to_string(f.consent_lifetime_days) + days +
                tr("; deretter spør vi på nytt. Vi spør også på nytt når denne teksten endres.",
                   "; then we ask again. We also ask again when this text changes."))},
          {text(tr("Som bevis på samtykket lagrer vi en oppføring: en tilfeldig samtykke-ID, "
                   "tidspunktet, kategoriene du valgte, versjonen av teksten du så, hvordan du "
                   "svarte og språket. Den inneholder ingen IP-adresse og ingen opplysninger om "
                   "nettleseren din. Den lagres i operatørens egen database, sendes ikke til "
                   "noen andre og slettes ",
                   "As proof of your consent we keep a record: a random consent id, the time, "
                   "the categories you chose, the version of the text you were shown, how you "
                   "answered and the language. It holds no IP address and nothing about your "
                   "browser. It is kept in the operator's own database, sent to no one else, "
                   "and deleted ") +
                std::to_string(f.record_retention_days) + days +
                tr(" etter ditt siste valg. Den beholdes også etter en tilbaketrekking, slik at "
                   "tidligere samtykker fortsatt kan dokumenteres.",
                   " after your last choice. It is kept after a withdrawal too, so that earlier "
                   "consents stay provable."))},
          {text(tr("Et Global Privacy Control-signal fra nettleseren din (Sec-GPC: 1) regnes som "
                   "et nei til markedsføring.",
                   "A Global Privacy Control signal from your browser (Sec-GPC: 1) counts as a "
                   "refusal of marketing."))}}});

    out.push_back(heading(block::kind::h3, tr("Endre eller trekke tilbake samtykket",
                                              "Change or withdraw your consent")));
    out.push_back(para(
        {text(tr("Du kan når som helst endre eller trekke tilbake samtykket, like enkelt som du "
                 "ga det: ",
                 "You can change or withdraw your consent at any time, as easily as you gave "
                 "it: ")),
         {span::kind::reopen,
          tr("Endre innstillinger for informasjonskapsler", "Change cookie settings")},
         text(tr(". En tilbaketrekking virker med en gang: informasjonskapslene i kategoriene du "
                 "trekker tilbake, slettes. Det som ble gjort før tilbaketrekkingen, var lovlig "
                 "og blir ikke endret.",
                 ". A withdrawal takes effect at once: the cookies of the categories you "
                 "withdraw are deleted. What was done before the withdrawal stays lawful and is "
                 "not changed."))}));

    out.push_back(heading(block::kind::h3, tr("Se, laste ned eller slette det som er lagret",
                                              "See, download or delete your record")));
    out.push_back(para(
        {text(tr("Innstillingene for informasjonskapsler viser valget ditt og samtykke-ID-en. ",
                 "The cookie settings show your choice and consent id. ")),
         {span::kind::link, tr("Last ned samtykkeoppføringen din", "Download your consent record"),
          "/_consent/record"},
         text(tr(" (en JSON-fil med alle valgene som er lagret: innsyn og dataportabilitet). I "
                 "innstillingene kan du også slette oppføringen: den og historikken slettes med "
                 "en gang, og informasjonskapsler som ikke er nødvendige, fjernes. Du trenger "
                 "ikke å spørre noen, og svaret kommer straks. Hele listen over "
                 "informasjonskapsler står i ",
                 " (a JSON file with every stored choice: access and portability). In the "
                 "settings you can also delete the record: it and its history are erased at "
                 "once, and the cookies that are not necessary are removed. You need not ask "
                 "anyone, and the answer comes at once. The full list of cookies is in ")),
         {span::kind::link, tr("erklæringen om informasjonskapsler", "the cookie declaration"),
          std::string{"/_consent/declaration?lang="} + (en ? "en" : "nb")},
         text(".")}));

    if (f.analytics) {
        out.push_back(heading(block::kind::h3, tr("Besøksstatistikk uten informasjonskapsler",
                                                  "Visitor statistics without cookies")));
        out.push_back(para(tr(
            "Nettstedet teller besøk selv, uten informasjonskapsler og uten å lagre noe som "
            "identifiserer deg. Ingenting lagres på eller leses fra enheten din, og derfor "
            "trengs det ikke samtykke. Behandlingen bygger på vår berettigede interesse i anonym "
            "statistikk om bruken av nettstedet (personvernforordningen art. 6 nr. 1 bokstav f).",
            "The website counts visits itself, without cookies and without storing anything "
            "that identifies you. Nothing is stored on or read from your device, so no consent "
            "is needed. The processing rests on our legitimate interest in anonymous statistics "
            "about the use of the website (GDPR art. 6(1)(f)).")));
        block kept{block::kind::list, {}};
        kept.lines.push_back(
            {text(tr("Det som telles: sidevisninger per side og time; per dag: inngangssider, "
                     "nettstedet du kom fra, kampanjemerker (utm_source, utm_medium, "
                     "utm_campaign), ",
                     "What is counted: page views per page and hour; per day: entry pages, the "
                     "website you came from, campaign tags (utm_source, utm_medium, "
                     "utm_campaign), ") +
                  (f.country ? tr("land, ", "country, ") : std::string{}) +
                  tr("type enhet, nettleser og operativsystem; besøk (antall, sider per besøk, "
                     "varighet).",
                     "device type, browser and operating system; visits (number, pages per "
                     "visit, duration)."))});
        kept.lines.push_back(
            {text(tr("Dette lagres aldri: IP-adressen din, nettleserens user-agent-tekst, "
                     "informasjonskapsler og andre parametere i adressen.",
                     "Never stored: your IP address, your browser's user-agent string, cookies, "
                     "other parameters of the address."))});
        kept.lines.push_back(
            {text(tr("Unike besøkende anslås med en enveiskode laget med en tilfeldig nøkkel som "
                     "byttes hver dag og aldri skrives til disk; etter to dager finnes bare "
                     "summene.",
                     "Unique visitors are estimated with a one-way code made with a random key "
                     "that changes every day and is never written to disk; after two days only "
                     "the totals remain."))});
        kept.lines.push_back({text(
            tr("Ingen tall om færre enn ", "No figure about fewer than ") +
            std::to_string(f.analytics_k) +
            tr(" besøkende vises eller gis videre.", " visitors is ever shown or passed on."))});
        kept.lines.push_back({text(tr("Tallene lagres i ", "The figures are kept for ") +
                                   std::to_string(f.analytics_retention_days) + days + ".")});
        if (!f.forwarded_to.empty()) {
            std::string names;
            for (const auto& n : f.forwarded_to) {
                names += (names.empty() ? "" : ", ") + n;
            }
            kept.lines.push_back({text(tr("Summer per dag (med samme grense) gis videre til: ",
                                          "Daily totals (with the same limit) are passed on "
                                          "to: ") +
                                       names + ".")});
        }
        kept.lines.push_back(
            {text(tr("Du kan reservere deg: si nei til statistikk i innstillingene for "
                     "informasjonskapsler, eller send Global Privacy Control eller Do Not Track "
                     "fra nettleseren. Da telles bare én anonym sidevisning.",
                     "You can object: refuse statistics in the cookie settings, or have your "
                     "browser send Global Privacy Control or Do Not Track. Then only one "
                     "anonymous page view is counted."))});
        out.push_back(std::move(kept));
    }
    return out;
}

}  // namespace

std::string privacy_text(const site_banner& banner, language l, text_format f,
                         const privacy_facts& facts) {
    const json doc = json::parse(banner.document(l == language::en ? language::en : language::nb));
    const auto blocks = section(doc, facts, l == language::en);
    return f == text_format::html ? html(blocks) : markdown(blocks);
}

}  // namespace cg::banner
