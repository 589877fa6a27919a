"""The browser harness (tests/browser.py) against the real local Airflow UIs: headless Chromium
signs in through Airflow 3's simple auth manager page and Airflow 2's Flask-AppBuilder page,
sees the signed-in UI with the demo DAGs, and keeps a screenshot (tests/artifacts/)."""

from __future__ import annotations

import pytest

from tests.browser import ARTIFACTS, Browser, LoginRefused, artifact_name, browser  # noqa: F401 - the fixture
from tools.local_airflow import AirflowServer


def test_signs_in_and_sees_the_dags(airflow: AirflowServer, browser: Browser) -> None:  # noqa: F811
    browser.login(airflow, next_path="/")
    # Airflow 3's React UI lists DAGs at /dags, Airflow 2's at /home.
    browser.open(f"{airflow.url}/dags" if airflow.major >= 3 else f"{airflow.url}/home")
    browser.wait_for_text("billing_sync")
    assert "deploy" in browser.text()
    shot = browser.screenshot(f"airflow{airflow.major}-dags")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_a_wrong_password_is_refused_with_airflows_message(airflow: AirflowServer, browser: Browser) -> None:  # noqa: F811
    airflow_login = browser.login_airflow3 if airflow.major >= 3 else browser.login_airflow2
    with pytest.raises(LoginRefused, match="Invalid credentials" if airflow.major >= 3 else "Invalid login"):
        airflow_login(airflow.url, airflow.username, "wrong")
    assert (ARTIFACTS / f"{artifact_name(browser.label + '-login-refused')}.png").exists()
