#!/usr/bin/env bash
# The GPU check, for one call of under ten minutes on a CUDA machine:
#   1. the kernel tests on the GPU (ARENA_TEST_DEVICE=cuda);
#   2. the main job with trainer=gpu (one GPU, bf16 mixed precision);
#   3. the benchmark suite with --device cuda, which writes benchmarks/results/cuda.json and the cuda table of
#      docs/performance.md.
#     bash benchmarks/gpu_check.sh
# Without a CUDA GPU it stops at once with one line and exit status 2.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "error: benchmarks/gpu_check.sh needs a CUDA GPU and torch sees none; run it on a GPU machine" >&2
  exit 2
fi
gpu="$(python -c "import torch; print(torch.cuda.get_device_name(0))")"
run_dir="$(mktemp -d)/run"

echo "== 1/3 kernel tests on $gpu" >&2
ARENA_TEST_DEVICE=cuda python -m pytest -q -p no:cacheprovider tests/nn/test_window_attention.py

echo "== 2/3 the main job with trainer=gpu" >&2
python run.py modality=image model=attn trainer=gpu logger=csv callbacks.progress=null "hydra.run.dir=$run_dir"
python -c "import json, sys; r = json.load(open(sys.argv[1])); assert r['status'] == 'ok', r; print('test accuracy', r['test']['acc'])" \
  "$run_dir/results.json"

echo "== 3/3 the benchmark suite on $gpu" >&2
python benchmarks/suite.py --device cuda --out benchmarks/results/cuda.json --docs --machine-name "one $gpu"
