"""A second team's run waits for one run, not for the first team's backlog: the real
qcluster (one worker) takes queued runs round-robin across workspaces (issue #17)."""

from __future__ import annotations

import pytest

from tests.live_stack import live_database, live_stack, training_client, wait_for
from tests.live_stack import start_network_run as start

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fair-queue")
    with (
        live_database(directory) as database_url,
        live_stack(
            directory, daphnes=1, qcluster=True, env={"DATABASE_URL": database_url}
        ) as stack,
    ):
        yield stack


def test_a_second_team_waits_for_one_run_not_for_the_first_teams_backlog(stack):
    first = training_client(stack.http_urls[0], "ann")
    second = training_client(stack.http_urls[0], "ben")

    def status(api, run_id):
        return api.get(f"/api/train/status/{run_id}").json()

    # The first team queues five runs; the first of them trains until it is stopped.
    backlog = [start(first, epochs=10_000)] + [start(first, epochs=20) for _ in range(4)]
    wait_for(
        lambda: status(first, backlog[0])["status"] == "running",
        timeout=60,
        what="the first run",
    )
    late = start(second, epochs=20)  # queued behind four runs of the other team
    assert first.post(f"/api/train/stop/{backlog[0]}").status_code == 202

    runs = [(first, run_id) for run_id in backlog] + [(second, late)]

    def all_ended():
        statuses = [status(api, run_id) for api, run_id in runs]
        ends = ("succeeded", "stopped", "failed")
        return statuses if all(s["status"] in ends for s in statuses) else None

    ended = wait_for(all_ended, timeout=180, what="every run's end")
    assert [s["status"] for s in ended] == ["stopped"] + ["succeeded"] * 5, ended
    order = [s["id"] for s in sorted(ended, key=lambda s: s["started_at"])]
    assert order == [backlog[0], late, *backlog[1:]], stack.logs()
