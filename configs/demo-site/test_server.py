#!/usr/bin/env python3
"""Tests for the demo site's --cookies FILE option (and that the default is unchanged).

Starts server.py as a child process on 127.0.0.1 with --port 0, a temporary
web root and a temporary cookies file, and talks HTTP/1.1 to it.

Usage: python3 configs/demo-site/test_server.py [-v]
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
START_TIMEOUT = 10  # seconds for the child to print its port
REQUEST_TIMEOUT = 5

SITE_COOKIES = {
    "cookies": [
        {"name": "PHPSESSID", "value": "{token:26}",
         "attributes": "Path=/; HttpOnly; SameSite=Lax", "when": "absent"},
        {"name": "_ga", "value": "GA1.1.{digits:9}.{now}",
         "attributes": "Max-Age=63072000; Path=/", "keep_existing": True},
        {"name": "portal_lang", "value": "nb",
         "attributes": "Max-Age=31536000; Path=/karriere/", "paths": ["/karriere/"]},
        {"name": "stamp", "value": "x{hex:32}.{now_ms}-{token:4}"},
    ],
    "forms": [
        {"path": "/kontakt", "redirect": "/takk"},
        {"path": "/logg-inn", "redirect": "/min-side",
         "cookies": [{"name": "portal_session", "value": "{hex:32}",
                      "attributes": "Path=/; HttpOnly; Secure; SameSite=Lax"}]},
    ],
}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_root(base):
    root = os.path.join(base, "www")
    write(os.path.join(root, "_layout.html"),
          "<!DOCTYPE html><title>{{title}}</title><main>{{content}}</main>\n")
    write(os.path.join(root, "pages", "index.html"), "---\ntitle: Forside\n---\n<h1>Hei</h1>\n")
    write(os.path.join(root, "pages", "karriere", "index.html"), "<h1>Karriere</h1>\n")
    write(os.path.join(root, "style.css"), "body { margin: 0 }\n")
    return root


class Child:
    """server.py as a child process; stderr goes to a file so it can never block."""

    def __init__(self, base, *args):
        self.log_path = os.path.join(base, "server-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "w+b")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--host", "127.0.0.1",
                                      "--port", "0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"serving .* on http://127\.0\.0\.1:(\d+)/", self.log_text())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError("server.py exited with %d: %s"
                                   % (self.proc.returncode, self.log_text()))
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server.py printed no port within %d s" % START_TIMEOUT)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()

    def request(self, method, path, cookie=None, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            all_headers = dict(headers or {})
            if cookie is not None:
                all_headers["Cookie"] = cookie
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            resp.read()
            return resp
        finally:
            conn.close()


def set_cookies(resp):
    return resp.msg.get_all("Set-Cookie") or []


def cookie_names(resp):
    return [c.split("=", 1)[0] for c in set_cookies(resp)]


def cookie_value(resp, name):
    for c in set_cookies(resp):
        if c.startswith(name + "="):
            return c[len(name) + 1:].split(";", 1)[0]
    return None


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="demo-site-test-")
        cls.root = make_root(cls.tmp.name)
        cls.cookies_file = os.path.join(cls.tmp.name, "cookies.json")
        write(cls.cookies_file, json.dumps(SITE_COOKIES, indent=2))
        cls.children = []
        try:
            cls.default = cls._start("--root", cls.root)
            cls.site = cls._start("--root", cls.root, "--cookies", cls.cookies_file)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls, *args):
        child = Child(cls.tmp.name, *args)
        cls.children.append(child)
        return child

    @classmethod
    def tearDownClass(cls):
        for child in cls.children:
            child.stop()
        cls.tmp.cleanup()

    # --------------------------------------------------------------- default

    def test_default_cookies_unchanged(self):
        resp = self.default.request("GET", "/")
        self.assertEqual(resp.status, 200)
        self.assertEqual(cookie_names(resp),
                         ["PHPSESSID", "_ga", "_ga_ABC123DEF", "_fbp", "visitor_pref"])

    def test_default_contact_form_unchanged(self):
        resp = self.default.request("POST", "/kontakt", body="navn=Kari",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(resp.status, 303)
        self.assertEqual(resp.getheader("Location"), "/takk.html")
        self.assertEqual(set_cookies(resp), [])

    # ---------------------------------------------------------- --cookies FILE

    def test_templates(self):
        before = int(time.time())
        resp = self.site.request("GET", "/")
        after = int(time.time())
        self.assertEqual(resp.status, 200)
        self.assertEqual(cookie_names(resp), ["PHPSESSID", "_ga", "stamp"])
        self.assertIn("PHPSESSID=", set_cookies(resp)[0])
        self.assertTrue(set_cookies(resp)[0].endswith("; Path=/; HttpOnly; SameSite=Lax"))
        self.assertRegex(cookie_value(resp, "PHPSESSID"), r"^[a-z0-9]{26}$")

        ga = re.fullmatch(r"GA1\.1\.([0-9]{9})\.([0-9]+)", cookie_value(resp, "_ga"))
        self.assertIsNotNone(ga)
        self.assertTrue(before <= int(ga.group(2)) <= after)

        stamp = re.fullmatch(r"x[0-9a-f]{32}\.([0-9]+)-[a-z0-9]{4}", cookie_value(resp, "stamp"))
        self.assertIsNotNone(stamp)
        self.assertTrue(before * 1000 <= int(stamp.group(1)) <= (after + 1) * 1000)
        self.assertIn("stamp=" + cookie_value(resp, "stamp"), set_cookies(resp))  # no attributes

    def test_when_absent(self):
        resp = self.site.request("GET", "/", cookie="PHPSESSID=abc123")
        self.assertNotIn("PHPSESSID", cookie_names(resp))
        resp = self.site.request("GET", "/", cookie="other=1")
        self.assertIn("PHPSESSID", cookie_names(resp))

    def test_keep_existing(self):
        resp = self.site.request("GET", "/", cookie="_ga=GA1.1.123456789.1700000000; stamp=old")
        self.assertEqual(cookie_value(resp, "_ga"), "GA1.1.123456789.1700000000")
        self.assertIn("_ga=GA1.1.123456789.1700000000; Max-Age=63072000; Path=/",
                      set_cookies(resp))
        self.assertNotEqual(cookie_value(resp, "stamp"), "old")  # keep_existing is off

    def test_paths(self):
        self.assertNotIn("portal_lang", cookie_names(self.site.request("GET", "/")))
        resp = self.site.request("GET", "/karriere/")
        self.assertEqual(resp.status, 200)
        self.assertIn("portal_lang=nb; Max-Age=31536000; Path=/karriere/", set_cookies(resp))
        missing = self.site.request("GET", "/karriere/finnes-ikke")
        self.assertEqual(missing.status, 404)
        self.assertIn("portal_lang", cookie_names(missing))

    def test_404_page_and_non_html(self):
        resp = self.site.request("GET", "/finnes-ikke")
        self.assertEqual(resp.status, 404)
        self.assertEqual(cookie_names(resp), ["PHPSESSID", "_ga", "stamp"])
        self.assertEqual(set_cookies(self.site.request("GET", "/style.css")), [])

    def test_form_redirect_and_cookies(self):
        resp = self.site.request("POST", "/logg-inn", body="bruker=kari&passord=hemmelig",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(resp.status, 303)
        self.assertEqual(resp.getheader("Location"), "/min-side")
        self.assertEqual(len(set_cookies(resp)), 1)
        self.assertRegex(set_cookies(resp)[0],
                         r"^portal_session=[0-9a-f]{32}; Path=/; HttpOnly; Secure; SameSite=Lax$")
        log = self.site.log_text()
        self.assertIn("form /logg-inn:", log)
        self.assertNotIn(cookie_value(resp, "portal_session"), log)
        self.assertNotIn("hemmelig", log)

    def test_form_chunked_body_and_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request("POST", "/kontakt", body=iter([b"navn=Kari", b"&tekst=hei"]),
                         encode_chunked=True,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 303)
            self.assertEqual(resp.getheader("Location"), "/takk")
            self.assertEqual(set_cookies(resp), [])
            conn.request("GET", "/")  # same connection: the body was read in full
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
        finally:
            conn.close()

    def test_forms_replace_default_routes_and_match_exactly(self):
        self.assertEqual(self.site.request("POST", "/kontakt.html", body="").status, 405)
        self.assertEqual(self.site.request("POST", "/logg-inn/", body="").status, 405)
        self.assertEqual(self.site.request("POST", "/annet", body="").status, 405)

    def test_file_without_forms_keeps_default_form(self):
        path = os.path.join(self.tmp.name, "no-forms.json")
        write(path, json.dumps({"cookies": [{"name": "a", "value": "1"}]}))
        child = self._start("--root", self.root, "--cookies", path)
        resp = child.request("POST", "/kontakt.html", body="")
        self.assertEqual(resp.status, 303)
        self.assertEqual(resp.getheader("Location"), "/takk.html")
        self.assertEqual(cookie_names(child.request("GET", "/")), ["a"])

    def test_cookie_values_not_logged(self):
        resp = self.site.request("GET", "/", cookie="_ga=GA1.1.987654321.1600000000")
        log = self.site.log_text()
        self.assertNotIn("987654321", log)
        self.assertNotIn(cookie_value(resp, "PHPSESSID"), log)

    # ------------------------------------------------------------- bad files

    def check_refused(self, doc, expected):
        path = os.path.join(self.tmp.name, "bad.json")
        write(path, doc if isinstance(doc, str) else json.dumps(doc))
        done = subprocess.run([sys.executable, SERVER, "--host", "127.0.0.1", "--port", "0",
                               "--root", self.root, "--cookies", path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=START_TIMEOUT)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
        self.assertEqual(done.stderr, "demo-site: %s: %s\n" % (path, expected))

    def test_bad_files_refused(self):
        ok = {"name": "a", "value": "1"}
        cases = [
            ({"cookies": [ok, ok, dict(ok, when="sometimes")]},
             'cookies[2].when: must be "always" or "absent"'),
            ({"cookies": [ok], "form": []},
             "form: unknown key (allowed: cookies, forms)"),
            ({"cookies": [dict(ok, expires="never")]},
             "cookies[0].expires: unknown key (allowed: name, value, attributes, when, "
             "keep_existing, paths)"),
            ({"cookies": [dict(ok, keep_existing="yes")]},
             "cookies[0].keep_existing: must be true or false (got string)"),
            ({"cookies": {"a": 1}}, "cookies: must be an array (got object)"),
            ({"cookies": [{"value": "1"}]}, "cookies[0].name: required"),
            ({"cookies": [dict(ok, value=5)]}, "cookies[0].value: must be a string (got number)"),
            ({"cookies": [dict(ok, value="{token}")]},
             'cookies[0].value: unknown placeholder "{token}" (allowed: {token:N}, {hex:N}, '
             "{digits:N}, {now}, {now_ms})"),
            ({"cookies": [dict(ok, value="{hex:0}")]},
             "cookies[0].value: {hex}: length must be 1-4096"),
            ({"cookies": [dict(ok, value="{token:4097}")]},
             "cookies[0].value: {token}: length must be 1-4096"),
            ({"cookies": [dict(ok, value="a{now")]},
             'cookies[0].value: unmatched "{" or "}"'),
            ({"cookies": [dict(ok, value="a;b")]},
             "cookies[0].value: only RFC 6265 cookie-octets may be literal (no spaces, quotes, "
             "commas, semicolons, backslashes or non-ASCII)"),
            ({"cookies": [dict(ok, name="a b")]},
             "cookies[0].name: must be an RFC 6265 token (letters, digits, and "
             "!#$%&'*+-.^_`|~)"),
            ({"cookies": [dict(ok, attributes="Path=/\r\nX-Evil: 1")]},
             "cookies[0].attributes: only printable ASCII is allowed"),
            ({"cookies": [dict(ok, paths=["karriere/"])]},
             'cookies[0].paths[0]: must be a URL path starting with "/"'),
            ({"forms": [{"path": "/kontakt"}]}, "forms[0].redirect: required"),
            ({"forms": [{"path": "/a", "redirect": "/b",
                         "cookies": [dict(ok, when="never")]}]},
             'forms[0].cookies[0].when: must be "always" or "absent"'),
            ({"forms": [{"path": "/a", "redirect": "/b"}, {"path": "/a", "redirect": "/c"}]},
             "forms[1].path: /a is already a form route"),
            ([], "top level: must be an object (got array)"),
            ('{"cookies": [', "not valid JSON: Expecting value: line 1 column 14 (char 13)"),
        ]
        for doc, expected in cases:
            with self.subTest(expected=expected):
                self.check_refused(doc, expected)

    def test_missing_file_refused(self):
        path = os.path.join(self.tmp.name, "missing.json")
        done = subprocess.run([sys.executable, SERVER, "--port", "0", "--root", self.root,
                               "--cookies", path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=START_TIMEOUT)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(done.stderr,
                         "demo-site: %s: cannot read: No such file or directory\n" % path)


if __name__ == "__main__":
    unittest.main()
