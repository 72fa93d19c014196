# SPDX-License-Identifier: Apache-2.0
"""The readable summary of a run report (the same figures the HTML shows)."""

import shlex

from .schema import REQUEST_TYPES


def fmt_ps(ps):
    for div, unit in ((10**12, "s"), (10**9, "ms"), (10**6, "us"), (10**3, "ns")):
        if ps >= div:
            return f"{ps / div:.3f} {unit}"
    return f"{ps} ps"


def fmt_hz(hz):
    for div, unit in ((10**9, "GHz"), (10**6, "MHz"), (10**3, "kHz")):
        if hz >= div:
            return f"{hz / div:g} {unit}"
    return f"{hz} Hz"


def fmt_s(s):
    if s is None:
        return "not reached"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def by_type(requests):
    parts = [f"{t} {requests[t]}" for t in REQUEST_TYPES if requests.get(t)]
    return ", ".join(parts) if parts else "none"


def command_line(argv):
    return " ".join(shlex.quote(a) for a in argv)


def result_counts(results):
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def device_line(d):
    head = f"device {d['index']}" + (f" ({d['sim_spec']})" if d["sim_spec"] else "")
    s = d["stats"]
    if s is None:
        return f"{head}: no simulator statistics"
    return (f"{head}: {s['requests_total']} requests ({by_type(s['requests'])}), {s['errors']} errors, "
            f"simulated {fmt_ps(s['sim_time_ps'])} ({s['cycles']} cycles at {fmt_hz(s['clock_hz'])}), "
            f"units busy {s['busy_pct']:.1f}%")


def summary(r):
    out = []
    out.append(f"vsst run report ({r['schema']} v{r['version']})")
    out.append(f"exit: {r['exit']['status']} ({r['exit']['reason']})")
    stages = ", ".join(f"{k[:-2] if k.endswith('_s') else k} {fmt_s(v)}" for k, v in r["stages"].items())
    out.append(f"stages: {stages or 'none'} (total {fmt_s(r['wall_s'])})")
    g = r["guest"]
    parts = ["booted" if g["booted"] else "did not boot"]
    if g["command"] is not None:
        ex = g["command"]["exit"]
        parts.append(f"command `{command_line(g['command']['argv'])}` exit "
                     f"{ex if ex is not None else 'unknown'}")
    if g["results"]:
        c = result_counts(g["results"])
        parts.append(f"results {c['PASS']} PASS, {c['FAIL']} FAIL, {c['SKIP']} SKIP")
    out.append("guest: " + "; ".join(parts))
    for r_ in g["results"]:
        if r_["status"] == "FAIL":
            out.append(f"  FAIL {r_['name']}")
    t = r["totals"]
    out.append(f"devices: {t['devices']} ({t['devices_with_stats']} with statistics), "
               f"{t['requests_total']} requests, {t['errors']} errors, longest simulated time "
               f"{fmt_ps(t['max_sim_time_ps'])}")
    for d in r["devices"]:
        out.append("  " + device_line(d))
    out.append("processes:")
    for p in r["processes"]:
        who = f"pid {p['pid']}" if p["pid"] is not None else "pid ?"
        if p["user"]:
            who += f", user {p['user']}"
        out.append(f"  {p['role']} ({who}): {command_line(p['argv'])}")
    if r["versions"]:
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()))
    return "\n".join(out) + "\n"
