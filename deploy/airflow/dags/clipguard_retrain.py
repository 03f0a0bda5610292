"""clipguard_retrain: check data → train → evaluate → register → promote (gate) → notify.

The seed's `3_MODEL_RETRAINING` submitted a Spark job that could never run (REST port disabled,
Python cluster mode unsupported, a wrong CLI argument, a placeholder data check). This DAG runs
the same steps as the built-in scheduler of `clipguard run`, each a thin shell task over the CLI.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from airflow.sdk import DAG

# The DAG processor puts the DAG folder on sys.path; a plain DagBag (`airflow dags list -l`,
# tests) does not, so make the shared module importable either way.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clipguard_common import cli_task, dag_kwargs  # noqa: E402

DOC = """
### ClipGuard text-model retraining

| task | command |
|---|---|
| `check_data` | `clipguard --data D doctor`, then the datasets folder must hold `vihsd/train.csv`, `seed-tiktok/train_data_viet.csv` and `seed-tiktok/eval_split.csv` with their columns and at least one row |
| `train` | `clipguard --data D train text --out RUN_DIR/bundle $CLIPGUARD_TRAIN_ARGS` |
| `evaluate` | `clipguard --data D eval --model text --bundle RUN_DIR/bundle --dataset seed-tiktok --split eval --json > RUN_DIR/eval.json`; XCom: F1(harmful) |
| `register` | `clipguard --data D models register RUN_DIR/bundle --json`; XCom: the version |
| `promote` | `clipguard --data D models promote text VERSION --actor airflow --json`; exit 0 = promoted, 3 = the gate refused (a normal outcome: the task succeeds); XCom: the decision as one JSON line |
| `notify` | logs a one-line summary and the decision (runs even when a step failed) |
| `watcher` | fails the run when any task failed (otherwise `notify`, which always runs, would make a failed run look successful) |

Settings (Airflow Variable, else environment, else default): `CLIPGUARD_BIN`, `CLIPGUARD_DATA`,
`CLIPGUARD_DATASETS` (required), `CLIPGUARD_WORK`, `CLIPGUARD_TRAIN_ARGS`. Each run writes
`$CLIPGUARD_WORK/clipguard_retrain/<run id>/` (bundle/, eval.json, register.json, promote.json).
See deploy/airflow/README.md.
"""

# Parse-time knobs (the DAG's shape, not per-run values).
TRAIN_TIMEOUT = timedelta(minutes=float(os.environ.get("CLIPGUARD_TRAIN_TIMEOUT_MIN", "180")))
SCHEDULE = os.environ.get("CLIPGUARD_RETRAIN_SCHEDULE", "@daily")

CHECK_DATA = r"""
cg doctor
if [ -z "$CLIPGUARD_DATASETS" ]; then
  echo "CLIPGUARD_DATASETS is not set (the folder holding vihsd/ and seed-tiktok/)" >&2; exit 1
fi
"$PY" - "$CLIPGUARD_DATASETS" <<'PYEOF'
import csv, os, sys
root = sys.argv[1]
needed = [  # file, text column, label column (the columns the CLI reads)
    ("vihsd/train.csv", "free_text", "label_id"),
    ("seed-tiktok/train_data_viet.csv", "text", "label"),
    ("seed-tiktok/eval_split.csv", "text", "label"),
]
bad = []
for rel, text_col, label_col in needed:
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        bad.append(f"{rel}: missing")
        continue
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in (text_col, label_col) if c not in (reader.fieldnames or [])]
        if missing:
            bad.append(f"{rel}: no column {', '.join(missing)} (has {reader.fieldnames})")
            continue
        labels = {}
        for row in reader:
            if (row.get(text_col) or "").strip():
                label = (row.get(label_col) or "").strip()
                labels[label] = labels.get(label, 0) + 1
    rows = sum(labels.values())
    if rows == 0:
        bad.append(f"{rel}: no labelled rows")
    print(f"{rel}: {rows} rows, labels {dict(sorted(labels.items()))}")
if bad:
    print("datasets check failed: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
PYEOF
echo "data ok"
"""

TRAIN = r"""
read -r -a train_args <<< "$CLIPGUARD_TRAIN_ARGS"
mkdir -p "$RUN_DIR"
rm -rf "$RUN_DIR/bundle"   # a rerun of this task starts clean
cg train text --out "$RUN_DIR/bundle" "${train_args[@]}"
if [ ! -f "$RUN_DIR/bundle/manifest.json" ]; then
  echo "training wrote no $RUN_DIR/bundle/manifest.json" >&2; exit 1
fi
ls -l "$RUN_DIR/bundle"
echo "$RUN_DIR/bundle"
"""

EVALUATE = r"""
cg eval --model text --bundle "$RUN_DIR/bundle" --dataset seed-tiktok --split eval --json \
  > "$RUN_DIR/eval.json"
"$PY" - "$RUN_DIR/eval.json" <<'PYEOF'
import json, sys
report = json.load(open(sys.argv[1]))
keys = ["n", "f1_harmful", "precision", "recall", "auc", "accuracy", "threshold", "confusion"]
missing = [k for k in keys if k not in report]
if missing:
    sys.exit(f"eval report lacks {missing}: {report}")
print(json.dumps(report, separators=(",", ":")))
print(float(report["f1_harmful"]))  # last line -> XCom
PYEOF
"""

REGISTER = r"""
cg models register "$RUN_DIR/bundle" --json > "$RUN_DIR/register.json"
"$PY" - "$RUN_DIR/register.json" <<'PYEOF'
import json, sys
entry = json.load(open(sys.argv[1]))
print(json.dumps(entry, separators=(",", ":")))
if entry.get("name") != "text" or not str(entry.get("version") or ""):
    sys.exit(f"unexpected registry answer: {entry}")
print(entry["version"])  # last line -> XCom
PYEOF
"""

# Exit 0 = promoted, 3 = refused by the gate (recorded, not a failure), anything else = failure.
PROMOTE = r"""
if [ -z "$CG_VERSION" ]; then echo "no registered version in XCom" >&2; exit 1; fi
rc=0
cg models promote text "$CG_VERSION" --actor airflow --json > "$RUN_DIR/promote.json" || rc=$?
cat "$RUN_DIR/promote.json"
case "$rc" in
  0) decision=promoted ;;
  3) decision=refused ;;
  *) echo "clipguard models promote failed with exit code $rc" >&2; exit "$rc" ;;
esac
"$PY" - "$RUN_DIR/promote.json" "$decision" "$rc" "$CG_VERSION" "$CG_F1" <<'PYEOF'
import json, sys
path, decision, rc, version, f1 = sys.argv[1:]
text = open(path).read().strip()
try:
    gate = json.loads(text) if text else None
except ValueError:
    gate = text  # not JSON: keep what the CLI said
line = json.dumps(
    dict(model="text", version=version, f1_harmful=float(f1) if f1 else None,
         decision=decision, exit_code=int(rc), gate=gate),
    separators=(",", ":"), ensure_ascii=False)
open(path.replace("promote.json", "decision.json"), "w").write(line + "\n")
print(line)  # last line -> XCom
PYEOF
"""

NOTIFY = r"""
if [ -n "$CG_DECISION" ]; then
  echo "clipguard_retrain $CG_RUN_NAME: text v$CG_VERSION f1_harmful=$CG_F1 -> $("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["decision"])' "$CG_DECISION")"
  echo "$CG_DECISION"
else
  echo "clipguard_retrain $CG_RUN_NAME: no decision (version=${CG_VERSION:-none} f1_harmful=${CG_F1:-none}); a step failed, see its log"
fi
"""

WATCHER = r"""
echo "a task of this run failed (see the task states); failing the run" >&2
exit 1
"""

XCOMS = {
    "CG_F1": "{{ ti.xcom_pull(task_ids='evaluate') or '' }}",
    "CG_VERSION": "{{ ti.xcom_pull(task_ids='register') or '' }}",
    "CG_DECISION": "{{ ti.xcom_pull(task_ids='promote') or '' }}",
}

with DAG(
    dag_id="clipguard_retrain",
    schedule=SCHEDULE,
    dagrun_timeout=TRAIN_TIMEOUT + timedelta(hours=2),
    **dag_kwargs(DOC),
) as dag:
    check_data = cli_task("check_data", CHECK_DATA)
    train = cli_task("train", TRAIN, execution_timeout=TRAIN_TIMEOUT)
    evaluate = cli_task(
        "evaluate", EVALUATE, output_processor=float, execution_timeout=timedelta(minutes=30)
    )
    register = cli_task("register", REGISTER)
    promote = cli_task("promote", PROMOTE, env=XCOMS)
    notify = cli_task(
        "notify", NOTIFY, env=XCOMS, needs_cli=False, trigger_rule="all_done"
    )
    watcher = cli_task("watcher", WATCHER, needs_cli=False, trigger_rule="one_failed")

    check_data >> train >> evaluate >> register >> promote >> notify
    [check_data, train, evaluate, register, promote, notify] >> watcher
