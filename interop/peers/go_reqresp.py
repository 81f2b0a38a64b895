"""go-libp2p (through the libp2p-go binding) as a payload_by_number peer, op-node's wire format.

  serve  --response FILE --number N --chain-id C   answer block N with the bytes of FILE (a whole
                                                   success response), anything else with result 1
  fetch  <multiaddr>/p2p/<id> --number N --chain-id C --out FILE
                                                   request block N and write the raw response

The server reads the 8-byte request, writes the response and closes (the binding has no
CloseWrite; a full close ends the response for the reader). Prints `LISTEN <maddr>` when serving.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from go_peer import is_eof, make_host, read_exact  # noqa: E402
from libp2p.peer import addr_info_from_p2p_addr  # noqa: E402
from libp2p.utils import LibP2PError  # noqa: E402


def protocol_id(chain_id: int) -> str:
    return f"/opstack/req/payload_by_number/{chain_id}/0"


async def serve(a) -> int:
    response = open(a.response, "rb").read()
    host = make_host(os.urandom(31) + b"\x01", 0)
    served = {"ok": 0, "not_found": 0}

    async def handler(s) -> None:
        try:
            req = await read_exact(s, 8)
            (n,) = struct.unpack("<Q", req)
            if n == a.number:
                await s.write(response)
                served["ok"] += 1
            else:
                await s.write(b"\x01")
                served["not_found"] += 1
        except Exception as e:  # noqa: BLE001
            print(f"handler error: {e!r}", file=sys.stderr, flush=True)
        finally:
            try:
                await s.close()
            except LibP2PError:
                pass

    host.set_stream_handler(protocol_id(a.chain_id), handler)
    addrs = [x for x in host.addrs if x.startswith("/ip4/127.0.0.1/")]
    print(f"LISTEN {addrs[0]}/p2p/{host.id.string}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)   # until stdin closes
    print(f"SERVED {served}", flush=True)
    return 0


async def fetch(a) -> int:
    host = make_host(os.urandom(31) + b"\x01", 0)
    info = addr_info_from_p2p_addr(a.addr)
    await host.connect(info)
    peer = info.id
    s = await host.new_stream(peer, protocol_id(a.chain_id))
    await s.write(struct.pack("<Q", a.number))
    try:
        data = await s.read_all()
    except LibP2PError as e:
        if not is_eof(e):
            raise
        data = b""
    open(a.out, "wb").write(data)
    print(f"FETCHED {len(data)} bytes, result code {data[0] if data else None}", flush=True)
    return 0 if data else 1


async def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--response", required=True)
    s.add_argument("--number", type=int, required=True)
    s.add_argument("--chain-id", type=int, required=True)
    f = sub.add_parser("fetch")
    f.add_argument("addr")
    f.add_argument("--number", type=int, required=True)
    f.add_argument("--chain-id", type=int, required=True)
    f.add_argument("--out", required=True)
    a = p.parse_args()
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=64))
    return await (serve(a) if a.cmd == "serve" else fetch(a))


if __name__ == "__main__":
    C.run_and_exit(lambda: asyncio.new_event_loop().run_until_complete(main()))
