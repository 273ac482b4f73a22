"""Control characters in query, path and form parameters are refused (422 naming the
parameter) before any endpoint sees them: one dependency on every router (app.py), the
counterpart of `core.schemas.RequestModel` for the parameters that are not a JSON body. The
refused characters are `core.hygiene`'s; an uploaded file's name counts as its field's text."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request

from zhengding.core.hygiene import has_control_chars, refuse_control_chars


async def check_parameters(conn: HTTPConnection) -> None:
    bad = [
        name
        for name, value in conn.query_params.multi_items()
        if has_control_chars(name) or has_control_chars(value)
    ]
    bad += [
        name
        for name, value in conn.path_params.items()
        if isinstance(value, str) and has_control_chars(value)
    ]
    # FastAPI parses the form of an endpoint with form fields before its dependencies and
    # Starlette keeps it on the request: read that parse, never the body of another endpoint
    # (the inbound APIs read their bodies themselves). tests/core/test_input_hygiene.py proves
    # the upload endpoints are covered.
    form = getattr(conn, "_form", None) if isinstance(conn, Request) else None
    if form is not None:
        for name, value in form.multi_items():
            text = (value.filename or "") if isinstance(value, UploadFile) else value
            if has_control_chars(name) or (isinstance(text, str) and has_control_chars(text)):
                bad.append(name)
    if bad:
        raise refuse_control_chars([_printable(name) for name in dict.fromkeys(bad)])


def _printable(name: str) -> str:
    return "".join("?" if has_control_chars(c) else c for c in name)[:40]
