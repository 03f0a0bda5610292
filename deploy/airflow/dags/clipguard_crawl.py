"""clipguard_crawl: doctor → crawl.  PENDING #7: `clipguard crawl` does not exist yet.

Mirrors the seed's `1_TIKTOK_ETL_COLLECTOR` (DB health → Selenium crawl of hashtag pages into a
CSV). Until issue #7 adds `clipguard crawl`, the `crawl` task fails with a clear message, so the
DAG has no schedule by default (trigger it by hand, or set CLIPGUARD_CRAWL_SCHEDULE, once #7 is
in). The DAG stays importable so the DAG folder is always clean.
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
### ClipGuard crawl — **pending #7**

`clipguard crawl` is not implemented yet (issue #7); until it is, the `crawl` task fails with
"not available in this build". No schedule unless `CLIPGUARD_CRAWL_SCHEDULE` is set.

| task | command |
|---|---|
| `doctor` | `clipguard --data D doctor` |
| `crawl` | `clipguard --data D crawl $CLIPGUARD_CRAWL_ARGS` (discovery of hashtag / user / search URLs; queues what is new) |

Settings (Airflow Variable, else environment, else default): `CLIPGUARD_BIN`, `CLIPGUARD_DATA`,
`CLIPGUARD_CRAWL_ARGS`. See deploy/airflow/README.md.
"""

SCHEDULE = os.environ.get("CLIPGUARD_CRAWL_SCHEDULE") or None

CRAWL = r"""
if ! "$CLIPGUARD_BIN" crawl --help >/dev/null 2>&1; then
  echo "clipguard crawl is not available in this build (pending issue #7)" >&2; exit 1
fi
read -r -a crawl_args <<< "$CLIPGUARD_CRAWL_ARGS"
cg crawl "${crawl_args[@]}"
"""

with DAG(
    dag_id="clipguard_crawl",
    schedule=SCHEDULE,
    dagrun_timeout=timedelta(hours=3),
    **dag_kwargs(DOC, tags=["clipguard", "pending-7"]),
) as dag:
    doctor = cli_task("doctor", "cg doctor\n")
    crawl = cli_task("crawl", CRAWL, execution_timeout=timedelta(hours=2))

    doctor >> crawl
