"""Control characters (C0 but tab/LF/CR, DEL, C1, lone surrogates) are refused wherever text
enters (#13 point 11): in every string field of every JSON request body (every request schema
derives from core.schemas.RequestModel — asserted over the routes — and a walk over every
body's string fields posts each one with a NUL), in query, path and form parameters and the
names of uploaded files (http.hygiene, on every router), and in any cell of an imported
spreadsheet (core.spreadsheets, row and column header named). The answer is 422 naming the
field, reason 含有不允许的控制字符; tab and line breaks in multi-line fields are kept."""

from __future__ import annotations

import csv
import io
import types
import typing
from typing import Any

import annotated_types
import pytest
import xlsxwriter
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from tests.conftest import Personas
from tests.verification.support import new_id_number
from zhengding import domains
from zhengding.core import spreadsheets
from zhengding.core.errors import ValidationFailed
from zhengding.core.hygiene import CONTROL_REASON, has_control_chars
from zhengding.core.schemas import RequestModel

REFUSED = [
    "\x00",
    "\x01",
    "\x08",
    "\x0b",
    "\x0c",
    "\x0e",
    "\x1b",
    "\x1f",
    "\x7f",
    "\x80",
    "\x85",
    "\x9f",
    "\ud800",
    "\udfff",
]
KEPT = ["\t", "\n", "\r", " ", "\u00a0", "\u3000", "中", "😀", "\u200b", "\ufeff", "\uffff"]
DUMMY_ID = "0" * 26


def detail(field: str, row: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field, "reason": CONTROL_REASON}
    if row is not None:
        out["row"] = row
    return out


# --- the shared check and the base model ---------------------------------------------------


class TestRefusedCharacters:
    @pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
    def test_refused(self, char: str):
        assert has_control_chars(f"张{char}三")

    @pytest.mark.parametrize("char", KEPT, ids=[f"U+{ord(c):04X}" for c in KEPT])
    def test_kept(self, char: str):
        assert not has_control_chars(f"张{char}三")


class _Note(RequestModel):
    title: str
    body: str = ""
    tags: list[str] = []
    extra: dict[str, str] = {}
    count: int = 0


class _Outer(RequestModel):
    note: _Note
    comment: str | None = None


class TestRequestModel:
    @pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
    def test_every_refused_character_is_named_by_its_field(self, char: str):
        with pytest.raises(ValidationError) as caught:
            _Outer.model_validate({"note": {"title": "ok", "body": f"a{char}b"}})
        assert [(e["loc"], e["type"], e["msg"]) for e in caught.value.errors()] == [
            (("note", "body"), "control_characters", CONTROL_REASON)
        ]

    @pytest.mark.parametrize(
        ("data", "loc"),
        [
            ({"note": {"title": "\x00"}}, ("note", "title")),
            ({"note": {"title": "ok", "tags": ["a", "b\x07"]}}, ("note", "tags")),
            ({"note": {"title": "ok", "extra": {"k\x00": "v"}}}, ("note", "extra")),
            ({"note": {"title": "ok", "extra": {"k": "v\x9f"}}}, ("note", "extra")),
            ({"note": {"title": "ok"}, "comment": "\x7f"}, ("comment",)),
        ],
    )
    def test_strings_inside_lists_and_dicts_too(self, data, loc):
        with pytest.raises(ValidationError) as caught:
            _Outer.model_validate(data)
        assert [e["loc"] for e in caught.value.errors()] == [loc]

    def test_line_breaks_and_tabs_of_a_multi_line_field_are_kept(self):
        note = _Note(title="通知", body="第一行\r\n第二行\n\t缩进")
        assert note.body == "第一行\r\n第二行\n\t缩进"


# --- every request schema of the app derives from RequestModel ------------------------------


def _routes(router: APIRouter) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in router.routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _routes(route.original_router)
    return found


ROUTES = [route for router in domains.routers() for route in _routes(router)]


def _models(annotation: Any) -> set[type[BaseModel]]:
    """The Pydantic models in an annotation (Optional, unions, lists, Annotated unwrapped)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        nested = {annotation}
        for field in annotation.model_fields.values():
            nested |= _models(field.annotation)
        return nested
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, dict) or origin is not None:
        found: set[type[BaseModel]] = set()
        for arg in typing.get_args(annotation):
            found |= _models(arg)
        return found
    return set()


def _request_models(dependant: Any) -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for param in [*dependant.body_params, *dependant.query_params]:
        found |= _models(param.field_info.annotation)
    for sub in dependant.dependencies:
        found |= _request_models(sub)
        # a dependency building a filter model from query parameters (returnees' list_filter)
        returned = typing.get_type_hints(sub.call).get("return") if sub.call is not None else None
        if returned is not None and sub.call.__module__.startswith("zhengding."):
            found |= _models(returned)
    return found


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    """The JSON body's model (`X` or `X | None`), not the models nested in it."""
    for param in route.dependant.body_params:
        annotation = param.field_info.annotation
        for candidate in (annotation, *typing.get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                return candidate
    return None


class TestEveryRequestSchemaIsChecked:
    def test_the_walk_finds_the_request_schemas(self):
        names = {m.__name__ for route in ROUTES for m in _request_models(route.dependant)}
        assert {
            "LoginRequest",
            "DingCreate",
            "ItemCreate",
            "OwnerIn",
            "ReturneeEnrol",
            "ReturneeFilter",
            "ReplyCreate",
            "UnitCreate",
            "RevealRequest",
        } <= names

    def test_every_request_schema_derives_from_request_model(self):
        offenders = sorted(
            {
                f"{m.__module__}.{m.__qualname__}"
                for route in ROUTES
                for m in _request_models(route.dependant)
                if not issubclass(m, RequestModel)
            }
        )
        assert not offenders, f"derive these from zhengding.core.schemas.RequestModel: {offenders}"


# --- through the API -------------------------------------------------------------------------

PERSONA_ORDER = ["province", "grid1", "town", "sysadmin", "secadmin", "auditadmin"]


def _persona_for(method: str, path: str) -> str:
    """The first persona allowed to call the route (body validation runs after the permission check)."""
    from zhengding.authz.matrix import SPECIAL, permission_for
    from zhengding.authz.roles import ROLES

    needed = permission_for(method, path)
    if needed in SPECIAL:
        return "province"
    from zhengding import demo

    roles = {spec.username: spec.role for spec in demo.PERSONAS}
    return next(p for p in PERSONA_ORDER if roles[p] and needed in ROLES[roles[p]].permissions)


def _constraint(info: Any, kind: type) -> int | None:
    return next(
        (
            getattr(m, kind.__name__.lower().replace("len", "_length"))
            for m in info.metadata
            if isinstance(m, kind)
        ),
        None,
    )


def _text_with_nul(info: Any) -> str:
    low = _constraint(info, annotated_types.MinLen) or 0
    high = _constraint(info, annotated_types.MaxLen) or 40
    text = "值\x00" + "文" * max(low - 2, 0)
    return text[: max(high, 2)]


def _string_fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
    fields = []
    for name, info in model.model_fields.items():
        if info.annotation in (str, str | None) and not any(
            hasattr(m, "pattern") and m.pattern for m in info.metadata
        ):
            fields.append((info.alias or name, info))
    return fields


BODY_CASES = [
    (method, route.path, field, info)
    for route in ROUTES
    if (model := _body_model(route)) is not None
    for method in sorted(route.methods - {"HEAD"})
    for field, info in _string_fields(model)
]


def test_the_body_walk_covers_every_domain():
    areas = {path.split("/")[2] for _, path, _, _ in BODY_CASES}
    assert {
        "auth",
        "accounts",
        "orgs",
        "privacy",
        "ding",
        "notifications",
        "verification",
        "supervision",
        "returnees",
    } <= areas, areas
    assert len(BODY_CASES) >= 40


@pytest.mark.parametrize(
    ("method", "path", "field", "info"), BODY_CASES, ids=[f"{m} {p} {f}" for m, p, f, _ in BODY_CASES]
)
async def test_a_nul_in_any_string_field_of_any_json_body_is_refused_naming_it(
    client, personas: Personas, method, path, field, info
):
    url = path.replace("{", "").replace("}", "")
    url = "/".join(DUMMY_ID if part.endswith("_id") else part for part in url.split("/"))
    r = await client.request(
        method, url, json={field: _text_with_nul(info)}, headers=personas[_persona_for(method, path)].headers
    )
    assert r.status_code == 422, r.text
    assert detail(field) in r.json()["error"]["details"], r.text


class TestThroughTheApi:
    async def test_a_valid_body_with_a_control_character_stores_nothing(self, client, personas: Personas):
        r = await client.post(
            "/api/ding",
            headers=personas.province.headers,
            json={"content": "紧急\x1b[31m通知", "user_ids": [personas.grid1.user_id]},
        )
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [detail("content")]

    async def test_a_multi_line_content_field_keeps_its_line_breaks(self, client, personas: Personas):
        r = await client.post(
            "/api/ding",
            headers=personas.province.headers,
            json={"content": "第一行\r\n第二行\n\t第三行", "user_ids": [personas.grid1.user_id]},
        )
        assert r.status_code == 201, r.text

    @pytest.mark.parametrize(
        ("persona", "path", "param"),
        [
            ("grid1", "/api/returnees", "q"),
            ("province", "/api/verification/tasks", "q"),
            ("province", "/api/supervision/items", "q"),
            ("sysadmin", "/api/accounts", "q"),
            ("auditadmin", "/api/audit", "action"),
            ("province", "/api/notifications", "before"),
            ("province", "/api/realtime/presence", "user_ids"),
        ],
    )
    async def test_a_control_character_in_a_query_parameter_is_refused_naming_it(
        self, client, personas: Personas, persona, path, param
    ):
        r = await client.get(path, params={param: "张\x00三"}, headers=personas[persona].headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [detail(param)]

    async def test_an_unknown_query_parameter_is_checked_too(self, client, personas: Personas):
        r = await client.get("/api/returnees", params={"x": "\x7f"}, headers=personas.grid1.headers)
        assert r.status_code == 422
        assert r.json()["error"]["details"] == [detail("x")]

    async def test_a_control_character_in_a_path_parameter_is_refused_naming_it(
        self, client, personas: Personas
    ):
        r = await client.get("/api/returnees/01ABC%00DEF", headers=personas.grid1.headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [detail("returnee_id")]

    async def test_a_control_character_in_a_form_field_is_refused_naming_it(self, client, personas: Personas):
        files = {
            "file": (
                "batch.xlsx",
                _xlsx(["姓名", "身份证号", "手机号", "线索地址"], [["张三", new_id_number(), "", "海口市"]]),
                "application/octet-stream",
            )
        }
        r = await client.post(
            "/api/verification/imports",
            files=files,
            data={"name": "批次\x08一"},
            headers=personas.province.headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [detail("name")]

    async def test_a_control_character_in_an_uploaded_file_name_is_refused(self, client, personas: Personas):
        # written by hand: httpx would percent-encode the character in the file name
        content = _csv(["身份证号", "姓名", "采样时间", "检测结果", "检测机构"], [])
        body = (
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="nat\x01.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--b0undary--\r\n"
        )
        r = await client.post(
            "/api/verification/nat-results/import",
            content=body,
            headers={**personas.province.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [detail("file")]


# --- spreadsheet imports ---------------------------------------------------------------------


def _xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)  # xlsxwriter stores a control character as _x0001_
    book.close()
    return out.getvalue()


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


IMPORTS = {
    "roster": (
        "/api/accounts/import",
        "sysadmin",
        ["姓名", "手机号", "机构编码", "职务"],
        lambda bad: ["张三", "13912345678", bad, "网格员"],
        "机构编码",
    ),
    "verification": (
        "/api/verification/imports",
        "province",
        ["姓名", "身份证号", "手机号", "线索地址"],
        lambda bad: ["张三", new_id_number(), "", bad],
        "线索地址",
    ),
    "nat": (
        "/api/verification/nat-results/import",
        "province",
        ["身份证号", "姓名", "采样时间", "检测结果", "检测机构"],
        lambda bad: [new_id_number(), bad, "2022-01-20 08:30", "阴性", "海口市人民医院"],
        "姓名",
    ),
}


class TestSpreadsheetCells:
    @pytest.mark.parametrize("kind", ["xlsx", "csv"])
    @pytest.mark.parametrize("name", list(IMPORTS))
    async def test_a_control_character_in_a_cell_is_refused_with_row_and_field(
        self, client, personas: Personas, name, kind
    ):
        path, persona, header, row, field = IMPORTS[name]
        good = row("正常")
        # a NUL makes a csv binary (refused as not a spreadsheet at all): ESC there
        rows = [good, row("秀英\x00区" if kind == "xlsx" else "秀英\x1b区"), good]
        content = _xlsx(header, rows) if kind == "xlsx" else _csv(header, rows)
        r = await client.post(
            path,
            headers=personas[persona].headers,
            files={"file": (f"import.{kind}", content, "application/octet-stream")},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [detail(field, row=3)]
        assert f"第 3 行「{field}」" in r.json()["error"]["message"]

    def test_a_control_character_in_the_header_names_the_column(self):
        content = _csv(["姓名", "身份\x1f证号"], [["张三", "x"]])
        with pytest.raises(ValidationFailed) as caught:
            list(spreadsheets.iter_rows(content, "a.csv"))
        assert caught.value.details == [detail("B 列", row=1)]

    def test_the_header_is_the_first_row_with_text(self):
        content = _csv(["", ""], [["姓名", "手机号"], ["张\x0c三", "139"]])
        with pytest.raises(ValidationFailed) as caught:
            list(spreadsheets.iter_rows(content, "a.csv"))
        assert caught.value.details == [detail("姓名", row=3)]

    def test_line_breaks_and_tabs_in_cells_are_kept(self):
        content = _xlsx(["地址"], [["秀英区\n秀华社区\t5栋"]])
        assert list(spreadsheets.iter_rows(content, "a.xlsx"))[1] == ["秀英区\n秀华社区\t5栋"]
