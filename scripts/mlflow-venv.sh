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
# Idempotent (scripts/lib/venv.sh): reused while its stamp matches the pinned list.
# Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-mlflow.
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

source "$(dirname "${BASH_SOURCE[0]}")/lib/venv.sh"
check() { "$venv/bin/mlflow" --version; }
venv_ensure mlflow "$(printf '%s\n' "${pins[@]}")" check "${pins[@]}"
echo "$venv/bin/mlflow"
