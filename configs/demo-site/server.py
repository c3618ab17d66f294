#!/usr/bin/env python3
"""Demo upstream for consent-gateway: the website of the fictional "Arbeidsro AS".

Serves ./www over HTTP/1.1 with keep-alive and behaves like a typical
PHP/WordPress site regarding cookies, so the gateway has something to block.

Pages are rendered like a CMS does it: www/_layout.html holds the shared
<head> (with the GA4, Meta Pixel and Hotjar snippets), header navigation,
footer and the LinkedIn / site-owned statistics scripts; www/pages/<name>.html
holds only one page's <main> content, preceded by a front matter block

    ---
    title: Om oss – Arbeidsro AS
    description: Om Arbeidsro AS: historie, verdier og folkene bak.
    ---

The layout placeholders are {{title}} and {{description}} (HTML-escaped),
{{content}} (the fragment as is) and {{nav_current:<name>}}, which becomes
' aria-current="page"' in the navigation link of page <name> (the fragment's
file name without .html, or a "nav:" front matter key) and nothing elsewhere.
Names starting with "." or "_" and the pages/ directory are never served
directly.

Cookies:

  Without --cookies, HTML responses (200 pages and the 404 page) set
    PHPSESSID=<26 chars>; Path=/; HttpOnly; SameSite=Lax   (only if the request has none)
    _ga=GA1.1.<rand>.<unix time>; Max-Age=63072000; Path=/            (analytics)
    _ga_ABC123DEF=GS1.1.<start>.<n>.1.<now>.0.0.0; Max-Age=63072000; Path=/  (analytics)
    _fbp=fb.1.<unix ms>.<rand>; Max-Age=7776000; Path=/               (marketing)
    visitor_pref=nb.light.<hex>; Max-Age=31536000; Path=/             (not in any catalogue)
  The tracking cookies are sent on every HTML response; an existing value sent
  back by the browser is kept (only the expiry is refreshed), as server-side
  tagging does.

  Non-HTML responses (CSS, JS, SVG, /api/status, the 303 after POST /kontakt)
  set no cookies.

  --cookies FILE (JSON) lets another stand-in site bring its own behaviour:

    {"cookies": [
       {"name": "PHPSESSID", "value": "{token:26}",
        "attributes": "Path=/; HttpOnly; SameSite=Lax", "when": "absent"},
       {"name": "_ga", "value": "GA1.1.{digits:9}.{now}",
        "attributes": "Max-Age=63072000; Path=/", "keep_existing": true},
       {"name": "portal_lang", "value": "nb",
        "attributes": "Max-Age=31536000; Path=/karriere/", "paths": ["/karriere/"]}],
     "forms": [
       {"path": "/kontakt", "redirect": "/takk"},
       {"path": "/logg-inn", "redirect": "/min-side",
        "cookies": [{"name": "portal_session", "value": "{hex:32}",
                     "attributes": "Path=/; HttpOnly; Secure; SameSite=Lax"}]}]}

  "cookies" (default: none) replaces the cookies above: each is sent, in
  order, on every HTML response (200 pages and the 404 page).
    name           required; an RFC 6265 token
    value          required; a template: {token:N} N random chars of [a-z0-9],
                   {hex:N} N random hex digits, {digits:N} N random decimal
                   digits (N 1-4096), {now} unix seconds, {now_ms} unix
                   milliseconds; the rest is literal (RFC 6265 cookie-octets,
                   without "{" and "}")
    attributes     appended after "; " (e.g. "Max-Age=600; Path=/")
    when           "always" (default) or "absent": only when the request
                   carries no (non-empty) cookie of that name
    keep_existing  false (default) or true: when the request carries the
                   cookie, send its value back instead of a new one
    paths          URL path prefixes; the cookie is sent only for request
                   paths that start with one of them (e.g. ["/karriere/"])
  "forms", when present, replaces the POST /kontakt route: a POST to exactly
  "path" reads the body and answers 303 See Other to "redirect", with the
  form's own "cookies" (same fields, matched against the POST request) as
  Set-Cookie on that 303. POST anywhere else answers 405.
  The file is checked at start: a bad file, an unknown key, a wrong type or
  a bad template is reported on one line naming the field, with exit status
  2. Cookie values are never logged.

Routes:
  GET/HEAD /            -> pages/index.html; /name and /name.html both render
                           pages/name.html into the layout; other files are static
  POST /kontakt         -> reads the form body, 303 See Other to /takk.html
                           (with --cookies: the file's "forms", if it has any)
  GET/HEAD /api/status  -> small JSON document
  anything else         -> pages/404.html with status 404

Every response carries Content-Length. One log line per request goes to
stderr, without the client address or query string. Stops cleanly on SIGINT
or SIGTERM.

Usage: python3 server.py [--host 127.0.0.1] [--port 8081] [--root DIR] [--cookies FILE]
       (--port 0 picks a free port; the chosen port is printed on stderr)
"""

import argparse
import html
import json
import os
import posixpath
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "www")
MAX_BODY = 1024 * 1024  # request bodies larger than this are refused (413)
GA_STREAM_ID = "ABC123DEF"  # matches the gtag id G-ABC123DEF used in the pages
STARTED = time.time()

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".woff2": "font/woff2",
}

SESSION_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # PHP's default sid charset

LAYOUT_FILE = "_layout.html"  # below the web root; "_" names are never served
PAGES_DIR = "pages"  # page fragments below the web root; never served directly
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?::([A-Za-z0-9_./-]+))?\s*\}\}")


def split_front_matter(text):
    """Split '---\\nkey: value\\n...---\\n' off the top of a page fragment.

    Returns (dict with lower-case keys, remaining content); a fragment without
    a complete front matter block is all content."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        return {}, text
    meta = {}
    for i, line in enumerate(lines[1:], 1):
        line = line.rstrip("\r\n")
        if line == "---":
            return meta, "".join(lines[i + 1:])
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip()
    return {}, text


def render_page(layout, fragment, name):
    """Fill the layout with a page fragment; name is the page's nav item."""
    meta, content = split_front_matter(fragment)
    current = meta.get("nav", name)
    values = {
        "title": html.escape(meta.get("title", "")),
        "description": html.escape(meta.get("description", "")),
        "content": content,
    }

    def fill(match):
        key, arg = match.group(1), match.group(2)
        if key == "nav_current" and arg is not None:
            return ' aria-current="page"' if arg == current else ""
        if arg is None and key in values:
            return values[key]
        return match.group(0)  # unknown placeholder: leave it visible

    # One pass, so "{{...}}" inside the page content is never expanded.
    return PLACEHOLDER.sub(fill, layout)


def file_below(base, parts):
    """Real path of the regular file base/parts..., if it stays below base."""
    real = os.path.realpath(os.path.join(base, *parts))
    if real.startswith(base + os.sep) and os.path.isfile(real):
        return real
    return None


# ----------------------------------------------------------- --cookies FILE

COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 6265 §4.1.1: a token
COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")  # RFC 6265 cookie-octet
HEADER_TEXT = re.compile(r"[\x20-\x7e]*")  # printable ASCII: no CR/LF can reach a header
TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")
TEMPLATE_SIZED = re.compile(r"(token|hex|digits):([0-9]+)")
TEMPLATE_MAX_N = 4096  # RFC 6265 §6.1: browsers keep cookies of at least 4096 bytes
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
COOKIE_KEYS = ("name", "value", "attributes", "when", "keep_existing", "paths")
FORM_KEYS = ("path", "redirect", "cookies")


class CookieFileError(Exception):
    """A problem in a --cookies file; the message names the field, never a cookie value."""


def _json_type(value):
    if isinstance(value, bool):
        return "boolean"
    for kind, name in ((dict, "object"), (list, "array"), (str, "string"),
                       ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return "null"


def _shown(text, limit=40):
    """text for an error message: as is if it is plain, else quoted and escaped."""
    if re.fullmatch(r"[A-Za-z0-9_.:/-]{1,%d}" % limit, text):
        return text
    return json.dumps(text[:limit])


def _expect(value, kind, field):
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        wanted = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}
        raise CookieFileError("%s: must be %s (got %s)" % (field, wanted[kind], _json_type(value)))
    return value


def _check_keys(obj, field, required, allowed):
    """obj must be an object with every key of required and no key outside allowed."""
    _expect(obj, dict, field or "top level")
    prefix = field + "." if field else ""
    for key in obj:
        if key not in allowed:
            raise CookieFileError("%s%s: unknown key (allowed: %s)"
                                  % (prefix, _shown(key), ", ".join(allowed)))
    for key in required:
        if key not in obj:
            raise CookieFileError("%s%s: required" % (prefix, key))


def _url_path_field(value, field):
    _expect(value, str, field)
    if not value.startswith("/") or not HEADER_TEXT.fullmatch(value):
        raise CookieFileError('%s: must be a URL path starting with "/"' % field)
    return value


def parse_template(text, field):
    """Split a value template into literal strings and (kind, n) placeholders."""
    parts, pos = [], 0
    for match in TEMPLATE_FIELD.finditer(text):
        parts.append(text[pos:match.start()])
        inner = match.group(1)
        sized = TEMPLATE_SIZED.fullmatch(inner)
        if sized:
            n = int(sized.group(2))
            if not 1 <= n <= TEMPLATE_MAX_N:
                raise CookieFileError("%s: {%s}: length must be 1-%d"
                                      % (field, sized.group(1), TEMPLATE_MAX_N))
            parts.append((sized.group(1), n))
        elif inner in ("now", "now_ms"):
            parts.append((inner, 0))
        else:
            raise CookieFileError("%s: unknown placeholder %s (allowed: {token:N}, {hex:N}, "
                                  "{digits:N}, {now}, {now_ms})"
                                  % (field, _shown("{" + inner + "}")))
        pos = match.end()
    parts.append(text[pos:])
    for part in parts:
        if isinstance(part, str) and ("{" in part or "}" in part):
            raise CookieFileError('%s: unmatched "{" or "}"' % field)
        if isinstance(part, str) and not COOKIE_OCTETS.fullmatch(part):
            raise CookieFileError("%s: only RFC 6265 cookie-octets may be literal (no spaces, "
                                  "quotes, commas, semicolons, backslashes or non-ASCII)" % field)
    return [part for part in parts if part != ""]


def render_template(parts, now):
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        kind, n = part
        if kind == "token":
            out.append("".join(secrets.choice(TOKEN_ALPHABET) for _ in range(n)))
        elif kind == "hex":
            out.append(secrets.token_hex((n + 1) // 2)[:n])
        elif kind == "digits":
            out.append("".join(secrets.choice("0123456789") for _ in range(n)))
        elif kind == "now":
            out.append(str(int(now)))
        else:
            out.append(str(int(now * 1000)))
    return "".join(out)


class CookieRule:
    """One entry of a "cookies" list: which Set-Cookie to send, and when."""

    def __init__(self, obj, field):
        _check_keys(obj, field, ("name", "value"), COOKIE_KEYS)
        self.name = _expect(obj["name"], str, field + ".name")
        if not COOKIE_NAME.fullmatch(self.name):
            raise CookieFileError("%s.name: must be an RFC 6265 token (letters, digits, "
                                  "and !#$%%&'*+-.^_`|~)" % field)
        self.value = parse_template(_expect(obj["value"], str, field + ".value"), field + ".value")
        self.attributes = _expect(obj.get("attributes", ""), str, field + ".attributes")
        if not HEADER_TEXT.fullmatch(self.attributes):
            raise CookieFileError("%s.attributes: only printable ASCII is allowed" % field)
        self.when = obj.get("when", "always")
        if self.when not in ("always", "absent"):
            raise CookieFileError('%s.when: must be "always" or "absent"' % field)
        self.keep_existing = _expect(obj.get("keep_existing", False), bool,
                                     field + ".keep_existing")
        self.paths = None
        if "paths" in obj:
            paths = _expect(obj["paths"], list, field + ".paths")
            if not paths:
                raise CookieFileError("%s.paths: must not be empty (leave it out to send the "
                                      "cookie on every path)" % field)
            self.paths = tuple(_url_path_field(p, "%s.paths[%d]" % (field, i))
                               for i, p in enumerate(paths))

    def set_cookie(self, jar, path, now):
        """The Set-Cookie value for a request with cookies jar and URL path, or None."""
        if self.paths is not None and not (path and path.startswith(self.paths)):
            return None
        existing = jar.get(self.name)  # an empty value counts as absent, as in the default set
        if self.when == "absent" and existing:
            return None
        if self.keep_existing and existing:
            value = existing
        else:
            value = render_template(self.value, now)
        cookie = "%s=%s" % (self.name, value)
        return cookie + "; " + self.attributes if self.attributes else cookie


def _cookie_rules(value, field):
    return [CookieRule(obj, "%s[%d]" % (field, i))
            for i, obj in enumerate(_expect(value, list, field))]


class FormRoute:
    """One entry of "forms": POST path -> 303 to redirect, with its own cookies."""

    def __init__(self, obj, field):
        _check_keys(obj, field, ("path", "redirect"), FORM_KEYS)
        self.path = _url_path_field(obj["path"], field + ".path")
        self.redirect = _expect(obj["redirect"], str, field + ".redirect")
        if not re.fullmatch(r"[\x21-\x7e]+", self.redirect):
            raise CookieFileError("%s.redirect: must be a non-empty URL without spaces "
                                  "(printable ASCII)" % field)
        self.cookies = _cookie_rules(obj.get("cookies", []), field + ".cookies")


class SiteCookies:
    """A checked --cookies file: the HTML cookies and the form routes (None: the default)."""

    def __init__(self, doc):
        _check_keys(doc, "", (), ("cookies", "forms"))
        self.cookies = _cookie_rules(doc.get("cookies", []), "cookies")
        self.forms = None
        if "forms" in doc:
            self.forms = {}
            for i, obj in enumerate(_expect(doc["forms"], list, "forms")):
                form = FormRoute(obj, "forms[%d]" % i)
                if form.path in self.forms:
                    raise CookieFileError("forms[%d].path: %s is already a form route"
                                          % (i, _shown(form.path)))
                self.forms[form.path] = form


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise CookieFileError("duplicate key %s" % _shown(key))
        obj[key] = value
    return obj


def load_site_cookies(path):
    """Read and check a --cookies file; raises CookieFileError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CookieFileError("cannot read: %s" % (e.strerror or e))
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError:
        raise CookieFileError("not UTF-8")
    except json.JSONDecodeError as e:
        raise CookieFileError("not valid JSON: %s" % e)
    return SiteCookies(doc)


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # so even garbage gets headers + Content-Length
    server_version = "Apache"
    timeout = 30  # idle keep-alive connections are closed after this many seconds
    root = DEFAULT_ROOT
    site = None  # a SiteCookies from --cookies FILE; None: the built-in cookies and form

    # ------------------------------------------------------------------ logging

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        # Deliberately no client address: the demo logs no personal data.
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write("%s %s\n" % (ts, format % args))

    def log_error(self, format, *args):
        if format.startswith(("Request timed out", "code %d, message")):
            return  # idle keep-alive timeout / duplicate of the send_error() access line
        self.log_message(format, *args)

    def log_request(self, code="-", size="-"):
        # Only reached through send_error() (malformed requests, handled by
        # http.server itself); our own responses are logged in _send().
        if isinstance(code, HTTPStatus):
            code = code.value
        if self.command:
            self.log_message('"%s %s" %s %s', self.command, self._log_path(), code, size)
        else:
            self.log_message('"-" %s %s (malformed request)', code, size)

    def _log_path(self):
        raw = getattr(self, "path", "") or "-"
        path = urllib.parse.urlsplit(raw).path or raw
        return path + ("?..." if "?" in raw else "")

    # ----------------------------------------------------------------- methods

    def do_GET(self):
        self._dispatch(head=False)

    def do_HEAD(self):
        self._dispatch(head=True)

    def do_POST(self):
        try:
            body = self._read_body()
        except BadRequest as e:
            return self._error_plain(e.status, str(e))
        path = self._url_path()
        if self.site is not None and self.site.forms is not None:
            form = self.site.forms.get(path)
            if form is not None:
                return self._form(body, "form " + form.path, form.redirect,
                                  self._cookies_for(form.cookies))
        elif path in ("/kontakt", "/kontakt/", "/kontakt.html"):
            return self._form(body, "contact form", "/takk.html", [])
        self._send(405, b"Method Not Allowed\n", "text/plain; charset=utf-8",
                   extra=[("Allow", "GET, HEAD")])

    def do_OPTIONS(self):
        try:
            self._read_body()
        except BadRequest as e:
            return self._error_plain(e.status, str(e))
        self._send(200, b"", "text/plain; charset=utf-8",
                   extra=[("Allow", "GET, HEAD, POST, OPTIONS")])

    def _not_allowed(self):
        try:
            self._read_body()
        except BadRequest as e:
            return self._error_plain(e.status, str(e))
        self._send(405, b"Method Not Allowed\n", "text/plain; charset=utf-8",
                   extra=[("Allow", "GET, HEAD, POST, OPTIONS")])

    do_PUT = do_DELETE = do_PATCH = _not_allowed

    # ---------------------------------------------------------------- routing

    def _dispatch(self, head):
        try:
            self._read_body()  # keep the connection in sync if a GET has a body
        except BadRequest as e:
            return self._error_plain(e.status, str(e), head)
        path = self._url_path()
        if path is None:
            return self._not_found(head)
        if path in ("/api/status", "/api/status/"):
            return self._status(head)
        found = self._resolve(path)
        if found is None:
            return self._not_found(head)
        kind, file_path = found
        if kind == "page":
            body = self._render(file_path)
            if body is None:
                return self._not_found(head)
            return self._send_html(200, body, head)
        try:
            with open(file_path, "rb") as f:
                body = f.read()
        except OSError:
            return self._not_found(head)
        ctype = self._content_type(file_path)
        if ctype.startswith("text/html"):
            self._send_html(200, body, head)
        else:
            self._send(200, body, ctype, head,
                       extra=[("Cache-Control", "public, max-age=3600")])

    def _url_path(self):
        """Decoded, normalised URL path, or None if it is unusable."""
        raw = urllib.parse.urlsplit(self.path).path or "/"
        try:
            path = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        except UnicodeDecodeError:
            return None
        if "\x00" in path or "\\" in path:
            return None
        trailing = path.endswith("/")
        path = posixpath.normpath("/" + path.lstrip("/"))
        if trailing and path != "/":
            path += "/"
        return path

    def _resolve(self, path):
        """Map a URL path to ("page", fragment) or ("file", static file), or None.

        An .html URL (also /name for name.html, and a path ending in / for
        its index.html) is a page rendered from pages/; anything else is a
        static file below the web root. The layout and other "."/"_" names
        and the pages/ directory itself are never served directly."""
        parts = [p for p in path.split("/") if p]
        if any(p.startswith((".", "_")) for p in parts) or parts[:1] == [PAGES_DIR]:
            return None
        if path.endswith("/") or not parts:
            options = [parts + ["index.html"]]
        else:
            options = [parts]
            if not os.path.splitext(parts[-1])[1]:
                options.append(parts[:-1] + [parts[-1] + ".html"])  # pretty URLs: /om-oss
        root = os.path.realpath(self.root)
        pages = self._pages_dir()
        for option in options:
            if option[-1].lower().endswith(".html"):
                fragment = file_below(pages, option)
                if fragment:
                    return "page", fragment
            static = file_below(root, option)
            if (static and not static.startswith(pages + os.sep)
                    and not os.path.basename(static).startswith((".", "_"))):
                return "file", static
        return None

    def _pages_dir(self):
        return os.path.realpath(os.path.join(self.root, PAGES_DIR))

    def _render(self, fragment_path):
        """The page fragment filled into the layout as UTF-8, or None."""
        try:
            with open(os.path.join(self.root, LAYOUT_FILE), "rb") as f:
                layout = f.read().decode("utf-8")
            with open(fragment_path, "rb") as f:
                fragment = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        name = os.path.relpath(fragment_path, self._pages_dir()).replace(os.sep, "/")
        name = name[:-len(".html")] if name.lower().endswith(".html") else name
        return render_page(layout, fragment, name).encode("utf-8")

    @staticmethod
    def _content_type(file_path):
        ext = os.path.splitext(file_path)[1].lower()
        return CONTENT_TYPES.get(ext, "application/octet-stream")

    # --------------------------------------------------------------- handlers

    def _not_found(self, head=False):
        fragment = file_below(self._pages_dir(), ["404.html"])
        body = self._render(fragment) if fragment else None
        if body is None:
            body = b"<!DOCTYPE html><title>404</title><h1>Siden finnes ikke</h1>\n"
        self._send_html(404, body, head)

    def _status(self, head):
        doc = {
            "status": "ok",
            "site": "Arbeidsro AS",
            "server": "consent-gateway demo site",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "uptime_seconds": int(time.time() - STARTED),
        }
        body = (json.dumps(doc) + "\n").encode("utf-8")
        self._send(200, body, "application/json", head,
                   extra=[("Cache-Control", "no-store")])

    def _form(self, body, label, location, set_cookies):
        """Answer a posted form with 303 See Other to location."""
        ctype = self.headers.get("Content-Type", "")
        fields = {}
        if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        # Log only which fields arrived, never their contents (personal data).
        self.log_message("%s: %d bytes, fields: %s", label, len(body),
                         ",".join(sorted(fields)) or "-")
        link = html.escape(location)
        page = ('<!DOCTYPE html><html lang="nb"><meta charset="utf-8"><title>Takk</title>'
                '<p>Takk! Se <a href="%s">%s</a>.</p></html>\n' % (link, link)).encode("utf-8")
        extra = [("Location", location), ("Cache-Control", "no-store")]
        extra += [("Set-Cookie", c) for c in set_cookies]
        self._send(303, page, "text/html; charset=utf-8", extra=extra)

    # ---------------------------------------------------------------- cookies

    def _request_cookies(self):
        jar = {}
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                name, sep, value = part.strip().partition("=")
                if sep and name and name not in jar:
                    jar[name] = value.strip()
        return jar

    def _html_cookies(self):
        """Set-Cookie values for an HTML response: the --cookies file's, or the built-in set."""
        if self.site is not None:
            return self._cookies_for(self.site.cookies)
        return self._tracking_cookies()

    def _cookies_for(self, rules):
        """Set-Cookie values of a --cookies list for this request, in order."""
        jar = self._request_cookies()
        path = self._url_path()
        now = time.time()
        out = []
        for rule in rules:
            cookie = rule.set_cookie(jar, path, now)
            if cookie is not None:
                out.append(cookie)
        return out

    def _tracking_cookies(self):
        """Set-Cookie values a PHP/WordPress site with GA4, Meta Pixel and a
        theme plugin would send on an HTML page."""
        jar = self._request_cookies()
        now = int(time.time())
        out = []

        if not jar.get("PHPSESSID"):
            sid = "".join(secrets.choice(SESSION_ALPHABET) for _ in range(26))
            out.append("PHPSESSID=%s; Path=/; HttpOnly; SameSite=Lax" % sid)

        ga = jar.get("_ga")
        if not (ga and ga.startswith("GA1.")):
            ga = "GA1.1.%d.%d" % (secrets.randbelow(9 * 10**9) + 10**9, now)
        out.append("_ga=%s; Max-Age=63072000; Path=/" % ga)

        name = "_ga_" + GA_STREAM_ID
        start, count = now, 1
        old = jar.get(name, "").split(".")
        if len(old) >= 4 and old[0] == "GS1" and old[2].isdigit() and old[3].isdigit():
            start, count = int(old[2]), int(old[3])
            if now - start > 1800:  # GA's 30 minute session timeout
                start, count = now, count + 1
        out.append("%s=GS1.1.%d.%d.1.%d.0.0.0; Max-Age=63072000; Path=/" % (name, start, count, now))

        fbp = jar.get("_fbp")
        if not (fbp and fbp.startswith("fb.")):
            fbp = "fb.1.%d.%d" % (int(time.time() * 1000), secrets.randbelow(9 * 10**9) + 10**9)
        out.append("_fbp=%s; Max-Age=7776000; Path=/" % fbp)

        pref = jar.get("visitor_pref")
        if not pref:
            pref = "nb.light.%s" % secrets.token_hex(4)
        out.append("visitor_pref=%s; Max-Age=31536000; Path=/" % pref)
        return out

    # --------------------------------------------------------------- plumbing

    def _read_body(self):
        """Read (and return) the request body so keep-alive stays in sync."""
        te = self.headers.get("Transfer-Encoding", "")
        if te:
            if te.strip().lower() != "chunked":
                self.close_connection = True
                raise BadRequest(501, "Unsupported Transfer-Encoding")
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length.strip())
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "Bad Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            raise BadRequest(413, "Request body too large")
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise BadRequest(400, "Incomplete request body")
        return body

    def _read_chunked(self):
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise BadRequest(400, "Bad chunk size")
            if size < 0:
                self.close_connection = True
                raise BadRequest(400, "Bad chunk size")
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass  # discard trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise BadRequest(413, "Request body too large")
            data = self.rfile.read(size)
            if len(data) != size:
                self.close_connection = True
                raise BadRequest(400, "Incomplete chunk")
            chunks.append(data)
            self.rfile.readline(16)  # CRLF after the chunk

    def _send_html(self, status, body, head):
        extra = [("Set-Cookie", c) for c in self._html_cookies()]
        extra += [
            ("X-Powered-By", "PHP/8.2.12"),
            ("Cache-Control", "no-store, no-cache, must-revalidate"),
            ("Expires", "Thu, 19 Nov 1981 08:52:00 GMT"),
            ("Pragma", "no-cache"),
        ]
        self._send(status, body, "text/html; charset=utf-8", head, extra=extra)

    def _error_plain(self, status, message, head=False):
        self._send(status, (message + "\n").encode("utf-8"), "text/plain; charset=utf-8", head)

    def _send(self, status, body, ctype, head=False, extra=()):
        self.send_response_only(status)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head and body:
            self.wfile.write(body)
        self.wfile.flush()
        self.log_message('"%s %s" %d %d', self.command, self._log_path(), status,
                         0 if head else len(body))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # The default prints the client address; log the error without it.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        sys.stderr.write("%s error while handling a request: %r\n"
                         % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), exc))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Arbeidsro AS demo website (upstream for consent-gateway)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081, 0 = any free port)")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="directory to serve (default: www/ next to this file)")
    parser.add_argument("--cookies", metavar="FILE",
                        help="JSON file with this site's cookies and form routes "
                             "(default: the built-in set; see the module docstring)")
    args = parser.parse_args(argv)

    if not os.path.isdir(args.root):
        parser.error("root directory not found: %s" % args.root)
    Handler.root = os.path.realpath(args.root)
    if args.cookies is not None:
        try:
            Handler.site = load_site_cookies(args.cookies)
        except CookieFileError as e:
            sys.stderr.write("demo-site: %s: %s\n" % (args.cookies, e))
            return 2
    if ":" in args.host:
        Server.address_family = socket.AF_INET6

    try:
        httpd = Server((args.host, args.port), Handler)
    except OSError as e:
        sys.stderr.write("demo-site: cannot listen on %s:%d: %s\n" % (args.host, args.port, e))
        return 1

    host, port = httpd.server_address[:2]
    shown = "[%s]" % host if ":" in host else host
    sys.stderr.write("demo-site: serving %s on http://%s:%d/\n" % (Handler.root, shown, port))
    if Handler.site is not None:
        forms = Handler.site.forms
        sys.stderr.write("demo-site: cookies from %s: %d cookie(s), %s\n" % (
            args.cookies, len(Handler.site.cookies),
            "the default form" if forms is None else "%d form(s)" % len(forms)))
    sys.stderr.flush()

    def stop(signum, _frame):
        sys.stderr.write("demo-site: %s received, shutting down\n" % signal.Signals(signum).name)
        # shutdown() waits for serve_forever() to return, so call it from another thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        httpd.serve_forever(poll_interval=0.5)
    finally:
        httpd.server_close()
    sys.stderr.write("demo-site: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
