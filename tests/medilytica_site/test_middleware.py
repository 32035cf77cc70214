"""Static files through WhiteNoise, with the middleware chain left asynchronous under ASGI."""

from __future__ import annotations

import pytest
from django.test import AsyncClient, Client

from medilytica_site.middleware import StaticFilesMiddleware

ADMIN_CSS = "/static/admin/css/base.css"


def _chain_modes(handler) -> list[bool]:
    modes = []
    step = handler._middleware_chain
    while step is not None:
        step = getattr(step, "__wrapped__", step)  # convert_exception_to_response's wrapper
        if isinstance(step, StaticFilesMiddleware):
            modes.append(step.async_mode)
        step = getattr(step, "get_response", None)
    return modes


@pytest.mark.django_db(transaction=True)
async def test_static_files_are_served_on_the_async_path():
    client = AsyncClient()
    response = await client.get(ADMIN_CSS)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert int(response["Content-Length"]) > 1000
    missing = await client.get("/api/health")  # not a static file: passed through
    assert missing.status_code == 200
    assert missing.json()["database"] == "ok"


def test_under_asgi_no_thread_is_taken_to_look_for_a_static_file():
    from django.core.handlers.asgi import ASGIHandler

    handler = ASGIHandler()
    assert _chain_modes(handler) == [True], "StaticFilesMiddleware should run on the loop"


@pytest.mark.django_db
def test_static_files_are_served_on_the_sync_path():
    response = Client().get(ADMIN_CSS)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert int(response["Content-Length"]) > 1000
