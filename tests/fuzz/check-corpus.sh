#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz.seed_corpus: the committed seeds must be exactly what gen_corpus.cpp
# writes (so a format change that stales them fails here; regenerate with
# `<build>/bin/fuzz-gen-corpus tests/fuzz/corpus`).
# usage: check-corpus.sh <fuzz-gen-corpus> <committed-corpus-dir> <scratch-dir>
set -euo pipefail
gen=$1 committed=$2 scratch=$3
rm -rf "$scratch"
"$gen" "$scratch"
if ! diff -r "$committed" "$scratch" >/dev/null; then
	diff -rq "$committed" "$scratch" || true
	echo "FAIL: tests/fuzz/corpus differs from what fuzz-gen-corpus writes; regenerate it" >&2
	exit 1
fi
echo "seed corpus up to date ($(find "$scratch" -type f | wc -l) seeds)"
