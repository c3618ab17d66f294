#!/usr/bin/env python3
"""Open N idle keep-alive HTTP/1.1 connections to 127.0.0.1:PORT and hold them.

  idle_conns.py PORT N HOLD_SECONDS [PATH]      (PATH defaults to /2k.html)

Each connection sends one `GET PATH` and reads its response fully (Content-Length
or chunked), then stays open, idle.  When all N are set up it prints one line
  READY opened=N ok=N
(flushed) so a caller can measure the server while the connections are held.
After HOLD_SECONDS it checks whether the server closed any of them, prints
  DONE held=N closed_by_server=K
and exits: 0 if every connection got a 200 and stayed open, else 1.
Only ever connects to 127.0.0.1.  Bounded: N <= 20000, HOLD_SECONDS <= 600,
10 s timeout per socket operation.
"""
import resource
import select
import socket
import sys
import time

HOST = "127.0.0.1"
TIMEOUT = 10.0


def raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def read_response(sock: socket.socket) -> int:
    """Read one HTTP/1.1 response fully; return its status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before end of headers")
        buf += chunk
        if len(buf) > 1 << 20:
            raise ValueError("headers too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        buf = rest
        while True:
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed in chunked body")
                buf += chunk
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                # trailers (if any) end with an empty line
                while not (buf.startswith(b"\r\n") or b"\r\n\r\n" in buf):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed in trailers")
                    buf += chunk
                return status
            need = size + 2
            while len(buf) < need:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed in chunk")
                buf += chunk
            buf = buf[need:]
    length = int(headers.get("content-length", "0"))
    got = len(rest)
    while got < length:
        chunk = sock.recv(min(65536, length - got))
        if not chunk:
            raise ConnectionError("closed in body")
        got += len(chunk)
    return status


def closed_by_peer(sock: socket.socket) -> bool:
    r, _, _ = select.select([sock], [], [], 0)
    if not r:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) == 5 else "/2k.html"
    if not (0 < port < 65536 and 1 <= n <= 20000 and 0 <= hold <= 600):
        print("out of range: need 0<PORT<65536, 1<=N<=20000, 0<=HOLD<=600", file=sys.stderr)
        return 2
    raise_nofile(n)
    req = (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench-idle-conns\r\n"
           "Accept: */*\r\nConnection: keep-alive\r\n\r\n").encode()
    socks, ok, errors = [], 0, {}
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect((HOST, port))
            s.sendall(req)
            if read_response(s) == 200:
                ok += 1
            socks.append(s)
        except (OSError, ValueError) as e:
            key = type(e).__name__ + ": " + str(e)[:60]
            errors[key] = errors.get(key, 0) + 1
            s.close()
    for k, v in errors.items():
        print(f"error x{v}: {k}", file=sys.stderr)
    print(f"READY opened={len(socks)} ok={ok} setup_s={time.monotonic() - t0:.2f}", flush=True)
    time.sleep(hold)
    closed = sum(1 for s in socks if closed_by_peer(s))
    print(f"DONE held={len(socks)} closed_by_server={closed}", flush=True)
    for s in socks:
        s.close()
    return 0 if ok == n and len(socks) == n and closed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
