# SPDX-License-Identifier: Apache-2.0
# One device with the socket bridge pinned to MPI rank 0 (it owns the Unix
# socket) and its Compute and Memory components on rank 1; the links cross
# ranks, so their latency (here 10ns) is the lookahead between ranks.
# Run: mpirun -np 2 sst --add-lib-path <build>/lib/sst compute_on_rank1.py
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sst  # noqa: E402
import vsst_common  # noqa: E402

# With one rank SST would ignore setRank() and run everything on rank 0,
# which is not what this config is for: refuse instead of silently differing.
if sst.getMPIRankCount() < 2:
    sys.exit("compute_on_rank1.py needs 2 MPI ranks (mpirun -np 2 sst ...); this run has %d"
             % sst.getMPIRankCount())

vsst_common.device(0, compute_rank=1, link_latency="10ns")
vsst_common.statistics()
