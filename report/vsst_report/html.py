# SPDX-License-Identifier: Apache-2.0
"""html: one self-contained page (inline CSS and SVG, a few lines of inline
script, no external resource) drawn from a run report."""

import html
import math

from . import text
from .schema import REQUEST_TYPES

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]
W, H = 760, 330
ML, MR, MT, MB = 70, 170, 34, 46  # margins: the legend sits on the right
MAX_POINTS = 600


def esc(s):
    return html.escape(str(s), quote=True)


def nice_step(span, n):
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def ticks(lo, hi, log):
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        step = max(1, (b - a) // 6)
        return [10.0 ** e for e in range(a, b + 1, step) if lo <= 10.0 ** e <= hi * 1.0001]
    step = nice_step(hi - lo, 5)
    first = math.ceil(lo / step) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def tick_label(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    if a >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:.3g}"


class Plot:
    """A line/step plot with axes, grid and a legend, as an SVG string."""

    def __init__(self, plot_id, title, xlabel, ylabel, xlog=False, ylog=False, y0=None):
        self.id, self.title, self.xlabel, self.ylabel = plot_id, title, xlabel, ylabel
        self.xlog, self.ylog, self.y0 = xlog, ylog, y0
        self.series = []

    def add(self, name, points, step=False):
        pts = [(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)]
        if self.xlog:
            pts = [(x, y) for x, y in pts if x > 0]
        if self.ylog:
            pts = [(x, y) for x, y in pts if y > 0]
        if pts:
            self.series.append((name, pts, step))

    def _range(self, values, log, zero):
        lo, hi = min(values), max(values)
        if zero is not None and not log:
            lo = min(lo, zero)
        if log:
            lo, hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
            if lo == hi:
                hi = lo * 10
            return lo, hi
        if lo == hi:
            lo, hi = (lo - 1, hi + 1) if lo != 0 else (0, 1)
        step = nice_step(hi - lo, 5)
        return math.floor(lo / step) * step, math.ceil(hi / step) * step

    def svg(self, note=""):
        pw, ph = W - ML - MR, H - MT - MB
        out = [f'<svg class="plot" id="{esc(self.id)}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
               f'viewBox="0 0 {W} {H}" role="img" data-series="{len(self.series)}">',
               f"<title>{esc(self.title)}</title>",
               f'<text x="{ML}" y="20" class="ptitle">{esc(self.title)}</text>']
        if not self.series:
            out.append(f'<text x="{ML + pw / 2}" y="{MT + ph / 2}" text-anchor="middle" class="empty">'
                       f'no samples to plot</text></svg>')
            return "".join(out)
        xs = [x for _, pts, _ in self.series for x, _ in pts]
        ys = [y for _, pts, _ in self.series for _, y in pts]
        xlo, xhi = self._range(xs, self.xlog, None)
        ylo, yhi = self._range(ys, self.ylog, self.y0)

        def sx(x):
            f = (math.log10(x) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) if self.xlog else \
                (x - xlo) / (xhi - xlo)
            return ML + f * pw

        def sy(y):
            f = (math.log10(y) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)) if self.ylog else \
                (y - ylo) / (yhi - ylo)
            return MT + ph - f * ph

        out.append(f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" class="frame"/>')
        for v in ticks(xlo, xhi, self.xlog):
            x = sx(v)
            out.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{MT + ph}" class="grid"/>'
                       f'<text x="{x:.1f}" y="{MT + ph + 16}" text-anchor="middle" class="tick">{tick_label(v)}</text>')
        for v in ticks(ylo, yhi, self.ylog):
            y = sy(v)
            out.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML + pw}" y2="{y:.1f}" class="grid"/>'
                       f'<text x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick_label(v)}</text>')
        out.append(f'<text x="{ML + pw / 2}" y="{H - 8}" text-anchor="middle" class="axis">{esc(self.xlabel)}</text>')
        out.append(f'<text transform="translate(16,{MT + ph / 2}) rotate(-90)" text-anchor="middle" '
                   f'class="axis">{esc(self.ylabel)}</text>')
        out.append('<g class="data">')
        for i, (name, pts, step) in enumerate(self.series):
            color = PALETTE[i % len(PALETTE)]
            coords = []
            prev_y = None
            for x, y in pts:
                if step and prev_y is not None:
                    coords.append(f"{sx(x):.1f},{sy(prev_y):.1f}")
                coords.append(f"{sx(x):.1f},{sy(y):.1f}")
                prev_y = y
            if len(coords) == 1:  # a single point: a short mark so it shows
                x, y = coords[0].split(",")
                coords = [f"{float(x) - 3:.1f},{y}", f"{float(x) + 3:.1f},{y}"]
            out.append(f'<polyline class="series" data-name="{esc(name)}" data-points="{len(pts)}" fill="none" '
                       f'stroke="{color}" stroke-width="1.6" points="{" ".join(coords)}"/>')
        out.append("</g>")
        for i, (name, pts, _) in enumerate(self.series):
            y = MT + 8 + i * 18
            color = PALETTE[i % len(PALETTE)]
            out.append(f'<line x1="{W - MR + 12}" y1="{y}" x2="{W - MR + 32}" y2="{y}" stroke="{color}" '
                       f'stroke-width="3"/><text x="{W - MR + 38}" y="{y + 4}" class="legend">{esc(name)}</text>')
        if note:
            out.append(f'<text x="{W - MR + 12}" y="{H - 10}" class="note">{esc(note)}</text>')
        out.append("</svg>")
        return "".join(out)


def thin(points, n=MAX_POINTS):
    """At most n points, evenly spaced in index, the last one kept."""
    if len(points) <= n:
        return points
    stride = len(points) / n
    out = [points[int(i * stride)] for i in range(n)]
    out.append(points[-1])
    return out


def cdf_points(values):
    values = sorted(values)
    n = len(values)
    pts = [(v, (i + 1) / n) for i, v in enumerate(values)]
    # keep the last point of each run of equal values (the CDF's true height)
    pts = [p for i, p in enumerate(pts) if i + 1 == n or values[i + 1] != p[0]]
    # drawn as steps from 0 at the smallest value: a CDF jumps, it does not slope
    return [(values[0], 0.0)] + thin(pts)


def samples_of(report):
    """(device, origin_ns, rows) for every device with samples."""
    out = []
    for d in report["devices"]:
        s = d["stats"]
        if s and s["samples"]["rows"]:
            out.append((d, s["wall_origin_unix_ns"], s["samples"]["rows"]))
    return out


def latency_plot(report, plot_id, wall):
    per_type = {}
    for _, _, rows in samples_of(report):
        for t, ok, sub, done, start, end in rows:
            if ok:
                per_type.setdefault(t, []).append((done - sub) / 1e3 if wall else (end - start) / 1e3)
    zeros = sum(1 for v in per_type.values() for x in v if x <= 0)
    pos = [x for v in per_type.values() for x in v if x > 0]
    log = bool(pos) and max(pos) / min(pos) > 10
    title = ("Wall-clock latency per request type (CDF, request read -> response queued, at sst-sim)" if wall else
             "Simulated latency per request type (CDF)")
    p = Plot(plot_id, title, "latency, us (wall clock)" if wall else "latency, ns (simulated)",
             "fraction of requests", xlog=log, y0=0)
    floor = min(pos) if pos else 1.0
    for t in REQUEST_TYPES:
        if t in per_type:
            vals = [max(x, floor) if log else x for x in per_type[t]]
            p.add(f"{t} ({len(vals)})", cdf_points(vals), step=True)
    note = f"{zeros} zero: at left edge" if log and zeros else ""
    return p.svg(note)


def time_bins(report):
    """(base, (lo, hi), groups, note): wall-clock ns from the earliest
    simulator start. The window is the run's whole span, or, when a few
    requests lie far away from the rest (a probe at device start, seconds
    before the guest's work), the span of the central 99% of requests."""
    groups = samples_of(report)
    if not groups:
        return None, None, [], ""
    base = min(origin for _, origin, _ in groups)
    subs = sorted(origin - base + r[2] for _, origin, rows in groups for r in rows)
    dones = sorted(origin - base + r[3] for _, origin, rows in groups for r in rows)
    lo, hi = subs[0], dones[-1]
    n = len(subs)
    qlo, qhi = subs[int(0.005 * n)], dones[min(n - 1, int(0.995 * n))]
    note = ""
    if qhi > qlo and hi - lo > 2 * (qhi - qlo):
        outside = sum(1 for _, origin, rows in groups for r in rows
                      if origin - base + r[3] < qlo or origin - base + r[2] > qhi)
        lo, hi = qlo, qhi
        note = f"{outside} requests outside" if outside else ""
    return base, (lo, max(hi, lo + 1)), groups, note


def inflight_plots(report):
    base, span, groups, note = time_bins(report)
    inflight = Plot("plot-inflight", "Requests in flight per device (at sst-sim, max per interval)",
                    "wall-clock time, s", "requests in flight", y0=0)
    done_p = Plot("plot-completions", "Completions per second per device", "wall-clock time, s",
                  "completions / s", y0=0)
    if not groups:
        return inflight.svg(), done_p.svg()
    lo, hi = span
    nbins = 300
    width = (hi - lo) / nbins
    for d, origin, rows in groups:
        off = origin - base
        events = sorted([(r[2] + off, 1) for r in rows] + [(r[3] + off, -1) for r in rows],
                        key=lambda e: (e[0], e[1]))
        level = 0
        i = 0
        while i < len(events) and events[i][0] < lo:  # before the window: only the level
            level += events[i][1]
            i += 1
        carried = []
        completions = [0] * nbins
        for b in range(nbins):
            edge = lo + (b + 1) * width if b + 1 < nbins else hi + 1
            top = level  # the level carried into the bin
            while i < len(events) and events[i][0] < edge:
                level += events[i][1]
                if events[i][1] < 0:
                    completions[b] += 1
                top = max(top, level)
                i += 1
            carried.append(top)
        label = f"device {d['index']}"
        xs = [(lo + (b + 0.5) * width) / 1e9 for b in range(nbins)]
        inflight.add(label, list(zip(xs, carried)), step=True)
        done_p.add(label, [(x, c / (width / 1e9)) for x, c in zip(xs, completions)])
    return inflight.svg(note), done_p.svg(note)


def simwall_plot(report):
    base, span, groups, note = time_bins(report)
    p = Plot("plot-simwall", "Simulated time vs wall-clock time per device", "wall-clock time, s",
             "simulated time, us", y0=0)
    for d, origin, rows in groups:
        off = origin - base
        pts = sorted((r[3] + off, r[5] / 1e6) for r in rows)
        best = []
        top = -1.0
        for x, y in pts:  # the device's time so far: never goes back
            top = max(top, y)
            if span[0] <= x <= span[1]:
                best.append((x / 1e9, top))
        p.add(f"device {d['index']}", thin(best), step=True)
    return p.svg(note)


CSS = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px;word-break:break-all}
.PASS{color:#176317;font-weight:bold}.FAIL{color:#b00;font-weight:bold}.SKIP{color:#8a6d00}
svg.plot{display:block;margin:12px 0;background:#fff}
svg .frame{fill:none;stroke:#888}svg .grid{stroke:#e6e6e6}
svg .tick{font-size:11px;fill:#444}svg .axis{font-size:12px;fill:#222}
svg .ptitle{font-size:14px;font-weight:bold;fill:#222}svg .legend{font-size:12px;fill:#222}
svg .note,svg .empty{font-size:11px;fill:#777}
pre{background:#f7f7f7;padding:8px;font-size:12px;white-space:pre-wrap}
"""

# After layout, each plot records the size of what it drew: a renderer's
# dumped DOM then shows the plots were really laid out, not just present.
SCRIPT = """
for (const svg of document.querySelectorAll('svg.plot')) {
  const g = svg.querySelector('g.data');
  const b = g ? g.getBBox() : {width: 0, height: 0};
  svg.setAttribute('data-rendered', Math.round(b.width) + 'x' + Math.round(b.height));
}
document.body.setAttribute('data-plots-checked', String(document.querySelectorAll('svg.plot').length));
"""


def table(headers, rows, numeric=()):
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>"]
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            if isinstance(c, tuple):  # (html, class) pre-rendered
                cells.append(f'<td class="{c[1]}">{c[0]}</td>')
            else:
                cls = ' class="num"' if i in numeric else ""
                cells.append(f"<td{cls}>{esc(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render(report):
    r = report
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>vsst run report: exit {esc(r['exit']['status'])}</title>", f"<style>{CSS}</style></head><body>",
             "<h1>vsst run report</h1>"]
    g = r["guest"]
    summary_rows = [("exit", f"{r['exit']['status']} ({r['exit']['reason']})"),
                    ("wall time", text.fmt_s(r["wall_s"])),
                    ("guest", "booted" if g["booted"] else "did not boot")]
    if g["command"] is not None:
        summary_rows.append(("guest command", f"{text.command_line(g['command']['argv'])} -> exit "
                             f"{g['command']['exit']}"))
    c = text.result_counts(g["results"])
    summary_rows.append(("guest results", f"{c['PASS']} PASS, {c['FAIL']} FAIL, {c['SKIP']} SKIP"))
    t = r["totals"]
    summary_rows.append(("devices", f"{t['devices']} ({t['devices_with_stats']} with statistics), "
                         f"{t['requests_total']} requests, {t['errors']} errors"))
    summary_rows.append(("longest simulated time", text.fmt_ps(t["max_sim_time_ps"])))
    summary_rows.append(("versions", ", ".join(f"{k} {v}" for k, v in r["versions"].items())))
    parts.append('<h2>Summary</h2><table id="summary">' + "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary_rows) + "</table>")
    parts.append("<h2>Stages</h2>" + table(["stage", "seconds"], [(k, "not reached" if v is None else f"{v:.3f}")
                                                               for k, v in r["stages"].items()]
                                            + [("total", f"{r['wall_s']:.3f}")], numeric=(1,)))
    dev_rows = []
    for d in r["devices"]:
        s = d["stats"]
        if s is None:
            dev_rows.append((d["index"], d["sim_spec"] or "", "no statistics", "", "", "", "", "", ""))
            continue
        dev_rows.append((d["index"], d["sim_spec"] or "", text.by_type(s["requests"]), s["requests_total"],
                         s["errors"], text.fmt_ps(s["sim_time_ps"]), f"{s['cycles']} @ {text.fmt_hz(s['clock_hz'])}",
                         f"{s['busy_pct']:.1f}", f"{s['samples']['count']} / {s['samples']['dropped']}"))
    parts.append("<h2>Devices</h2>" + table(
        ["device", "simulator", "requests by type", "requests", "errors", "simulated time", "cycles", "busy %",
         "samples kept / dropped"], dev_rows, numeric=(3, 4, 7)))
    parts.append("<h2>Plots</h2>")
    parts.append(latency_plot(r, "plot-latency-sim", wall=False))
    parts.append(latency_plot(r, "plot-latency-wall", wall=True))
    a, b = inflight_plots(r)
    parts.append(a)
    parts.append(b)
    parts.append(simwall_plot(r))
    parts.append("<p>Plots use the per-request samples sst-sim kept (the first samples of each device, see "
                 "<i>samples kept / dropped</i>); wall-clock times are measured inside sst-sim.</p>")
    res_rows = []
    for res in g["results"]:
        fields = ", ".join(f"{k}={v}" for k, v in res["fields"].items())
        res_rows.append((res["name"], (esc(res["status"]), res["status"] if res["status"] in c else ""), fields))
    parts.append("<h2>Guest results</h2>" + (table(["test", "status", "fields"], res_rows) if res_rows
                                             else "<p>none</p>"))
    proc_rows = [(p["role"], "" if p["pid"] is None else p["pid"], p["user"] or "",
                  (f"<code>{esc(text.command_line(p['argv']))}</code>", "")) for p in r["processes"]]
    parts.append("<h2>Processes</h2>" + table(["role", "pid", "user", "command line"], proc_rows, numeric=(1,)))
    parts.append(f"<h2>Text summary</h2><pre>{esc(text.summary(r))}</pre>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
