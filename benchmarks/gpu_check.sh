#!/usr/bin/env bash
# The prepared GPU check: the CUDA tests, then the benchmarks on the GPU, ending with
# the headline numbers for the note: steps/s single and ensemble (K = 3, 5), the fraction of the
# step that is overhead, and peak GPU memory (torch.cuda.max_memory_allocated).
#
#   bash benchmarks/gpu_check.sh              # on a machine with a CUDA GPU
#   COMPILE=0 bash benchmarks/gpu_check.sh cpu   # the same Python parts on CPU, as a dry check
#
# Sized for a 15-minute device slot: the CUDA tests (about a minute) and the train, overhead and
# ensemble sections of benchmarks/run.py --quick (on CUDA --quick still times 50 steps a case),
# with the torch.compile cases (about a minute of compiling each) unless COMPILE=0.  The
# CPU-bound sections (decompose, metrics, data) are left to benchmarks/run.py on the CPU.
# Results go to $OUT (default /tmp/minirtc-gpu-check): pytest's log and the JSON.
set -euo pipefail

DEVICE="${1:-cuda}"
COMPILE="${COMPILE:-1}"
OUT="${OUT:-${TMPDIR:-/tmp}/minirtc-gpu-check}"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"

echo "== machine"
uptime
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
fi
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'device', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"

echo "== CUDA tests (pytest -m cuda; they skip, with a reason, without a GPU)"
python -m pytest -q -rs -m cuda -p no:cacheprovider tests 2>&1 | tee "$OUT/cuda-tests.txt"

echo "== benchmarks (train, overhead, ensemble on $DEVICE)"
compile_flag=()
if [ "$COMPILE" = "1" ]; then
    compile_flag=(--compile)
fi
python benchmarks/run.py --device "$DEVICE" --quick "${compile_flag[@]}" \
    --sections train,overhead,ensemble --out "$OUT/run-$DEVICE.json"
echo "== done: $OUT"
