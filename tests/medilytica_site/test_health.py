import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_each_part(api):
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "channel_layer": "ok",
        "workers": {"status": "sync", "clusters": 0, "workers": 0},
    }


def test_health_is_degraded_when_the_database_is_down(api, monkeypatch):
    from medilytica_site import health

    monkeypatch.setattr(health, "check_database", lambda: "down")
    response = api.get("/api/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"


def test_schema_and_docs_are_served(api):
    schema = api.get("/api/schema")
    assert schema.status_code == 200
    assert b"/api/auth/token" in schema.content
    docs = api.get("/api/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_admin_login_page_is_served(api):
    response = api.get("/admin/login/")
    assert response.status_code == 200
    assert b"MediLytica administration" in response.content


@pytest.mark.parametrize(
    ("worker_lists", "status"),
    [([], "down"), ([[]], "down"), ([[101, 102]], "ok"), ([[], [201]], "ok")],
)
def test_workers_are_ok_only_with_a_live_worker_process(monkeypatch, worker_lists, status):
    from types import SimpleNamespace

    from django_q.conf import Conf
    from django_q.status import Stat

    from medilytica_site import health

    monkeypatch.setattr(Conf, "SYNC", False)
    clusters = [SimpleNamespace(status="Idle", workers=pids) for pids in worker_lists]
    monkeypatch.setattr(Stat, "get_all", staticmethod(lambda: clusters))
    report = health.check_workers()
    assert report["status"] == status
    assert report["clusters"] == len(worker_lists)
    assert report["workers"] == sum(map(len, worker_lists))


def test_live_answers_whatever_is_down(api, monkeypatch):
    from medilytica_site import health

    def never(*args, **kwargs):
        raise AssertionError("liveness must not touch the database or Redis")

    monkeypatch.setattr(health, "check_database", never)
    monkeypatch.setattr(health, "check_channel_layer", never)
    for path in ("/api/health/live", "/api/health/live/"):
        response = api.get(path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_reports_the_workers_but_does_not_fail_on_them(api, monkeypatch):
    """Stalled training is for alerting; the web process still serves (issue #17)."""
    from medilytica_site import health

    down = {"status": "down", "clusters": 0, "workers": 0}
    monkeypatch.setattr(health, "check_workers", lambda: down)
    ready = api.get("/api/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "database": "ok",
        "channel_layer": "ok",
        "workers": down,
    }
    assert api.get("/api/health").status_code == 503  # the whole picture says so


@pytest.mark.parametrize("part", ["check_database", "check_channel_layer"])
def test_ready_fails_when_the_database_or_the_channel_layer_is_down(api, monkeypatch, part):
    from medilytica_site import health

    monkeypatch.setattr(health, part, lambda: "down")
    response = api.get("/api/health/ready/")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"


def test_probes_are_answered_over_plain_http_behind_the_https_redirect(settings):
    """Load balancers probe each web process over HTTP; everything else is redirected."""
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # a new client builds its middleware from these settings
    for path in ("/api/health", "/api/health/live", "/api/health/ready/"):
        assert client.get(path).status_code == 200, path
    assert client.get("/api/auth/me").status_code == 301
