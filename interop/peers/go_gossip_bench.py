#!/usr/bin/env python3
"""go-libp2p-pubsub one-hop gossip latency, for `p2pnode-bench gossip` and `interop/bench`.

Runs in interop/.venv-go (go-libp2p v0.24.2 and go-libp2p-pubsub v0.8.2 through the PyPI
binding `libp2p-go` 0.1.4, docs/INTEROP.md). Two go hosts in this process, TCP on 127.0.0.1,
Noise, yamux, each with the binding's gossipsub (`PubSub.new_gossip`: go's default router,
StrictSign, message id from ‖ seqno, as interop/peers/go_gossip.py). The dialer connects, both
join one topic, and once the publisher sees the receiver as a topic peer (and a heartbeat has
grafted the mesh) it publishes `--count` random messages of `--size` bytes one at a time,
waiting for each to arrive at the other host before the next. The figure is publish call →
message yielded by the receiver's subscription, the same measure as the Swift one-hop
benchmark, with one difference: the go side validates nothing beyond the signature, p2pnode
validates the whole block (snappy, signer, SSZ, block hash).

Every binding call is a cgo call made from a Python executor thread and the message comes back
msgpack-encoded, so the figure includes the binding's overhead.

Prints human-readable lines and `RESULT gossip.go.onehop.median_ms=<n> p99_ms=<n>`; exits 1 if
a message did not arrive within `--timeout` or the setup failed.
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
from go_peer import connect_loopback, make_host, use_go_executor  # noqa: E402

from libp2p.pubsub import PubSub  # noqa: E402

TOPIC = "/p2pnode/bench/gossip"


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank on the sorted values, as GossipBenchmarks.swift `percentile`."""
    s = sorted(xs)
    return s[min(len(s) - 1, round((len(s) - 1) * p))]


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200, help="messages published")
    ap.add_argument("--size", type=int, default=100_000, help="bytes per message")
    ap.add_argument("--timeout", type=float, default=10.0, help="limit per message and per setup step, seconds")
    ap.add_argument("--paced", type=int, default=0, help="then this many more, one every --pace-ms")
    ap.add_argument("--pace-ms", type=float, default=20.0, help="gap between paced messages, ms")
    args = ap.parse_args()
    if not (0 < args.count <= 10_000) or not (0 < args.size <= 1 << 20):
        ap.error("--count or --size out of range (go-libp2p-pubsub's default limit is 1 MiB)")

    use_go_executor()  # a subscription's next() holds an executor thread until a message arrives
    publisher = make_host(C.key_bytes(None), 0)
    receiver = make_host(C.key_bytes(None), 0)
    ps_pub = await PubSub.new_gossip(publisher)
    ps_recv = await PubSub.new_gossip(receiver)
    topic_pub = await ps_pub.join(TOPIC)
    topic_recv = await ps_recv.join(TOPIC)
    sub = await topic_recv.subscription()
    # The publisher subscribes too, so the topic is in its mesh (not fanout), as for op-node.
    await topic_pub.subscription()

    if await connect_loopback(publisher, receiver, args.timeout, "go_gossip_bench") is None:
        return 1
    deadline = time.monotonic() + args.timeout
    while receiver.id.string not in list(await ps_pub.list_peers(TOPIC)):
        if time.monotonic() > deadline:
            print("go_gossip_bench: the receiver never appeared as a topic peer", file=sys.stderr)
            return 1
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)   # a heartbeat (1 s in go's defaults) grafts the mesh

    print(f"go-libp2p-pubsub v0.8.2 via libp2p-go 0.1.4: one hop, {args.count} messages of "
          f"{args.size} bytes, StrictSign, both hosts in one process, {os.cpu_count()} cores:", flush=True)
    async def one(i: int) -> float:
        data = i.to_bytes(4, "big") + os.urandom(args.size - 4) if args.size >= 4 else os.urandom(args.size)
        t0 = time.perf_counter()
        await asyncio.wait_for(topic_pub.publish(data), args.timeout)
        while True:
            m = await asyncio.wait_for(sub.next(), args.timeout)
            if m.data == data:
                break
        return (time.perf_counter() - t0) * 1e3

    times = [await one(i) for i in range(args.count)]
    median, p99 = statistics.median(times), percentile(times, 0.99)
    print(f"  one hop, {args.size} B, median {median:.2f} ms, p99 {p99:.2f} ms "
          f"({len(times)}/{args.count} delivered; go validates only the signature)", flush=True)
    print(f"RESULT gossip.go.onehop.median_ms={median:.3f} p99_ms={p99:.3f}", flush=True)
    if args.paced > 0:
        paced: list[float] = []
        for i in range(args.paced):
            await asyncio.sleep(args.pace_ms / 1e3)
            paced.append(await one(args.count + i))
        median, p99 = statistics.median(paced), percentile(paced, 0.99)
        print(f"  one hop, one every {args.pace_ms:g} ms, median {median:.2f} ms, p99 {p99:.2f} ms "
              f"({len(paced)}/{args.paced} delivered)", flush=True)
        print(f"RESULT gossip.go.onehop_paced.median_ms={median:.3f} p99_ms={p99:.3f}", flush=True)
    for h in (publisher, receiver):
        try:
            await asyncio.wait_for(h.close(), 5)
        except Exception:  # noqa: BLE001 - the measurement is over
            pass
    return 0


if __name__ == "__main__":
    C.run_and_exit(lambda: asyncio.new_event_loop().run_until_complete(main()), error_code=1)
