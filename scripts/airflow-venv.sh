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
# Idempotent: the venv is reused while its stamp (written last) matches the pin and the
# constraints file; otherwise it is rebuilt from scratch under a lock, so concurrent callers wait
# instead of seeing half a venv, and an interrupted build is simply redone.
# Location: ${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}/venv-airflow. Python: $CLIPGUARD_PYTHON,
# else /usr/bin/python3, else python3 on PATH (3.10–3.13; the constraints were made on 3.11).
set -euo pipefail

pin="apache-airflow==3.3.2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
constraints="$root/deploy/airflow/constraints-py311.txt"

cache="${CLIPGUARD_CACHE:-$HOME/.cache/clipguard}"
venv="$cache/venv-airflow"
stamp="$venv/.clipguard-pins"
wanted="$pin $(sha256sum "$constraints" | cut -d' ' -f1)"
python="${CLIPGUARD_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
fi

# `airflow` writes airflow.cfg and logs/ into AIRFLOW_HOME (default ~/airflow) even for
# `airflow version`: keep the self-check away from the user's home.
check() {
  local home rc=0
  home="$(mktemp -d)"
  AIRFLOW_HOME="$home" AIRFLOW__CORE__LOAD_EXAMPLES=False "$venv/bin/airflow" version || rc=$?
  rm -rf "$home"
  return $rc
}

ready() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && check >/dev/null 2>&1
}

mkdir -p "$cache"
if ! ready; then
  exec 9>"$cache/venv-airflow.lock"
  flock 9
  if ! ready; then
    echo "airflow-venv: building $venv with $python ($pin)" >&2
    start=$(date +%s)
    # Built where it will live: a venv is not relocatable.
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "$pin" -c "$constraints" >&2
    version="$(check 2>/dev/null | tail -n1)"
    echo "airflow-venv: airflow $version" >&2
    printf '%s\n' "$wanted" >"$stamp"
    echo "airflow-venv: ready in $(( $(date +%s) - start )) s, $(du -sh "$venv" | cut -f1)" >&2
  fi
fi
echo "$venv/bin/airflow"
