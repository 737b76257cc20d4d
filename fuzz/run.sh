#!/usr/bin/env bash
# Fuzzes the `ops` target for $1 seconds (default 120). Exits non-zero if the fuzzer found a
# crash (saved under fuzz/artifacts/ops/).
#
# New inputs go to fuzz/corpus/ops-work/ (not committed); the committed seed corpus
# fuzz/corpus/ops/ is only read, so that `tests/fuzz_replay.rs` keeps replaying a small,
# reviewed set.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/ops-work
exec cargo +nightly fuzz run ops corpus/ops-work corpus/ops -- -max_total_time="${1:-120}"
