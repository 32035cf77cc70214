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
