"""Data-aware demo for airhook's asset routes: ``orders_refresh`` runs whenever an event arrives
on the asset ``orders`` (URI ``airhook://demo/orders``).

A route with ``asset: orders`` posts that event through the REST API (Airflow 3: an asset event;
Airflow 2.9+: a dataset event, addressed by URI), carrying the route's ``extra``. The task checks
that the triggering event's extra holds airhook's event id, so a run that succeeds proves it.
Runs unchanged on Airflow 2.11 and 3.x.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

try:  # Airflow 3
    from airflow.sdk import DAG, Asset, get_current_context, task

    ORDERS = Asset(name="orders", uri="airhook://demo/orders")
    EVENTS_KEY = "triggering_asset_events"
except ImportError:  # Airflow 2.x: assets were called datasets, addressed by URI only
    from airflow import DAG
    from airflow.datasets import Dataset
    from airflow.decorators import task
    from airflow.operators.python import get_current_context

    ORDERS = Dataset("airhook://demo/orders")
    EVENTS_KEY = "triggering_dataset_events"

log = logging.getLogger("airhook.demo")

with DAG(
    dag_id="orders_refresh",
    description="Runs on every event of the 'orders' asset (airhook asset routes)",
    schedule=[ORDERS],
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["airhook", "demo"],
):

    @task(task_id="read_event")
    def read_event() -> list[dict[str, Any]]:
        events = get_current_context()[EVENTS_KEY]
        extras = [dict(event.extra or {}) for batch in events.values() for event in batch]
        log.info("airhook asset events: %s", json.dumps(extras, sort_keys=True, default=str))
        if not any("airhook_event_id" in extra for extra in extras):
            raise ValueError("no airhook event among the triggering events")
        return extras

    read_event()
