"""How long a host's network stack holds a small packet: TCP ping-pong between two processes.

The ``server`` host class of ``sim/scenario/hosts.py`` comes from this: a client sends 100 B every
10 ms (the sparse, periodic traffic of a plant, where the CPU idles between packets) over a TCP
connection with TCP_NODELAY to an echo process, and times each round trip. Over loopback a round trip
crosses the kernel's TCP/IP stack and an application wake-up four times (client out, echo in, echo
out, client in) without a NIC; between two hosts add the NICs' interrupt moderation and the wire.

    python benchmarks/host_stack.py [--count 3000] [--every 0.01] [--host 127.0.0.1]

With ``--host`` naming a machine that runs ``python benchmarks/host_stack.py --serve`` the round
trips cross the real network and both hosts: measure a plant's own hosts and give the result as a
``host:`` law.
"""

from __future__ import annotations

import argparse
import socket
import time
from multiprocessing import Process

import numpy as np

PORT = 47_031


def serve(port: int, address: str = "127.0.0.1") -> None:
    """Echo everything back on one TCP connection, until it closes."""
    with socket.create_server((address, port), reuse_port=False) as listener:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)


def ping(host: str, port: int, count: int, every: float, size: int = 100) -> np.ndarray:
    """Round trips in seconds of ``count`` messages of ``size`` bytes, one every ``every`` s."""
    with socket.create_connection((host, port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        message = b"x" * size
        times = np.empty(count)
        for i in range(count):
            start = time.perf_counter()
            conn.sendall(message)
            got = 0
            while got < size:
                got += len(conn.recv(4096))
            times[i] = time.perf_counter() - start
            time.sleep(every)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--every", type=float, default=0.01, help="seconds between messages")
    parser.add_argument("--host", default=None, help="an echo server started with --serve")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--serve", action="store_true", help="be the echo server")
    args = parser.parse_args()
    if args.serve:
        serve(args.port, "0.0.0.0")
        return
    echo = None
    if args.host is None:
        echo = Process(target=serve, args=(args.port,), daemon=True)
        echo.start()
        time.sleep(0.3)
    rtt = ping(args.host or "127.0.0.1", args.port, args.count, args.every) * 1e6
    if echo is not None:
        echo.join(timeout=5)
    p50, p99, p999 = np.percentile(rtt, [50, 99, 99.9])
    print(f"{args.count} round trips of 100 B every {args.every * 1e3:g} ms (us):")
    print(
        f"  p0 {rtt.min():.1f}  p50 {p50:.1f}  p99 {p99:.1f}  p99.9 {p999:.1f}  max {rtt.max():.1f}"
    )
    if args.host is None:
        print(
            f"  per stack traversal (a quarter of a loopback round trip): p50 about {p50 / 4:.0f}"
        )


if __name__ == "__main__":
    main()
