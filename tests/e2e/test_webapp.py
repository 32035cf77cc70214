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
from tests.live_stack import upload_dataset

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# Short runs: the suite trains real networks on a 2-core machine.
EPOCHS = 30


def demo_csv() -> bytes:
    """The demo breast-cancer table, as `manage.py load_demo_data` builds it."""
    return breast_cancer().to_csv(index=False).encode()


@pytest.fixture(scope="module")
def dataset(site) -> dict:
    """The demo dataset, uploaded through the API (the upload screen has its own test)."""
    dataset = upload_dataset(
        site.api,
        "breast_cancer.csv",
        demo_csv(),
        name="Breast cancer (API)",
        workspace=site.workspace,
    )
    assert dataset["status"] == "ready", dataset
    return dataset


def start_run(site, dataset: dict, name: str, epochs: int, **hyper) -> str:
    answer = site.api.post(
        "/api/train/start",
        json={
            "dataset": dataset["id"],
            "target": "diagnosis",
            "positive_class": "malignant",
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
    ui.check("overview")
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


def test_an_uploaded_dataset_becomes_ready_with_its_profile_and_preview(ui):
    page = ui.page
    ui.goto("/datasets")
    expect(page.get_by_role("heading", level=1, name="Datasets")).to_be_visible()
    page.get_by_label("Dataset file").set_input_files(
        files=[{"name": "breast_cancer.csv", "mimeType": "text/csv", "buffer": demo_csv()}]
    )
    page.get_by_label("Name", exact=True).fill("Breast cancer (upload)")
    page.get_by_role("button", name="Upload").click()

    datasets = page.get_by_role("table", name="Datasets")
    link = datasets.get_by_role("link", name="Breast cancer (upload)")
    row = datasets.get_by_role("row").filter(
        has=page.get_by_role("link", name="Breast cancer (upload)")
    )
    expect(row).to_contain_text("Ready")
    expect(row).to_contain_text("569")  # rows
    ui.check("uploaded")

    link.click()
    expect(page.get_by_role("heading", level=1, name="Breast cancer (upload)")).to_be_visible()
    profile = page.get_by_role("table", name="Column profile")
    for column in ("mean radius", "worst symmetry", "diagnosis"):
        expect(profile).to_contain_text(column)
    # The preview draws only the rows and columns in view: the first ones, with values.
    preview = page.get_by_role("region", name="Data preview")
    expect(preview.get_by_role("columnheader", name="mean radius")).to_be_visible()
    first = preview.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="1", exact=True)
    )
    expect(first.get_by_role("cell", name="17.99", exact=True)).to_be_visible()
    expect(preview.get_by_role("row").nth(10)).to_be_visible()
    ui.check("dataset")
    page.emulate_media(color_scheme="dark")
    ui.check("dataset-dark")


def test_a_new_network_run_draws_its_loss_curve_epoch_by_epoch(ui, dataset, finished_runs):
    page = ui.page
    page.add_init_script("window.__medilytica_plot_log = []")
    ui.goto("/runs/new")
    expect(page.get_by_role("heading", level=1, name="New training run")).to_be_visible()
    page.get_by_label("Dataset", exact=True).select_option(label=dataset["name"])
    page.get_by_label("Target").select_option("diagnosis")
    # Neither label names the event: the form asks which one is.
    page.get_by_label("Positive class").select_option(label="malignant")
    page.get_by_label("Model type").select_option(label="Neural network")
    page.get_by_label("epochs", exact=True).fill(str(EPOCHS))
    # Small batches: an epoch takes long enough to watch the curve grow.
    page.get_by_label("batch_size", exact=True).fill("8")
    page.get_by_label("patience", exact=True).fill("0")  # every epoch, no early stop
    page.get_by_label("Run name").fill("Network live")
    ui.check("form")
    page.get_by_role("button", name="Start training").click()

    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1, name="Network live")).to_be_visible()
    expect(page.get_by_role("img", name="Loss")).to_be_visible()
    # The curve grows while the network trains: each observation sees more points drawn.
    drawn = 0
    for _ in range(3):
        drawn = page.wait_for_function(
            "n => window.__medilytica_plot_log.length > n && window.__medilytica_plot_log.length",
            arg=drawn,
        ).json_value()
        assert drawn < EPOCHS, "the run finished before its curve could be seen growing"
    ui.check("training")
    # In the end every epoch was drawn, once (the rest of the training may take a while).
    page.wait_for_function(
        f"() => window.__medilytica_plot_log.length >= {EPOCHS}", timeout=180_000
    )
    epochs = page.evaluate("() => window.__medilytica_plot_log.map((p) => p.epoch)")
    assert sorted(epochs) == list(range(1, EPOCHS + 1)), epochs


def test_a_long_run_stops_from_its_page(ui, site, dataset, finished_runs):
    page = ui.page
    run_id = start_run(site, dataset, "Network long", 10_000)
    ui.goto(f"/runs/{run_id}")
    expect(page.get_by_role("heading", level=1, name="Network long")).to_be_visible()
    stop = page.get_by_role("button", name="Stop run")
    expect(stop).to_be_enabled()
    stop.click()
    status = page.get_by_role("status").filter(has_text="Status:")
    expect(status).to_have_text(re.compile(r"Status:\s*stopped", re.IGNORECASE))
    wait_for_status(site, run_id, "stopped", timeout=60)
    expect(stop).to_be_hidden()


RESULT_SECTIONS = [
    "Training curves",
    "Metrics",
    "Confusion matrix",
    "ROC curve",
    "Precision–recall curve",
    "Feature importance",
    "Network graph",
]
RESULT_CHARTS = [
    "Loss",
    "Accuracy",
    "Confusion matrix",
    "ROC curve",
    "Precision-recall curve",
    "Feature importance",
    "Network graph",
]
# A chart is drawn when a canvas or an svg inside it has a real size.
DRAWN = """chart => [...chart.querySelectorAll("canvas, svg")].some((element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
})"""


def test_a_finished_run_shows_every_result_drawn(ui, finished_runs):
    page, run = ui.page, finished_runs[0]
    ui.goto(f"/runs/{run['id']}")
    expect(page.get_by_role("heading", level=1, name=run["name"])).to_be_visible()
    for title in RESULT_SECTIONS:
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    for name in RESULT_CHARTS:
        chart = page.get_by_role("img", name=name, exact=True)
        chart.scroll_into_view_if_needed()
        expect(chart).to_be_visible()
        page.wait_for_function(DRAWN, arg=chart.element_handle())
    # The curves come from the stored history: both say where training ended.
    expect(page.get_by_text(re.compile(r"^Epoch \d+: train \d"))).to_have_count(2)
    ui.check("results")
    page.emulate_media(color_scheme="dark")  # the theme follows the system: AA there too
    ui.check("results-dark")


def test_two_runs_compare_side_by_side(ui, finished_runs):
    page = ui.page
    ui.goto("/runs")
    expect(page.get_by_role("heading", level=1, name="Training runs")).to_be_visible()
    compare = page.get_by_role("button", name="Compare selected")
    expect(compare).to_be_disabled()
    for run in finished_runs:
        page.get_by_role("checkbox", name=f"Select {run['name']}").check()
    ui.check("selected")
    compare.click()

    expect(page).to_have_url(re.compile(r"/compare\?runs="))
    expect(page.get_by_role("heading", level=1, name="Compare runs")).to_be_visible()
    configuration = page.get_by_role("table", name="Configuration")
    metrics = page.get_by_role("table", name="Metrics by run")
    for table in (configuration, metrics):
        expect(table).to_be_visible()
        for run in finished_runs:
            expect(table).to_contain_text(run["name"])
    expect(configuration).to_contain_text("learning_rate")  # the setting that differs
    ui.check("compare")
