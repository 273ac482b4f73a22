"""A local stand-in for the Tencent Cloud SMS API: checks the TC3-HMAC-SHA256 signature the way
the cloud documents it (written here independently of the adapter), records sends, answers
delivery reports, and fails on demand."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.realtime.support import free_port

SECRET_ID = "AKIDtest000000000000"
SECRET_KEY = "test-secret-key-for-the-fake-cloud"
APP_ID = "1400000000"


def expected_signature(headers: Any, body: bytes) -> str:
    ts = int(headers["x-tc-timestamp"])
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical = (
        f"POST\n/\n\ncontent-type:{headers['content-type']}\nhost:{headers['host']}\n\n"
        f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
    )
    to_sign = (
        f"TC3-HMAC-SHA256\n{ts}\n{date}/sms/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    k = hmac.new(("TC3" + SECRET_KEY).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"sms", hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeSmsCloud:
    def __init__(self) -> None:
        self.port = free_port()
        self.sent: list[dict[str, Any]] = []
        self.reports: list[dict[str, Any]] = []
        self.fail_next: list[str] = []  # "500" or an error code, consumed one per request
        self.bad_signatures = 0
        self._serial = itertools.count(1)
        app = Starlette(routes=[Route("/", self.handle, methods=["POST"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await self.task

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.body()
        auth = request.headers.get("authorization", "")
        if (
            not auth.endswith("Signature=" + expected_signature(request.headers, body))
            or SECRET_ID not in auth
        ):
            self.bad_signatures += 1
            return JSONResponse(
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"},
                        "RequestId": "x",
                    }
                }
            )
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if failure == "500":
                return JSONResponse({"message": "busy"}, status_code=500)
            return JSONResponse(
                {"Response": {"Error": {"Code": failure, "Message": "refused"}, "RequestId": "x"}}
            )
        data = json.loads(body)
        action = request.headers["x-tc-action"]
        if action == "SendSms":
            serial = f"serial-{next(self._serial)}"
            self.sent.append({**data, "SerialNo": serial})
            return JSONResponse(
                {
                    "Response": {
                        "SendStatusSet": [
                            {
                                "SerialNo": serial,
                                "PhoneNumber": data["PhoneNumberSet"][0],
                                "Fee": 1,
                                "SessionContext": data.get("SessionContext", ""),
                                "Code": "Ok",
                                "Message": "send success",
                                "IsoCode": "CN",
                            }
                        ],
                        "RequestId": "r",
                    }
                }
            )
        if action == "PullSmsSendStatus":
            reports, self.reports = self.reports, []
            return JSONResponse({"Response": {"PullSmsSendStatusSet": reports, "RequestId": "r"}})
        return JSONResponse({"Response": {"Error": {"Code": "InvalidAction", "Message": action}}})

    def deliver(self, serial: str, ok: bool = True) -> None:
        self.reports.append(
            {
                "UserReceiveTime": "2022-01-20 17:18:37",
                "CountryCode": "86",
                "SubscriberNumber": "13800000000",
                "PhoneNumber": "+8613800000000",
                "SerialNo": serial,
                "ReportStatus": "SUCCESS" if ok else "FAIL",
                "Description": "用户接收成功" if ok else "空号",
                "SessionContext": "",
            }
        )
