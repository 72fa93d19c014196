# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the vsst SST-core configs: builds one device
# (vsst.Bridge + vsst.Compute + vsst.Memory joined by links).
import os

import sst

# Model parameters (names and limits as in sst-element/README.md).
MODEL = {
    "clock": "1GHz",
    "compute_units": 4,
    "latency_model": "fixed",
    "unit_latency_cycles": 100,
    "pipeline_startup_cycles": 20,
    "unit_bandwidth": 8,
    "mem_latency_cycles": 100,
    "mem_bandwidth": 16,
    "mem_size": 256 * 1024 * 1024,
}
COMPUTE_KEYS = ["clock", "compute_units", "latency_model", "unit_latency_cycles",
                "pipeline_startup_cycles", "unit_bandwidth", "mem_latency_cycles",
                "mem_bandwidth"]
MEMORY_KEYS = ["clock", "mem_latency_cycles", "mem_bandwidth", "mem_size"]


def socket_params(index):
    """The bridge's socket: $VSST_SOCKET_DIR/sst<index>.sock when set (the
    launcher's run directory), else the bridge's default, sst<index>.sock in
    its private directory ($XDG_RUNTIME_DIR/vsst or /tmp/vsst-<uid>, 0700).
    $VSST_PEER_UIDS (uids and FIRST-LAST ranges, comma-separated, or "any") admits peers besides
    our own uid and root, e.g. a device VM that runs as another user. $VSST_SYNC_WAIT_US sets
    the bridges' sync_wait_us."""
    p = {}
    if os.environ.get("VSST_SOCKET_DIR"):
        p["socket_path"] = "%s/sst%d.sock" % (os.environ["VSST_SOCKET_DIR"], index)
    if os.environ.get("VSST_PEER_UIDS"):
        p["peer_uids"] = os.environ["VSST_PEER_UIDS"]
    # Synchronized time: how long (wall us) the bridge waits at its horizon
    # for the client's frames of that time (tests raise it to prove the hold).
    if os.environ.get("VSST_SYNC_WAIT_US"):
        p["sync_wait_us"] = os.environ["VSST_SYNC_WAIT_US"]
    return p


def device(index, compute_rank=None, link_latency="1ns", protocol="auto", embedded=False):
    """One virtio-sst device; compute_rank places Compute and Memory on
    that MPI rank (the bridge, which owns the socket, stays on rank 0).
    embedded=True leaves the bridge's ports unconnected, so its embedded
    model (the same code as sst-sim) serves every request."""
    bridge = sst.Component("bridge%d" % index, "vsst.Bridge")
    bridge.addParams(dict(MODEL, device_id=index, protocol=protocol, **socket_params(index)))
    if embedded:
        return bridge
    compute = sst.Component("compute%d" % index, "vsst.Compute")
    compute.addParams({k: MODEL[k] for k in COMPUTE_KEYS})
    memory = sst.Component("memory%d" % index, "vsst.Memory")
    memory.addParams({k: MODEL[k] for k in MEMORY_KEYS})
    if compute_rank is not None:
        bridge.setRank(0)
        compute.setRank(compute_rank)
        memory.setRank(compute_rank)
    sst.Link("compute_link%d" % index).connect((bridge, "compute", link_latency),
                                               (compute, "bridge", link_latency))
    sst.Link("memory_link%d" % index).connect((bridge, "memory", link_latency),
                                              (memory, "bridge", link_latency))
    return bridge


def statistics():
    sst.setStatisticLoadLevel(1)
    sst.setStatisticOutput("sst.statOutputConsole")
    sst.enableAllStatisticsForAllComponents()
