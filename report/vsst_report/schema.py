# SPDX-License-Identifier: Apache-2.0
"""The run report's schema ("vsst-run-report", version 1) as data, and its
checker: types and required fields first, then the consistency rules. Every
problem is one line "PATH: what is wrong"; see report/SCHEMA.md."""

import math

SCHEMA = "vsst-run-report"
VERSION = 1
REQUEST_TYPES = ("NOOP", "ECHO", "COMPUTE", "READ", "WRITE", "RESET", "GET_INFO", "CONFIGURE", "UNKNOWN")
SAMPLE_COLUMNS = ["type", "ok", "wall_submit_ns", "wall_done_ns", "sim_start_ps", "sim_end_ps"]
RESULT_STATUSES = ("PASS", "FAIL", "SKIP")
STAGE_ORDER = ("build_s", "setup_s", "boot_s", "run_s", "teardown_s")

# Type specs: "str", "int" (a JSON integer, >= 0 unless "sint"), "num" (>= 0),
# "bool", "any"; ("null", spec) = spec or null; ("list", spec);
# ("map", spec) = an object with any keys whose values are spec;
# {"field": spec, ...} = an object with exactly these required fields (extra
# fields are allowed: a newer writer may add some without a version change).
ARGV = ("list", "str")
SIMULATOR = {"name": "str", "version": "str", "argv": ARGV}
SAMPLES = {"count": "int", "dropped": "int", "columns": ("list", "str"), "rows": ("list", ("list", "any"))}
DEVICE_STATS = {
    "connection": "int",
    "connections": ("list", "int"),
    "device_id": ("null", "int"),
    "protocol": "str",
    "clock_hz": "int",
    "compute_units": "int",
    "requests": ("map", "int"),
    "requests_total": "int",
    "errors": "int",
    "invalid": "int",
    "error_frames": "int",
    "responses": "int",
    "bytes_read": "int",
    "bytes_written": "int",
    "sim_time_ps": "int",
    "cycles": "int",
    "busy_pct": "num",
    "wall_origin_unix_ns": "int",
    "wall_open_ns": "int",
    "wall_close_ns": "int",
    "close_reason": "str",
    "samples": SAMPLES,
}
DEVICE = {
    "index": "int",
    "sim_spec": ("null", "str"),
    "stats_file": ("null", "str"),
    "simulator": ("null", SIMULATOR),
    "stats": ("null", DEVICE_STATS),
}
PROCESS = {"role": "str", "pid": ("null", "int"), "user": ("null", "str"), "argv": ARGV}
RESULT = {"name": "str", "status": "str", "fields": ("map", "any")}
GUEST = {
    "booted": "bool",
    "results": ("list", RESULT),
    "command": ("null", {"argv": ARGV, "exit": ("null", "sint")}),
}
TOTALS = {
    "devices": "int",
    "devices_with_stats": "int",
    "requests_total": "int",
    "requests": ("map", "int"),
    "errors": "int",
    "max_sim_time_ps": "int",
}
REPORT = {
    "schema": "str",
    "version": "int",
    "generated_by": {"name": "str", "version": "str"},
    "created_unix_s": "num",
    "versions": ("map", "str"),
    "argv": ARGV,
    "exit": {"status": "sint", "reason": "str"},
    "stages": ("map", ("null", "num")),  # null: the stage was not reached
    "wall_s": "num",
    "processes": ("list", PROCESS),
    "guest": GUEST,
    "devices": ("list", DEVICE),
    "totals": TOTALS,
}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def check_types(value, spec, path, errors):
    """Appends "path: problem" lines to errors; returns True when value fits spec."""
    if isinstance(spec, tuple):
        kind, inner = spec
        if kind == "null":
            return value is None or check_types(value, inner, path, errors)
        if kind == "list":
            if not isinstance(value, list):
                errors.append(f"{path}: expected an array, got {_name(value)}")
                return False
            ok = True
            for i, item in enumerate(value):
                ok = check_types(item, inner, f"{path}[{i}]", errors) and ok
            return ok
        if kind == "map":
            if not isinstance(value, dict):
                errors.append(f"{path}: expected an object, got {_name(value)}")
                return False
            ok = True
            for k, item in value.items():
                ok = check_types(item, inner, f"{path}.{k}", errors) and ok
            return ok
        raise ValueError(spec)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {_name(value)}")
            return False
        ok = True
        for field, inner in spec.items():
            if field not in value:
                errors.append(f"{path}.{field}: required field missing")
                ok = False
            else:
                ok = check_types(value[field], inner, f"{path}.{field}", errors) and ok
        return ok
    good = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: _is_int(v) and v >= 0,
        "sint": _is_int,
        "num": lambda v: _is_num(v) and v >= 0,
        "bool": lambda v: isinstance(v, bool),
        "any": lambda v: True,
    }[spec](value)
    if not good:
        want = {"str": "a string", "int": "an integer >= 0", "sint": "an integer", "num": "a number >= 0",
                "bool": "a boolean"}[spec]
        errors.append(f"{path}: expected {want}, got {_name(value)} {_short(value)}")
    return good


def _short(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def cycles_of(ps, clock_hz):
    """ceil(ps * clock_hz / 1e12), exactly (sst-sim's rule)."""
    return -((-ps * clock_hz) // 10**12)


def check_consistency(r, errors):
    """The rules a well-typed report must also follow (SCHEMA.md, "Consistency")."""
    add = errors.append
    devices = r["devices"]
    totals = r["totals"]
    for key in r["stages"]:
        if not key.endswith("_s"):
            add(f"$.stages.{key}: stage names end in _s (seconds)")
    stage_sum = sum(v for v in r["stages"].values() if v is not None)
    if abs(stage_sum - r["wall_s"]) > 1e-6 * max(1.0, r["wall_s"]):
        add(f"$.wall_s: {r['wall_s']} != sum of stages ({stage_sum})")
    for i, res in enumerate(r["guest"]["results"]):
        if res["status"] not in RESULT_STATUSES:
            add(f"$.guest.results[{i}].status: {res['status']!r} is not one of {', '.join(RESULT_STATUSES)}")
    seen = set()
    sum_requests = 0
    sum_errors = 0
    by_type = {}
    max_ps = 0
    with_stats = 0
    for i, dev in enumerate(devices):
        p = f"$.devices[{i}]"
        if dev["index"] in seen:
            add(f"{p}.index: device index {dev['index']} appears twice")
        seen.add(dev["index"])
        s = dev["stats"]
        if s is None:
            continue
        with_stats += 1
        sp = p + ".stats"
        for t in s["requests"]:
            if t not in REQUEST_TYPES:
                add(f"{sp}.requests.{t}: unknown request type (known: {' '.join(REQUEST_TYPES)})")
        total = sum(s["requests"].values())
        if total != s["requests_total"]:
            add(f"{sp}.requests_total: {s['requests_total']} != sum of requests by type ({total})")
        if s["errors"] != s["invalid"] + s["error_frames"]:
            add(f"{sp}.errors: {s['errors']} != invalid + error_frames ({s['invalid'] + s['error_frames']})")
        if s["invalid"] > s["requests_total"]:
            add(f"{sp}.invalid: {s['invalid']} invalid requests out of {s['requests_total']}")
        if s["clock_hz"] == 0:
            add(f"{sp}.clock_hz: must be > 0")
        elif s["cycles"] != cycles_of(s["sim_time_ps"], s["clock_hz"]):
            add(f"{sp}.cycles: {s['cycles']} != ceil(sim_time_ps x clock_hz / 1e12) "
                f"({cycles_of(s['sim_time_ps'], s['clock_hz'])})")
        if s["busy_pct"] > 100:
            add(f"{sp}.busy_pct: {s['busy_pct']} is above 100")
        if not s["connections"] or s["connections"][0] != s["connection"]:
            add(f"{sp}.connections: must start with connection ({s['connection']})")
        if s["wall_open_ns"] > s["wall_close_ns"]:
            add(f"{sp}.wall_close_ns: {s['wall_close_ns']} is before wall_open_ns ({s['wall_open_ns']})")
        _check_samples(s, sp, add)
        sum_requests += s["requests_total"]
        sum_errors += s["errors"]
        for t, n in s["requests"].items():
            by_type[t] = by_type.get(t, 0) + n
        max_ps = max(max_ps, s["sim_time_ps"])
    if sorted(seen) != list(range(len(devices))):
        add(f"$.devices: indexes {sorted(seen)} are not 0..{len(devices) - 1}")
    checks = (("devices", len(devices)), ("devices_with_stats", with_stats), ("requests_total", sum_requests),
              ("errors", sum_errors), ("max_sim_time_ps", max_ps))
    for key, want in checks:
        if totals[key] != want:
            add(f"$.totals.{key}: {totals[key]} != {want} (from the devices)")
    if {k: v for k, v in totals["requests"].items() if v} != {k: v for k, v in by_type.items() if v}:
        add(f"$.totals.requests: {totals['requests']} != sum over devices {by_type}")


def _check_samples(s, sp, add):
    smp = s["samples"]
    if smp["columns"] != SAMPLE_COLUMNS:
        add(f"{sp}.samples.columns: expected {SAMPLE_COLUMNS}")
        return
    rows = smp["rows"]
    if smp["count"] != len(rows):
        add(f"{sp}.samples.count: {smp['count']} != number of rows ({len(rows)})")
    if len(rows) > s["requests_total"]:
        add(f"{sp}.samples.rows: {len(rows)} samples for {s['requests_total']} requests")
    per_type = {}
    for j, row in enumerate(rows):
        rp = f"{sp}.samples.rows[{j}]"
        if len(row) != len(SAMPLE_COLUMNS):
            add(f"{rp}: expected {len(SAMPLE_COLUMNS)} columns, got {len(row)}")
            return
        t, ok, sub, done, start, end = row
        if t not in REQUEST_TYPES or not isinstance(ok, bool) or not all(_is_int(x) for x in (sub, done, start, end)):
            add(f"{rp}: expected [type name, boolean, 4 integers], got {_short(row)}")
            return
        if done < sub:
            add(f"{rp}: wall_done_ns {done} is before wall_submit_ns {sub}")
            return
        if end < start:
            add(f"{rp}: sim_end_ps {end} is before sim_start_ps {start}")
            return
        if end > s["sim_time_ps"]:
            add(f"{rp}: sim_end_ps {end} is after the device's sim_time_ps {s['sim_time_ps']}")
            return
        per_type[t] = per_type.get(t, 0) + 1
    for t, n in per_type.items():
        if n > s["requests"].get(t, 0):
            add(f"{sp}.samples: {n} samples of type {t} but requests.{t} is {s['requests'].get(t, 0)}")


def validate(report):
    """Returns the list of problems (empty when the report is valid)."""
    errors = []
    if not isinstance(report, dict):
        return [f"$: expected an object, got {_name(report)}"]
    if report.get("schema") != SCHEMA:
        return [f"$.schema: expected {SCHEMA!r}, got {_short(report.get('schema'))}"]
    if report.get("version") != VERSION or not _is_int(report.get("version")):
        return [f"$.version: this validator reads version {VERSION}, got {_short(report.get('version'))}"]
    if check_types(report, REPORT, "$", errors):
        check_consistency(report, errors)
    return errors
