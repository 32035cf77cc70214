"""The JSON body parser of every API view: nesting bounded."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

from collaboration import safejson


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser, except that a document nested deeper than
    safejson.MAX_DEPTH is a 400 that says so, not a RecursionError (a 500).

    The size is bounded before this runs: DRF hands JSON parsers `request.body`,
    which Django refuses past DATA_UPLOAD_MAX_MEMORY_SIZE (MAX_JSON_BODY), a 413."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            body = stream.read()
            if encoding.lower().replace("-", "") != "utf8":
                body = body.decode(encoding)  # safejson reads UTF-8 bytes as they are
            parse_constant = drf_json.strict_constant if api_settings.STRICT_JSON else None
            return safejson.loads(body, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
