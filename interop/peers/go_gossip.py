#!/usr/bin/env python3
"""Gossip interop peer backed by go-libp2p-pubsub v0.8.2 through the binding `libp2p-go` 0.1.4.

Runs in interop/.venv-go; driven by interop/gossip (docs/INTEROP.md, "Gossip interop"). The
binding's `PubSub.new_gossip(host)` takes no options, so this peer is always go-libp2p-pubsub's
default router: StrictSign (secp256k1 signatures over `libp2p-pubsub:` ‖ message), message id
`from ‖ seqno`, default GossipSub parameters, protocols /meshsub/1.1.0, /meshsub/1.0.0,
/floodsub/1.0.0, flood publishing on.

Prints `LISTEN <addr>/p2p/<id>`, then one JSON object per line. Commands on stdin, one per line:
  connect <multiaddr>/p2p/<id>   -> {"event":"connect","ok":..,"peer":..,"ms":..}
  publish <topic> <hex>          -> {"event":"publish","ok":..,"topic":..,"bytes":..}
  peers <topic>                  -> {"event":"peers","topic":..,"topic_peers":[..]}
  quit                           -> {"event":"bye",..} and exit (also on stdin EOF, SIGTERM,
                                    or --timeout)
Every message a subscription yields is reported as {"event":"message","topic","data" (hex),
"from" (author), "seqno" (hex), "signed", "has_key", "local"}; the binding does not expose the
forwarding peer ("forwarder" is null) and also yields the host's own publishes ("local": true).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

from libp2p import (  # noqa: E402
    DefaultTransports,
    DisableRelay,
    Host,
    Identity,
    ListenAddrStrings,
    MuxerYamux,
    SecurityNoise,
)
from libp2p.crypto import PrivKey  # noqa: E402
from libp2p.peer import addr_info_from_p2p_addr  # noqa: E402
from libp2p.pubsub import PubSub  # noqa: E402
from libp2p.utils import GoString  # noqa: E402

IMPL = "go"
_out = threading.Lock()


def emit(obj: dict) -> None:
    line = json.dumps(obj, sort_keys=True, default=str)
    with _out:
        print(line, flush=True)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="go_gossip", description=__doc__.split("\n\n")[0])
    p.add_argument("--key-hex", default=None, help="64 hex chars: secp256k1 private key")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--mode", default="go", choices=["go"], help="only go-libp2p-pubsub's defaults")
    p.add_argument("--topic", action="append", default=[], help="topic to join at start (repeatable)")
    return p.parse_args()


def make_host(secret: bytes, port: int) -> Host:
    """secp256k1 identity, TCP on 127.0.0.1, Noise only, yamux only (as go_peer.py)."""
    return Host(
        Identity(PrivKey.unmarshal(C.secp256k1_private_key_protobuf(secret))),
        ListenAddrStrings(f"/ip4/127.0.0.1/tcp/{port}"),
        DefaultTransports(),
        SecurityNoise(),
        MuxerYamux(GoString.new("/yamux/1.0.0")),
        DisableRelay(),
    )


async def run(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    host = make_host(C.key_bytes(args.key_hex), args.port)
    me = host.id.string
    ps = await PubSub.new_gossip(host)
    topics = {}
    for name in args.topic:
        topics[name] = await ps.join(name)

    async def pump(name: str, sub) -> None:
        while True:
            try:
                m = await sub.next()
            except Exception as e:  # noqa: BLE001 - the subscription ends at shutdown
                emit({"event": "subscription-ended", "topic": name, "error": repr(e)})
                return
            author = m.from_peer.string
            emit({"event": "message", "topic": m.topic, "data": m.data.hex(), "from": author,
                  "seqno": m.seq_no.to_bytes(8, "big").hex(), "signed": bool(m.signature),
                  "has_key": bool(m.key), "forwarder": None, "local": author == me})

    pumps = [loop.create_task(pump(n, await t.subscription())) for n, t in topics.items()]
    addrs = [a for a in host.addrs if a.startswith("/ip4/127.0.0.1/")]
    if not addrs:
        print(f"no 127.0.0.1 listen address: {host.addrs}", file=sys.stderr)
        return 1
    C.print_listen(f"{addrs[0]}/p2p/{me}")

    lines: asyncio.Queue[str | None] = asyncio.Queue()
    stopped_by = {"why": "stdin-eof"}

    def stop(why: str) -> None:
        stopped_by["why"] = why
        lines.put_nowait(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, "signal")
    loop.call_later(args.timeout, stop, "timeout")

    def read_stdin() -> None:
        for raw in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, raw.strip())
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
    while True:
        line = await lines.get()
        if line is None:
            break
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if cmd == "connect" and len(words) == 2:
                t0 = time.perf_counter()
                info = addr_info_from_p2p_addr(words[1])
                await asyncio.wait_for(host.connect(info), 15)
                emit({"event": "connect", "ok": True, "peer": C.split_p2p(words[1])[1],
                      "ms": round((time.perf_counter() - t0) * 1e3, 2)})
            elif cmd == "publish" and len(words) == 3:
                name, data = words[1], bytes.fromhex(words[2])
                if name not in topics:
                    topics[name] = await ps.join(name)
                await asyncio.wait_for(topics[name].publish(data), 10)
                emit({"event": "publish", "ok": True, "topic": name, "bytes": len(data)})
            elif cmd == "peers" and len(words) == 2:
                peers = await asyncio.wait_for(ps.list_peers(words[1]), 10)
                emit({"event": "peers", "topic": words[1], "topic_peers": list(peers),
                      "mesh": None, "note": "the binding lists topic peers only"})
            elif cmd == "quit":
                stopped_by["why"] = "quit"
                break
            else:
                emit({"event": "error", "error": f"unknown command: {line[:200]}"})
        except Exception as e:  # noqa: BLE001 - reported to the runner
            emit({"event": cmd, "ok": False, "error": repr(e)})
    for t in pumps:
        t.cancel()
    emit({"event": "bye", "peer_id": me, "impl": IMPL, "stopped_by": stopped_by["why"]})
    try:
        await asyncio.wait_for(host.close(), 5)
    except Exception:  # noqa: BLE001 - shutting down anyway
        pass
    return 0


def main() -> int:
    args = parse_args()
    loop = asyncio.new_event_loop()
    # Every binding call blocks an executor thread (a subscription's next() until a message
    # arrives): enlarge the default pool, as go_peer.py does.
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="golibp2p"))
    return loop.run_until_complete(run(args))


if __name__ == "__main__":
    C.run_and_exit(main)
