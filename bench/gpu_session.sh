#!/usr/bin/env bash
# The one prepared command a lent GPU machine runs (bench/RESULTS.md records what it printed).
#
#   bench/gpu_wheels.sh bench/wheels            # here, with network: what the machine lacks
#   there: bash bench/gpu_session.sh OUT_DIR    # OUT_DIR/log gets everything
#
# The commands as a user types them, on CUDA: a tiny-model swarm (aux peer + two `trainer train`) in
# the trainer's automatic choice (bf16 autocast, SDPA), one in DiLoCo + LoRA + fp16 (the gradient
# scaler's path), `trainer generate` from a checkpoint; each peer's exit status and log lines, so a
# crash in a 16-bit path shows up here. Between them `bench/gpu_check.py` on the 7B shape, in order of
# what the rows tell: the trainer's profiles, then the attention kernels, full + offload (slowest) last.
# Every step has its own time limit, so one that hangs costs its limit and not the rest.
set -uo pipefail
OUT="${1:-/tmp/gpu-session}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
PY="${PYTHON:-python3}"
trainer() { "$PY" -c 'import sys; from trainer.cli import main; sys.argv[0] = "trainer"; main()' "$@"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c 'import torch, transformers, hivemind; print("torch", torch.__version__, "transformers", transformers.__version__, "hivemind", hivemind.__version__)'
WORK=$(mktemp -d /tmp/gpu-session-XXXX)
trainer make-corpus "$WORK/corpus.txt" | tail -1

# one swarm: an aux peer on a fixed port, two trainers that bootstrap from it, all to --max-epochs;
# options before `--` go to every peer, after it to the trainers only
swarm() {
    local name=$1 port=$2 shared=() own=()
    shift 2
    while (($#)) && [ "$1" != "--" ]; do shared+=("$1"); shift; done
    (($#)) && shift
    own=("$@")
    local dir="$WORK/$name" common=(--model tiny --run-id "gpu-$name" --target-batch-size 64 --max-epochs 3)
    common+=(${shared[@]+"${shared[@]}"})
    mkdir -p "$dir"
    echo "== swarm $name: ${shared[*]-} ${own[*]-}"
    trainer aux "${common[@]}" --host-maddrs "/ip4/127.0.0.1/tcp/$port" --checkpoint-dir "$dir/aux" \
        --checkpoint-every 1 --maddrs-file "$dir/aux.maddrs" > "$dir/aux.log" 2>&1 &
    local aux=$!
    for _ in $(seq 60); do [ -s "$dir/aux.maddrs" ] && break; sleep 1; done
    local pids=()
    for peer in 1 2; do
        timeout 100 "$PY" -c 'import sys; from trainer.cli import main; sys.argv[0] = "trainer"; main()' \
            train "${common[@]}" ${own[@]+"${own[@]}"} --data "$WORK/corpus.txt" --seq-len 64 --batch-size 4 \
            --lr 3e-3 --warmup-steps 2 --data-shards 2 --initial-peers "$(cat "$dir/aux.maddrs")" \
            --checkpoint-dir "$dir/peer$peer" --checkpoint-every 1 > "$dir/peer$peer.log" 2>&1 &
        pids+=($!)
    done
    for peer in 1 2; do
        wait "${pids[$((peer - 1))]}"
        echo "-- $name peer$peer exit $?"
        grep -E "kernels:|profile:|stopped at|ERROR|Error|Traceback|non-finite|nan" "$dir/peer$peer.log" | head -8
    done
    # a background job of a script ignores SIGINT: SIGTERM is the trainer's other clean stop
    timeout 30 tail --pid="$aux" -f /dev/null || kill -TERM "$aux"
    wait "$aux"
    echo "-- $name aux exit $?"
    grep -E "ERROR|Error|Traceback" "$dir/aux.log" | head -5
}

check() {
    timeout 200 "$PY" bench/gpu_check.py --rows "$1" ${GPU_CHECK_ARGS:-}
    echo "-- gpu_check [$1] exit $?"
}

swarm auto 31337
echo "== bench/gpu_check.py, 7B shape"
check full
check lora
check "diloco full"
swarm diloco-lora-fp16 31338 --averaging diloco --profile lora -- --dtype fp16

printf 'peer ada staked\nthe loss of pool\n' > "$WORK/prompts.txt"
echo "== trainer generate (auto device) from the first swarm's newest checkpoint"
timeout 120 "$PY" -c 'import sys; from trainer.cli import main; sys.argv[0] = "trainer"; main()' generate \
    --checkpoint "$WORK/auto/peer1" --prompts "$WORK/prompts.txt" --output-dir "$WORK/gen" --max-length 32 \
    --temperature 0.7 --top-p 0.9 --num-samples 2
echo "-- generate exit $?"
head -c 600 "$WORK/gen/generations.txt" 2>/dev/null && echo

check "sdpa flash,sdpa default,sdpa math,eager,flash_attention_2"
check "full + offload"
