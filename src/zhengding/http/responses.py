from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    """orjson-encoded response for hand-built bodies (errors, hot paths)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
