#!/usr/bin/env python3
"""Gossip interop peer backed by py-libp2p 0.8.1 in op-node mode (spec §2.3, §2.5, §4.1).

Runs in interop/.venv-py; driven by interop/gossip (docs/INTEROP.md, "Gossip interop").
op-node publishes with StrictNoSign: pubsub messages carry only `data` and `topic`, and the
message id is op-node's `sha256(domain ‖ u64le(len(topic)) ‖ topic ‖ body)[:20]`, where
body is the snappy-decompressed data (domain 01000000) or, if that fails, the raw data
(domain 00000000). py-libp2p needs four workarounds for that (docs/INTEROP.md):
- `Pubsub(strict_signing=False)` still sets `from` and `seqno` on publish: `publish` is
  overridden to push `Message(data, topicIDs=[topic])` only;
- `GossipSub._check_equivocation` keys by `from ‖ seqno` (empty here): overridden to pass;
- `MessageCache.put` keys by `from ‖ seqno` (hard-coded): replaced by a cache keyed by the
  configured message id, so IWANT requests are answered;
- the message id function is op-node's (`msg_id_constructor`), with cramjam's snappy.
Heartbeat 1 s (py-libp2p's default is 120 s) and spam protection off (its default limit is
10 messages per topic per second). `--meshsub 1.1` (default) offers /meshsub/1.1.0 only;
`--meshsub 1.2` offers /meshsub/1.2.0 then /meshsub/1.1.0 (IDONTWANT, gossipsub v1.2).

Prints `LISTEN <addr>/p2p/<id>`, then one JSON object per line. Commands on stdin:
  connect <multiaddr>/p2p/<id>   -> {"event":"connect","ok":..,"peer":..,"ms":..}
  publish <topic> <hex>          -> {"event":"publish","ok":..,"topic":..,"id":<op-node id>}
  peers <topic>                  -> {"event":"peers","topic":..,"mesh":[..],"topic_peers":[..]}
  iwant <peer> <id hex>[,<id>..] -> {"event":"iwant","ok":..}: an IWANT control message
  peer <peer>                    -> {"event":"peer","peer","protocol" (negotiated, "" if none),
                                     "dont_send":[id hex..] (py-libp2p's IDONTWANT state for it)}
  quit                           -> {"event":"bye",..} (also on stdin EOF, SIGTERM, --timeout)
Events: {"event":"arrival","id","forwarder","topic"} for every message a peer sends us,
duplicates included (before py-libp2p's seen check); {"event":"message", "topic", "data",
"from", "seqno", "signed", "has_key", "forwarder", "local", "id" (the id py-libp2p used),
"id_seen" (that id is in py-libp2p's seen cache), "in_mcache"} for every delivered message;
{"event":"idontwant-received","from","ids","recorded"} for every IDONTWANT entry a peer sends
us ("recorded": those of its ids in py-libp2p's per-peer don't-send state right after handling;
py-libp2p clears that state every heartbeat) and {"event":"idontwant-sent","to","ids"} for
every IDONTWANT py-libp2p sends.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import cramjam  # noqa: E402
import multiaddr  # noqa: E402
import trio  # noqa: E402
from libp2p import new_host  # noqa: E402
from libp2p.crypto.secp256k1 import create_new_key_pair  # noqa: E402
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair  # noqa: E402
from libp2p.custom_types import TProtocol  # noqa: E402
from libp2p.peer.id import ID  # noqa: E402
from libp2p.peer.peerinfo import info_from_p2p_addr  # noqa: E402
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub  # noqa: E402
from libp2p.pubsub.mcache import CacheEntry, MessageCache  # noqa: E402
from libp2p.pubsub.pb import rpc_pb2  # noqa: E402
from libp2p.pubsub.pubsub import Pubsub  # noqa: E402
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID  # noqa: E402
from libp2p.security.noise.transport import Transport as NoiseTransport  # noqa: E402
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID  # noqa: E402
from libp2p.stream_muxer.yamux.yamux import Yamux  # noqa: E402
from libp2p.tools.anyio_service import background_trio_service  # noqa: E402

IMPL = "py"
MAX_DECODED = 10 << 20  # op-node: larger decoded lengths take the invalid-snappy domain
MESHSUB = {"1.1": [PROTOCOL_ID_V11], "1.2": [PROTOCOL_ID_V12, PROTOCOL_ID_V11]}


def emit(obj: dict) -> None:
    print(json.dumps(obj, sort_keys=True, default=str), flush=True)


def snappy_decoded_len(data: bytes) -> int | None:
    """The snappy block preamble (uvarint decoded length), as Go's snappy.DecodedLen reads it."""
    n = shift = 0
    for b in data[:10]:
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n if n < 1 << 32 else None
        shift += 7
    return None


def op_node_msg_id(msg: rpc_pb2.Message) -> bytes:
    """op-node `BuildMsgIdFn` (spec §2.5)."""
    topic = (msg.topicIDs[0] if msg.topicIDs else "").encode()
    data = bytes(msg.data)
    domain, body = b"\x00\x00\x00\x00", data
    n = snappy_decoded_len(data)
    if n is not None and n <= MAX_DECODED:
        try:
            body, domain = bytes(cramjam.snappy.decompress_raw(data)), b"\x01\x00\x00\x00"
        except Exception:  # noqa: BLE001 - invalid snappy: raw data, domain 0
            pass
    return hashlib.sha256(domain + struct.pack("<Q", len(topic)) + topic + body).digest()[:20]


class IdKeyedMessageCache(MessageCache):
    """py-libp2p's mcache with `put` keyed by op-node's id instead of `from ‖ seqno`."""

    def put(self, msg: rpc_pb2.Message) -> None:
        mid = op_node_msg_id(msg)
        if mid in self.msgs:
            return
        self.msgs[mid] = msg
        self.history[0].append(CacheEntry(mid, msg.topicIDs))


class OpNodeGossipSub(GossipSub):
    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        # Keyed by from ‖ seqno, which StrictNoSign messages do not have.
        return True

    async def handle_idontwant(self, idontwant_msg: rpc_pb2.ControlIDontWant, sender_peer_id: ID) -> None:
        await super().handle_idontwant(idontwant_msg, sender_peer_id)
        state = self.dont_send_message_ids.get(sender_peer_id, set())
        ids = [bytes(i) for i in idontwant_msg.messageIDs]
        emit({"event": "idontwant-received", "from": sender_peer_id.to_base58(),
              "ids": [i.hex() for i in ids], "recorded": [i.hex() for i in ids if i in state]})

    async def emit_idontwant(self, msg_ids: list[bytes], to_peer: ID) -> None:
        emit({"event": "idontwant-sent", "to": to_peer.to_base58(), "ids": [bytes(i).hex() for i in msg_ids]})
        await super().emit_idontwant(msg_ids, to_peer)


class OpNodePubsub(Pubsub):
    """StrictNoSign publishing, and a record of every message peers send us."""

    forwarders: dict[bytes, str]

    async def publish(self, topic_id, data: bytes) -> None:
        topics = [topic_id] if isinstance(topic_id, str) else list(topic_id)
        await self.push_msg(self.my_id, rpc_pb2.Message(data=data, topicIDs=topics))

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        mid = op_node_msg_id(msg)
        fwd = msg_forwarder.to_base58()
        self.forwarders.setdefault(mid, fwd)
        if msg_forwarder != self.my_id:
            emit({"event": "arrival", "id": mid.hex(), "forwarder": fwd,
                  "topic": msg.topicIDs[0] if msg.topicIDs else ""})
        await super().push_msg(msg_forwarder, msg)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="py_gossip", description=__doc__.split("\n\n")[0])
    p.add_argument("--key-hex", default=None, help="64 hex chars: secp256k1 private key")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--mode", default="opnode", choices=["opnode"], help="op-node's StrictNoSign policy")
    p.add_argument("--topic", action="append", default=[], help="topic to join at start (repeatable)")
    p.add_argument("--meshsub", default="1.1", choices=sorted(MESHSUB),
                   help="1.1: /meshsub/1.1.0 only; 1.2: /meshsub/1.2.0 (IDONTWANT) then 1.1.0")
    return p.parse_args()


async def run(args: argparse.Namespace) -> int:
    secret = C.key_bytes(args.key_hex)
    kp = create_new_key_pair(secret)
    host = new_host(
        key_pair=kp,
        sec_opt={TProtocol(NOISE_ID): NoiseTransport(kp, noise_privkey=new_x25519_key_pair().private_key)},
        muxer_opt={TProtocol(YAMUX_ID): Yamux},
    )
    me = host.get_id().to_base58()
    gs = OpNodeGossipSub(protocols=MESHSUB[args.meshsub], degree=6, degree_low=4, degree_high=12,
                         heartbeat_interval=1, spam_protection_enabled=False)
    gs.mcache = IdKeyedMessageCache(gs.mcache.window_size, gs.mcache.history_size)
    ps = OpNodePubsub(host, gs, strict_signing=False, msg_id_constructor=op_node_msg_id)
    ps.forwarders = {}
    stopped_by = "stdin-eof"

    async with host.run(listen_addrs=[multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{args.port}")]):
        async with background_trio_service(ps), background_trio_service(gs):
            await ps.wait_until_ready()
            async with trio.open_nursery() as nursery:

                async def pump(name: str, sub) -> None:
                    while True:
                        m = await sub.get()
                        mid = ps.get_message_id(m)
                        fwd = ps.forwarders.get(mid)
                        author = ID(m.from_id).to_base58() if m.from_id else ""
                        emit({"event": "message", "topic": m.topicIDs[0] if m.topicIDs else "",
                              "data": m.data.hex(), "from": author, "seqno": m.seqno.hex(),
                              "signed": bool(m.signature), "has_key": bool(m.key),
                              "forwarder": fwd, "local": fwd == me, "id": mid.hex(),
                              "id_seen": ps.seen_messages.has(mid),
                              "in_mcache": gs.mcache.get(mid) is not None})

                for name in args.topic:
                    nursery.start_soon(pump, name, await ps.subscribe(name))
                addrs = [str(a) for a in host.get_addrs() if str(a).startswith("/ip4/127.0.0.1/")]
                if not addrs:
                    print(f"no 127.0.0.1 listen address: {host.get_addrs()}", file=sys.stderr)
                    return 1
                C.print_listen(addrs[0] if "/p2p/" in addrs[0] else f"{addrs[0]}/p2p/{me}")

                async def signals() -> None:
                    nonlocal stopped_by
                    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as sigs:
                        async for _ in sigs:
                            stopped_by = "signal"
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(signals)
                with trio.move_on_after(args.timeout) as scope:
                    while True:
                        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
                        if not line:
                            break
                        words = line.split()
                        if not words:
                            continue
                        cmd = words[0]
                        if cmd == "quit":
                            stopped_by = "quit"
                            break
                        await command(host, ps, gs, cmd, words, line)
                if scope.cancelled_caught:
                    stopped_by = "timeout"
                emit({"event": "bye", "peer_id": me, "impl": IMPL, "stopped_by": stopped_by})
                nursery.cancel_scope.cancel()
    return 0


async def command(host, ps: OpNodePubsub, gs: OpNodeGossipSub, cmd: str, words: list[str], line: str) -> None:
    try:
        if cmd == "connect" and len(words) == 2:
            t0 = time.perf_counter()
            info = info_from_p2p_addr(multiaddr.Multiaddr(words[1]))
            with trio.fail_after(15):
                await host.connect(info)
            emit({"event": "connect", "ok": True, "peer": info.peer_id.to_base58(),
                  "ms": round((time.perf_counter() - t0) * 1e3, 2)})
        elif cmd == "publish" and len(words) == 3:
            data = bytes.fromhex(words[2])
            with trio.fail_after(10):
                await ps.publish(words[1], data)
            emit({"event": "publish", "ok": True, "topic": words[1], "bytes": len(data),
                  "id": op_node_msg_id(rpc_pb2.Message(data=data, topicIDs=[words[1]])).hex()})
        elif cmd == "peers" and len(words) == 2:
            topic = words[1]
            emit({"event": "peers", "topic": topic,
                  "mesh": sorted(p.to_base58() for p in gs.mesh.get(topic, set())),
                  "topic_peers": sorted(p.to_base58() for p in ps.peer_topics.get(topic, set())),
                  "connected": sorted(p.to_base58() for p in ps.peers)})
        elif cmd == "iwant" and len(words) == 3:
            ids = [bytes.fromhex(h) for h in words[2].split(",") if h]
            await gs.emit_iwant(ids, ID.from_base58(words[1]))
            emit({"event": "iwant", "ok": True, "ids": [i.hex() for i in ids]})
        elif cmd == "peer" and len(words) == 2:
            peer = ID.from_base58(words[1])
            emit({"event": "peer", "peer": words[1], "protocol": str(gs.peer_protocol.get(peer, "")),
                  "dont_send": sorted(bytes(i).hex() for i in gs.dont_send_message_ids.get(peer, set()))})
        else:
            emit({"event": "error", "error": f"unknown command: {line.strip()[:200]}"})
    except Exception as e:  # noqa: BLE001 - reported to the runner
        emit({"event": cmd, "ok": False, "error": repr(e)})


def main() -> int:
    return trio.run(run, parse_args())


if __name__ == "__main__":
    C.run_and_exit(main)
