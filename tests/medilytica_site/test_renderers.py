"""The API's JSON renderer writes DRF's bytes, with orjson."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

import numpy as np
import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from collaboration.models import Role
from medilytica_site.renderers import FastJSONRenderer

UTC = datetime.UTC

PAYLOADS = [
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "n": 3, "ok": True, "x": None},
    {"created": datetime.datetime(2026, 11, 27, 18, 1, 2, 345678, tzinfo=UTC)},
    {"naive": datetime.datetime(2026, 1, 2, 3, 4, 5), "day": datetime.date(2026, 1, 2)},
    {"at": datetime.time(3, 4, 5, 6), "span": datetime.timedelta(seconds=90.5)},
    {"price": decimal.Decimal("1.10"), "lazy": gettext_lazy("Not found.")},
    {"detail": ErrorDetail("Bad rows.", code="invalid_rows"), "role": Role.EDITOR},
    {"floats": [0.1, 1.5, -2.25, 3.0, 1e-3, 123456.789], "ints": [0, -1, 2**63 - 1]},
    {"text": 'ünïcödé € 日本 \u2028 \u2029 "quoted" \\ </script>'},
    {1: "int key", "nested": {"deep": [[[{"a": []}]]]}, "empty": {}},
    {"array": np.arange(3), "scalar": np.float64(2.5), "int": np.int64(7)},
    [{"a": 1}, {"a": 2}],
    "plain string",
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_the_bytes_are_drfs(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_integers_beyond_64_bits_go_through_drfs_encoder():
    data = {"big": 2**70, "small": 1}
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indented_output_is_drfs():
    data = {"a": [1, 2], "b": {"c": "d"}}
    media = "application/json; indent=4"
    rendered = FastJSONRenderer().render(data, media, {})
    assert rendered == JSONRenderer().render(data, media, {})
    assert b"\n    " in rendered


def test_a_float_json_cannot_write_is_null_instead_of_a_server_error():
    data = {"nan": float("nan"), "inf": float("inf"), "ok": 1.5}
    with pytest.raises(ValueError):
        JSONRenderer().render(data)
    assert json.loads(FastJSONRenderer().render(data)) == {"nan": None, "inf": None, "ok": 1.5}


def test_small_exponents_differ_in_spelling_only():
    data = {"tiny": [1e-7, -2.5e-10, 5e-324]}
    fast, drf = FastJSONRenderer().render(data), JSONRenderer().render(data)
    assert fast == b'{"tiny":[1e-7,-2.5e-10,5e-324]}' and drf != fast
    assert json.loads(fast) == json.loads(drf) == data


def test_none_renders_as_an_empty_body():
    assert FastJSONRenderer().render(None) == b""
