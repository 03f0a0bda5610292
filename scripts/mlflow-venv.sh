#!/usr/bin/env bash
# Creates (once) the Python venv that runs a real `mlflow server` for the MLflow registry tests
# (crates/clipguard-registry/tests/registry.rs) and prints the path of its `mlflow` executable
# on stdout (progress goes to stderr).
#
# Why mlflow-skinny plus a short list instead of `mlflow`: the full package drags in scipy,
# scikit-learn, pyarrow, matplotlib and docker (≈850 MB); `mlflow server` only needs the web
# stack below (≈360 MB). numpy and pandas are imported by the server at start-up even though the
# registry endpoints never use them. Versions are pinned (the ones MLflow 3.17.2 accepts) so a
# new release cannot change what the tests run against.
#
# Idempotent: the venv is reused while its stamp (written last) matches the pinned list;
# otherwise it is rebuilt from scratch under a lock, so concurrent callers wait instead of
# seeing half a venv, and an interrupted build is simply redone. Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-mlflow.
set -euo pipefail
# `mlflow --version` below must not phone home (MLflow 3 has usage telemetry).
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

pins=(
  "mlflow-skinny==3.17.2"
  "Flask==3.1.3"
  "flask-cors==6.0.5"
  "SQLAlchemy==2.1.9"
  "alembic==1.20.1"
  "graphene==3.4.3"
  "huey==3.5.4"
  "aiohttp==3.14.5"
  "cryptography==50.0.2"
  "numpy==2.4.6"
  "pandas==3.1.1"
)

cache="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}"
venv="$cache/venv-mlflow"
stamp="$venv/.clipguard-pins"
wanted="$(printf '%s\n' "${pins[@]}")"
python="${CLIPGUARD_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
fi

ready() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$venv/bin/mlflow" --version >/dev/null 2>&1
}

mkdir -p "$cache"
if ! ready; then
  exec 9>"$cache/venv-mlflow.lock"
  flock 9
  if ! ready; then
    echo "mlflow-venv: building $venv with $python (${pins[0]})" >&2
    start=$(date +%s)
    # Built where it will live: a venv is not relocatable.
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
    "$venv/bin/mlflow" --version >&2
    printf '%s\n' "$wanted" >"$stamp"
    echo "mlflow-venv: ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
  fi
fi
echo "$venv/bin/mlflow"
