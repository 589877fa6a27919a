"""The browser harness (tests/browser.py) against the real local Airflow UIs: headless Chromium
signs in through Airflow 3's simple auth manager page and Airflow 2's Flask-AppBuilder page,
sees the signed-in UI with the demo DAGs, and keeps a screenshot (tests/artifacts/)."""

from __future__ import annotations

from tests.browser import Browser, browser  # noqa: F401 - the fixture
from tools.local_airflow import AirflowServer


def test_signs_in_and_sees_the_dags(airflow: AirflowServer, browser: Browser) -> None:  # noqa: F811
    browser.login(airflow, next_path="/")
    # Airflow 3's React UI lists DAGs at /dags, Airflow 2's at /home.
    browser.open(f"{airflow.url}/dags" if airflow.major >= 3 else f"{airflow.url}/home")
    browser.wait_for_text("billing_sync")
    assert "deploy" in browser.text()
    shot = browser.screenshot(f"airflow{airflow.major}-dags")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_a_wrong_password_stays_on_the_login_page(airflow: AirflowServer, browser: Browser) -> None:  # noqa: F811
    try:
        if airflow.major >= 3:
            browser.login_airflow3(airflow.url, airflow.username, "wrong", timeout=8)
        else:
            browser.login_airflow2(airflow.url, airflow.username, "wrong", timeout=8)
    except AssertionError as exc:
        assert "for a signed-in page" in str(exc)
    else:
        raise AssertionError("signed in with a wrong password")
    browser.wait_for_text("Invalid credentials" if airflow.major >= 3 else "Invalid login")
    browser.screenshot(f"airflow{airflow.major}-login-refused")
