#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lay the project's QEMU overlay over a work copy of QEMU's source.

The work copy starts as a copy of the pristine (Debian) tree. This script
computes the desired content of every file the project touches (overlay
files, scripted edits of QEMU build files, generated files) and writes a file
only when its content differs, so unchanged files keep their mtime and ninja
rebuilds only what changed. Files written by an earlier run that are no longer
wanted are restored from the pristine tree (with a fresh mtime) or removed.

Every edit of an existing QEMU file is a function in edits() below and is listed
in qemu/README.md ("Edits to QEMU's own files").
"""

import argparse
import os
import sys

MANIFEST = ".vsst-overlay-manifest"
SKIP_TOP = {"COPYING", "README.md", "README", ".clang-format"}


class EditError(Exception):
    pass


def insert_after(text, anchor, new_line, path):
    """Insert new_line after the first line equal to anchor (stripped)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == anchor:
            lines.insert(i + 1, new_line + "\n")
            return "".join(lines)
    raise EditError(f"{path}: anchor line {anchor!r} not found")


def insert_before(text, anchor, new_line, path):
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == anchor:
            lines.insert(i, new_line + "\n")
            return "".join(lines)
    raise EditError(f"{path}: anchor line {anchor!r} not found")


def insert_in_function(text, signature, anchor, new_line, path, before=False):
    """Insert new_line after (or before) the first line equal to anchor that
    follows the first line starting with signature (a function's first line)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(signature)), None)
    if start is None:
        raise EditError(f"{path}: function {signature!r} not found")
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("}"):
            break
        if lines[i].strip() == anchor:
            lines.insert(i if before else i + 1, new_line + "\n")
            return "".join(lines)
    raise EditError(f"{path}: anchor line {anchor!r} not found in {signature!r}")


def edits():
    """(path, function(text) -> text) for every edit of a QEMU file."""
    tag = "  # vsst overlay"
    # hw/vsst: the device VM's machine and virtio-sst; hw/vsst-proxy: the
    # guest VM's rpc-channel and rpc-proxy-pci.
    hw_meson_lines = ["subdir('vsst')" + tag, "subdir('vsst-proxy')" + tag]
    # Kconfig has no trailing comments: its lines carry no tag.
    hw_kconfig_lines = ["source vsst/Kconfig", "source vsst-proxy/Kconfig"]

    def top_meson(t):
        # vsst/meson.build declares vsst_rpc_dep / vsst_device_dep /
        # vsst_trace_recorder_dep and adds the overlay's trace-events
        # folders; it must run before trace/, hw/ and accel/ are processed.
        return insert_before(t, "subdir('qapi')", "subdir('vsst')" + tag, "meson.build")

    def hw_meson(t):
        for line in reversed(hw_meson_lines):
            t = insert_after(t, "subdir('virtio')", line, "hw/meson.build")
        return t

    def hw_kconfig(t):
        for line in reversed(hw_kconfig_lines):
            t = insert_after(t, "source virtio/Kconfig", line, "hw/Kconfig")
        return t

    def accel_meson(t):
        return insert_after(t, "subdir('xen')", "  subdir('rpc')" + tag, "accel/meson.build")

    # hw/virtio/virtio.c: inflight tracking for device-VM restart. One call per
    # hook site; the code is in the overlay's hw/virtio/vsst-inflight.c.inc,
    # included at the end of the file because it needs VirtQueue's fields.
    c_tag = " /* vsst overlay */"
    virtio_c_hooks = [
        ("static bool virtqueue_get_head(", "*head = vring_avail_ring(vq, idx % vq->vring.num);",
         "    if (vsst_inflight_head(vq, idx, head)) return true;", True),
        ("static void *virtqueue_split_pop(", "elem->index = head;",
         "    vsst_inflight_popped(vq, head);", False),
        ("static void virtqueue_split_fill(", "uelem.id = elem->index;",
         "    vsst_inflight_filled(vq, elem->index, idx);", False),
        ("static void virtqueue_split_flush(", "vring_used_idx_set(vq, new);",
         "    vsst_inflight_flushed(vq, old, new);", False),
        ("void virtqueue_detach_element(", "vq->inuse -= elem->ndescs;",
         "    vsst_inflight_detached(vq, elem->index);", False),
        ("void virtio_queue_set_rings(", "virtio_init_region_cache(vdev, n);",
         "    vsst_inflight_rings_set(&vdev->vq[n]);", False),
        ("static void __virtio_queue_reset(", "virtio_virtqueue_reset_region_cache(&vdev->vq[i]);",
         "    vsst_inflight_reset(&vdev->vq[i]);", False),
    ]

    def virtio_c(t):
        p = "hw/virtio/virtio.c"
        t = insert_after(t, "QLIST_ENTRY(VirtQueue) node;",
                         "    struct VsstInflightQueue *vsst_inflight;" + c_tag, p)
        t = insert_before(t, "const char *virtio_device_names[] = {",
                          '#include "vsst-inflight-hooks.h"' + c_tag, p)
        for signature, anchor, line, before in virtio_c_hooks:
            t = insert_in_function(t, signature, anchor, line + c_tag, p, before)
        return t + '#include "vsst-inflight.c.inc"' + c_tag + "\n"

    return [
        ("hw/virtio/virtio.c", virtio_c),
        ("meson.build", top_meson),
        ("hw/meson.build", hw_meson),
        ("hw/Kconfig", hw_kconfig),
        ("accel/meson.build", accel_meson),
    ]


def meson_str(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def generated_files(args, desired):
    root = os.path.abspath(args.vsst_root)
    lib = os.path.abspath(args.lib_build)
    rpc_inc = os.path.join(root, "rpc", "include")
    dev_inc = os.path.join(root, "device", "include")
    protocol_inc = os.path.join(root, "protocol", "include")
    trace_inc = os.path.join(root, "trace", "include")
    rpc_a = os.path.join(lib, "rpc", "libvsst_rpc.a")
    dev_a = os.path.join(lib, "device", "libvsst_device.a")
    rec_a = os.path.join(lib, "trace", "libvsst_trace_recorder.a")
    trace_dirs = ["accel/rpc", "hw/vsst", "hw/vsst-proxy"]
    meson = f"""# SPDX-License-Identifier: GPL-2.0-or-later
# Generated by qemu/apply-overlay.py - do not edit.
# The project's static libraries, for QEMU code in the overlay. Each archive
# is copied into the build tree by a custom target so that ninja tracks it:
# a changed archive relinks every binary that uses the dependency.
vsst_inc = include_directories({meson_str(rpc_inc)}, {meson_str(dev_inc)},
  {meson_str(protocol_inc)}, {meson_str(trace_inc)})
vsst_rpc_lib = custom_target('vsst_rpc_lib', input: {meson_str(rpc_a)},
  output: 'libvsst_rpc.a', command: ['cp', '@INPUT@', '@OUTPUT@'])
vsst_device_lib = custom_target('vsst_device_lib', input: {meson_str(dev_a)},
  output: 'libvsst_device.a', command: ['cp', '@INPUT@', '@OUTPUT@'])
vsst_trace_recorder_lib = custom_target('vsst_trace_recorder_lib', input: {meson_str(rec_a)},
  output: 'libvsst_trace_recorder.a', command: ['cp', '@INPUT@', '@OUTPUT@'])
vsst_rpc_dep = declare_dependency(include_directories: vsst_inc,
  link_with: vsst_rpc_lib, link_args: ['-lstdc++', '-lpthread'])
vsst_device_dep = declare_dependency(include_directories: vsst_inc,
  link_with: vsst_device_lib, link_args: ['-lstdc++', '-lpthread'])
vsst_trace_recorder_dep = declare_dependency(include_directories: vsst_inc,
  link_with: vsst_trace_recorder_lib, dependencies: vsst_rpc_dep)
trace_events_subdirs += [{", ".join(meson_str(d) for d in trace_dirs)}]
"""
    desired["vsst/meson.build"] = meson.encode()

    # One device set per target: TARGET=FILE (x86_64=qemu/vsst-devices.mak, ...).
    for spec in args.devices_mak:
        target, path = spec.split("=", 1)
        with open(path, "rb") as f:
            desired[f"configs/devices/{target}-softmmu/vsst.mak"] = f.read()


def collect_overlay(root, desired):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel in SKIP_TOP:
                continue
            with open(full, "rb") as f:
                desired[rel] = f.read()


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_if_different(path, content, stats):
    if read_file(path) == content:
        stats["kept"] += 1
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".vsst-tmp"
    with open(tmp, "wb") as f:
        f.write(content)
    src_mode = 0o755 if content.startswith(b"#!") else 0o644
    os.chmod(tmp, src_mode)
    os.replace(tmp, path)
    stats["written"] += 1
    print(f"  overlay: updated {os.path.relpath(path, ARGS.work)}")


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pristine", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--overlay", required=True, help="qemu/overlay")
    p.add_argument("--devices-mak", required=True, action="append",
                   help="TARGET=FILE, once per target (e.g. x86_64=qemu/vsst-devices.mak)")
    p.add_argument("--vsst-root", required=True)
    p.add_argument("--lib-build", required=True)
    args = p.parse_args()
    ARGS = args

    desired = {}
    collect_overlay(args.overlay, desired)

    for rel, fn in edits():
        base = desired.get(rel)
        if base is None:
            base = read_file(os.path.join(args.pristine, rel))
            if base is None:
                raise EditError(f"{rel}: not in the pristine QEMU tree")
        desired[rel] = fn(base.decode()).encode()

    generated_files(args, desired)

    stats = {"kept": 0, "written": 0, "restored": 0, "removed": 0}
    manifest_path = os.path.join(args.work, MANIFEST)
    old = set()
    content = read_file(manifest_path)
    if content:
        old = set(content.decode().split("\n")) - {""}
    for rel in sorted(old - set(desired)):
        pristine = read_file(os.path.join(args.pristine, rel))
        target = os.path.join(args.work, rel)
        if pristine is not None:
            write_if_different(target, pristine, stats)
            stats["restored"] += 1
        elif os.path.exists(target):
            os.remove(target)
            stats["removed"] += 1
            print(f"  overlay: removed {rel}")
    for rel in sorted(desired):
        write_if_different(os.path.join(args.work, rel), desired[rel], stats)
    # Rewritten only when the set of files changes: a no-op run touches nothing.
    manifest = ("\n".join(sorted(desired)) + "\n").encode()
    if read_file(manifest_path) != manifest:
        with open(manifest_path + ".tmp", "wb") as f:
            f.write(manifest)
        os.replace(manifest_path + ".tmp", manifest_path)
    print(f"  overlay: {len(desired)} files ({stats['written']} updated, "
          f"{stats['kept']} unchanged, {stats['restored']} restored, "
          f"{stats['removed']} removed)")


if __name__ == "__main__":
    try:
        main()
    except EditError as e:
        print(f"apply-overlay: error: {e}", file=sys.stderr)
        sys.exit(1)
