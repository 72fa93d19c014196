# SPDX-License-Identifier: Apache-2.0
# One virtio-sst device served by SST-core: socket $VSST_SOCKET_DIR/sst0.sock
# (default /tmp/sst0.sock). Run: sst --add-lib-path <build>/lib/sst single_device.py
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vsst_common  # noqa: E402

vsst_common.device(0)
vsst_common.statistics()
