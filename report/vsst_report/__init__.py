# SPDX-License-Identifier: Apache-2.0
"""vsst-report: the run report of `vsst run` (see report/README.md)."""
