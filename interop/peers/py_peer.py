#!/usr/bin/env python3
"""Interop peer backed by py-libp2p 0.8.1 (PyPI `libp2p`, trio).

Runs in interop/.venv-py. CLI contract and scenario: docs/INTEROP.md. The host is built
with only Noise (`/noise`) and only yamux (`/yamux/1.0.0`) and a secp256k1 identity;
identify, identify-push and ping are py-libp2p's defaults. Identify is checked twice: the
automatic identify py-libp2p runs on every new connection (peerstore protocols) and an
explicit /ipfs/id/1.0.0 request decoded by py-libp2p's own parser (for the agent version,
which the peerstore does not keep).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

import multiaddr  # noqa: E402
import trio  # noqa: E402
from libp2p import new_host  # noqa: E402
from libp2p.abc import INetConn, INetStream, INetwork, INotifee  # noqa: E402
from libp2p.crypto.secp256k1 import create_new_key_pair  # noqa: E402
from libp2p.crypto.serialization import deserialize_public_key  # noqa: E402
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair  # noqa: E402
from libp2p.custom_types import TProtocol  # noqa: E402
from libp2p.host.exceptions import StreamFailure  # noqa: E402
from libp2p.host.ping import perform_ping_roundtrip  # noqa: E402
from libp2p.identity.identify.identify import parse_identify_response  # noqa: E402
from libp2p.network.stream.exceptions import StreamEOF, StreamReset  # noqa: E402
from libp2p.peer.id import ID  # noqa: E402
from libp2p.peer.peerinfo import info_from_p2p_addr  # noqa: E402
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID  # noqa: E402
from libp2p.security.noise.transport import Transport as NoiseTransport  # noqa: E402
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID  # noqa: E402
from libp2p.stream_muxer.yamux.yamux import Yamux  # noqa: E402

IMPL = "py"
CHUNK = 64 * 1024


def make_host(secret: bytes):
    """A py-libp2p host: secp256k1 identity, Noise only, yamux only (TCP)."""
    kp = create_new_key_pair(secret)
    return new_host(
        key_pair=kp,
        sec_opt={TProtocol(NOISE_ID): NoiseTransport(kp, noise_privkey=new_x25519_key_pair().private_key)},
        muxer_opt={TProtocol(YAMUX_ID): Yamux},
    )


async def read_to_eof(s: INetStream) -> bytes:
    buf = bytearray()
    while True:
        try:
            d = await s.read(CHUNK)
        except StreamEOF:
            return bytes(buf)
        if not d:
            return bytes(buf)
        buf += d


async def read_exact(s: INetStream, n: int) -> bytes:
    # Not libp2p.io.utils.read_exactly: it gives up after a fixed number of short reads.
    buf = bytearray()
    while len(buf) < n:
        try:
            d = await s.read(min(CHUNK, n - len(buf)))
        except StreamEOF:
            d = b""
        if not d:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return bytes(buf)


async def read_uvarint(s: INetStream) -> int:
    raw = bytearray()
    while True:
        raw += await read_exact(s, 1)
        if not raw[-1] & 0x80:
            return C.uvarint_decode(bytes(raw))[0]
        if len(raw) >= 9:
            raise C.ProtoError("varint too long")


async def write_all(s: INetStream, data: bytes) -> None:
    for i in range(0, len(data), CHUNK):
        await s.write(data[i:i + CHUNK])


async def identify_remote(host, peer: ID) -> dict:
    """Explicit /ipfs/id/1.0.0 request, decoded by py-libp2p's parser."""
    s = await host.new_stream(peer, [TProtocol(C.IDENTIFY)])
    try:
        payload = await read_to_eof(s)
    finally:
        await s.close()
    msg = parse_identify_response(payload)
    return {
        "protocols": list(msg.protocols),
        "agent_version": msg.agent_version,
        "protocol_version": msg.protocol_version,
        "listen_addrs": list(msg.listen_addrs),
        "key_peer_id": ID.from_pubkey(deserialize_public_key(msg.public_key)).to_base58(),
        "framing": C.decode_identify(payload)["framing"],
    }


def add_handlers(host, saw: dict) -> None:
    async def echo(s: INetStream) -> None:
        try:
            data = await read_to_eof(s)
            await write_all(s, data)
            saw["echo_streams"] += 1  # before the FIN: the client may exit right after it
            saw["echo_bytes"] += len(data)
            await s.close_write()
        except Exception as e:  # noqa: BLE001 - reported, never fatal
            saw["errors"].append(f"echo: {e!r}")
            await s.reset()
            return
        await s.close()

    async def echo_lp(s: INetStream) -> None:
        try:
            n = await read_uvarint(s)
            if n > C.ECHO_LP_MAX:
                raise C.ProtoError(f"echo-lp length {n} over {C.ECHO_LP_MAX}")
            data = await read_exact(s, n)
            await write_all(s, data)
            saw["echo_lp_streams"] += 1
            saw["echo_lp_bytes"] += n
            await s.close_write()
        except Exception as e:  # noqa: BLE001
            saw["errors"].append(f"echo-lp: {e!r}")
            await s.reset()
            return
        await s.close()

    host.set_stream_handler(TProtocol(C.ECHO), echo)
    host.set_stream_handler(TProtocol(C.ECHO_LP), echo_lp)


async def echo_once(host, peer: ID, data: bytes) -> bytes:
    s = await host.new_stream(peer, [TProtocol(C.ECHO)])
    try:
        await write_all(s, data)
        await s.close_write()
        return await read_to_eof(s)
    finally:
        await s.close()


class _InboundNotifee(INotifee):
    """Records every connection's remote peer and identifies it explicitly."""

    def __init__(self, on_peer) -> None:
        self.on_peer = on_peer

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self.on_peer(conn.muxed_conn.peer_id)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        return None

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


# ---------------------------------------------------------------- listen


async def listen(args) -> int:
    host = make_host(C.key_bytes(args.key_hex))
    me = host.get_id().to_base58()
    saw = C.new_saw(IMPL, me)
    saw["inbound_peers_source"] = "network notifee (connected)"
    add_handlers(host, saw)
    token = trio.lowlevel.current_trio_token()
    stop = trio.Event()
    C.watch_stdin(lambda: trio.from_thread.run_sync(stop.set, trio_token=token))

    async with host.run(listen_addrs=[multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{args.port}")]):
        async with trio.open_nursery() as nursery:

            async def identify_task(peer: ID) -> None:
                pid = peer.to_base58()
                try:
                    with trio.fail_after(15):
                        msg = await identify_remote(host, peer)
                    saw["remote_protocols"][pid] = msg["protocols"]
                    saw["remote_agents"][pid] = msg["agent_version"]
                    if msg["key_peer_id"] != pid:
                        saw["identify_errors"][pid] = f"key hashes to {msg['key_peer_id']}"
                except Exception as e:  # noqa: BLE001
                    saw["identify_errors"][pid] = repr(e)

            def on_peer(peer: ID) -> None:
                pid = peer.to_base58()
                if pid not in saw["inbound_peers"]:
                    saw["inbound_peers"].append(pid)
                    nursery.start_soon(identify_task, peer)

            host.get_network().register_notifee(_InboundNotifee(on_peer))
            addrs = [str(a) for a in host.get_addrs() if str(a).startswith("/ip4/127.0.0.1/")]
            if not addrs:
                print(f"no 127.0.0.1 listen address: {host.get_addrs()}", file=sys.stderr)
                return 1
            C.print_listen(addrs[0] if "/p2p/" in addrs[0] else f"{addrs[0]}/p2p/{me}")

            async def signals() -> None:
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as sigs:
                    async for _ in sigs:
                        stop.set()
                        return

            nursery.start_soon(signals)
            with trio.move_on_after(args.timeout) as scope:
                await stop.wait()
            saw["stopped_by"] = "timeout" if scope.cancelled_caught else "stdin-eof-or-signal"
            with trio.move_on_after(3):  # let in-flight identify requests finish
                while len(saw["remote_protocols"]) + len(saw["identify_errors"]) < len(saw["inbound_peers"]):
                    await trio.sleep(0.05)
            for pid in saw["inbound_peers"]:
                saw.setdefault("peerstore_protocols", {})[pid] = sorted(
                    host.get_peerstore().get_protocols(ID.from_base58(pid)))
            C.print_peer_saw(saw)
            nursery.cancel_scope.cancel()
    return 0


# ---------------------------------------------------------------- dial


async def dial(args) -> int:
    rep = C.Reporter()
    deadline = trio.current_time() + args.timeout

    def budget(cap: float = 30.0) -> float:
        return max(0.1, min(cap, deadline - trio.current_time()))

    host = make_host(C.key_bytes(args.key_hex))
    me = host.get_id().to_base58()
    add_handlers(host, C.new_saw(IMPL, me))
    _, want = C.split_p2p(args.addr)
    expect = C.expected_protocols(args.expect_protocols)

    # The dialer listens too, so that identify carries a listen address (op-node's hosts
    # always listen; the go binding's listener can only see peers that advertise one).
    async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        # connect: the id is the one the Noise handshake authenticated on the connection.
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(args.addr))
            t0 = time.perf_counter()
            with trio.fail_after(budget(15)):
                await host.connect(info)
            conns = host.get_network().get_connections(info.peer_id)
            remote = conns[0].muxed_conn.peer_id.to_base58() if conns else None
            peer = info.peer_id
            rep.step("connect", remote == want, {
                "remote": remote, "local": me, "ms": round((time.perf_counter() - t0) * 1e3, 2)})
        except Exception as e:  # noqa: BLE001
            rep.step("connect", False, {"error": repr(e), "local": me})
            rep.skip_rest("connect failed")
            return 1

        # identify: explicit request, plus what the automatic identify put in the peerstore
        try:
            with trio.fail_after(budget(15)):
                msg = await identify_remote(host, peer)
                auto: list[str] = []
                for _ in range(100):
                    auto = host.get_peerstore().get_protocols(peer)
                    if all(p in auto for p in expect):
                        break
                    await trio.sleep(0.05)
            ok, detail = C.identify_detail(msg, msg["key_peer_id"], want, expect)
            missing_auto = [p for p in expect if p not in auto]
            detail["peerstore_missing"] = missing_auto
            detail["how"] = "explicit /ipfs/id/1.0.0 request + py-libp2p's automatic identify (peerstore)"
            rep.step("identify", ok and not missing_auto, detail)
        except Exception as e:  # noqa: BLE001
            rep.step("identify", False, {"error": repr(e)})

        # ping: py-libp2p's round trip (32 random bytes, compared), timed here in µs
        try:
            with trio.fail_after(budget(10)):
                s = await host.new_stream(peer, [TProtocol(C.PING)])
                rtts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    await perform_ping_roundtrip(s)
                    rtts.append((time.perf_counter() - t0) * 1e3)
                await s.close()
            rep.step("ping", True, {"rtt_ms": [round(x, 3) for x in rtts],
                                    "how": "py-libp2p perform_ping_roundtrip"})
        except Exception as e:  # noqa: BLE001
            rep.step("ping", False, {"error": repr(e)})

        # echo: write, half-close, read to EOF
        try:
            data = os.urandom(args.echo_bytes)
            t0 = time.perf_counter()
            with trio.fail_after(budget(30)):
                back = await echo_once(host, peer, data)
            ms = (time.perf_counter() - t0) * 1e3
            ok = hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
            rep.step("echo", ok, {"protocol": C.ECHO, "sent": len(data), "received": len(back),
                                  "sha256": hashlib.sha256(data).hexdigest()[:16], "ms": round(ms, 1)})
        except Exception as e:  # noqa: BLE001
            rep.step("echo", False, {"protocol": C.ECHO, "error": repr(e)})

        # streams: N concurrent echo streams (resets by the listener's limits retried)
        resets = 0
        blobs = [os.urandom(args.stream_bytes) for _ in range(args.streams)]
        results: list[object] = [None] * len(blobs)

        async def one(i: int) -> None:
            nonlocal resets
            for attempt in range(C.STREAM_RETRIES + 1):
                try:
                    results[i] = await echo_once(host, peer, blobs[i])
                    return
                except (StreamReset, StreamFailure) as e:
                    # go-libp2p's resource manager resets streams over its per-peer,
                    # per-protocol limit, during or right after multistream-select.
                    if attempt == C.STREAM_RETRIES:
                        results[i] = e
                        return
                    resets += 1
                    await trio.sleep(0.02 * (attempt + 1))
                except Exception as e:  # noqa: BLE001
                    results[i] = e
                    return

        try:
            t0 = time.perf_counter()
            with trio.fail_after(budget(30)):
                async with trio.open_nursery() as n:
                    for i in range(len(blobs)):
                        n.start_soon(one, i)
            ms = (time.perf_counter() - t0) * 1e3
            good = sum(1 for b, r in zip(blobs, results) if r == b)
            errors = sorted({repr(r) for r in results if isinstance(r, Exception)})[:3]
            rep.step("streams", good == len(blobs), {
                "protocol": C.ECHO, "streams": len(blobs), "exact": good, "resets": resets,
                "ms": round(ms, 1), "errors": errors})
        except Exception as e:  # noqa: BLE001
            rep.step("streams", False, {"protocol": C.ECHO, "error": repr(e), "resets": resets})
    return 1 if rep.failed else 0


def main() -> int:
    args = C.parse_args(IMPL)
    return trio.run(listen if args.cmd == "listen" else dial, args)


if __name__ == "__main__":
    C.run_and_exit(main)
