# SPDX-License-Identifier: Apache-2.0
"""assemble: the vmm-proxy launch record ("vsst-launch" v1) + sst-sim's
statistics files ("vsst-sim-stats" v1) + stage timings -> the run report."""

import json
import time

from . import schema
from .schema import ARGV, check_types

TOOL_VERSION = "1"


class InputError(Exception):
    """A bad input file or argument: the message is the one-line reason."""


LAUNCH = {
    "schema": "str",
    "version": "int",
    "argv": ARGV,
    # pid: a writer without one may put 0 or -1; the report says null
    "processes": ("list", {"role": "str", "pid": ("null", "sint"), "user": ("null", "str"), "argv": ARGV}),
    "stages": ("map", ("null", "num")),  # vmm-proxy writes null for a stage not reached
    "guest": schema.GUEST,
    "exit": {"status": "sint", "reason": "str"},
}

SIM_SAMPLE = {"type": "str", "wall_submit_ns": "int", "wall_done_ns": "int", "sim_start_ps": "int",
              "sim_end_ps": "int"}
SIM_DEVICE = {
    "connection": "int",
    "protocol": "str",
    "clock_hz": "int",
    "requests": ("map", "int"),
    "errors": "int",
    "sim_time_ps": "int",
    "cycles": "int",
    "busy_pct": "num",
    "samples": ("list", SIM_SAMPLE),
    "samples_dropped": "int",
}
SIM_STATS = {
    "schema": "str",
    "version": "int",
    "simulator": {"name": "str", "version": "str", "argv": ARGV},
    "wall_s": "num",
    "devices": ("list", SIM_DEVICE),
}


class _NotJson(ValueError):
    pass


def _reject_constant(name):
    raise _NotJson(f"{name} is not JSON")


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _NotJson(f"duplicate key {k!r}")
        out[k] = v
    return out


def load_json(path, what):
    """Strict JSON: Python's NaN/Infinity extension and duplicate keys are refused."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except OSError as e:
        raise InputError(f"{what} {path}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise InputError(f"{what} {path}: not JSON: {e}") from None


def check_input(doc, spec, name, version, path, what):
    if not isinstance(doc, dict) or doc.get("schema") != name:
        raise InputError(f"{what} {path}: not a {name} document (schema field)")
    if doc.get("version") != version:
        raise InputError(f"{what} {path}: {name} version {doc.get('version')!r}, this tool reads {version}")
    errors = []
    if not check_types(doc, spec, "$", errors):
        raise InputError(f"{what} {path}: {errors[0]}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


def parse_sim_arg(text):
    """IDX=PATH[,SPEC]: PATH may be '-' (no statistics, e.g. SST-core); SPEC
    is the rest after the first comma (it may hold commas itself)."""
    idx, sep, rest = text.partition("=")
    if not sep or not idx.isdigit() or not rest:
        raise InputError(f"--sim {text!r}: expected IDX=PATH[,SPEC] (e.g. 0=sim0.json,sst-sim)")
    path, _, spec = rest.partition(",")
    if not path:
        raise InputError(f"--sim {text!r}: empty PATH (use - for a device without statistics)")
    return int(idx), (None if path == "-" else path), (spec or None)


def parse_kv(text, option, number):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InputError(f"{option} {text!r}: expected KEY=VALUE")
    if not number:
        return key, value
    try:
        v = float(value)
    except ValueError:
        raise InputError(f"{option} {text!r}: {value!r} is not a number of seconds") from None
    if not (v >= 0 and v != float("inf")):
        raise InputError(f"{option} {text!r}: seconds must be >= 0")
    if not key.endswith("_s"):
        raise InputError(f"{option} {text!r}: stage names end in _s (seconds), e.g. build_s")
    return key, v


def pick_connections(doc, index, path, conn, shared):
    """The connections of device `index` in a statistics file: connection
    `conn` if given. Otherwise, a file that serves only this device (`shared`
    False): all its connections (a device that reconnected has several). A
    file shared by several devices: the connections whose framed HELLO
    device_id is `index`, which needs distinct device ids."""
    devs = doc["devices"]
    if conn is not None:
        for d in devs:
            if d["connection"] == conn:
                return [d]
        raise InputError(f"--sim {index}: {path} has no connection {conn}")
    if not devs:
        raise InputError(f"--sim {index}: {path} served no connection (did the device VM reach the simulator?)")
    if not shared:
        return sorted(devs, key=lambda d: d["connection"])
    ids = {d.get("device_id") for d in devs}
    matching = [d for d in devs if d.get("device_id") == index]
    if len(ids) > 1 and matching:
        return sorted(matching, key=lambda d: d["connection"])
    raise InputError(f"--sim {index}: {path} serves several devices but its connections' device ids "
                     f"({', '.join(str(i) for i in sorted(ids, key=str))}) do not name device {index}; "
                     f"choose with --sim-connection {index}=N")


def one_connection(d, doc):
    rows = [[s["type"], bool(s.get("ok", True)), s["wall_submit_ns"], s["wall_done_ns"], s["sim_start_ps"],
             s["sim_end_ps"]] for s in d["samples"]]
    requests = dict(d["requests"])
    total = d.get("requests_total", sum(requests.values()))
    invalid = d.get("invalid", d["errors"])
    return {
        "connection": d["connection"],
        "connections": [d["connection"]],
        "device_id": d.get("device_id"),
        "protocol": d["protocol"],
        "clock_hz": d["clock_hz"],
        "compute_units": d.get("compute_units", 0),
        "requests": requests,
        "requests_total": total,
        "errors": d["errors"],
        "invalid": invalid,
        "error_frames": d.get("error_frames", d["errors"] - invalid),
        "responses": d.get("responses", total),
        "bytes_read": d.get("bytes_read", 0),
        "bytes_written": d.get("bytes_written", 0),
        "sim_time_ps": d["sim_time_ps"],
        "cycles": d["cycles"],
        "busy_pct": d["busy_pct"],
        "wall_origin_unix_ns": doc.get("start_unix_ns", 0),
        "wall_open_ns": d.get("wall_open_ns", 0),
        "wall_close_ns": d.get("wall_close_ns", 0),
        "close_reason": d.get("close_reason", ""),
        "model": d.get("model", {}),
        "samples": {"count": len(rows), "dropped": d["samples_dropped"], "columns": list(schema.SAMPLE_COLUMNS),
                    "rows": rows},
    }


def device_stats(conns, doc):
    """One connection as it is; several (a device that reconnected, each time
    with a fresh model) one after the other: counts add up, simulated time is
    the sum (each connection's samples shifted by the time before it), busy %
    weighted by units x time, wall span from the first open to the last close."""
    parts = [one_connection(d, doc) for d in conns]
    if len(parts) == 1:
        return parts[0]
    out = dict(parts[-1])  # protocol, clock, units, model, close reason: the latest
    out["connection"] = parts[0]["connection"]
    out["connections"] = [p["connection"] for p in parts]
    requests = {}
    for p in parts:
        for t, n in p["requests"].items():
            requests[t] = requests.get(t, 0) + n
    out["requests"] = requests
    for key in ("requests_total", "errors", "invalid", "error_frames", "responses", "bytes_read", "bytes_written"):
        out[key] = sum(p[key] for p in parts)
    rows = []
    offset = 0
    capacity = busy = 0.0
    for p in parts:
        for t, ok, sub, done, start, end in p["samples"]["rows"]:
            rows.append([t, ok, sub, done, start + offset, end + offset])
        offset += p["sim_time_ps"]
        capacity += p["compute_units"] * p["sim_time_ps"]
        busy += p["busy_pct"] * p["compute_units"] * p["sim_time_ps"]
    out["sim_time_ps"] = offset
    out["cycles"] = schema.cycles_of(offset, out["clock_hz"])
    out["busy_pct"] = min(100.0, busy / capacity) if capacity else 0.0
    out["wall_open_ns"] = parts[0]["wall_open_ns"]
    out["wall_close_ns"] = max(p["wall_close_ns"] for p in parts)
    out["samples"] = {"count": len(rows), "dropped": sum(p["samples"]["dropped"] for p in parts),
                      "columns": list(schema.SAMPLE_COLUMNS), "rows": rows}
    return out


def assemble(launch_path, sims, stages, versions, connections, devices_count=None):
    """sims: [(index, path or None, spec or None)]; stages/versions: [(k, v)]."""
    launch = load_json(launch_path, "launch record")
    check_input(launch, LAUNCH, "vsst-launch", 1, launch_path, "launch record")
    seen = {}
    for index, path, spec in sims:
        if index in seen:
            raise InputError(f"--sim {index}: given twice")
        seen[index] = (path, spec)
    n = max([i + 1 for i in seen] + [devices_count or 0])
    if devices_count is not None and n > devices_count:
        raise InputError(f"--sim {n - 1}: beyond --devices {devices_count}")
    for i in range(n):
        if i not in seen:
            if devices_count is None:
                raise InputError(f"--sim: no entry for device {i} (give {i}=- for a device without statistics, "
                                 f"or --devices N)")
            seen[i] = (None, None)  # --devices N: a device without --sim has no statistics
    docs = {}
    devices = []
    processes = [dict(p, pid=p["pid"] if p["pid"] is not None and p["pid"] > 0 else None)
                 for p in launch["processes"]]
    vers = {"vsst-report": TOOL_VERSION}
    for index in range(n):
        path, spec = seen[index]
        entry = {"index": index, "sim_spec": spec, "stats_file": path, "simulator": None, "stats": None}
        if path is not None:
            if path not in docs:
                doc = load_json(path, "simulator statistics")
                check_input(doc, SIM_STATS, "vsst-sim-stats", 1, path, "simulator statistics")
                docs[path] = doc
                sim = doc["simulator"]
                processes.append({"role": f"simulator ({sim['name']})", "pid": None, "user": None,
                                  "argv": list(sim["argv"])})
                vers[sim["name"]] = sim["version"]
            doc = docs[path]
            shared = sum(1 for p, _ in seen.values() if p == path) > 1
            conns = pick_connections(doc, index, path, connections.get(index), shared)
            sim = doc["simulator"]
            entry["simulator"] = {"name": sim["name"], "version": sim["version"], "argv": list(sim["argv"])}
            entry["stats"] = device_stats(conns, doc)
        devices.append(entry)
    for k, v in launch.get("versions", {}).items() if isinstance(launch.get("versions"), dict) else []:
        vers[str(k)] = str(v)
    vers.update(dict(versions))
    stage_map = {}
    for k, v in stages:
        stage_map[k] = v
    for k, v in launch["stages"].items():
        stage_map.setdefault(k, v)
    ordered = {k: stage_map[k] for k in schema.STAGE_ORDER if k in stage_map}
    ordered.update({k: v for k, v in stage_map.items() if k not in ordered})
    report = {
        "schema": schema.SCHEMA,
        "version": schema.VERSION,
        "generated_by": {"name": "vsst-report", "version": TOOL_VERSION},
        "created_unix_s": round(time.time(), 3),
        "versions": vers,
        "argv": list(launch["argv"]),
        "exit": dict(launch["exit"]),
        "stages": ordered,
        "wall_s": sum(v for v in ordered.values() if v is not None),
        "processes": processes,
        "guest": launch["guest"],
        "devices": devices,
        "totals": totals_of(devices),
    }
    return report


def totals_of(devices):
    stats = [d["stats"] for d in devices if d["stats"] is not None]
    by_type = {}
    for s in stats:
        for t, v in s["requests"].items():
            by_type[t] = by_type.get(t, 0) + v
    return {
        "devices": len(devices),
        "devices_with_stats": len(stats),
        "requests_total": sum(s["requests_total"] for s in stats),
        "requests": by_type,
        "errors": sum(s["errors"] for s in stats),
        "max_sim_time_ps": max([s["sim_time_ps"] for s in stats] + [0]),
    }
