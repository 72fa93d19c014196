#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""report.html_chromium: the HTML report rendered by headless Chromium.

Assembles the sample report (or takes REPORT.json), writes the page, has
Chromium load it and dump the DOM after its inline script ran, and checks
that every plot is there, drew at least one series with points, and was laid
out with a non-empty size (the script writes each plot's drawn bounding box
into data-rendered); then that the same checks reject the report stripped of
its samples. Exit 0 pass, 1 fail, 77 SKIP when Chromium is not
installed or cannot start here (a failure instead under VSST_REQUIRE_ALL=1).

usage: html_chromium.py [REPORT.json]"""

import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(os.path.dirname(HERE), "vsst-report")
PLOTS = ("plot-latency-sim", "plot-latency-wall", "plot-inflight", "plot-completions", "plot-simwall")
TIMEOUT = 90


def skip(why):
    if os.environ.get("VSST_REQUIRE_ALL") == "1":
        print(f"FAIL: {why} (VSST_REQUIRE_ALL=1: Chromium is a declared dependency, report/deps.apt)")
        sys.exit(1)
    print(f"SKIP: {why}")
    sys.exit(77)


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_dom(browser, page, profile):
    """The DOM after load, or (None, why)."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", "--dump-dom",
           "file://" + page]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"chromium did not finish within {TIMEOUT} s"
    if p.returncode != 0 or "<body" not in p.stdout:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return None, f"chromium exit {p.returncode}: {tail}"
    return p.stdout, None


class Plots(html.parser.HTMLParser):
    """Collects svg.plot elements: their attributes and their polylines."""

    def __init__(self):
        super().__init__()
        self.plots = {}
        self.current = None
        self.body = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "svg" and "plot" in (a.get("class") or "").split():
            self.current = a.get("id")
            self.plots[self.current] = {"attrs": a, "series": []}
        elif tag == "polyline" and self.current and "series" in (a.get("class") or ""):
            self.plots[self.current]["series"].append(a)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None


def main():
    browser = chromium()
    if not browser:
        skip("chromium is not installed (Debian package chromium, listed in report/deps.apt: ./vsst deps)")
    with tempfile.TemporaryDirectory(prefix="vsst-report-chromium.") as tmp:
        profile = os.path.join(tmp, "profile")
        # Can Chromium run here at all? A trivial page first, so an environment
        # that cannot start a browser is a SKIP, not a failure of the report.
        smoke = os.path.join(tmp, "smoke.html")
        with open(smoke, "w") as f:
            f.write("<!DOCTYPE html><html><body><p id=ok>ok</p></body></html>")
        dom, why = dump_dom(browser, smoke, profile)
        if dom is None or 'id="ok"' not in dom:
            skip(f"chromium cannot render here: {why or 'empty DOM'}")

        if len(sys.argv) > 1:
            report = sys.argv[1]
        else:
            report = os.path.join(tmp, "report.json")
            data = os.path.join(HERE, "data")
            spec = "sst-sim:--compute-units=8"
            subprocess.run([sys.executable, TOOL, "assemble", "--launch", os.path.join(data, "launch.json"),
                            "--sim", f"0={data}/sim-stats.json,{spec}", "--sim", f"1={data}/sim-stats.json,{spec}",
                            "-o", report], check=True)
        problems = check_report(browser, report, tmp, profile, "report")
        if problems:
            fail("; ".join(problems))
        # The same checks must reject a page whose plots have nothing to draw
        # (the report without its samples): proof that they can fail.
        with open(report) as f:
            doc = json.load(f)
        for d in doc["devices"]:
            if d["stats"]:
                d["stats"]["samples"].update(rows=[], count=0)
        empty = os.path.join(tmp, "empty.json")
        with open(empty, "w") as f:
            json.dump(doc, f)
        if not check_report(browser, empty, tmp, profile, "empty", quiet=True):
            fail("a report without samples passed the plot checks")
    print(f"PASS: {len(PLOTS)} plots rendered by {browser}; a report without samples is rejected")


def check_report(browser, report, tmp, profile, name, quiet=False):
    """Renders report through vsst-report html and Chromium; returns the problems found."""
    page = os.path.join(tmp, name + ".html")
    subprocess.run([sys.executable, TOOL, "html", report, "-o", page], check=True)
    dom, why = dump_dom(browser, page, profile)
    if dom is None:
        fail(f"chromium could not render the report: {why}")
    p = Plots()
    p.feed(dom)
    problems = []
    if p.body.get("data-plots-checked") != str(len(PLOTS)):
        problems.append(f"the page's script did not run or saw {p.body.get('data-plots-checked')} plots, "
                        f"want {len(PLOTS)}")
    for plot in PLOTS:
        info = p.plots.get(plot)
        if info is None:
            problems.append(f"{plot}: missing from the rendered DOM")
            continue
        rendered = info["attrs"].get("data-rendered", "")
        w, _, h = rendered.partition("x")
        if not (w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
            problems.append(f"{plot}: drawn area {rendered or 'not measured'} is empty")
        if not info["series"]:
            problems.append(f"{plot}: no data series")
        for s in info["series"]:
            if len(s.get("points", "").split()) < 2:
                problems.append(f"{plot}: series {s.get('data-name')} has fewer than 2 points")
        if not quiet:
            print(f"{plot}: {len(info['series'])} series, drawn {rendered}, "
                  f"{sum(len(s.get('points', '').split()) for s in info['series'])} points")
    if quiet:
        print(f"{name}: {len(problems)} problems found, as expected: {'; '.join(problems)[:300]}")
    return problems


if __name__ == "__main__":
    main()
