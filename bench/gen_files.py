#!/usr/bin/env python3
"""Generate the benchmark's static files, deterministically, into DIR.

  gen_files.py DIR

Writes (exact sizes, same bytes on every run and every machine):
  30k.html   30,720 B  article page with realistic markup
  2k.html     2,048 B  small HTML page
  100k.js   102,400 B  JavaScript bundle-like file
  5k.json     5,120 B  JSON API response
  200k.bin  204,800 B  pseudo-random binary (SHA-256 stream from a fixed seed)
  30k-trackers.html  30,720 B  the same kind of article page as a real site with trackers:
             gtag.js (<script async src> on www.googletagmanager.com) and its inline config,
             the Meta Pixel inline snippet and its <noscript><img> pixel in <head>, a
             YouTube <iframe> in the body: the page of the banner rows (hold-back has work)

  30k-trackers.html.gz  the same, gzip level 6 (the upstream serves it with gzip_static)

Prints the file names of the proxy table in benchmark order, one per line (the first five;
30k-trackers.html is written too but not printed: run.sh refers to it by name).
"""
import gzip
import hashlib
import json
import os
import sys

FILES = [  # (name, size) in the order the benchmark runs them
    ("30k.html", 30 * 1024),
    ("2k.html", 2 * 1024),
    ("100k.js", 100 * 1024),
    ("5k.json", 5 * 1024),
    ("200k.bin", 200 * 1024),
]
TRACKERS_PAGE = "30k-trackers.html"  # the banner rows' page (30,720 B), not in FILES

WORDS = (
    "consent privacy cookie banner analytics gateway proxy request response "
    "header visitor session policy storage purpose vendor partner measure "
    "content audience personalised advertising market research product develop "
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
    "tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam "
    "quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum "
    "fugiat nulla pariatur excepteur sint occaecat cupidatat non proident "
    "sunt culpa qui officia deserunt mollit anim id est laborum"
).split()


class Rng:
    """Tiny xorshift64* generator: identical output on every Python version."""

    def __init__(self, seed: int) -> None:
        self.s = (seed or 1) & 0xFFFFFFFFFFFFFFFF

    def next(self) -> int:
        x = self.s
        x ^= (x >> 12)
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27)
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n: int) -> int:
        return self.next() % n

    def word(self) -> str:
        return WORDS[self.below(len(WORDS))]

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.word() for _ in range(lo + self.below(hi - lo + 1)))

    def sentence(self) -> str:
        s = self.words(6, 16)
        return s[0].upper() + s[1:] + "."


def fit(parts_head: str, make_part, parts_tail: str, size: int, pad) -> bytes:
    """head + as many make_part() chunks as fit + pad(n) + tail, exactly `size` bytes."""
    body = []
    used = len(parts_head.encode()) + len(parts_tail.encode())
    min_pad = len(pad(0).encode())
    while True:
        part = make_part(len(body))
        n = len(part.encode())
        if used + n + min_pad > size:
            break
        body.append(part)
        used += n
    fill = size - used - min_pad
    out = (parts_head + "".join(body) + pad(fill) + parts_tail).encode()
    assert len(out) == size, (len(out), size)
    return out


# What a typical site's <head> has for Google Analytics 4 and Meta Pixel (vendor snippets,
# fixed test ids), and the YouTube embed of the trackers page's body.
TRACKER_HEAD = (
    "<!-- Google tag (gtag.js) -->\n"
    "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-BENCH12345\"></script>\n"
    "<script>\n  window.dataLayer = window.dataLayer || [];\n"
    "  function gtag(){dataLayer.push(arguments);}\n  gtag('js', new Date());\n"
    "  gtag('config', 'G-BENCH12345');\n</script>\n"
    "<!-- Meta Pixel Code -->\n<script>\n!function(f,b,e,v,n,t,s)\n"
    "{if(f.fbq)return;n=f.fbq=function(){n.callMethod?\n"
    "n.callMethod.apply(n,arguments):n.queue.push(arguments)};\n"
    "if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';\n"
    "n.queue=[];t=b.createElement(e);t.async=!0;\n"
    "t.src=v;s=b.getElementsByTagName(e)[0];\n"
    "s.parentNode.insertBefore(t,s)}(window, document,'script',\n"
    "'https://connect.facebook.net/en_US/fbevents.js');\n"
    "fbq('init', '1234567890123456');\nfbq('track', 'PageView');\n</script>\n"
    "<noscript><img height=\"1\" width=\"1\" style=\"display:none\" alt=\"\" "
    "src=\"https://www.facebook.com/tr?id=1234567890123456&ev=PageView&noscript=1\"></noscript>\n"
    "<!-- End Meta Pixel Code -->\n"
)
YOUTUBE_EMBED = (
    "<figure class=\"video\"><iframe width=\"560\" height=\"315\" "
    "src=\"https://www.youtube.com/embed/dQw4w9WgXcQ?rel=0\" title=\"YouTube video player\" "
    "frameborder=\"0\" allow=\"accelerometer; autoplay; clipboard-write; encrypted-media; "
    "gyroscope; picture-in-picture; web-share\" referrerpolicy=\"strict-origin-when-cross-origin\" "
    "allowfullscreen></iframe><figcaption>Interview (video)</figcaption></figure>\n"
)


def html_page(size: int, seed: int, title: str, trackers: bool = False) -> bytes:
    r = Rng(seed)
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{title}</title>\n"
        "<link rel=\"stylesheet\" href=\"/assets/site.css\">\n"
        "<link rel=\"preload\" href=\"/assets/fonts/inter.woff2\" as=\"font\" crossorigin>\n"
        "<script async src=\"/assets/app.js\"></script>\n"
        "<script>window.dataLayer=window.dataLayer||[];"
        "function gtag(){dataLayer.push(arguments);}</script>\n"
        + (TRACKER_HEAD if trackers else "")
        + "</head>\n<body class=\"article-page\">\n"
        "<header class=\"site-header\">\n  <a class=\"logo\" href=\"/\">"
        "<img src=\"/assets/logo.svg\" alt=\"Example News\" width=\"120\" height=\"32\"></a>\n"
        "  <nav aria-label=\"Main\"><ul>\n"
        + "".join(f"    <li><a href=\"/{w}/\">{w.title()}</a></li>\n"
                  for w in ("news", "sport", "culture", "opinion", "weather"))
        + "  </ul></nav>\n</header>\n<main id=\"content\">\n<article>\n"
        f"<h1>{title}</h1>\n"
        "<p class=\"byline\">By <a href=\"/authors/kari\">Kari Nordmann</a> "
        "&middot; <time datetime=\"2024-05-17T08:30:00Z\">17 May 2024</time></p>\n"
    )
    tail = (
        "</article>\n</main>\n<footer class=\"site-footer\">\n"
        "  <p>&copy; 2024 Example News &middot; <a href=\"/privacy\">Privacy</a> "
        "&middot; <a href=\"/cookies\">Cookie settings</a></p>\n"
        "</footer>\n</body>\n</html>\n"
    )

    def section(i: int) -> str:
        out = [f"<section id=\"s{i}\">\n<h2>{r.sentence()[:-1]}</h2>\n"]
        if trackers and i == 2:
            out.append(YOUTUBE_EMBED)
        for _ in range(1 + r.below(3)):
            out.append(f"<p>{r.sentence()} {r.sentence()} "
                       f"<a href=\"/{r.word()}/{r.below(99999)}\">{r.words(2, 4)}</a> "
                       f"{r.sentence()}</p>\n")
        if r.below(3) == 0:
            k = r.below(1000)
            out.append(f"<figure><img src=\"/img/{k}.jpg\" alt=\"{r.words(3, 6)}\" "
                       f"loading=\"lazy\" width=\"800\" height=\"450\">"
                       f"<figcaption>{r.sentence()}</figcaption></figure>\n")
        if r.below(4) == 0:
            out.append("<ul>\n" + "".join(f"  <li>{r.words(3, 8)}</li>\n"
                                          for _ in range(2 + r.below(3))) + "</ul>\n")
        out.append("</section>\n")
        return "".join(out)

    def pad(n: int) -> str:
        return "<!--" + ("p" * n) + "-->\n"

    return fit(head, section, tail, size, pad)


def js_file(size: int, seed: int) -> bytes:
    r = Rng(seed)
    head = ("/*! bench bundle v1.0.0 | generated for consent-gateway benchmarks */\n"
            "(function (global) {\n  'use strict';\n  var modules = {};\n")
    tail = "  global.benchModules = modules;\n})(typeof window !== 'undefined' ? window : this);\n"

    def fn(i: int) -> str:
        a, b = r.word(), "list_" + r.word()
        return (
            f"  modules.{a}_{i} = function ({b}, options) {{\n"
            f"    var cfg = Object.assign({{ retries: {r.below(5)}, timeout: {100 * r.below(50)} }}, options || {{}});\n"
            f"    if (!{b} || typeof {b}.length !== 'number') {{ return null; }}\n"
            f"    var out = [];\n"
            f"    for (var i = 0; i < {b}.length; i++) {{\n"
            f"      if ({b}[i] && {b}[i].{r.word()} !== undefined) {{ out.push({b}[i]); }}\n"
            f"    }}\n"
            f"    // {r.sentence()}\n"
            f"    return {{ name: '{a}', items: out, cfg: cfg, ts: Date.now() }};\n"
            f"  }};\n"
        )

    def pad(n: int) -> str:
        return "  /*" + ("-" * n) + "*/\n"

    return fit(head, fn, tail, size, pad)


def json_doc(size: int, seed: int) -> bytes:
    r = Rng(seed)
    items = []
    while True:
        i = len(items)
        item = {
            "id": 1000 + i,
            "name": r.words(2, 3).title(),
            "email": f"{r.word()}.{r.word()}@example.com",
            "purposes": sorted({r.word() for _ in range(1 + r.below(3))}),
            "consent": {"analytics": r.below(2) == 1, "ads": r.below(2) == 1},
            "score": round(r.below(10000) / 100, 2),
            "updated": f"2024-05-{1 + r.below(28):02d}T{r.below(24):02d}:00:00Z",
        }
        trial = {"page": 1, "items": items + [item], "pad": ""}
        if len(json.dumps(trial, separators=(",", ":")).encode()) + 1 > size:
            break
        items.append(item)
    doc = {"page": 1, "items": items, "pad": ""}
    base = len(json.dumps(doc, separators=(",", ":")).encode()) + 1  # + "\n"
    doc["pad"] = " " * (size - base)
    out = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    assert len(out) == size, (len(out), size)
    return out


def binary(size: int, seed: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"bench-seed-{seed}-{i}".encode()).digest()
        i += 1
    return bytes(out[:size])


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    makers = {
        "30k.html": lambda n: html_page(n, 30, "Consent and the open web: a long read"),
        "2k.html": lambda n: html_page(n, 2, "Short note"),
        "100k.js": lambda n: js_file(n, 100),
        "5k.json": lambda n: json_doc(n, 5),
        "200k.bin": lambda n: binary(n, 200),
    }
    page = html_page(30 * 1024, 31, "Consent and the open web: a long read", trackers=True)
    with open(os.path.join(d, TRACKERS_PAGE), "wb") as f:
        f.write(page)
    with open(os.path.join(d, TRACKERS_PAGE + ".gz"), "wb") as f:
        f.write(gzip.compress(page, 6, mtime=0))
    for name, n in FILES:
        with open(os.path.join(d, name), "wb") as f:
            f.write(makers[name](n))
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
