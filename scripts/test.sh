#!/usr/bin/env bash
# What `make test` runs once everything is installed: the suite in three pytest processes side by
# side; arguments are passed to each (e.g. `-x`, `-k NAME`).
#
#   [chain]    tests that use the session chain (tests/hub, tests/app, tests/test_*.py): most of
#              their time is spent waiting for blocks, transactions and a browser;
#   [compute]  tests that use no shared chain: the contracts on Titanoboa, the trainer's real
#              hivemind peers, the contract build, and the end-to-end runs that start chains of their
#              own (tests/bridge, tests/demo, tests/packaging, the README walkthrough): mostly CPU;
#   [fuzz]     the Hypothesis suite (fuzz/): one core of pure CPU for several minutes.
#
# Why three: as two (the fuzz suite beside the rest) CI took 40.6 min of its 30-minute budget on two
# cores, the chain tests mostly waiting while the CPU-bound ones queued behind them (`--durations`
# prints each process's slowest steps). Each process keeps its own order (see conftest.py); the
# chain tests' session chain and the chains of the end-to-end runs each take free ports.
#
# Every line comes out as it is written, prefixed with its process's name (whole lines: lines of
# different processes never mix), and each failure is printed as it happens (conftest.py); each
# process's output is also kept in build/NAME.log.
# The exit status is the first failing process's, in the order above (pytest's 5, "no tests
# collected", counts as passing: `-k` may select from one side only).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# (a clean-clone run under load: [chain] 47 min, [compute] 31 min before the last two moved here)
OWN_CHAINS=(tests/contracts tests/trainer tests/bridge tests/demo tests/packaging tests/hub/test_walkthrough.py
    tests/hub/test_build.py)
mkdir -p build
pids=() followers=()

start() { # NAME PYTEST-ARGS...: one pytest process in the background, its output in build/NAME.log
    local name=$1
    shift
    : >"build/$name.log"
    "$BIN/pytest" -q "$@" >"build/$name.log" 2>&1 &
    pids+=($!)
    # followed from the file, not piped: a process the tests leave behind holding the output open
    # can then never keep this script waiting
    tail -n +1 -f --pid="$!" "build/$name.log" | sed -u "s/^/[$name] /" &
    followers+=($!)
}

# Background jobs of a script start with SIGINT ignored; pytest takes it back (conftest.py), so on
# Ctrl+C or any early exit each process is interrupted as from a terminal and stops its chains and peers.
trap 'kill -INT "${pids[@]}" 2>/dev/null; wait' EXIT
start chain tests "${OWN_CHAINS[@]/#/--ignore=}" "$@"
start compute "${OWN_CHAINS[@]}" "$@"
start fuzz fuzz "$@"
statuses=()
for pid in "${pids[@]}"; do
    wait "$pid"
    statuses+=($?)
done
wait "${followers[@]}"
trap - EXIT
echo "== exit status: chain ${statuses[0]}, compute ${statuses[1]}, fuzz ${statuses[2]} (logs in build/) =="
for status in "${statuses[@]}"; do
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
done
exit 0
