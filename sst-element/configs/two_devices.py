# SPDX-License-Identifier: Apache-2.0
# Two virtio-sst devices (/dev/sst0, /dev/sst1) in one SST run: sockets
# $VSST_SOCKET_DIR/sst0.sock and sst1.sock. The run ends when both
# devices have disconnected.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsst_common  # noqa: E402

vsst_common.device(0)
vsst_common.device(1)
vsst_common.statistics()
