"""``reliability_sink``: the DAG the load and fault suites trigger. Paused at creation and kept
paused, so the thousands of runs they create stay queued and cost the scheduler nothing (the suites
count runs; they do not need them executed)."""

from __future__ import annotations

from datetime import UTC, datetime

try:  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.operators.empty import EmptyOperator

with DAG(
    dag_id="reliability_sink",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=True,
    max_active_runs=1,
    tags=["airhook", "reliability"],
) as reliability_sink:
    EmptyOperator(task_id="noop")
