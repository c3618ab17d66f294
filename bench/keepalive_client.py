#!/usr/bin/env python3
"""Sends N GET requests one after another on ONE keep-alive connection to 127.0.0.1:PORT and
reads every answer completely (Content-Length or chunked). For instruction counts under
callgrind, where the client's speed does not matter, only that the server sees the same
requests. Exits non-zero on any status other than 200 or a closed connection.

usage: keepalive_client.py PORT PATH N [COOKIE]
"""
import socket
import sys

BROWSER_HEAD = (
    "GET {path} HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"156\", \"Not-A.Brand\";v=\"24\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: nb-NO,nb;q=0.9,no;q=0.8,en-US;q=0.7,en;q=0.6\r\n"
)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def fill(self):
        data = self.s.recv(1 << 16)
        if not data:
            raise SystemExit("connection closed by the server")
        self.buf += data

    def until(self, sep):
        while sep not in self.buf:
            self.fill()
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        head = self.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            self.take(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower().endswith("chunked"):
            while True:
                size = int(self.until(b"\r\n").split(b";")[0], 16)
                self.take(size + 2)
                if size == 0:
                    break
        return status


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    head = BROWSER_HEAD.format(path=path)
    if len(sys.argv) == 5:
        head += "Cookie: " + sys.argv[4] + "\r\n"
    request = (head + "\r\n").encode("latin-1")
    c = Conn(port)
    for i in range(n):
        c.s.sendall(request)
        status = c.response()
        if status != 200:
            raise SystemExit(f"request {i}: status {status}")


if __name__ == "__main__":
    main()
