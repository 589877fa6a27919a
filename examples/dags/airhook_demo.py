"""Demo DAGs for airhook: ``deploy`` and ``billing_sync``.

They import and run unchanged on Airflow 2.11 and 3.x, are unpaused on creation and only run when
triggered (airhook, or a test through the REST API). The one task logs the run's conf and returns
it (so it also lands in XCom), and finishes in about a second.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

try:  # Airflow 3: the Task SDK is the public authoring interface.
    from airflow.sdk import DAG, get_current_context, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task
    from airflow.operators.python import get_current_context

log = logging.getLogger("airhook.demo")

# Fixed and in the past: a moving start_date confuses the scheduler, and with schedule=None and
# catchup=False no run is ever created by the scheduler itself.
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def _demo_dag(dag_id: str, description: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        description=description,
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
        tags=["airhook", "demo"],
    ) as dag:

        @task(task_id="log_conf")
        def log_conf() -> dict[str, Any]:
            dag_run = get_current_context()["dag_run"]
            conf = dict(dag_run.conf or {})
            log.info("airhook %s run %s conf: %s", dag_id, dag_run.run_id,
                     json.dumps(conf, sort_keys=True, default=str))
            return conf

        log_conf()
    return dag


# Module-level names: the DAG processors of both generations collect DAGs from module globals.
deploy = _demo_dag("deploy", "Deploys the pushed ref (triggered by a GitHub push webhook).")
billing_sync = _demo_dag("billing_sync", "Syncs billing after a payment webhook.")
