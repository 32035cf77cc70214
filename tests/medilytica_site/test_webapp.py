"""The web app is served by Django: its entry from Vite's manifest, on every client route."""

import json
import os

import pytest

from medilytica_site import views

MANIFEST = {
    "index.html": {
        "file": "assets/index-abc123.js",
        "css": ["assets/index-def456.css"],
        "imports": ["_vendor.js"],
        "isEntry": True,
    },
    "_vendor.js": {"file": "assets/vendor-789.js"},
}


@pytest.fixture
def built_app(tmp_path, settings):
    (tmp_path / ".vite").mkdir()
    (tmp_path / ".vite" / "manifest.json").write_text(json.dumps(MANIFEST))
    settings.WEBAPP_DIST = tmp_path
    views._manifest_cache.clear()
    yield tmp_path
    views._manifest_cache.clear()


@pytest.mark.parametrize("path", ["/", "/runs/3f1c0f0e-1b4e-4c39-9d7e-1d2a3b4c5d6e", "/datasets"])
def test_every_client_route_serves_the_built_entry(client, built_app, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/assets/index-abc123.js">' in html
    assert '<link rel="stylesheet" href="/static/assets/index-def456.css">' in html
    assert '<link rel="modulepreload" href="/static/assets/vendor-789.js">' in html
    assert "csrftoken" in response.cookies, "the app's first write needs the CSRF cookie"


def test_a_rebuild_is_picked_up_without_a_restart(client, built_app):
    assert b"index-abc123.js" in client.get("/").content
    manifest = dict(MANIFEST, **{"index.html": dict(MANIFEST["index.html"], file="assets/new.js")})
    path = built_app / ".vite" / "manifest.json"
    path.write_text(json.dumps(manifest))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert b"/static/assets/new.js" in client.get("/runs").content


def test_without_a_build_the_page_says_how_to_make_one(client, tmp_path, settings):
    settings.WEBAPP_DIST = tmp_path / "missing"
    views._manifest_cache.clear()
    response = client.get("/datasets/anything")
    assert response.status_code == 503
    assert b"make run" in response.content


@pytest.mark.django_db
def test_the_app_route_leaves_api_and_admin_alone(client, built_app):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get("/admin/").status_code == 302  # the admin's own sign-in
