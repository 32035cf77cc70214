"""Numbers out of range (issue #15, part 4): a 400 that names the field, never a 500.

A JSON integer has no size limit (10**400 parses), while float64 and int64 do; a
query parameter is text. And an error that nothing handled answers in the API's
JSON under /api/, DEBUG or not, with its traceback in the log only.
"""

from __future__ import annotations

import io
import json

import pytest
from asgiref.testing import ApplicationCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from datasets.services import dataset_ingest
from medilytica_site.asgi import application
from mlmodels.features import RowsError, rows_to_columns

from ..datasets.conftest import CLINICAL_CSV
from ..medilytica_site.test_handler import _scope
from ..mlmodels.conftest import engine_result, register_result

HUGE = 10**400  # no float64 holds it: float(HUGE) raises OverflowError


def post_json(client, url: str, body: dict):
    # The standard library writes any int; the API's own renderer (orjson) would not.
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model_type", "name"),
    [
        ("logistic_regression", "C"),
        ("neural_network", "learning_rate"),
        ("decision_tree", "max_depth"),
    ],
)
def test_a_hyperparameter_past_any_float_is_a_400_naming_it(team, client_for, model_type, name):
    dataset = dataset_ingest(
        source=io.BytesIO(CLINICAL_CSV), filename="c.csv", user=team.owner, workspace=team.workspace
    )
    body = {
        "dataset": str(dataset.pk),
        "target": "outcome",
        "model_type": model_type,
        "task": "classification",
        "hyperparameters": {name: HUGE},
    }
    response = post_json(client_for(team.editor), "/api/train/start", body)
    assert response.status_code == 400, response.content[:300]
    [message] = response.json()[f"hyperparameters.{name}"]
    assert len(message) < 200  # the value is quoted cut short, not as 401 digits


@pytest.mark.django_db
@pytest.mark.parametrize("value", [HUGE, -HUGE], ids=["huge", "-huge"])
def test_a_predict_value_past_any_float_is_a_400_naming_the_column(team, client_for, value):
    forest = register_result(team, engine_result("random_forest", "classification"))
    row = {"age": value, "bmi": 20, "sex": "F", "smoker": True, "stage": 1}
    response = post_json(
        client_for(team.viewer),
        f"/api/models/{forest.pk}/predict",
        {"rows": [row, dict(row, age=50)]},
    )
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert body["wrong_type"] == {
        "age": {"expected": body["wrong_type"]["age"]["expected"], "rows": [0]}
    }
    assert "'age' expects number" in body["detail"]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, HUGE], ids=["2**63", "-2**63-1", "huge"])
@pytest.mark.parametrize("nullable_row", [False, True])
def test_an_integer_column_takes_only_int64(value, nullable_row):
    rows = [{"n": 1}, {"n": value}] + ([{"n": None}] if nullable_row else [])
    with pytest.raises(RowsError) as refused:
        rows_to_columns(rows, [{"name": "n", "type": "integer", "nullable": True}])
    assert refused.value.problems.wrong_type == {
        "n": {"expected": "integer (64-bit) or null", "rows": [1]}
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/data", "/api/train", "/api/models"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page_size", "0"),
        ("page_size", "-3"),
        ("page_size", "1.5"),
        ("page_size", "501"),
        pytest.param("page_size", "1" + "0" * 400, id="page_size-huge"),
        ("page_size", "ten"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "1e3"),
    ],
)
def test_a_paging_parameter_out_of_range_is_a_400_naming_it(team, client_for, path, name, value):
    response = client_for(team.owner).get(path, {name: value})
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()) == [name]


# --- unhandled errors under /api/: JSON, DEBUG or not --------------------------------------


async def asgi_request(path: str, *, method: str = "GET", headers=(), body: bytes = b""):
    """One request through the ASGI application that daphne serves."""
    length = (b"content-length", str(len(body)).encode())
    scope = _scope(path, method, [(b"accept", b"text/html,*/*"), length, *headers])
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body})
    start = await communicator.receive_output(timeout=20)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=20)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], {name.lower(): value for name, value in start["headers"]}, content


class Boom(RuntimeError):
    pass


def boom(*args, **kwargs):
    raise Boom("the-secret-detail")


def assert_json_server_error(status, headers, content, caplog):
    assert status == 500, content[:300]
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(content) == {"detail": "A server error occurred.", "code": "server_error"}
    assert b"the-secret-detail" not in content and b"Traceback" not in content
    logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
    assert logged and logged[0].exc_info[0] is Boom  # the traceback is in the log


def bearer(user) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {AccessToken.for_user(user)}".encode())


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.mark.django_db(transaction=True)
async def test_an_error_in_an_api_view_is_json_under_debug(debug, team, monkeypatch, caplog):
    monkeypatch.setattr("training.views.model_type_specs", boom)
    answer = await asgi_request("/api/train/model-types", headers=[bearer(team.owner)])
    assert_json_server_error(*answer, caplog)


@pytest.mark.django_db(transaction=True)
async def test_an_error_in_the_body_parser_is_json_under_debug(debug, team, monkeypatch, caplog):
    monkeypatch.setattr("collaboration.safejson.loads", boom)
    answer = await asgi_request(
        "/api/train/start",
        method="POST",
        headers=[(b"content-type", b"application/json"), bearer(team.editor)],
        body=b'{"target": "outcome"}',
    )
    assert_json_server_error(*answer, caplog)


@pytest.mark.django_db(transaction=True)
async def test_an_error_in_a_plain_django_view_under_api_is_json_under_debug(
    debug, monkeypatch, caplog
):
    monkeypatch.setattr("medilytica_site.views.JsonResponse", boom)  # the unknown-path view
    assert_json_server_error(*await asgi_request("/api/no-such-thing"), caplog)


@pytest.mark.django_db(transaction=True)
async def test_an_error_in_a_middleware_is_json_under_api_and_the_debug_page_elsewhere(
    debug, monkeypatch, caplog
):
    monkeypatch.setattr(
        "django.contrib.sessions.middleware.SessionMiddleware.process_request", boom
    )
    assert_json_server_error(*await asgi_request("/api/health"), caplog)
    status, headers, content = await asgi_request("/admin/login/")
    assert status == 500
    assert headers[b"content-type"].startswith(b"text/html")
    assert b"the-secret-detail" in content  # Django's debug page, as DEBUG asks
