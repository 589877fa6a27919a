"""Talking to Airflow's REST API: authentication (:mod:`.auth`) and triggering (:mod:`.client`)."""
