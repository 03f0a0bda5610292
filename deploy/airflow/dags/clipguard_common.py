"""Shared pieces of the ClipGuard DAGs: settings, the shell preamble and a BashOperator factory.

Every task is a thin shell script around the `clipguard` CLI; all the logic (datasets, training,
the promotion gate, the registry) lives in the CLI, so a DAG run and the built-in scheduler of
`clipguard run` do exactly the same thing.

Settings are resolved on the worker, when the task runs, in this order:
  1. the Airflow Variable of the same name (UI/CLI, or an `AIRFLOW_VAR_<NAME>` environment variable),
  2. the worker's environment variable of the same name,
  3. the default below.
Values reach the script through the environment, never pasted into the command text, so a path
with spaces or quotes cannot change the command.

This file is a module, not a DAG: `.airflowignore` keeps the DAG processor from parsing it.
Needs Airflow 3 (task SDK + the `standard` provider); see scripts/airflow-venv.sh for the pin.
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator

# name -> default (a shell word, expanded on the worker; later ones may use earlier ones).
SETTINGS: dict[str, str] = {
    # The CLI executable: a path, or a name looked up on PATH.
    "CLIPGUARD_BIN": "clipguard",
    # The data folder of the embedded backends (`clipguard --data`): the same folder that
    # `clipguard run` serves, so a promoted model is the one its workers hot-swap to.
    "CLIPGUARD_DATA": "$HOME/clipguard-data",
    # The labelled datasets (vihsd/, seed-tiktok/). Read by the CLI itself from this variable.
    "CLIPGUARD_DATASETS": "",
    # Where each run keeps its bundle and JSON reports: $CLIPGUARD_WORK/<dag id>/<run id>/.
    "CLIPGUARD_WORK": "$CLIPGUARD_DATA/airflow-runs",
    # Extra `clipguard train text` arguments, split on whitespace (e.g. `--quick`).
    "CLIPGUARD_TRAIN_ARGS": "",
    # clipguard_ingest: sources, separated by whitespace (CSV link lists, folders, URLs).
    "CLIPGUARD_SOURCES": "",
    # clipguard_crawl: arguments of `clipguard crawl`, split on whitespace.
    "CLIPGUARD_CRAWL_ARGS": "",
}

# Runs before every task's own lines: strict mode, settings, helpers. `cg` is the CLI with the
# data folder; `RUN_DIR` is this run's own folder; `PY` is a Python for small JSON checks (the
# worker's own interpreter, which exists wherever the task runs).
PREAMBLE = (
    "set -euo pipefail\n"
    + "".join(
        f'{name}="${{CG_VAR_{name}:-${{{name}:-{default}}}}}"; export {name}\n'
        for name, default in SETTINGS.items()
    )
    + 'RUN_DIR="$CLIPGUARD_WORK/$CG_RUN_NAME"\n'
    + 'PY="$CG_PY"; [ -x "$PY" ] || PY=python3\n'
    + 'cg() { "$CLIPGUARD_BIN" --data "$CLIPGUARD_DATA" "$@"; }\n'
)

# Added for tasks that call the CLI: fail early, with a clear message, when it cannot be found.
NEEDS_CLI = (
    'if ! command -v "$CLIPGUARD_BIN" >/dev/null; then\n'
    '  echo "clipguard executable not found: $CLIPGUARD_BIN (set CLIPGUARD_BIN)" >&2; exit 1\n'
    "fi\n"
    'echo "clipguard=$CLIPGUARD_BIN data=$CLIPGUARD_DATA run_dir=$RUN_DIR"\n'
)


def _slug(value: str) -> str:
    """A run id (`manual__2026-01-02T03:04:05.678+00:00`) as a safe folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).strip("_")


def dag_kwargs(doc_md: str, **overrides) -> dict:
    """Arguments shared by the ClipGuard DAGs (overridable per DAG)."""
    kwargs = dict(
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        # Two runs of the same DAG would race on the registry or the queue.
        max_active_runs=1,
        doc_md=doc_md,
        tags=["clipguard"],
        user_defined_filters={"slug": _slug},
        default_args=dict(
            owner="clipguard",
            # The CLI already retries what is worth retrying; a failed step should be looked at.
            retries=0,
            execution_timeout=timedelta(minutes=10),
        ),
    )
    kwargs.update(overrides)
    return kwargs


def cli_task(
    task_id: str,
    script: str,
    *,
    env: dict[str, str] | None = None,
    needs_cli: bool = True,
    **kwargs,
) -> BashOperator:
    """A BashOperator that runs PREAMBLE (+ NEEDS_CLI) + `script`.

    Its last line of output is pushed to XCom. Exit code 99 is NOT turned into "skipped" (the
    BashOperator default): every non-zero code of the CLI is a failure unless the script itself
    decides otherwise.
    """
    full_env = {f"CG_VAR_{name}": "{{ var.value.get('%s', '') }}" % name for name in SETTINGS}
    full_env["CG_RUN_NAME"] = "{{ dag.dag_id }}/{{ run_id | slug }}"
    full_env["CG_PY"] = sys.executable
    full_env.update(env or {})
    return BashOperator(
        task_id=task_id,
        bash_command=PREAMBLE + (NEEDS_CLI if needs_cli else "") + script,
        env=full_env,
        append_env=True,
        skip_on_exit_code=None,
        **kwargs,
    )
