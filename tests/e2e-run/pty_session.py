#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drives an interactive program through a pseudo-terminal, as a person would.

usage: pty_session.py --timeout S SCRIPT -- COMMAND [ARG]...
SCRIPT is a file of steps, one per line:
  expect TEXT     wait (bounded by --timeout overall) until TEXT appears in the output
  send TEXT       type TEXT followed by Enter
  key NAME        type one key: ctrl-c, ctrl-d, escape (Ctrl-]), tab
  pause S         keep reading for S seconds (let a typed command start)
  exit N          wait for the program to end and check its exit status is N
Prints the transcript; exits 0 when every step held, 1 otherwise (with the reason).
"""
import argparse
import os
import pty
import select
import signal
import sys
import time

KEYS = {"ctrl-c": b"\x03", "ctrl-d": b"\x04", "escape": b"\x1d", "tab": b"\t"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("script")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    steps = [l.rstrip("\n").split(" ", 1) for l in open(a.script) if l.strip()]

    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    deadline = time.monotonic() + a.timeout
    out = bytearray()
    seen = 0  # expect looks only past what earlier expects matched

    def read_some(wait):
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        out.extend(data)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return True

    def fail(why):
        print(f"\npty_session: FAIL: {why}", flush=True)
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
        sys.exit(1)

    for step in steps:
        verb, arg = step[0], step[1] if len(step) > 1 else ""
        if verb == "expect":
            while True:
                at = out.find(arg.encode(), seen)
                if at >= 0:
                    seen = at + len(arg)
                    break
                if time.monotonic() > deadline:
                    fail(f"timed out waiting for {arg!r}")
                if not read_some(0.2):
                    fail(f"the program ended before printing {arg!r}")
        elif verb == "send":
            os.write(fd, arg.encode() + b"\r")
        elif verb == "key":
            os.write(fd, KEYS[arg])
        elif verb == "pause":
            until = time.monotonic() + float(arg)
            while time.monotonic() < until and read_some(0.1):
                pass
        elif verb == "exit":
            while read_some(0.2):
                if time.monotonic() > deadline:
                    fail("timed out waiting for the program to end")
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != int(arg):
                fail(f"exit status {code}, expected {arg}")
        else:
            fail(f"bad step {verb!r}")
    print("\npty_session: all steps held", flush=True)


if __name__ == "__main__":
    main()
