"""The API's JSON renderer: orjson, with DRF's output where the two would differ.

DRF's JSONRenderer runs the standard library's encoder with a Python ``default`` hook;
a predict answer for 1,000 rows took 7.4 ms to encode that way and 0.7 ms with orjson.
The bytes are DRF's for everything the API returns: compact separators, UTF-8 (not
``\\u`` escapes), U+2028 / U+2029 escaped, datetimes and anything else orjson does
not know natively handed to DRF's own encoder (``default``). What orjson cannot write
(integers beyond 64 bits) goes through DRF's renderer unchanged, and so does a
request for indented output (``Accept: application/json; indent=4``, the browsable
API). Two differences: a NaN or infinite float, which DRF's strict encoder refuses
with a server error, is written as ``null``; and an exponent below -4 has no leading
zero (``1e-7`` where Python writes ``1e-07``), the same number to any JSON reader.
"""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_default = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            self.ensure_ascii
            or not self.compact
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is one: a type or a value it cannot write
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered:
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
                b"\xe2\x80\xa9", b"\\u2029"
            )
        return rendered
