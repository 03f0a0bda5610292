#!/usr/bin/env bash
# Tests the ClipGuard Airflow DAGs with a real Airflow (scripts/airflow-venv.sh), no services:
#   1. every DAG file in deploy/airflow/dags imports with no error and the three DAGs exist
#      (always runs);
#   2. `airflow dags test clipguard_retrain` twice against CLIPGUARD_BIN, one fresh data folder
#      and CLIPGUARD_DATASETS (check data → train → evaluate → register → promote → notify):
#      run 1 with the text floor at 0 must promote version 1 (there is no champion yet);
#      run 2 with a gate margin of 0.99 must be refused, and a refusal is a successful run.
#      Both branches of the promote task are thus exercised against the real gate, through the
#      CLI's own settings variables (CLIPGUARD_REGISTRY__FLOORS__TEXT, CLIPGUARD_REGISTRY__MARGIN);
#   3. `airflow dags test clipguard_ingest` with an empty local source folder (no network).
# Task states are read back from Airflow's metadata DB, not inferred from the exit code alone.
#
# Usage: deploy/airflow/test_dags.sh [--bin PATH] [--datasets DIR] [--date YYYY-MM-DD]
#                                   [--import-only] [--keep]
# Env:   CLIPGUARD_BIN, CLIPGUARD_DATASETS (same as --bin / --datasets; both required unless
#        --import-only), CLIPGUARD_TRAIN_ARGS (extra `train text` arguments; default
#        `--epochs 1 --max-steps 2 --vihsd-train 32`, a smoke run of a few seconds on a tiny
#        fixture), CLIPGUARD_CONFIG (passed through to the CLI),
#        AIRFLOW_BIN (an `airflow` to use instead of building the venv),
#        CLIPGUARD_AIRFLOW_TEST_TIMEOUT (seconds per `dags test`, default 1200).
# Exit:  0 when every check passed; the last line is `airflow-dags: N passed, M failed`.
# Scratch (AIRFLOW_HOME with its SQLite DB, the data folder, logs) lives in a temp folder,
# removed at the end unless --keep.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dags="$repo/deploy/airflow/dags"
bin="${CLIPGUARD_BIN:-}"
datasets="${CLIPGUARD_DATASETS:-}"
date="$(date -u +%F)"
import_only=0
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --datasets) datasets="$2"; shift 2 ;;
    --date) date="$2"; shift 2 ;;
    --import-only) import_only=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "test_dags: unknown argument $1" >&2; exit 2 ;;
  esac
done
limit="${CLIPGUARD_AIRFLOW_TEST_TIMEOUT:-1200}"

airflow="${AIRFLOW_BIN:-$("$repo/scripts/airflow-venv.sh")}"
work="$(mktemp -d "${TMPDIR:-/tmp}/clipguard-airflow.XXXXXX")"
if [ "$keep" = 1 ]; then
  echo "test_dags: scratch kept in $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

# A private Airflow: SQLite metadata DB in the scratch folder, only our DAGs, no examples.
# Settings that could leak in from the caller's Airflow are overridden, not inherited.
export AIRFLOW_HOME="$work/airflow-home"
export AIRFLOW__CORE__DAGS_FOLDER="$dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export PYTHONWARNINGS=ignore   # keeps Airflow's "no graphviz" warning out of the JSON output
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree's DAG folder
unset AIRFLOW_CONFIG
for v in $(compgen -e | grep '^AIRFLOW_VAR_CLIPGUARD_' || true); do unset "$v"; done
mkdir -p "$AIRFLOW_HOME"

passed=0
failed=0
ok() { echo "PASS $1"; passed=$((passed + 1)); }
ko() { echo "FAIL $1" >&2; failed=$((failed + 1)); }
finish() {
  echo "airflow-dags: $passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; else exit 1; fi
}
# The last line of stdout that is a JSON array (Airflow may print log lines before it).
json_of() { grep '^\[' | tail -n1; }

echo "test_dags: $("$airflow" version 2>/dev/null | tail -n1) at $airflow, AIRFLOW_HOME=$AIRFLOW_HOME"
timeout 300 "$airflow" db migrate >"$work/db-migrate.log" 2>&1 || {
  tail -n 30 "$work/db-migrate.log" >&2; ko "airflow db migrate"; finish
}

# ---- 1. imports ---------------------------------------------------------------------------
rc=0
errors="$(timeout 300 "$airflow" dags list-import-errors --local -o json 2>"$work/import.err" | json_of)" || rc=$?
listed="$(timeout 300 "$airflow" dags list --local -o json 2>>"$work/import.err" | json_of)" || true
if ! "${airflow%/*}/python" - "$errors" "$listed" <<'PYEOF'
import json, sys
errors = json.loads(sys.argv[1] or "[]")
listed = {d["dag_id"] for d in json.loads(sys.argv[2] or "[]")}
for e in errors:
    print(f"import error in {e['filepath']}:\n{e['error']}", file=sys.stderr)
wanted = {"clipguard_retrain", "clipguard_ingest", "clipguard_crawl"}
if wanted - listed:
    print(f"DAGs not found: {sorted(wanted - listed)} (found {sorted(listed)})", file=sys.stderr)
print(f"DAGs: {sorted(listed)}")
sys.exit(1 if errors or wanted - listed else 0)
PYEOF
then
  cat "$work/import.err" >&2
  ko "DAG imports (list-import-errors exit $rc)"
else
  ok "DAG imports"
fi
[ "$import_only" = 1 ] && finish

if [ -z "$bin" ] || [ -z "$datasets" ]; then
  echo "test_dags: set CLIPGUARD_BIN and CLIPGUARD_DATASETS (or --bin/--datasets), or pass --import-only" >&2
  ko "DAG runs (no clipguard binary or datasets given)"
  finish
fi
if ! bin="$(command -v "$bin")"; then
  ko "clipguard binary not found: $bin"; finish
fi
datasets="$(cd "$datasets" && pwd)"

# Runs `airflow dags test DAG`, then checks every task's state in the metadata DB.
#   $1 label; $2 dag id; $3 tasks that must succeed; $4 tasks that may be skipped;
#   $5 the promotion decision expected in the run's decision.json (retrain only) or "".
run_dag() {
  local label="$1" dag="$2" must="$3" may_skip="$4" expect="$5" rc=0 run_id states
  local log="$work/$label.log"
  echo "test_dags: $label: airflow dags test $dag $date (log: $log)"
  timeout "$limit" "$airflow" dags test "$dag" "$date" >"$log" 2>&1 || rc=$?
  # The newest run of the DAG is this one (`dags test` names it manual__<now>).
  run_id="$("$airflow" dags list-runs "$dag" -o json 2>/dev/null | json_of |
    "${airflow%/*}/python" -c '
import json, sys
runs = json.load(sys.stdin)
print(max(runs, key=lambda r: r["run_after"] or "")["run_id"] if runs else "")')"
  if [ -z "$run_id" ]; then
    tail -n 40 "$log" >&2
    ko "$label: no DAG run recorded (dags test exit $rc)"; return
  fi
  states="$("$airflow" tasks states-for-dag-run "$dag" "$run_id" -o json 2>/dev/null | json_of)"
  if "${airflow%/*}/python" - "$states" "$must" "$may_skip" "$rc" "$log" "$expect" \
      "$CLIPGUARD_WORK/$dag" "$run_id" <<'PYEOF'
import json, os, re, sys
states = {t["task_id"]: t["state"] for t in json.loads(sys.argv[1] or "[]")}
must, may_skip, rc, log = sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4]), sys.argv[5]
expect, runs_dir, run_id = sys.argv[6], sys.argv[7], sys.argv[8]
for task, state in sorted(states.items()):
    print(f"  {task:<14} {state}")
bad = [t for t in must if states.get(t) != "success"]
bad += [t for t, s in states.items() if t not in must and not (t in may_skip and s == "skipped")]
print(f"  dags test exit code {rc}")
if expect:
    # The run folder is named as clipguard_common._slug names it.
    run_dir = os.path.join(runs_dir, re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("_"))
    try:
        decision = json.load(open(os.path.join(run_dir, "decision.json")))
        print(f"  decision: {json.dumps(decision, ensure_ascii=False)}")
        if decision.get("decision") != expect:
            print(f"  expected the gate to answer {expect}", file=sys.stderr)
            bad.append("decision")
    except OSError as e:
        print(f"  no decision recorded: {e}", file=sys.stderr)
        bad.append("decision")
# `dags test` writes no per-task log files: cut each failed task's output out of the run's log.
failed = [t for t, s in states.items() if s == "failed"]
out, task = {t: [] for t in failed}, None
start = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
line_re = re.compile(r"^\S+ \[\w+\s*\] (.*?)\s+\[airflow\.task\.hooks\.\S+SubprocessHook\] loc=subprocess\.py:106")
for line in open(log, errors="replace"):
    m = start.search(line)
    if m:
        task = m.group(1)
    m = line_re.match(line)
    if m and task in out:
        out[task].append(m.group(1))
    elif task in out and ("[error" in line or "Exception:" in line):
        out[task].append(line.strip()[:300])
for t in failed:
    print(f"--- output of failed task {t} (last 30 lines) ---", file=sys.stderr)
    print("\n".join(out[t][-30:]), file=sys.stderr)
sys.exit(1 if bad or rc != 0 else 0)
PYEOF
  then
    ok "$label"
  else
    ko "$label (dags test exit $rc, run $run_id; full log: $log, kept with --keep)"
  fi
}

export CLIPGUARD_BIN="$bin" CLIPGUARD_DATASETS="$datasets"
export CLIPGUARD_DATA="$work/data" CLIPGUARD_WORK="$work/runs"
# A smoke-sized training run unless the caller says otherwise (set it empty for a full one).
if [ -z "${CLIPGUARD_TRAIN_ARGS+set}" ]; then
  export CLIPGUARD_TRAIN_ARGS="--epochs 1 --max-steps 2 --vihsd-train 32"
fi
echo "test_dags: CLIPGUARD_BIN=$CLIPGUARD_BIN CLIPGUARD_DATASETS=$CLIPGUARD_DATASETS CLIPGUARD_TRAIN_ARGS='$CLIPGUARD_TRAIN_ARGS'"
retrain_tasks="check_data train evaluate register promote notify"

# ---- 2. retrain: once promoted, once refused ----------------------------------------------
CLIPGUARD_REGISTRY__FLOORS__TEXT=0 \
  run_dag retrain-promoted clipguard_retrain "$retrain_tasks" watcher promoted
CLIPGUARD_REGISTRY__MARGIN=0.99 \
  run_dag retrain-refused clipguard_retrain "$retrain_tasks" watcher refused

# ---- 3. ingest (an empty local folder: exercises the CLI without touching the network) ------
mkdir -p "$work/sources"
export CLIPGUARD_SOURCES="$work/sources"
run_dag ingest clipguard_ingest "doctor check_sources ingest status" "" ""

finish
