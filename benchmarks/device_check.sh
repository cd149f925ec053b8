#!/usr/bin/env bash
# One call's worth of GPU checks on a lent device machine (its image has torch, accelerate, h5py, tensorboard and
# transformers, but no simulator): every training stage's throughput for the paper and cpu profiles on the GPU,
# then the simulator-free tests with CUDA visible. Writes under $OUT (the device tool brings that folder back).
#     OUT=/tmp/gpu bash benchmarks/device_check.sh
set -u
TRACE=${TRACE:-}  # TRACE=--trace: also the GPU busy fraction of each stage
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import sys, torch, accelerate, numpy; print(sys.version.split()[0], torch.__version__, accelerate.__version__, numpy.__version__)" \
  | tee -a "$OUT/gpu.txt"
timeout 330 python3 benchmarks/train_throughput.py --profiles ${PROFILES:-paper cpu} --parts ${PARTS:-baku lam skills pretrain} $TRACE \
  --steps "${STEPS:-200}" --out "$OUT/train_throughput_gpu.json" 2>"$OUT/train_throughput.err" | tee "$OUT/train_throughput.log"
tr '\r' '\n' < "$OUT/train_throughput.err" | grep -v "^train:" | tail -5
timeout 180 python3 -m pytest -q -p no:cacheprovider tests/test_train.py tests/test_hnet.py tests/test_lam.py \
  tests/test_models.py > "$OUT/pytest.log" 2>&1
tail -12 "$OUT/pytest.log"
