#!/usr/bin/env python3
"""Print N free TCP ports on 127.0.0.1, one per line.

All N sockets are bound (to port 0) at the same time so the kernel hands out N
distinct ports; they are closed just before printing.  Used by bench/run.sh.
"""
import socket
import sys


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    if not 1 <= n <= 64:
        print("usage: free_ports.py N   (1 <= N <= 64)", file=sys.stderr)
        return 2
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        ports = [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
    print("\n".join(str(p) for p in ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
