#!/usr/bin/env bash
# Creates (once) the Python venv that runs Apache Airflow for the DAGs in deploy/airflow/
# (`airflow dags test`, driven by deploy/airflow/test_dags.sh) and prints the path of its
# `airflow` executable on stdout (progress goes to stderr).
#
# Why this shape: Airflow's own constraint files are published on GitHub, which this project's
# machines cannot reach, so the resolution that PyPI alone gives for apache-airflow 3.3.2 on
# Python 3.11 is kept in deploy/airflow/constraints-py311.txt (every transitive package pinned).
# No extras: the meta package already brings the task SDK and the `standard` provider
# (BashOperator); the DAGs need nothing else. No webserver, scheduler or database server is
# needed for `airflow dags test`: the caller points AIRFLOW_HOME at a scratch folder and Airflow
# keeps its metadata in SQLite there. Measured here (2 cores): ≈25 s from PyPI, ≈290 MB.
#
# Idempotent (scripts/lib/venv.sh): reused while its stamp matches the pin and the constraints
# file. Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-airflow (Python 3.10–3.13; the
# constraints were made on 3.11).
set -euo pipefail

pin="apache-airflow==3.3.2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
constraints="$root/deploy/airflow/constraints-py311.txt"

source "$root/scripts/lib/venv.sh"

# `airflow` writes airflow.cfg and logs/ into AIRFLOW_HOME (default ~/airflow) even for
# `airflow version`: keep the self-check away from the user's home.
check() {
  local home rc=0
  home="$(mktemp -d)"
  AIRFLOW_HOME="$home" AIRFLOW__CORE__LOAD_EXAMPLES=False "$venv/bin/airflow" version || rc=$?
  rm -rf "$home"
  return $rc
}

venv_ensure airflow "$pin $(sha256sum "$constraints" | cut -d' ' -f1)" check "$pin" -c "$constraints"
echo "$venv/bin/airflow"
