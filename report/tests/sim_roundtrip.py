#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""report.sim_roundtrip: a real sst-sim with --stats-out, loaded by
sim_load.py (3 devices, requests kept 32 deep), stopped with SIGTERM; its
statistics file assembled with the sample launch record into a run report,
which must validate and carry exactly what the load sent (per device and
type, invalid requests), and render to HTML with every plot drawn.

usage: sim_roundtrip.py SST_SIM"""

import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(os.path.dirname(HERE), "vsst-report")
DEVICES, REQUESTS = 3, 3000


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        fail("usage: sim_roundtrip.py SST_SIM (an executable sst-sim)")
    sim_bin = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="vsst-report-roundtrip.") as tmp:
        sock, stats = os.path.join(tmp, "sim.sock"), os.path.join(tmp, "stats.json")
        log = open(os.path.join(tmp, "sim.log"), "w+")
        sim = subprocess.Popen([sim_bin, "--socket", sock, "--stats-out", stats, "--status-interval", "0",
                                "--stats-samples", "2000"], stdout=log, stderr=subprocess.STDOUT)
        try:
            load = subprocess.run([sys.executable, os.path.join(HERE, "sim_load.py"), sock, "--devices",
                                   str(DEVICES), "--requests", str(REQUESTS), "--depth", "32"],
                                  capture_output=True, text=True, timeout=120)
            if load.returncode != 0:
                fail(f"sim_load: {load.stderr.strip()}")
            sent = json.loads(load.stdout)
            sim.send_signal(signal.SIGTERM)
            rc = sim.wait(timeout=30)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
        log.seek(0)
        if rc != 0:
            fail(f"sst-sim exit {rc}: {log.read()[-2000:]}")
        report = os.path.join(tmp, "report.json")
        args = [sys.executable, TOOL, "assemble", "--launch", os.path.join(HERE, "data", "launch.json"),
                "--stage", "build_s=0.5", "-o", report]
        for i in range(DEVICES):
            args += ["--sim", f"{i}={stats},sst-sim"]
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"assemble: {p.stderr.strip()}")
        p = subprocess.run([sys.executable, TOOL, "validate", report], capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"validate: {p.stderr.strip()}")
        with open(report) as f:
            r = json.load(f)
        problems = []
        for want in sent:
            dev = r["devices"][want["device"]]["stats"]
            got = {t: n for t, n in dev["requests"].items() if n}
            if got != want["requests"]:
                problems.append(f"device {want['device']}: requests {got} != sent {want['requests']}")
            if dev["requests_total"] != REQUESTS or dev["invalid"] != want["invalid"]:
                problems.append(f"device {want['device']}: total {dev['requests_total']}, invalid "
                                f"{dev['invalid']}; sent {REQUESTS}, {want['invalid']} answered INVALID")
            if dev["device_id"] != want["device"] or dev["samples"]["count"] != 2000 or \
                    dev["samples"]["dropped"] != REQUESTS - 2000:
                problems.append(f"device {want['device']}: device_id {dev['device_id']}, samples "
                                f"{dev['samples']['count']} kept / {dev['samples']['dropped']} dropped")
            if dev["sim_time_ps"] <= 0 or dev["busy_pct"] <= 0:
                problems.append(f"device {want['device']}: no simulated time or busy %")
        if r["totals"]["requests_total"] != DEVICES * REQUESTS:
            problems.append(f"totals.requests_total {r['totals']['requests_total']}")
        page = os.path.join(tmp, "report.html")
        p = subprocess.run([sys.executable, TOOL, "html", report, "-o", page], capture_output=True, text=True)
        if p.returncode != 0:
            fail(f"html: {p.stderr.strip()}")
        with open(page) as f:
            html = f.read()
        for plot in ("plot-latency-sim", "plot-latency-wall", "plot-inflight", "plot-completions", "plot-simwall"):
            if f'id="{plot}" ' not in html or 'data-series="0"' in html:
                problems.append(f"{plot}: missing or empty")
        text = subprocess.run([sys.executable, TOOL, "text", report], capture_output=True, text=True).stdout
        if f"{DEVICES * REQUESTS} requests" not in text:
            problems.append("text summary lacks the request total")
        if problems:
            fail("; ".join(problems))
        print(text, end="")
        print(f"PASS: {DEVICES} devices x {REQUESTS} requests through sst-sim --stats-out and vsst-report")


if __name__ == "__main__":
    main()
