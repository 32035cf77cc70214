"""/api/docs (Swagger UI) and /api/redoc load every asset from our own /static/
(drf-spectacular-sidecar, served by whitenoise): they work with no Internet access."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.fixture
def client(settings) -> Client:
    # As `make run` serves static files (DEBUG): from the apps' folders, no collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    return Client()  # a new client builds its middleware, whitenoise, from these settings


@pytest.mark.parametrize(
    ("path", "script"),
    [("/api/docs", "swagger-ui-bundle.js"), ("/api/redoc/", "redoc.standalone.js")],
)
def test_docs_pages_use_only_same_origin_static_assets(client, path, script):
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"https?://", html), "a CDN or other remote URL in the page"
    assets = ASSET.findall(html)
    assert assets and all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets)
    (js,) = [a for a in assets if a.endswith(script)]
    served = client.get(js)
    assert served.status_code == 200
    assert "javascript" in served["Content-Type"]
    assert len(b"".join(served.streaming_content)) > 100_000
