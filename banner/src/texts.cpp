#include "banner_text.hpp"

#include <algorithm>
#include <array>

namespace cg::banner {

namespace {

struct text_row {
    std::string_view key;
    std::array<std::string_view, 3> text;  // nb, nn, en
};

// Written for this product. `{controller}` is the site's controller's name.
constexpr std::array<text_row, 36> rows{{
    {"title", {"Vi bruker informasjonskapsler", "Vi brukar informasjonskapslar", "We use cookies"}},
    {"intro",
     {"{controller} bruker nødvendige informasjonskapsler for at nettstedet skal virke. Med ditt "
      "samtykke bruker vi også informasjonskapsler og lignende teknologi til innstillinger, "
      "statistikk og markedsføring, og tredjepartene nedenfor får data om besøket ditt. Du "
      "velger selv, og du kan endre valget når som helst.",
      "{controller} brukar nødvendige informasjonskapslar for at nettstaden skal verke. Med "
      "samtykket ditt brukar vi òg informasjonskapslar og liknande teknologi til innstillingar, "
      "statistikk og marknadsføring, og tredjepartane nedanfor får data om besøket ditt. Du vel "
      "sjølv, og du kan endre valet når som helst.",
      "{controller} uses necessary cookies to make this website work. With your consent we also "
      "use cookies and similar technologies for preferences, statistics and marketing, and the "
      "third parties below receive data about your visit. The choice is yours, and you can "
      "change it at any time."}},
    {"accept_all", {"Godta alle", "Godta alle", "Accept all"}},
    {"reject_all", {"Avvis alle", "Avvis alle", "Reject all"}},
    {"settings", {"Tilpass", "Tilpass", "Customise"}},
    {"save", {"Lagre valgene", "Lagre vala", "Save choices"}},
    {"settings_title",
     {"Innstillinger for informasjonskapsler", "Innstillingar for informasjonskapslar",
      "Cookie settings"}},
    {"settings_intro",
     {"Velg hvilke formål du samtykker til. Nødvendige informasjonskapsler er alltid på, fordi "
      "nettstedet ikke virker uten dem.",
      "Vel kva formål du samtykkjer til. Nødvendige informasjonskapslar er alltid på, fordi "
      "nettstaden ikkje verkar utan dei.",
      "Choose the purposes you consent to. Necessary cookies are always on, because the website "
      "does not work without them."}},
    {"always_on", {"Alltid på", "Alltid på", "Always on"}},
    {"close", {"Lukk", "Lukk", "Close"}},
    {"cookies", {"Informasjonskapsler", "Informasjonskapslar", "Cookies"}},
    {"name", {"Navn", "Namn", "Name"}},
    {"provider", {"Leverandør", "Leverandør", "Provider"}},
    {"purpose", {"Formål", "Formål", "Purpose"}},
    {"lifetime", {"Varighet", "Varigheit", "Lifetime"}},
    {"third_parties", {"Tredjeparter", "Tredjepartar", "Third parties"}},
    {"controller", {"Behandlingsansvarlig", "Behandlingsansvarleg", "Controller"}},
    {"contact", {"Kontakt", "Kontakt", "Contact"}},
    {"privacy_policy", {"Personvernerklæring", "Personvernerklæring", "Privacy statement"}},
    {"declaration",
     {"Alle informasjonskapsler på nettstedet", "Alle informasjonskapslar på nettstaden",
      "All cookies on this website"}},
    {"your_choice", {"Ditt valg", "Valet ditt", "Your choice"}},
    {"consent_id", {"Samtykke-ID", "Samtykke-ID", "Consent ID"}},
    {"not_decided",
     {"Du har ikke valgt ennå.", "Du har ikkje valt enno.", "You have not chosen yet."}},
    {"download_record",
     {"Last ned samtykkehistorikken din", "Last ned samtykkehistorikken din",
      "Download your consent record"}},
    {"delete_record",
     {"Slett samtykkehistorikken din", "Slett samtykkehistorikken din",
      "Delete your consent record"}},
    {"delete_confirm",
     {"Vil du slette samtykkehistorikken? Da blir du spurt på nytt.",
      "Vil du slette samtykkehistorikken? Då blir du spurd på nytt.",
      "Delete your consent record? You will be asked again."}},
    {"confirm", {"Ja, slett", "Ja, slett", "Yes, delete"}},
    {"cancel", {"Avbryt", "Avbryt", "Cancel"}},
    {"deleted",
     {"Samtykkehistorikken din er slettet.", "Samtykkehistorikken din er sletta.",
      "Your consent record is deleted."}},
    {"reopen", {"Informasjonskapsler", "Informasjonskapslar", "Cookie settings"}},
    {"saved", {"Valget ditt er lagret.", "Valet ditt er lagra.", "Your choice is saved."}},
    {"error",
     {"Valget ble ikke lagret. Prøv igjen.", "Valet vart ikkje lagra. Prøv igjen.",
      "Your choice was not saved. Please try again."}},
    {"gpc_notice",
     {"Nettleseren din sender Global Privacy Control. Vi regner det som nei til markedsføring.",
      "Nettlesaren din sender Global Privacy Control. Vi reknar det som nei til "
      "marknadsføring.",
      "Your browser sends Global Privacy Control. We treat it as a refusal of marketing."}},
    {"noscript_intro",
     {"Velg om vi kan bruke informasjonskapsler til innstillinger, statistikk og markedsføring.",
      "Vel om vi kan bruke informasjonskapslar til innstillingar, statistikk og marknadsføring.",
      "Choose whether we may use cookies for preferences, statistics and marketing."}},
    {"declaration_title",
     {"Informasjonskapsler på {site}", "Informasjonskapslar på {site}", "Cookies on {site}"}},
    {"none_listed", {"Ingen oppført.", "Ingen oppførte.", "None listed."}},
}};

}  // namespace

const std::vector<std::string_view>& text_keys() {
    static const std::vector<std::string_view> keys = [] {
        std::vector<std::string_view> k;
        for (const auto& row : rows) {
            k.push_back(row.key);
        }
        return k;
    }();
    return keys;
}

std::string_view builtin_text(language l, std::string_view key) noexcept {
    const auto* it = std::find_if(rows.begin(), rows.end(),
                                  [key](const text_row& row) { return row.key == key; });
    return it == rows.end() ? std::string_view{} : it->text[static_cast<std::size_t>(l)];
}

std::string resolved_text(const site_banner_config& c, language l, std::string_view key) {
    std::string out{builtin_text(l, key)};
    for (const auto& [k, v] : c.texts[static_cast<std::size_t>(l)]) {
        if (k == key) {
            out = v;
        }
    }
    constexpr std::string_view placeholder = "{controller}";
    for (auto at = out.find(placeholder); at != std::string::npos;
         at = out.find(placeholder, at + c.who.name.size())) {
        out.replace(at, placeholder.size(), c.who.name);
    }
    return out;
}

namespace {

// A lifetime's unit in English (singular, plural) and in nb and nn (singular, plural).
struct unit_row {
    std::array<std::string_view, 2> en;
    std::array<std::array<std::string_view, 2>, 2> no;  // nb, nn
};
constexpr std::array<unit_row, 7> units{{
    {{"second", "seconds"}, {{{"sekund", "sekunder"}, {"sekund", "sekund"}}}},
    {{"minute", "minutes"}, {{{"minutt", "minutter"}, {"minutt", "minutt"}}}},
    {{"hour", "hours"}, {{{"time", "timer"}, {"time", "timar"}}}},
    {{"day", "days"}, {{{"dag", "dager"}, {"dag", "dagar"}}}},
    {{"week", "weeks"}, {{{"uke", "uker"}, {"veke", "veker"}}}},
    {{"month", "months"}, {{{"måned", "måneder"}, {"månad", "månader"}}}},
    {{"year", "years"}, {{{"år", "år"}, {"år", "år"}}}},
}};

}  // namespace

std::string lifetime_in(language l, std::string_view lifetime) {
    if (l == language::en) {
        return std::string{lifetime};
    }
    const auto no = static_cast<std::size_t>(l);  // nb 0, nn 1
    if (lifetime == "session") {
        return "økt";
    }
    // "<digits> <unit>", as the catalogue writes most lifetimes; anything else stays as written.
    const auto space = lifetime.find(' ');
    const auto number = lifetime.substr(0, space);
    if (space == std::string_view::npos || number.empty() || number.size() > 9 ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::string{lifetime};
    }
    const auto word = lifetime.substr(space + 1);
    for (const auto& u : units) {
        for (std::size_t plural = 0; plural < 2; ++plural) {
            if (word == u.en[plural]) {
                return std::string{number} + " " + std::string{u.no[no][number == "1" ? 0 : 1]};
            }
        }
    }
    return std::string{lifetime};
}

}  // namespace cg::banner
