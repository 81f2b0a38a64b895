#!/usr/bin/env python3
"""go-libp2p-pubsub publish-to-all latency over a 50-host mesh, for `p2pnode-bench gossip-mesh`.

Runs in interop/.venv-go (go-libp2p v0.24.2 and go-libp2p-pubsub v0.8.2 through the PyPI
binding `libp2p-go` 0.1.4, docs/INTEROP.md). `--nodes` go hosts (50) in this process, TCP on
127.0.0.1, Noise, yamux, each with the binding's gossipsub (`PubSub.new_gossip`: go's default
router, StrictSign, message id from ‖ seqno, as interop/peers/go_gossip.py), all subscribed to one
topic. Topology and timing are those of GossipBenchmarks.swift `mesh`: host i dials one earlier
host and up to four more at random, drawn from SplitMix64(`--seed`) exactly as Swift's
`Int.random(in:using:)` draws them (the Swift run passes its seed: both run the same graph);
`--settle` seconds (5) for the meshes to form; then host 0 publishes `--warmup` (40) messages,
printed apart, and `--count` (100) measured ones of `--size` random bytes (100 KB), one at a time:
each is awaited at every other host, then `--gap-ms` (50) of pause, as the Swift bench sleeps
50 ms (with the delivery time, one message about every 100 ms). The figure is publish call → the
last of the N−1 other hosts' subscriptions has yielded the message (median, p99), the Swift
figure's measure; plus the process CPU (user + system: go's threads and Python's) per measured
message.

What differs from the Swift run:
- go validates only the StrictSign signature at each host; p2pnode validates the whole block
  (snappy, signer, SSZ, block hash) at each of its 49 receivers before forwarding it.
- go's defaults: D=6 (Dlo 5, Dhi 12), heartbeat 1 s, flood publishing; op-node and p2pnode use
  D=8 (Dlo 6, Dhi 12). v0.8.2 is gossipsub v1.1: no IDONTWANT, so a host receives about one copy
  per mesh peer; p2pnode sends IDONTWANT. The binding exposes no tracer, so the duplicates per
  delivery are estimated from the bytes the process wrote (/proc/self/io) over the measured
  phase: each copy sent is written once to a socket.
- Receipt goes through the binding. Each subscription is read by its own Python thread parked in
  the cgo call `subscription_next` (called directly: the binding's asyncio `Subscription.next()`
  would add a hop through the one event-loop thread per receipt, and hold an executor thread
  each); when go delivers, that locked OS thread is woken, msgpack-encodes the 100 KB message,
  returns across cgo, and takes its timestamp once it holds the GIL, then decodes. A native go
  reader is a goroutine taking a pointer from a channel. The 49 readers' work competes with go's
  forwarding for the 2 cores (and with each other for the GIL), which slows every later hop.
  After the measured phase the run estimates this in the same mesh: the readers of all but the
  `K` (5) hosts farthest from host 0 are cancelled (each host first gets a second subscription,
  never read, that keeps it in the topic), and `--calibration` (40) more messages are timed to
  those K: their last receipt with all readers (measured phase) minus with K readers is the
  other readers' cost. The binding's CPU per receipt is taken on hosts with no peers, where
  nothing else varies: publish with one subscription read, then with N−1 on one host; the CPU
  per message grows by one receipt per subscription, so (CPU with N−1 − CPU with 1) / (N−2).
  N−1 of them are its share of go's CPU per block, and one more, added to the slowdown, its
  share of the last receipt (the last reader's own path). Printed with the result; measured on
  the farthest hosts, applied to the median: an estimate, not a native go run.

Prints human-readable lines, `RESULT gossip.go.mesh<N>.median_ms=<n> p99_ms=<n>`,
`RESULT gossip.go.mesh<N>_cpu.per_block_ms=<n>`,
`RESULT gossip.go.mesh<N>_copies.duplicates_per_delivery=<n>` (where /proc/self/io exists) and
`RESULT gossip.go.mesh<N>_binding.latency_ms=<n> cpu_per_block_ms=<n>`; exits 1 if a
message did not reach every host within `--timeout` or the setup failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from go_gossip_bench import TOPIC, percentile  # noqa: E402
from go_peer import connect_loopback, make_host, use_go_executor  # noqa: E402

from libp2p.pubsub import PubSub, Subscription, Topic  # noqa: E402
from libp2p.utils import MsgpackArg, c_buffer  # noqa: E402

MASK64 = (1 << 64) - 1


class SplitMix64:
    """P2PCore's SplitMix64 (Sources/P2PCore/Support/SplitMix64.swift), and `below(n)` as Swift's
    `Int.random(in: 0..<n, using:)` (stdlib `next(upperBound:)`, Lemire's nearly-divisionless
    method), so that a seed gives the Swift bench's topology."""

    def __init__(self, seed: int) -> None:
        self.state = seed & MASK64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, bound: int) -> int:
        m = self.next() * bound
        if m & MASK64 < bound:
            t = ((1 << 64) - bound) % bound
            while m & MASK64 < t:
                m = self.next() * bound
        return m >> 64


def topology(n: int, seed: int) -> list[list[int]]:
    """The hosts host i dials, as GossipBenchmarks.swift `mesh`: one earlier host, then random
    earlier ones until min(i, 5) distinct."""
    rng = SplitMix64(seed)
    out: list[list[int]] = [[]]
    for i in range(1, n):
        targets = {rng.below(i)}
        while len(targets) < min(i, 5):
            targets.add(rng.below(i))
        out.append(sorted(targets))
    return out


class Receipts:
    """Receipt times (perf_counter_ns) per message index, per host; waiters block on a
    condition, as GossipBenchmarks.swift `Receipts`."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.times: dict[int, dict[int, int]] = {}
        self.expected: dict[int, tuple[int, bytes]] = {}   # index -> (length, last 32 bytes)
        self.errors: list[str] = []
        self.retired: set[int] = set()   # hosts whose reader is being cancelled on purpose

    def expect(self, index: int, data: bytes) -> None:
        with self.cond:
            self.expected[index] = (len(data), data[-32:])

    def add(self, host: int, t: int, data: bytes) -> None:
        index = int.from_bytes(data[:4], "big")
        with self.cond:
            if self.expected.get(index) != (len(data), data[-32:]):
                self.errors.append(f"host {host}: a message of {len(data)} bytes that was not published (index {index})")
            else:
                self.times.setdefault(index, {})[host] = t
            self.cond.notify_all()

    def retire(self, hosts: list[int]) -> None:
        with self.cond:
            self.retired.update(hosts)

    def fail(self, host: int, error: Exception) -> None:
        with self.cond:
            if host in self.retired:
                return
            self.errors.append(f"host {host}: subscription failed: {error!r}")
            self.cond.notify_all()

    def wait(self, index: int, hosts: list[int], timeout: float) -> dict[int, int]:
        """Until every host in `hosts` has message `index`, `timeout` passes, or a reader failed."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = self.times.get(index, {})
                if all(h in got for h in hosts) or self.errors:
                    return dict(got)
                left = deadline - time.monotonic()
                if left <= 0:
                    return dict(got)
                self.cond.wait(left)


def start_reader(sub: Subscription, host: int, receipts: Receipts) -> Subscription:
    """A daemon thread parked in the binding's `subscription_next` cgo call (the GIL is released
    while it waits); the receipt time is taken as soon as the call returns."""
    def run() -> None:
        arg = MsgpackArg.from_dict({})
        while True:
            body = Subscription._NEXT(sub.handle, arg)
            t = time.perf_counter_ns()
            try:
                body.raise_error()
                data = body.bytes[0]
            except Exception as e:  # noqa: BLE001 - reported by the waiter
                receipts.fail(host, e)
                return
            receipts.add(host, t, data)

    threading.Thread(target=run, name=f"sub{host}", daemon=True).start()
    return sub


def publish(topic: Topic, data: bytes) -> None:
    """The binding's `topic_publish`, called from this thread (no executor hop)."""
    Topic._PUBLISH(topic.handle, len(data), c_buffer(data), MsgpackArg.from_dict({})).raise_error()


def bytes_written() -> int | None:
    """The bytes this process has passed to write calls, sockets included (/proc/self/io
    `wchar`); None where there is no such file."""
    try:
        with open("/proc/self/io") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def message(index: int, size: int) -> bytes:
    """`size` random bytes after the index (4 bytes, big-endian), which the readers go by."""
    return index.to_bytes(4, "big") + os.urandom(size - 4)


def farthest(links: list[list[int]], k: int) -> list[int]:
    """The `k` hosts farthest from host 0 in hops over the connections (ties: lower index)."""
    neighbours: list[set[int]] = [set() for _ in links]
    for i, targets in enumerate(links):
        for t in targets:
            neighbours[i].add(t)
            neighbours[t].add(i)
    hops = {0: 0}
    queue = [0]
    for u in queue:
        for v in sorted(neighbours[u]):
            if v not in hops:
                hops[v] = hops[u] + 1
                queue.append(v)
    return sorted((h for h in hops if h != 0), key=lambda h: (-hops[h], h))[:k]


class Mesh:
    """The hosts and what hangs off them, kept referenced (the binding frees a handle with its
    Python object)."""

    def __init__(self) -> None:
        self.hosts: list = []
        self.pubsubs: list[PubSub] = []
        self.topics: list[Topic] = []
        self.idle: list[Subscription] = []     # never read: keep hosts in the topic, see main
        self.readers: list[Subscription] = []


async def setup(args, links: list[list[int]], receipts: Receipts) -> Mesh | None:
    """The hosts, subscribed, connected as `links` says; None (said on stderr) if something
    failed."""
    # Setup calls go one at a time through the executor (every binding call blocks a thread,
    # docs/INTEROP.md quirk 5); the subscriptions hold no executor thread (each has its own
    # reader thread), so use_go_executor's 32 are plenty.
    use_go_executor()
    m = Mesh()
    m.hosts = [make_host(C.key_bytes(None), 0) for _ in range(args.nodes)]
    m.pubsubs = [await PubSub.new_gossip(h) for h in m.hosts]
    m.topics = [await p.join(TOPIC) for p in m.pubsubs]
    # Every host subscribes before connecting, so its hello carries the subscription; host 0
    # too, so the topic is in its mesh (not fanout), as for op-node. Host 0's own subscription
    # yields its own publishes (docs/INTEROP.md gossip quirk 3): read, not counted.
    for i, t in enumerate(m.topics):
        m.readers.append(start_reader(await t.subscription(), i, receipts))
    for i, targets in enumerate(links):
        for t in targets:
            try:
                if await connect_loopback(m.hosts[i], m.hosts[t], args.timeout, "go_mesh_bench") is None:
                    return None
            except Exception as e:  # noqa: BLE001
                print(f"go_mesh_bench: host {i} could not connect to host {t}: {e!r}", file=sys.stderr)
                return None
    await asyncio.sleep(args.settle)   # meshes form over heartbeats (1 s in go's defaults)
    lonely = [i for i, p in enumerate(m.pubsubs) if not list(await p.list_peers(TOPIC))]
    if lonely:
        print(f"go_mesh_bench: hosts {lonely} have no topic peer after {args.settle:g} s", file=sys.stderr)
        return None
    return m


async def calibration_host(subscriptions: int, label: int, receipts: Receipts) -> list:
    """A host with no peers and `subscriptions` subscriptions to one topic, read like the mesh's
    (as hosts `label`, `label` + 1, … in `receipts`): its topic, pubsub and host, kept referenced."""
    host = make_host(C.key_bytes(None), 0)
    pubsub = await PubSub.new_gossip(host)
    topic = await pubsub.join(f"{TOPIC}/calibration/{subscriptions}")
    for i in range(subscriptions):
        start_reader(await topic.subscription(), label + i, receipts)
    await asyncio.sleep(0.5)
    return [topic, pubsub, host]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=50, help="go hosts in the mesh")
    ap.add_argument("--seed", type=int, default=None, help="topology seed, as P2P_BENCH_SEED (default random)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds for the meshes to form")
    ap.add_argument("--warmup", type=int, default=40, help="messages published first, printed apart")
    ap.add_argument("--count", type=int, default=100, help="measured messages")
    ap.add_argument("--size", type=int, default=100_000, help="bytes per message")
    ap.add_argument("--gap-ms", type=float, default=50.0,
                    help="pause after a message has reached every host, ms (the Swift bench's sleep)")
    ap.add_argument("--calibration", type=int, default=40,
                    help="messages timed to the K farthest hosts with only their readers (0: no estimate)")
    ap.add_argument("--keep", type=int, default=5, help="K: hosts whose readers the estimate keeps")
    ap.add_argument("--timeout", type=float, default=5.0, help="limit per message and per setup step, seconds")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(8), "big")
    if not (3 <= args.nodes <= 100) or not (0 <= args.seed <= MASK64):
        ap.error("--nodes must be in 3...100 and --seed in 0...2^64-1")
    if not (0 <= args.warmup <= 1000) or not (1 <= args.count <= 1000) or not (0 <= args.calibration <= 1000):
        ap.error("--warmup, --count or --calibration out of range (0...1000, 1...1000, 0...1000)")
    if not (1 <= args.keep <= args.nodes - 2):
        ap.error("--keep must leave at least one reader to cancel (1 ... --nodes − 2)")
    if not (4 <= args.size <= 1 << 20):
        ap.error("--size out of range (4 bytes ... 1 MiB, go-libp2p-pubsub's default limit)")
    if not (0 <= args.gap_ms <= 10_000) or not (0 < args.settle <= 60) or not (0 < args.timeout <= 60):
        ap.error("--gap-ms, --settle or --timeout out of range")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    n1 = args.nodes - 1
    links = topology(args.nodes, args.seed)
    receipts = Receipts()
    print(f"go-libp2p-pubsub v0.8.2 via libp2p-go 0.1.4: publish to all over {args.nodes} hosts in one "
          f"process, {args.size} B messages, StrictSign, go defaults (D=6), {os.cpu_count()} cores:", flush=True)
    mesh = loop.run_until_complete(setup(args, links, receipts))
    if mesh is None:
        return 1
    print(f"  {args.nodes} hosts, {sum(map(len, links))} connections, topology seed {args.seed}", flush=True)

    def run(topic: Topic, first: int, count: int, cpu_from: int,
            hosts: list[int]) -> tuple[list[tuple[int, dict[int, int]]], float, float | None]:
        """Publishes `count` messages on `topic` from index `first`, each awaited at `hosts`; returns
        (publish time, receipt times by host) per message, and the process CPU (ms) and the
        bytes written (None if unknown) per message from message `cpu_from` on."""
        records: list[tuple[int, dict[int, int]]] = []
        # time.process_time(): user + system of the process, as os.times() adds them, at ns resolution
        # (os.times() counts 10 ms ticks).
        cpu0, written0 = time.process_time(), bytes_written()
        for k in range(first, first + count):
            if k == cpu_from:
                cpu0, written0 = time.process_time(), bytes_written()
            data = message(k, args.size)
            receipts.expect(k, data)
            t0 = time.perf_counter_ns()
            publish(topic, data)
            got = receipts.wait(k, hosts, args.timeout)
            missing = [h for h in hosts if h not in got]
            if receipts.errors or missing:
                why = "; ".join(receipts.errors[:3]) or f"hosts {missing[:10]}{'…' if len(missing) > 10 else ''} " \
                    f"({len(missing)} of {len(hosts)}) did not have it within {args.timeout:g} s"
                raise RuntimeError(f"message {k - first + 1} of {count}: {why}")
            records.append((t0, got))
            time.sleep(args.gap_ms / 1e3)
        measured = first + count - cpu_from
        cpu = (time.process_time() - cpu0) / measured * 1e3
        written1 = bytes_written()
        written = (written1 - written0) / measured if written0 is not None and written1 is not None else None
        return records, cpu, written

    def last_ms(records: list[tuple[int, dict[int, int]]], hosts: list[int]) -> list[float]:
        return [(max(got[h] for h in hosts) - t0) / 1e6 for t0, got in records]

    others = list(range(1, args.nodes))
    try:
        records, cpu, written = run(mesh.topics[0], 1, args.warmup + args.count, args.warmup + 1, others)
    except RuntimeError as e:
        print(f"go_mesh_bench: {e}", file=sys.stderr)
        return 1
    cold, to_all = last_ms(records[:args.warmup], others), last_ms(records[args.warmup:], others)
    if cold:
        print(f"  publish to all {n1}, first {args.warmup} (warm-up), median {percentile(cold, 0.5):.2f} ms", flush=True)
    median, p99 = percentile(to_all, 0.5), percentile(to_all, 0.99)
    print(f"  publish to all {n1}, median {median:.2f} ms, p99 {p99:.2f} ms "
          f"({len(to_all)}/{args.count} reached all {n1}; go validates only the signature)", flush=True)
    print(f"  process CPU per measured message ({args.nodes} hosts, binding included) {cpu:.1f} ms", flush=True)
    print(f"RESULT gossip.go.mesh{args.nodes}.median_ms={median:.3f} p99_ms={p99:.3f}", flush=True)
    print(f"RESULT gossip.go.mesh{args.nodes}_cpu.per_block_ms={cpu:.3f}", flush=True)
    if written is not None:
        # Every copy a host sends is written once to a loopback socket (with ~1 % of Noise, yamux
        # and RPC framing, and the small gossip control messages): copies sent ≈ bytes / size,
        # and each host gets its first copy once.
        duplicates = written / args.size / n1 - 1
        print(f"  bytes written to sockets per measured message {written / 1e6:.2f} MB ≈ {written / args.size:.0f} "
              f"copies ≈ {duplicates:.2f} duplicate copies per delivery (estimate; no tracer in the binding)", flush=True)
        print(f"RESULT gossip.go.mesh{args.nodes}_copies.duplicates_per_delivery={duplicates:.3f}", flush=True)
    if not args.calibration:
        return 0

    # The binding's share of the latency, in this mesh: only the K farthest hosts keep their
    # readers. A host whose last subscription is cancelled leaves the topic, so each first gets a
    # second one, never read (a no-op on the wire; go drops what its full buffer cannot take).
    kept = farthest(links, args.keep)
    cancelled = [h for h in range(args.nodes) if h not in kept]
    receipts.retire(cancelled)
    for h in cancelled:
        mesh.idle.append(loop.run_until_complete(mesh.topics[h].subscription()))
        loop.run_until_complete(mesh.readers[h].cancel())
    time.sleep(args.gap_ms / 1e3)
    # Its CPU, on hosts with no peers (the mesh's CPU per message varies by more than the
    # readers' share): one subscription, then N−1 on one host, labelled apart from the mesh's.
    label = 1000
    try:
        few, _, _ = run(mesh.topics[0], 1 << 29, args.calibration, 1 << 29, kept)
        one = loop.run_until_complete(calibration_host(1, label, receipts))
        _, cpu_one, _ = run(one[0], 1 << 30, args.calibration, 1 << 30, [label])
        many = loop.run_until_complete(calibration_host(n1, label, receipts))
        _, cpu_many, _ = run(many[0], 1 << 31, args.calibration, 1 << 31, list(range(label, label + n1)))
    except RuntimeError as e:
        print(f"go_mesh_bench: binding estimate: {e}", file=sys.stderr)
        return 1
    with_all = percentile(last_ms(records[args.warmup:], kept), 0.5)
    with_few = percentile(last_ms(few, kept), 0.5)
    per_receipt = (cpu_many - cpu_one) / (n1 - 1)
    latency = with_all - with_few + per_receipt
    print(f"  binding, latency: the {len(kept)} hosts farthest from host 0 ({', '.join(map(str, kept))}) had each "
          f"message at median {with_all:.2f} ms with all {args.nodes} subscriptions read, {with_few:.2f} ms with only "
          f"theirs ({args.calibration} more messages)", flush=True)
    print(f"  binding, CPU: a host with no peers, {args.calibration} messages: {cpu_one:.1f} ms per message with 1 "
          f"subscription read, {cpu_many:.1f} ms with {n1}", flush=True)
    print(f"  so one receipt through the binding costs ≈ {per_receipt:.2f} ms CPU, ≈ {n1 * per_receipt:.1f} ms of go's "
          f"CPU per block, and the binding adds ≈ {latency:.1f} ms to the last receipt (the others' readers in its way, "
          f"and its own)", flush=True)
    print(f"RESULT gossip.go.mesh{args.nodes}_binding.latency_ms={latency:.3f} cpu_per_block_ms={n1 * per_receipt:.3f}",
          flush=True)
    # The hosts are not closed: reader threads are parked in go; run_and_exit ends the process.
    return 0


if __name__ == "__main__":
    C.run_and_exit(main, error_code=1)
