# SPDX-License-Identifier: Apache-2.0
# One virtio-sst device served by vsst.Bridge alone: its compute and memory
# ports are left unconnected, so the embedded model answers everything with
# sst-sim's timing (no link latency added). Socket $VSST_SOCKET_DIR/sst0.sock.
# Run: sst --add-lib-path <build>/lib/sst embedded_model.py
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsst_common  # noqa: E402

vsst_common.device(0, embedded=True)
vsst_common.statistics()
