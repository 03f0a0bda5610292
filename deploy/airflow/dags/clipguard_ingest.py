"""clipguard_ingest: doctor → check sources → ingest → status.

Mirrors the seed's `2_TIKTOK_STREAMING_PIPELINE` (check CSV → check Kafka → ingest worker → wait
for rows → cool-down → re-trigger itself), which re-sent the whole CSV on every loop. Here the
CLI dedups by platform id and content hash, so running this DAG on a schedule only queues what
is new; the analysis itself is done by `clipguard run` / `clipguard worker`, which consume the
queue continuously (no self-re-triggering DAG needed).
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
### ClipGuard ingest

| task | command |
|---|---|
| `doctor` | `clipguard --data D doctor` |
| `check_sources` | `CLIPGUARD_SOURCES` is not empty; every source that is not a URL exists |
| `ingest` | `clipguard --data D ingest $CLIPGUARD_SOURCES` (dedup by platform id and content hash) |
| `status` | `clipguard --data D status --json` (queue depth, counts); XCom: that JSON |

Settings (Airflow Variable, else environment, else default): `CLIPGUARD_BIN`, `CLIPGUARD_DATA`,
`CLIPGUARD_SOURCES` (whitespace-separated: CSV link lists in the seed's `hashtag,link,label`
format, yt-dlp folders, video URLs). See deploy/airflow/README.md.
"""

SCHEDULE = os.environ.get("CLIPGUARD_INGEST_SCHEDULE", "@hourly")

CHECK_SOURCES = r"""
if [ -z "${CLIPGUARD_SOURCES//[[:space:]]/}" ]; then
  echo "CLIPGUARD_SOURCES is empty: nothing to ingest" >&2; exit 1
fi
read -r -a sources <<< "$CLIPGUARD_SOURCES"
for s in "${sources[@]}"; do
  case "$s" in
    http://*|https://*) echo "url    $s" ;;
    *) if [ -e "$s" ]; then echo "local  $s"; else echo "missing source: $s" >&2; exit 1; fi ;;
  esac
done
"""

INGEST = r"""
read -r -a sources <<< "$CLIPGUARD_SOURCES"
cg ingest "${sources[@]}"
"""

STATUS = r"""
cg status --json
"""

with DAG(
    dag_id="clipguard_ingest",
    schedule=SCHEDULE,
    dagrun_timeout=timedelta(hours=2),
    **dag_kwargs(DOC),
) as dag:
    doctor = cli_task("doctor", "cg doctor\n")
    check_sources = cli_task("check_sources", CHECK_SOURCES, needs_cli=False)
    ingest = cli_task("ingest", INGEST, execution_timeout=timedelta(minutes=90))
    status = cli_task("status", STATUS)

    doctor >> check_sources >> ingest >> status
