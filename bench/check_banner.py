#!/usr/bin/env python3
"""Checks of the HTML rows of bench/run.sh (pages with the consent banner).

  check_banner.py snippet BODY
      Print the two tags the gateway inserted before </head> in BODY (a plain page from the
      gateway's banner site): <link rel="stylesheet" href="/_consent/banner.*.css"...><script
      src="/_consent/banner.*.js" ...></script>. Exit 1 if they are not there exactly once, or
      if they contain a character that cannot go into an nginx '...' string as is (' \\ $).

  check_banner.py page HEADERS BODY --coding identity|gzip [--held] [--snippet FILE]
      Check one response (HEADERS: curl -D output, BODY: the raw body as received): its
      Content-Encoding is the expected one (gzip: the body is decoded first), the body has
      `<script src="/_consent/banner.` exactly once, right before </head> (and equal to the
      snippet in FILE when given). With --held, also that the trackers of 30k-trackers.html
      are held back: the gtag.js script is `type="text/plain"` with its URL moved to
      data-consent-src, the inline gtag and Meta Pixel snippets are type="text/plain", the
      YouTube iframe's src is moved to data-consent-src, and no tracker URL is left in a src.
      Prints one summary line; exit 0 if all hold, else 1 with the reason.
"""
import gzip
import re
import sys

TAG = b'<script src="/_consent/banner.'
SNIPPET_RE = re.compile(
    rb'<link rel="stylesheet" href="/_consent/banner\.[0-9a-f]+\.css"[^>]*>'
    rb'<script src="/_consent/banner\.[0-9a-f]+\.js"[^>]*></script>(?=</head>)')


def fail(msg: str) -> int:
    print(f"check_banner: {msg}", file=sys.stderr)
    return 1


def header(headers: bytes, name: str) -> str:
    # the last response in the file (curl -D writes every response it reads)
    blocks = [b for b in headers.replace(b"\r\n", b"\n").split(b"\n\n") if b.strip()]
    for line in (blocks[-1] if blocks else b"").split(b"\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.encode():
            return v.strip().decode("latin-1")
    return ""


def snippet(body_path: str) -> int:
    body = open(body_path, "rb").read()
    found = SNIPPET_RE.findall(body)
    if len(found) != 1 or body.count(TAG) != 1:
        return fail(f"{body_path}: the banner tags are there {len(found)} time(s) before </head>, "
                    f"{body.count(TAG)} time(s) in all (want exactly once)")
    s = found[0]
    if any(c in s for c in (b"'", b"\\", b"$", b"\n")):
        return fail("the snippet contains ' \\ $ or a newline: cannot quote it for nginx sub_filter")
    sys.stdout.write(s.decode("ascii") + "\n")
    return 0


def page(args) -> int:
    if len(args) < 4 or args[2] != "--coding" or args[3] not in ("identity", "gzip"):
        print(__doc__, file=sys.stderr)
        return 2
    head_path, body_path, coding = args[0], args[1], args[3]
    held = "--held" in args[4:]
    want = None
    if "--snippet" in args[4:]:
        want = open(args[args.index("--snippet") + 1], "rb").read().strip()
    headers, body = open(head_path, "rb").read(), open(body_path, "rb").read()
    status = headers.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in status + " ":
        return fail(f"{body_path}: status {status!r}")
    ce = header(headers, "content-encoding").lower()
    if coding == "gzip":
        if ce != "gzip":
            return fail(f"{body_path}: Content-Encoding {ce or 'none'!r}, want gzip")
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as e:
            return fail(f"{body_path}: the body does not decode as gzip: {e}")
    elif ce not in ("", "identity"):
        return fail(f"{body_path}: Content-Encoding {ce!r}, want none")
    n = body.count(TAG)
    if n != 1:
        return fail(f"{body_path}: {TAG.decode()} is there {n} time(s), want exactly once")
    found = SNIPPET_RE.findall(body)
    if len(found) != 1:
        return fail(f"{body_path}: the banner tags are not right before </head>")
    if want is not None and found[0] != want:
        return fail(f"{body_path}: the inserted tags differ from the snippet in {args[args.index('--snippet') + 1]}")
    notes = [f"{len(body)} B decoded" if coding == "gzip" else f"{len(body)} B",
             f"Content-Encoding {ce or 'none'}", "banner tags once before </head>"]
    if held:
        checks = {
            "gtag.js held": rb'<script type="text/plain"[^>]*data-consent-src="https://www\.googletagmanager\.com/gtag/js',
            "inline gtag held": rb"<script type=\"text/plain\"[^>]*>\s*window\.dataLayer = window\.dataLayer \|\| \[\];\s*function gtag\(\)[^<]*gtag\('config'",
            "Meta Pixel held": rb'<script type="text/plain"[^>]*>\s*!function\(f,b,e,v,n,t,s\)',
            "YouTube iframe held": rb'<iframe [^>]*data-consent-src="https://www\.youtube\.com/embed/',
        }
        for what, rx in checks.items():
            if not re.search(rx, body):
                return fail(f"{body_path}: not held back: {what.replace(' held', '')}")
        left = re.findall(rb'\ssrc="https://(?:www\.googletagmanager\.com|www\.youtube\.com|'
                          rb'www\.facebook\.com|connect\.facebook\.net)[^"]*"', body)
        if left:
            return fail(f"{body_path}: tracker URL(s) still in a src attribute: {left[:3]}")
        notes.append("gtag.js, inline gtag, Meta Pixel, YouTube iframe held back")
    print(", ".join(notes))
    return 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "snippet":
        return snippet(sys.argv[2])
    if len(sys.argv) >= 2 and sys.argv[1] == "page":
        return page(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
