"""The web app end to end: the built app on the real stack (daphne, a qcluster,
Redis), in Chromium. Every element is found by its role and accessible name, as a
screen reader user would find it; a test that needed a CSS class would have found an
accessibility bug. The harness (conftest.py) also fails a test on any console error
or warning and on any serious or critical axe-core violation."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from datasets.management.commands.load_demo_data import breast_cancer

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Short runs: the suite trains real networks on a 2-core machine.
EPOCHS = 30


def demo_csv() -> bytes:
    """The demo breast-cancer table, as `manage.py load_demo_data` builds it."""
    return breast_cancer().to_csv(index=False).encode()


@pytest.fixture(scope="module")
def dataset(site) -> dict:
    """The demo dataset, uploaded through the API (the upload screen has its own test)."""
    answer = site.api.post(
        "/api/data/upload",
        files={"file": ("breast_cancer.csv", demo_csv())},
        data={"name": "Breast cancer (API)", "workspace": site.workspace},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def start_run(site, dataset: dict, name: str, epochs: int, **hyper) -> str:
    answer = site.api.post(
        "/api/train/start",
        json={
            "dataset": dataset["id"],
            "target": "diagnosis",
            "model_type": "neural_network",
            "name": name,
            "hyperparameters": {"hidden_layers": [16], "epochs": epochs, "patience": 0, **hyper},
        },
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def run_status(site, run_id: str) -> str:
    return site.api.get(f"/api/train/status/{run_id}").json()["status"]


@pytest.fixture(scope="module")
def finished_runs(site, dataset) -> list[dict]:
    """Two finished networks that differ in one hyperparameter, shared by the tests
    that read results, deep-link or compare."""
    runs = [
        {"name": "Network A", "id": start_run(site, dataset, "Network A", EPOCHS)},
        {
            "name": "Network B",
            "id": start_run(site, dataset, "Network B", EPOCHS, learning_rate=0.003),
        },
    ]
    for run in runs:
        wait_for_status(site, run["id"], "succeeded")
    return runs


def wait_for_status(site, run_id: str, status: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = run_status(site, run_id)
        if seen == status:
            return
        time.sleep(0.5)  # polling the API, not synchronising with the page
    raise AssertionError(f"run {run_id} is {seen!r}, not {status!r}, after {timeout} s")


def sign_in(page, site) -> None:
    page.get_by_label("Username").fill(site.username)
    page.get_by_label("Password").fill(site.password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_through_the_form_opens_the_deep_link_asked_for(anonymous_ui, site, finished_runs):
    page, run = anonymous_ui.page, finished_runs[0]
    anonymous_ui.expect_http_error(401, "/api/auth/me/")  # the app asks who is signed in: nobody
    anonymous_ui.expect_http_error(401, "/api/auth/login/")  # the wrong password below
    anonymous_ui.goto(f"/runs/{run['id']}")
    expect(page).to_have_url(re.compile(rf"/login\?next=%2Fruns%2F{run['id']}$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    anonymous_ui.check("form")

    page.get_by_label("Username").fill(site.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("No active account")
    anonymous_ui.check("refused")

    sign_in(page, site)
    expect(page).to_have_url(site.url(f"/runs/{run['id']}"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name=run["name"])).to_be_visible()


def test_a_reload_on_a_deep_link_shows_the_same_run(ui, finished_runs):
    page, run = ui.page, finished_runs[1]
    ui.goto(f"/runs/{run['id']}")
    expect(page.get_by_role("heading", level=1, name=run["name"])).to_be_visible()
    page.reload()
    expect(page).to_have_url(ui.site.url(f"/runs/{run['id']}"))
    expect(page.get_by_role("heading", level=1, name=run["name"])).to_be_visible()


def test_an_expired_session_signs_in_again_and_comes_back(ui, site, dataset):
    page = ui.page
    ui.goto("/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.context.clear_cookies()  # the session ends (expiry, sign-out elsewhere)
    # The next call is refused, which is how the app learns that the session ended.
    ui.expect_http_error(401, "/api/data/")
    ui.expect_http_error(401, "/api/auth/me/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    expect(page).to_have_url(re.compile(r"/login\?expired=1&next=%2Fdatasets$"))
    expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    ui.check("expired")

    sign_in(page, site)
    expect(page).to_have_url(site.url("/datasets"))
    expect(page.get_by_role("heading", level=1, name="Datasets")).to_be_visible()
