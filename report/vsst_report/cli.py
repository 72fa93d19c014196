# SPDX-License-Identifier: Apache-2.0
"""Command line of vsst-report. Exit status: 0 success, 1 invalid report or
bad input file, 2 usage error."""

import argparse
import json
import os
import sys
import tempfile

from . import assemble as asm
from . import html as html_out
from . import schema, text

EPILOG = """exit status: 0 success; 1 the report is invalid (validate) or an input file is
missing, unreadable or not the expected schema (one line per problem on stderr);
2 usage error. Schemas: report/SCHEMA.md."""


def write_out(path, data):
    """'-' = stdout; otherwise a temporary file in the same folder renamed over path."""
    if path == "-":
        sys.stdout.write(data)
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".vsst-report.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_report(path, check=True):
    """Reads a run report; with check, an invalid one is an InputError."""
    doc = asm.load_json(path, "run report")
    if check:
        errors = schema.validate(doc)
        if errors:
            raise asm.InputError(f"{path}: not a valid run report: {errors[0]}"
                                 + (f" (and {len(errors) - 1} more; run vsst-report validate)" if len(errors) > 1
                                    else ""))
    return doc


def cmd_assemble(a):
    sims = [asm.parse_sim_arg(s) for s in a.sim]
    stages = [asm.parse_kv(s, "--stage", True) for s in a.stage]
    versions = [asm.parse_kv(s, "--version", False) for s in a.version]
    conns = {}
    for s in a.sim_connection:
        k, v = asm.parse_kv(s, "--sim-connection", False)
        if not k.isdigit() or not v.isdigit():
            raise asm.InputError(f"--sim-connection {s!r}: expected IDX=N")
        conns[int(k)] = int(v)
    report = asm.assemble(a.launch, sims, stages, versions, conns, a.devices)
    errors = schema.validate(report)
    if errors:  # the inputs passed their own checks but do not add up
        raise asm.InputError("assembled report is inconsistent: " + errors[0])
    write_out(a.output, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return 0


def cmd_validate(a):
    rc = 0
    for path in a.reports:
        try:
            doc = asm.load_json(path, "run report")
        except asm.InputError as e:
            print(f"vsst-report: {e}", file=sys.stderr)
            rc = 1
            continue
        errors = schema.validate(doc)
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        if errors:
            rc = 1
        elif not a.quiet:
            print(f"{path}: valid {schema.SCHEMA} version {schema.VERSION}")
    return rc


def cmd_html(a):
    write_out(a.output, html_out.render(load_report(a.report)))
    return 0


def cmd_text(a):
    write_out(a.output, text.summary(load_report(a.report)))
    return 0


def parser():
    p = argparse.ArgumentParser(
        prog="vsst-report",
        description="The machine-readable record of a vsst run: assemble it from vmm-proxy's launch "
                    "record and sst-sim's statistics, validate it, draw it as one HTML page, summarise it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    s = sub.add_parser("assemble", help="merge launch record, simulator statistics and stage timings",
                       description="Merges vmm-proxy's launch record (vsst-launch v1), one sst-sim statistics "
                                   "file (vsst-sim-stats v1) per device and extra stage timings into a run "
                                   "report (vsst-run-report v1). The result is validated before it is written.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--launch", required=True, metavar="L.json", help="vmm-proxy --report output")
    s.add_argument("--sim", action="append", default=[], metavar="IDX=PATH[,SPEC]",
                   help="statistics of device IDX (sst-sim --stats-out); PATH '-' = none (e.g. SST-core); "
                        "SPEC = the --sim spec shown in the report (may contain commas). Repeat per device.")
    s.add_argument("--sim-connection", action="append", default=[], metavar="IDX=N",
                   help="when PATH holds several connections: take connection N for device IDX "
                        "(default: the only one, or the one whose HELLO device_id is IDX)")
    s.add_argument("--devices", type=int, metavar="N", help="number of devices (default: highest --sim IDX + 1)")
    s.add_argument("--stage", action="append", default=[], metavar="NAME_s=SECONDS",
                   help="a stage timing not in the launch record, e.g. build_s=12.5 (overrides the record's)")
    s.add_argument("--version", action="append", default=[], metavar="NAME=VERSION",
                   help="a component version to record, e.g. qemu=7.2.15")
    s.add_argument("-o", "--output", default="-", metavar="R.json", help="output file (default stdout)")
    s.set_defaults(fn=cmd_assemble)
    s = sub.add_parser("validate", help="check reports against the schema (exit 1 if not valid)",
                       description="Checks each report: schema and version, types and required fields, and "
                                   "consistency (per-type requests sum to the total, errors = invalid + error "
                                   "frames, cycles match simulated time and clock, samples within the run, "
                                   "totals match the devices, ...). One line per problem on stderr.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("reports", nargs="+", metavar="R.json")
    s.add_argument("-q", "--quiet", action="store_true", help="print nothing for a valid report")
    s.set_defaults(fn=cmd_validate)
    s = sub.add_parser("html", help="one self-contained HTML page with the plots and the summary",
                       description="Writes one HTML page (inline CSS and SVG, no external resource): latency "
                                   "CDFs per request type, requests in flight and completions over time per "
                                   "device, simulated vs wall time, and the run's summary tables.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("report", metavar="R.json")
    s.add_argument("-o", "--output", default="-", metavar="R.html", help="output file (default stdout)")
    s.set_defaults(fn=cmd_html)
    s = sub.add_parser("text", help="the readable summary", epilog=EPILOG,
                       description="Prints the run's summary, derived from the report's figures.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("report", metavar="R.json")
    s.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default stdout)")
    s.set_defaults(fn=cmd_text)
    return p


def main(argv=None):
    p = parser()
    a = p.parse_args(argv)
    if not a.cmd:
        p.print_help(sys.stderr)
        return 2
    try:
        return a.fn(a)
    except asm.InputError as e:
        print(f"vsst-report: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"vsst-report: {e.filename or ''}: {e.strerror}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
