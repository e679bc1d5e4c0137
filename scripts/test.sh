#!/usr/bin/env bash
# What `make test` runs once everything is installed: the fuzz suite in a pytest process of its own,
# beside the rest of the suite; arguments are passed to both (e.g. `-x`).
#
# Why beside: the fuzz suite is several minutes of one core of pure CPU (Titanoboa), while the
# chain, browser and CLI tests spend much of theirs waiting for blocks. One after the other they
# took 33.5 min of CI's 30-minute budget, the fuzz suite about a third of it (`--durations` prints
# the slowest steps of each process). The rest keeps its own order (see conftest.py).
#
# The tests' output streams as usual; the fuzz suite's goes to build/fuzz.log and is printed once
# both are done. The exit status is the tests' when they failed, else the fuzz suite's (pytest's
# 5, "no tests collected", counts as passing for either: `-k` may select from one side only).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p build
"$BIN/pytest" -q fuzz "$@" >build/fuzz.log 2>&1 &
fuzz=$!
# a background job of a script starts with SIGINT ignored: on Ctrl+C or any exit, stop it too
trap 'kill "$fuzz" 2>/dev/null' EXIT
"$BIN/pytest" -q tests "$@"
tests=$?
wait "$fuzz"
fuzzed=$?
trap - EXIT
echo
echo "== the fuzz suite (pytest -q fuzz, run beside the tests): exit $fuzzed =="
cat build/fuzz.log
[ "$tests" -eq 5 ] && tests=0
[ "$fuzzed" -eq 5 ] && fuzzed=0
if [ "$tests" -ne 0 ]; then exit "$tests"; fi
exit "$fuzzed"
