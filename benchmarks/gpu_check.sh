#!/usr/bin/env bash
# The prepared GPU check, in three parts that each report even when another fails:
#   1. the CUDA tests (pytest -m cuda);
#   2. the throughput benchmark on the GPU (benchmarks/run.py --quick: train, overhead, ensemble);
#   3. a short paper-profile sweep on the procedural dSprites (rtc-vae and factor-vae, beta 6,
#      seed 0, 2,000 steps each, MIG of each run), the throughput record of those runs, and
#      `minirtc sweep --profile paper --dry-run` estimating the paper's GPU-hours from it.
#
#   bash benchmarks/gpu_check.sh          # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh cpu      # dry check on CPU: the same commands at toy sizes
#
# Sized to stay well under 10 minutes on one H200: part 1 about a minute, part 2 one or two
# without COMPILE=1 (which adds four torch.compile cases of about a minute each), part 3 a
# few minutes (most of it rendering the 737,280 images, twice, and the MIG's encodings).
# Each part runs under its own time limit (on CUDA 30 + 120 + 150 + 210 + 30 s, 9 minutes in
# all, so that a hung part still leaves the others' results; PART_TIMEOUT sets one limit
# for every part; on CPU 600 s each).  The exit status is non-zero when any part failed;
# summary.txt lists each part's outcome and time.
#
# Everything goes to $OUT (default ${TMPDIR:-/tmp}/minirtc-gpu-check):
#   machine.txt  cuda-tests.txt  benchmark.txt run-<device>.json  paper.txt paper-sweep/
#   gpu-throughput.json  paper-plan.txt  summary.txt
# To make the measured throughput the dry run's default, copy gpu-throughput.json to
# benchmarks/results/gpu-throughput.json.
#
# Environment: COMPILE (0), PART_TIMEOUT (see above), PAPER_STEPS (2000; cpu: 20), TESTS (pytest
# paths, default tests), SECTIONS (benchmark sections; default train,overhead,ensemble; cpu:
# overhead).
set -uo pipefail  # not -e: a failing part is recorded and the next part still runs

DEVICE="${1:-cuda}"
case "$DEVICE" in
cuda | cpu) ;;
*)
    echo "usage: bash benchmarks/gpu_check.sh [cuda|cpu]  (got '$DEVICE')" >&2
    exit 2
    ;;
esac
COMPILE="${COMPILE:-0}"
TESTS="${TESTS:-tests}"
if [ "$DEVICE" = cuda ]; then
    PAPER_STEPS="${PAPER_STEPS:-2000}"
    SECTIONS="${SECTIONS:-train,overhead,ensemble}"
    QUICK=()
else
    PAPER_STEPS="${PAPER_STEPS:-20}"
    SECTIONS="${SECTIONS:-overhead}"
    QUICK=(--quick) # toy sizes: a 5,000-image subset, a tenth of the metric samples
fi
OUT="${OUT:-${TMPDIR:-/tmp}/minirtc-gpu-check}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)" || exit 2 # absolute: the parts run from the repository
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SCRIPT")/.." || exit 2

# part NAME LOG FUNCTION SECONDS: run FUNCTION (below) in a fresh copy of this script under
# the time limit, its output shown and kept in $OUT/LOG; its outcome (ok, failed with its
# status, or timed out) goes to summary.txt.
failed=0
part() {
    local name="$1" log="$OUT/$2" function="$3" start status outcome limit
    limit="${PART_TIMEOUT:-$([ "$DEVICE" = cuda ] && echo "$4" || echo 600)}"
    echo "== $name"
    start=$(date +%s)
    GPU_CHECK_PART="$function" OUT="$OUT" timeout --kill-after=10 "$limit" \
        bash "$SCRIPT" "$DEVICE" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    case "$status" in
    0) outcome="ok" ;;
    124 | 137) outcome="timed out after $limit s" ;;
    *) outcome="failed (exit status $status)" ;;
    esac
    [ "$status" = 0 ] || failed=1
    printf '%-26s %-28s %5d s  %s\n' "$name" "$outcome" "$(($(date +%s) - start))" "$log" |
        tee -a "$OUT/summary.txt"
}

machine() {
    uptime
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    fi
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'device', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
}

benchmark() {
    local flags=(--quick)
    if [ "$COMPILE" = 1 ]; then
        flags+=(--compile)
    fi
    python benchmarks/run.py --device "$DEVICE" "${flags[@]}" --sections "$SECTIONS" \
        --out "$OUT/run-$DEVICE.json"
}

paper_sweep() {
    if [ "$DEVICE" = cuda ]; then
        python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else \
'torch sees no CUDA device: the paper profile would train on the CPU')" || return 1
    fi
    # The paper profile's device is auto: CUDA where torch sees it, else the CPU.  A sweep
    # left by an earlier check would only be resumed (its runs skipped): start afresh.
    rm -rf "$OUT/paper-sweep"
    minirtc sweep --profile paper --dataset dsprites-procedural --models rtc-vae,factor-vae \
        --betas 6 --seeds 0 --steps "$PAPER_STEPS" --metrics mig "${QUICK[@]}" \
        --out "$OUT/paper-sweep" || return 1
    python benchmarks/paper_throughput.py "$OUT"/paper-sweep/*_seed0 --out "$OUT/gpu-throughput.json" ||
        return 1
    echo "MIG of each run:"
    for metrics in "$OUT"/paper-sweep/*_seed0/metrics.json; do
        python -c "import json, sys; m = json.load(open(sys.argv[1])); \
print(' ', sys.argv[1], m.get('status'), json.dumps(m.get('scores', {}).get('mig')))" "$metrics"
    done
}

plan() {
    minirtc sweep --profile paper --dry-run --throughput "$OUT/gpu-throughput.json"
}

cuda_tests() {
    # shellcheck disable=SC2086  # TESTS may name several paths
    python -m pytest -q -rs -m cuda -p no:cacheprovider $TESTS
}

if [ -n "${GPU_CHECK_PART:-}" ]; then # one part, run by part() above
    set -e
    "$GPU_CHECK_PART"
    exit
fi
: >"$OUT/summary.txt"
part "machine" machine.txt machine 30
part "1. CUDA tests (-m cuda)" cuda-tests.txt cuda_tests 120
part "2. benchmark on $DEVICE" benchmark.txt benchmark 150
part "3. paper-profile sweep" paper.txt paper_sweep 210
part "3. paper-grid plan" paper-plan.txt plan 30
echo "== summary ($OUT/summary.txt)"
cat "$OUT/summary.txt"
exit "$failed"
