#!/usr/bin/env bash
# benchmarks/device_check.py on a GPU machine that has jax (CUDA), flax, optax,
# orbax-checkpoint and torch preinstalled but no network, no TensorFlow, no
# ml_collections and no clu.
#
#   benchmarks/device_check.sh --fetch     # here, with a package index: the
#                                          # wheels into .whl/ (~0.3 MB)
#   benchmarks/device_check.sh OUT_DIR     # there, from the repo root, with
#                                          # .whl/ carried along
#
# The wheels are pure Python: ml_collections and clu (their other needs,
# absl-py, etils, PyYAML, wrapt, are on such images) and torch-mimicry, built
# from its sdist, for the reference. They go to a --target folder on
# PYTHONPATH, so the machine's own packages are left as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(ml-collections==1.1.0 clu==0.0.12)
if [[ "${1:-}" == "--fetch" ]]; then
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: -d .whl "${WHEELS[@]}"
  python3 -m pip wheel -q --no-deps -w .whl torch-mimicry==0.1.16
  ls -l .whl
  exit 0
fi
OUT="${1:?usage: benchmarks/device_check.sh OUT_DIR | --fetch}"
mkdir -p "$OUT"
SITE="$(mktemp -d)"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --target "$SITE" .whl/*.whl
export PYTHONPATH="$SITE:$PWD"
python3 -c "import jax; print(jax.__version__, jax.devices())"
python3 benchmarks/device_check.py --out "$OUT/device_check.json" \
  --torch_python python3 2>&1 | tee "$OUT/device_check.log"
