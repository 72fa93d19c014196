#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drives a real sst-sim over its socket (framed protocol, one connection per
device, HELLO with device_id = the device index) with a fixed mix of
requests kept `--depth` deep in flight, and prints what was sent as JSON
(per device: requests by type, invalid), so a test can compare the
statistics file with it. Python standard library only.

usage: sim_load.py SOCKET --devices N --requests R [--depth D]"""

import argparse
import json
import selectors
import socket
import struct
import sys
import time

MAGIC = 0x46535356
HDR = struct.Struct("<IHHIIQ")  # magic, version, type, length, flags, tag
HELLO, REQUEST, RESPONSE, EVENT, ERROR = 1, 2, 3, 4, 5
TYPES = {0: "NOOP", 2: "COMPUTE", 3: "READ", 4: "WRITE"}


def frame(ftype, tag, payload):
    return HDR.pack(MAGIC, 1, ftype, len(payload), 0, tag) + payload


def request(i, dev):
    """The i-th request of device dev: COMPUTE, WRITE, READ, NOOP in turn;
    every 50th READ is out of range (INVALID)."""
    kind = (i + dev) % 4
    head = lambda t: struct.pack("<IIQQ", t, 0, i, i * 7 + 3)  # noqa: E731
    if kind == 0:
        work = 1 + (i * 13 + dev) % 40
        return 2, head(2) + struct.pack("<QI", work, 1 + i % 2)
    if kind == 1:
        data = bytes([i & 0xff]) * 256
        return 4, head(4) + struct.pack("<QI", (i % 512) * 4096, len(data)) + data
    if kind == 2:
        addr = (1 << 40) if i % 50 == 2 else (i % 512) * 4096
        return 3, head(3) + struct.pack("<QI", addr, 128)
    return 0, head(0)


def run(path, devices, count, depth, timeout):
    sel = selectors.DefaultSelector()
    state = {}
    for dev in range(devices):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        s.sendall(frame(HELLO, 0, struct.pack("<IIQ", dev, 0, 0)))
        s.setblocking(False)
        st = {"sock": s, "dev": dev, "next": 1, "done": 0, "inflight": 0, "in": b"", "out": b"",
              "sent": {}, "invalid": 0, "hello": False}
        state[s.fileno()] = st
        sel.register(s, selectors.EVENT_READ, st)
    deadline = time.monotonic() + timeout
    while any(st["done"] < count for st in state.values()):
        if time.monotonic() > deadline:
            raise SystemExit("sim_load: timed out waiting for responses")
        for st in state.values():
            while st["hello"] and st["inflight"] < depth and st["next"] <= count:
                t, payload = request(st["next"], st["dev"])
                st["out"] += frame(REQUEST, st["next"], payload)
                name = TYPES[t]
                st["sent"][name] = st["sent"].get(name, 0) + 1
                st["next"] += 1
                st["inflight"] += 1
            if st["out"]:
                try:
                    n = st["sock"].send(st["out"])
                    st["out"] = st["out"][n:]
                except BlockingIOError:
                    pass
        for key, _ in sel.select(0.5):
            st = key.data
            try:
                chunk = st["sock"].recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                raise SystemExit(f"sim_load: device {st['dev']}: simulator closed the connection")
            st["in"] += chunk
            buf = st["in"]
            off = 0
            while len(buf) - off >= HDR.size:
                magic, _, ftype, length, _, tag = HDR.unpack_from(buf, off)
                if magic != MAGIC:
                    raise SystemExit("sim_load: bad frame from the simulator")
                if len(buf) - off - HDR.size < length:
                    break
                body = buf[off + HDR.size:off + HDR.size + length]
                off += HDR.size + length
                if ftype == HELLO:
                    st["hello"] = True
                elif ftype == RESPONSE:
                    status = struct.unpack_from("<I", body, 16)[0]
                    st["invalid"] += status != 0
                    st["done"] += 1
                    st["inflight"] -= 1
                elif ftype == ERROR:
                    raise SystemExit(f"sim_load: device {st['dev']}: ERROR frame for tag {tag}")
            st["in"] = buf[off:]
    out = []
    for st in sorted(state.values(), key=lambda x: x["dev"]):
        st["sock"].close()
        out.append({"device": st["dev"], "requests": st["sent"], "requests_total": count,
                    "invalid": st["invalid"]})
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("socket")
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--depth", type=int, default=16)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    json.dump(run(a.socket, a.devices, a.requests, a.depth, a.timeout), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
