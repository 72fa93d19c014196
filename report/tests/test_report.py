#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""report.unit: vsst-report on the samples in tests/data (a vsst-launch
record and a real sst-sim --stats-out file): assemble + validate, every
validation rule shown to fail on a broken report, input and usage errors,
the text summary and the HTML page's structure. Runs the tool as a process
(exit statuses and messages are part of its interface)."""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOOL = os.path.join(ROOT, "vsst-report")
DATA = os.path.join(HERE, "data")
LAUNCH = os.path.join(DATA, "launch.json")
SIM = os.path.join(DATA, "sim-stats.json")
SPEC = "sst-sim:--compute-units=8,--latency-model=pipelined"
sys.path.insert(0, ROOT)

from vsst_report import schema  # noqa: E402


def run(*args, check=None):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=120)
    if check is not None and p.returncode != check:
        raise AssertionError(f"vsst-report {' '.join(args)}: exit {p.returncode}, want {check}\n{p.stderr}")
    return p


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="vsst-report-test.")
        cls.report_path = os.path.join(cls.tmp.name, "report.json")
        run("assemble", "--launch", LAUNCH, "--sim", f"0={SIM},{SPEC}", "--sim", f"1={SIM},{SPEC}",
            "--stage", "build_s=1.25", "--version", "qemu=7.2.15", "-o", cls.report_path, check=0)
        with open(cls.report_path) as f:
            cls.report = json.load(f)
        with open(SIM) as f:
            cls.sim = json.load(f)
        with open(LAUNCH) as f:
            cls.launch = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def write(self, name, doc):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path


class Assemble(Base):
    def test_valid_and_figures_carried_over(self):
        self.assertEqual(schema.validate(self.report), [])
        r = self.report
        self.assertEqual(r["schema"], "vsst-run-report")
        self.assertEqual(r["version"], 1)
        self.assertEqual(r["exit"], self.launch["exit"])
        self.assertEqual(r["guest"], self.launch["guest"])
        self.assertEqual(list(r["stages"]), ["build_s", "setup_s", "boot_s", "run_s", "teardown_s"])
        self.assertAlmostEqual(r["wall_s"], 1.25 + sum(self.launch["stages"].values()))
        self.assertEqual(r["versions"]["qemu"], "7.2.15")
        self.assertTrue(r["versions"]["sst-sim"].startswith("0.1"))
        roles = [p["role"] for p in r["processes"]]
        self.assertEqual(roles, ["guest VM", "device VM 0", "simulator (sst-sim)"])  # the sim once
        self.assertEqual(r["processes"][2]["argv"], self.sim["simulator"]["argv"])
        for i, dev in enumerate(r["devices"]):
            src = next(d for d in self.sim["devices"] if d["device_id"] == i)
            s = dev["stats"]
            self.assertEqual(dev["index"], i)
            self.assertEqual(dev["sim_spec"], SPEC)
            self.assertEqual(s["connection"], src["connection"])
            self.assertEqual(s["requests"], src["requests"])
            for key in ("requests_total", "errors", "invalid", "sim_time_ps", "cycles", "busy_pct", "clock_hz"):
                self.assertEqual(s[key], src[key], key)
            self.assertEqual(s["samples"]["count"], len(src["samples"]))
            self.assertEqual(s["samples"]["rows"][5][5], src["samples"][5]["sim_end_ps"])
            self.assertEqual(s["wall_origin_unix_ns"], self.sim["start_unix_ns"])
        t = r["totals"]
        self.assertEqual(t["requests_total"], sum(d["requests_total"] for d in self.sim["devices"]))
        self.assertEqual(t["max_sim_time_ps"], max(d["sim_time_ps"] for d in self.sim["devices"]))

    def test_launch_record_written_by_vmm_proxy(self):
        # tests/data/launch-vmm-proxy.json: written by vmm-proxy --report itself
        # (a real run of `-- sst-bench ...`, one device)
        real = os.path.join(DATA, "launch-vmm-proxy.json")
        out = os.path.join(self.tmp.name, "real.json")
        run("assemble", "--launch", real, "--sim", f"0={SIM},sst-sim", "-o", out, check=0)
        run("validate", "-q", out, check=0)
        text = run("text", out, check=0).stdout
        self.assertIn("command `sst-bench --type compute --depth 8 --count 2000` exit 0", text)
        self.assertIn("device VM (pid", text)

    def test_device_without_statistics(self):
        out = os.path.join(self.tmp.name, "nostats.json")
        run("assemble", "--launch", LAUNCH, "--sim", f"0={SIM}", "--sim", "1=-,sst:configs/two.py", "-o", out,
            check=0)
        with open(out) as f:
            r = json.load(f)
        self.assertIsNone(r["devices"][1]["stats"])
        self.assertEqual(r["devices"][1]["sim_spec"], "sst:configs/two.py")
        self.assertEqual(r["totals"]["devices_with_stats"], 1)
        run("validate", "-q", out, check=0)

    def test_device_that_reconnected(self):
        # a file that serves device 1 alone (one sst-sim per device, as vsst run
        # does) with two connections: the device reconnected. Every HELLO says
        # device id 0 (the device VM does not set it): the ids do not matter here.
        sim = copy.deepcopy(self.sim)
        for d in sim["devices"]:
            d["device_id"] = 0
        out = os.path.join(self.tmp.name, "reconnect.json")
        run("assemble", "--launch", LAUNCH, "--devices", "2", "--sim", f"1={self.write('reconnect-sim.json', sim)}",
            "-o", out, check=0)
        with open(out) as f:
            self.assertIsNone(json.load(f)["devices"][0]["stats"])  # --devices 2: device 0 without --sim
        run("assemble", "--launch", LAUNCH, "--sim", f"0={self.write('reconnect-sim.json', sim)}", "-o", out,
            check=0)
        run("validate", "-q", out, check=0)
        with open(out) as f:
            s = json.load(f)["devices"][0]["stats"]
        a, b = sim["devices"]
        self.assertEqual(s["connections"], [0, 1])
        self.assertEqual(s["requests_total"], a["requests_total"] + b["requests_total"])
        self.assertEqual(s["sim_time_ps"], a["sim_time_ps"] + b["sim_time_ps"])
        self.assertEqual(s["samples"]["count"], len(a["samples"]) + len(b["samples"]))
        # the second connection's samples follow the first one's simulated time
        first_b = s["samples"]["rows"][len(a["samples"])]
        self.assertEqual(first_b[5], b["samples"][0]["sim_end_ps"] + a["sim_time_ps"])
        self.assertGreater(s["busy_pct"], min(a["busy_pct"], b["busy_pct"]))
        self.assertLess(s["busy_pct"], max(a["busy_pct"], b["busy_pct"]))

    def test_stage_not_reached(self):
        # vmm-proxy writes null for a stage the run never reached (no boot)
        launch = copy.deepcopy(self.launch)
        launch["stages"].update(boot_s=None, run_s=None)
        launch["guest"].update(booted=False, results=[], command=None)
        launch["exit"] = {"status": 125, "reason": "guest did not boot within 300 s"}
        out = os.path.join(self.tmp.name, "noboot.json")
        run("assemble", "--launch", self.write("noboot-launch.json", launch), "--sim", f"0={SIM}", "-o", out, check=0)
        run("validate", "-q", out, check=0)
        with open(out) as f:
            r = json.load(f)
        self.assertIsNone(r["stages"]["boot_s"])
        self.assertAlmostEqual(r["wall_s"], launch["stages"]["setup_s"] + launch["stages"]["teardown_s"])
        text = run("text", out, check=0).stdout
        self.assertIn("boot not reached", text)
        self.assertIn("exit: 125 (guest did not boot within 300 s)", text)
        self.assertIn("guest: did not boot", text)
        run("html", out, "-o", os.path.join(self.tmp.name, "noboot.html"), check=0)

    def test_input_errors_are_one_line_exit_1(self):
        cases = [
            (["--sim", "0=/nonexistent.json"], "No such file"),
            (["--sim", "zero=x.json"], "expected IDX=PATH"),
            (["--sim", f"1={SIM}"], "no entry for device 0"),
            (["--sim", f"2={SIM}", "--devices", "2"], "beyond --devices 2"),
            (["--sim", f"0={SIM}", "--sim", f"0={SIM}"], "given twice"),
            (["--sim", f"0={LAUNCH}"], "not a vsst-sim-stats document"),
            (["--sim", f"0={SIM}", "--stage", "build=3"], "end in _s"),
            (["--sim", f"0={SIM}", "--stage", "build_s=abc"], "not a number"),
            (["--sim", f"0={SIM}", "--sim-connection", "0=9"], "has no connection 9"),
        ]
        for extra, want in cases:
            with self.subTest(extra=extra):
                p = run("assemble", "--launch", LAUNCH, *extra, "-o", os.path.join(self.tmp.name, "x.json"))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(want, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # one file for two devices whose connections carry the same device id: ambiguous
        sim = copy.deepcopy(self.sim)
        for d in sim["devices"]:
            d["device_id"] = None
        ambig = self.write("ambig.json", sim)
        p = run("assemble", "--launch", LAUNCH, "--sim", f"0={ambig}", "--sim", f"1={ambig}")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--sim-connection 0=N", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # ... which --sim-connection resolves
        out = os.path.join(self.tmp.name, "chosen.json")
        run("assemble", "--launch", LAUNCH, "--sim", f"0={ambig}", "--sim", f"1={ambig}", "--sim-connection", "0=1",
            "--sim-connection", "1=0", "-o", out, check=0)
        with open(out) as f:
            r = json.load(f)
        self.assertEqual([d["stats"]["connection"] for d in r["devices"]], [1, 0])
        # a broken launch record
        launch = copy.deepcopy(self.launch)
        launch["exit"]["status"] = "zero"
        p = run("assemble", "--launch", self.write("badlaunch.json", launch), "--sim", f"0={SIM}")
        self.assertEqual(p.returncode, 1)
        self.assertIn("$.exit.status", p.stderr)
        launch["version"] = 2
        p = run("assemble", "--launch", self.write("v2launch.json", launch), "--sim", f"0={SIM}")
        self.assertIn("vsst-launch version 2", p.stderr)

    def test_usage_and_help(self):
        for args in ([], ["assemble"], ["frobnicate"], ["validate"]):
            with self.subTest(args=args):
                self.assertEqual(run(*args).returncode, 2)
        for args in (["--help"], ["assemble", "--help"], ["validate", "--help"], ["html", "--help"],
                     ["text", "--help"]):
            t0 = time.monotonic()
            p = run(*args, check=0)
            self.assertLess(time.monotonic() - t0, 5)
            self.assertIn("exit status", p.stdout)


def _dev(r, i=0):
    return r["devices"][i]["stats"]


# Each rule of the validator with a mutation that breaks it and the text the
# one-line error must contain. Every mutation must make validate fail.
MUTATIONS = {
    "schema name": (lambda r: r.update(schema="vsst-launch"), "$.schema"),
    "version": (lambda r: r.update(version=2), "$.version"),
    "required field": (lambda r: r.pop("totals"), "$.totals: required field missing"),
    "nested required field": (lambda r: _dev(r).pop("cycles"), "$.devices[0].stats.cycles: required"),
    "integer type": (lambda r: r["exit"].update(status="0"), "$.exit.status: expected an integer"),
    "boolean is not an integer": (lambda r: _dev(r).update(requests_total=True), "requests_total: expected an"),
    "non-negative": (lambda r: _dev(r).update(sim_time_ps=-1), "sim_time_ps: expected an integer >= 0"),
    "number type": (lambda r: r["stages"].update(boot_s="4.8"), "$.stages.boot_s: expected a number"),
    "array type": (lambda r: r.update(processes={}), "$.processes: expected an array"),
    "argv strings": (lambda r: r["processes"][0]["argv"].append(3), "argv[" ),
    "per-type sum": (lambda r: _dev(r)["requests"].update(NOOP=_dev(r)["requests"]["NOOP"] + 1),
                     "requests_total: 400 != sum of requests by type (401)"),
    "unknown request type": (lambda r: _dev(r)["requests"].update(FROB=0), "requests.FROB: unknown request type"),
    "errors = invalid + error frames": (lambda r: _dev(r).update(errors=_dev(r)["errors"] + 1),
                                        "errors: 5 != invalid + error_frames (4)"),
    "invalid within requests": (lambda r: _dev(r).update(invalid=401, errors=401), "invalid: 401 invalid requests"),
    "cycles from time and clock": (lambda r: _dev(r).update(cycles=_dev(r)["cycles"] + 1), ".cycles: 82501 != ceil"),
    "clock above 0": (lambda r: _dev(r).update(clock_hz=0), "clock_hz: must be > 0"),
    "busy at most 100": (lambda r: _dev(r).update(busy_pct=100.5), "busy_pct: 100.5 is above 100"),
    "close after open": (lambda r: _dev(r).update(wall_close_ns=_dev(r)["wall_open_ns"] - 1),
                         "wall_close_ns"),
    "connections start with connection": (lambda r: _dev(r).update(connections=[7]),
                                          "connections: must start with connection"),
    "sample count": (lambda r: _dev(r)["samples"].update(count=5), "samples.count: 5 != number of rows (400)"),
    "sample columns": (lambda r: _dev(r)["samples"]["columns"].reverse(), "samples.columns: expected"),
    "sample row shape": (lambda r: _dev(r)["samples"]["rows"][3].pop(), "samples.rows[3]: expected 6 columns"),
    "sample row types": (lambda r: _dev(r)["samples"]["rows"][3].__setitem__(1, "yes"),
                         "samples.rows[3]: expected [type name"),
    "sample wall order": (lambda r: _dev(r)["samples"]["rows"][7].__setitem__(3, _dev(r)["samples"]["rows"][7][2] - 1),
                          "samples.rows[7]: wall_done_ns"),
    "sample sim order": (lambda r: _dev(r)["samples"]["rows"][7].__setitem__(4, _dev(r)["samples"]["rows"][7][5] + 1),
                         "samples.rows[7]: sim_end_ps"),
    "sample within the run": (lambda r: _dev(r)["samples"]["rows"][9].__setitem__(5, _dev(r)["sim_time_ps"] + 1),
                              "is after the device's sim_time_ps"),
    "samples per type": (lambda r: [row.__setitem__(0, "ECHO") for row in _dev(r)["samples"]["rows"][:2]],
                         "2 samples of type ECHO but requests.ECHO is 0"),
    "more samples than requests": (lambda r: _dev(r)["samples"].update(
        rows=_dev(r)["samples"]["rows"] * 2, count=800), "800 samples for 400 requests"),
    "unique device index": (lambda r: r["devices"][1].update(index=0), "device index 0 appears twice"),
    "device indexes 0..n-1": (lambda r: r["devices"][1].update(index=5), "are not 0..1"),
    "totals.devices": (lambda r: r["totals"].update(devices=3), "$.totals.devices: 3 != 2"),
    "totals.devices_with_stats": (lambda r: r["devices"][1].update(stats=None), "$.totals.devices_with_stats"),
    "totals.requests_total": (lambda r: r["totals"].update(requests_total=1), "$.totals.requests_total: 1 != 800"),
    "totals.errors": (lambda r: r["totals"].update(errors=0), "$.totals.errors: 0 != 4"),
    "totals.max_sim_time_ps": (lambda r: r["totals"].update(max_sim_time_ps=1), "$.totals.max_sim_time_ps"),
    "totals.requests": (lambda r: r["totals"]["requests"].update(NOOP=1), "$.totals.requests"),
    "wall_s = sum of stages": (lambda r: r.update(wall_s=r["wall_s"] + 1), "$.wall_s"),
    "stage names in seconds": (lambda r: r["stages"].update(boot=0.0), "$.stages.boot: stage names end in _s"),
    "guest result status": (lambda r: r["guest"]["results"][0].update(status="OK"),
                            "$.guest.results[0].status: 'OK' is not one of"),
    "command exit": (lambda r: r["guest"]["command"].update(exit=1.5), "$.guest.command.exit"),
}


class Validate(Base):
    def test_each_rule_fails_on_broken_input(self):
        self.assertEqual(schema.validate(self.report), [])
        for name, (mutate, want) in MUTATIONS.items():
            with self.subTest(rule=name):
                broken = copy.deepcopy(self.report)
                mutate(broken)
                errors = schema.validate(broken)
                self.assertTrue(errors, f"rule '{name}': the broken report passed")
                self.assertTrue(any(want in e for e in errors), f"rule '{name}': want {want!r} in {errors}")
                for e in errors:
                    self.assertNotIn("\n", e)

    def test_cli_exit_status_and_one_line_errors(self):
        run("validate", self.report_path, check=0)
        broken = copy.deepcopy(self.report)
        _dev(broken)["requests"]["READ"] += 2
        broken["totals"]["errors"] = 99
        path = self.write("broken.json", broken)
        p = run("validate", path, check=1)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 3, p.stderr)  # requests_total, totals.requests, totals.errors
        self.assertTrue(all(line.startswith(path + ": $.") for line in lines), lines)
        for bad in ("{not json", '{"a": NaN}', '{"a": 1, "a": 2}'):
            with open(path, "w") as f:
                f.write(bad)
            p = run("validate", path, check=1)
            self.assertIn("not JSON", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        # html/text refuse an invalid report the same way
        self.assertEqual(run("html", path).returncode, 1)
        self.assertEqual(run("text", path).returncode, 1)


class Outputs(Base):
    def test_text_summary_from_the_same_figures(self):
        out = run("text", self.report_path, check=0).stdout
        r = self.report
        self.assertIn("exit: 0 (command exited 0)", out)
        self.assertIn("command `sst-offload --blocks 16` exit 0", out)
        self.assertIn("results 3 PASS, 0 FAIL, 1 SKIP", out)
        self.assertIn(f"{r['totals']['requests_total']} requests, {r['totals']['errors']} errors", out)
        for d in r["devices"]:
            s = d["stats"]
            self.assertIn(f"device {d['index']} ({SPEC}): {s['requests_total']} requests", out)
            self.assertIn(f"({s['cycles']} cycles at 1 GHz), units busy {s['busy_pct']:.1f}%", out)
        for p in r["processes"]:
            self.assertIn(p["role"], out)

    def test_html_is_self_contained_with_the_plots(self):
        out = os.path.join(self.tmp.name, "r.html")
        run("html", self.report_path, "-o", out, check=0)
        with open(out) as f:
            page = f.read()
        for plot in ("plot-latency-sim", "plot-latency-wall", "plot-inflight", "plot-completions", "plot-simwall"):
            self.assertIn(f'id="{plot}"', page)
        self.assertGreaterEqual(page.count('<polyline class="series"'), 4 + 4 + 2 + 2 + 2)
        # no external resource: nothing loaded by src/href/url() or @import
        for bad in ("src=", "href=", "url(", "@import", "<link"):
            self.assertNotIn(bad, page)
        for p in self.report["processes"]:
            self.assertIn(p["argv"][-1].replace('"', "&quot;"), page)
        self.assertIn("sst-offload.device0", page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
