#!/usr/bin/env python3
"""go-libp2p single-stream throughput, for `make bench` (BENCHMARKS.md §Transport).

Runs in interop/.venv-go (go-libp2p v0.24.2 through the PyPI binding `libp2p-go` 0.1.4, see
docs/INTEROP.md). Two go-libp2p hosts in this process, TCP on 127.0.0.1, Noise, yamux: the
listener serves `/p2pnode/bench/1.0.0` with a sink that reads until it has the expected
number of bytes; the dialer opens one stream and writes `--bytes` in writes of each
`--chunks` size. The figure is bytes / (receiver's last byte - first write), the same
measure as the Swift benchmark (`p2pnode-bench transport stream`).

Every read and write is one cgo call made from a Python executor thread and every read
result comes back msgpack-encoded (copied about four times), so the figure includes the
binding's overhead. Larger writes amortise the per-call part of it. Reads ask for 64 KiB,
about one yamux frame: a read call returns at most what yamux has buffered (one frame,
measured), while the binding allocates and encodes the whole requested size on every call.
Every call allocates in Go, so Go's garbage collector runs often; GOGC is honoured (the Go
runtime reads it when the binding loads). The CPU time of the whole process per GB is
printed next to each figure.

Prints human-readable lines and `RESULT go.stream.<write size>.{mbps,cpu_s_per_gb}=<n>` lines
(CPU: user + system seconds of this process per GB moved); exits 1 if a
transfer failed or timed out. The binding cannot half-close (docs/INTEROP.md, quirk 1), so
the sink decides that a transfer is complete by its byte count and the dialer closes after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from go_peer import connect_loopback, is_eof, make_host, use_go_executor  # noqa: E402

from libp2p import Stream  # noqa: E402
from libp2p.utils import LibP2PError  # noqa: E402

BENCH = "/p2pnode/bench/1.0.0"


class Sink:
    """Counts the bytes of the current transfer; remembers when the last one arrived."""

    def __init__(self, read_size: int) -> None:
        self.read_size = read_size
        self.expect(0)

    def expect(self, n: int) -> None:
        self.expected = n
        self.received = 0
        self.reads = 0
        self.last_byte_at = 0.0
        self.error: str | None = None
        self.done = asyncio.Event()

    async def serve(self, s: Stream) -> None:
        try:
            while self.received < self.expected:
                try:
                    got, _ = await s.read_bytes(self.read_size)
                except LibP2PError as e:
                    if is_eof(e):
                        break
                    raise
                if got == 0:
                    break
                self.received += got
                self.reads += 1
            self.last_byte_at = time.perf_counter()
        except Exception as e:  # noqa: BLE001 - reported by the dialer side
            self.error = repr(e)
        finally:
            self.done.set()
            await s.close()


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


async def transfer(dialer, peer, sink: Sink, total: int, chunk: int, timeout: float) -> dict:
    """One stream: `total` bytes in writes of `chunk` bytes; returns the measurement."""
    sink.expect(total)
    payload = os.urandom(chunk)
    s = await asyncio.wait_for(dialer.new_stream(peer, BENCH), timeout)
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    try:
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            await asyncio.wait_for(s.write(payload if n == chunk else payload[:n]), timeout)
            sent += n
        await asyncio.wait_for(sink.done.wait(), timeout)
    finally:
        try:
            await asyncio.wait_for(s.close(), 5)
        except Exception:  # noqa: BLE001 - the measurement is over
            pass
    if sink.error or sink.received != total:
        raise RuntimeError(f"sink got {sink.received} of {total} bytes: {sink.error}")
    seconds = sink.last_byte_at - t0
    return {"mbps": total / seconds / 1e6, "seconds": seconds, "cpu": cpu_seconds() - cpu0,
            "reads": sink.reads}


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bytes", type=int, default=256 << 20, help="bytes per transfer")
    ap.add_argument("--chunks", default=f"{1 << 20},{4 << 20}", help="write sizes, comma list")
    ap.add_argument("--read-size", type=int, default=64 << 10, help="bytes asked for per read call")
    ap.add_argument("--runs", type=int, default=3, help="transfers per write size (median reported)")
    ap.add_argument("--timeout", type=float, default=50.0, help="limit per transfer, seconds")
    args = ap.parse_args()
    chunks = [int(c) for c in args.chunks.split(",") if c.strip()]
    if not (0 < args.bytes <= 1 << 32) or not chunks or min(chunks) <= 0 or max(chunks) > 64 << 20 \
            or not (0 < args.read_size <= 64 << 20) or not (0 < args.runs <= 20):
        ap.error("--bytes, --chunks, --read-size or --runs out of range")

    use_go_executor()
    listener = make_host(C.key_bytes(None), 0)
    dialer = make_host(C.key_bytes(None), 0)
    sink = Sink(args.read_size)
    listener.set_stream_handler(BENCH, sink.serve)
    info = await connect_loopback(dialer, listener, args.timeout, "go_bench")
    if info is None:
        return 1
    peer = info.id

    gogc = os.environ.get("GOGC", "100 (default)")
    print(f"go-libp2p v0.24.2 via libp2p-go 0.1.4: 1 stream, {args.bytes >> 20} MiB, reads of "
          f"{args.read_size >> 10} KiB, GOGC {gogc}, both hosts in one process, {os.cpu_count()} cores:")
    # Warm-up: connection, yamux windows, Go and Python allocators.
    await transfer(dialer, peer, sink, 32 << 20, chunks[0], args.timeout)
    failed = False
    for chunk in chunks:
        try:
            runs = [await transfer(dialer, peer, sink, args.bytes, chunk, args.timeout) for _ in range(args.runs)]
        except Exception as e:  # noqa: BLE001 - reported, the next size still runs
            print(f"  writes of {chunk >> 10} KiB: failed: {e!r}", flush=True)
            failed = True
            continue
        median = statistics.median(r["mbps"] for r in runs)
        cpu = sum(r["cpu"] for r in runs)
        cpu_per_gb = cpu / (args.bytes * len(runs) / 1e9)
        share = cpu / sum(r["seconds"] for r in runs) / (os.cpu_count() or 1)
        per_read = args.bytes * len(runs) / max(1, sum(r["reads"] for r in runs))
        figures = ", ".join(f"{r['mbps']:.0f}" for r in runs)
        print(f"  writes of {chunk >> 10} KiB: {median:.0f} MB/s (median of {figures}); process CPU "
              f"{cpu_per_gb:.2f} core-s per GB ({share * 100:.0f}% of {os.cpu_count()} cores); "
              f"{per_read / 1024:.0f} KiB per read call")
        print(f"RESULT go.stream.{chunk}.mbps={median:.1f}")
        print(f"RESULT go.stream.{chunk}.cpu_s_per_gb={cpu_per_gb:.2f}", flush=True)
    await asyncio.wait_for(asyncio.gather(dialer.close(), listener.close(), return_exceptions=True), 10)
    return 1 if failed else 0


if __name__ == "__main__":
    C.run_and_exit(lambda: asyncio.new_event_loop().run_until_complete(main()))
