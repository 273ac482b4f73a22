"""The inbound registration contract (validated by hand, for field-level reasons in Chinese)
and the request bodies of the grid worker's and the commands' endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from zhengding.core import records
from zhengding.core.clock import SHANGHAI, now, to_utc
from zhengding.core.schemas import RequestModel
from zhengding.privacy import idcard
from zhengding.returnees.enums import AnomalyKind, HealthCode, Transport

MAX_BATCH = 500
# No arrival of the epidemic's returnee registration predates 2020 (Asia/Shanghai); an earlier
# time is a sender's error (a zero date, a wrong year), never a real arrival.
EARLIEST_ARRIVAL = datetime(2020, 1, 1, tzinfo=SHANGHAI)
FUTURE_MARGIN = timedelta(hours=1)  # the senders' clocks may run a little ahead

# field → (required, max length or None for non-strings)
REGISTRATION_FIELDS: dict[str, tuple[bool, int | None]] = {
    "registration_id": (True, 64),
    "name": (True, 50),
    "id_number": (True, 18),
    "phone": (True, 20),
    "origin_province": (True, 20),
    "origin_city": (False, 30),
    "origin_risk_area": (False, None),
    "port_of_entry": (True, 50),
    "arrived_at": (True, 40),
    "transport": (True, 10),
    "transport_no": (False, 20),
    "destination": (True, 200),
    "health_code": (True, 10),
}


@dataclass
class Registration:
    registration_id: str
    name: str
    id_number: str
    phone: str
    origin_province: str
    origin_city: str
    origin_risk_area: bool
    port_of_entry: str
    arrived_at: datetime
    transport: str
    transport_no: str
    destination: str
    health_code: str


def parse_registration(item: Any) -> tuple[Registration | None, list[dict[str, str]]]:
    """(registration, []) when valid, else (None, [{field, reason}, …])."""
    clean, errors = records.read_fields(item, REGISTRATION_FIELDS, "登记")
    if clean is None:
        return None, errors
    if "id_number" in clean:
        clean["id_number"], reason = idcard.clean_id_number(clean["id_number"])
        if reason:
            errors.append({"field": "id_number", "reason": reason})
    if "phone" in clean:
        phone = idcard.normalize_phone(clean["phone"])
        reason = idcard.phone_error(phone)
        if reason:
            errors.append({"field": "phone", "reason": reason})
        clean["phone"] = phone
    risk = item.get("origin_risk_area", False)
    if risk is not None and not isinstance(risk, bool):
        errors.append({"field": "origin_risk_area", "reason": "应为 true 或 false"})
    clean["origin_risk_area"] = bool(risk) if isinstance(risk, bool) else False
    if "arrived_at" in clean:
        try:
            at = datetime.fromisoformat(clean["arrived_at"])
            if at.tzinfo is None:
                errors.append({"field": "arrived_at", "reason": "时间须带时区，如 2022-01-25T14:30:00+08:00"})
            elif at > now() + FUTURE_MARGIN:
                errors.append({"field": "arrived_at", "reason": "抵达时间晚于当前时间"})
            elif at < EARLIEST_ARRIVAL:
                errors.append({"field": "arrived_at", "reason": "抵达时间早于 2020-01-01，请核对"})
            else:
                clean["arrived_at"] = to_utc(at)
        except ValueError:
            errors.append(
                {"field": "arrived_at", "reason": "时间格式应为 ISO 8601，如 2022-01-25T14:30:00+08:00"}
            )
    if "transport" in clean and clean["transport"] not in {t.value for t in Transport}:
        errors.append({"field": "transport", "reason": "应为 flight、train、ship、car 或 other"})
    if "health_code" in clean and clean["health_code"] not in {h.value for h in HealthCode}:
        errors.append({"field": "health_code", "reason": "应为 green、yellow 或 red"})
    if errors:
        return None, errors
    return Registration(
        registration_id=clean["registration_id"],
        name=clean["name"],
        id_number=clean["id_number"],
        phone=clean["phone"],
        origin_province=clean["origin_province"],
        origin_city=clean.get("origin_city", ""),
        origin_risk_area=clean["origin_risk_area"],
        port_of_entry=clean["port_of_entry"],
        arrived_at=clean["arrived_at"],
        transport=clean["transport"],
        transport_no=clean.get("transport_no", ""),
        destination=clean["destination"],
        health_code=clean["health_code"],
    ), []


# --- request bodies of the staff endpoints -------------------------------------------------------


class _Body(RequestModel):
    model_config = ConfigDict(extra="forbid")


class ReturneeEnrol(_Body):
    identity_confirmed: bool
    actual_address: str = Field(min_length=2, max_length=200)
    contact_phone: str | None = Field(None, max_length=20)
    household_size: int | None = Field(None, ge=1, le=50)
    household_note: str = Field("", max_length=200)
    monitoring_plan: Literal["home", "centralized", "self"] = "home"
    monitoring_days: int | None = Field(None, ge=1, le=60)


class CheckInCreate(_Body):
    temperature: float = Field(ge=34.0, le=43.0)
    symptoms: list[
        Literal["fever", "cough", "fatigue", "sore_throat", "loss_of_taste", "diarrhea", "other"]
    ] = []
    note: str = Field("", max_length=500)


class AnomalyCreate(_Body):
    kind: AnomalyKind
    description: str = Field("", max_length=1000)


class AnomalyResolve(_Body):
    resolution: str = Field(min_length=2, max_length=1000)


class ReturneeRoute(_Body):
    village_id: str = Field(max_length=26)
    note: str = Field("", max_length=200)


class ReturneeRelease(_Body):
    note: str = Field("", max_length=200)


class ReturneeFilter(_Body):
    """The filters of the returnee list and its export (query parameters)."""

    status: str | None = None  # one status or several, comma-separated
    unit_id: str | None = None  # the unit and its subtree
    q: str | None = Field(None, max_length=50)  # a full name, ID number or phone (blind index)
    overdue: bool = False
    anomalies: bool = False  # with open anomalies
    port_of_entry: str | None = Field(None, max_length=50)
    day_from: str | None = None  # arrival day (Asia/Shanghai), inclusive
    day_to: str | None = None

    def detail(self) -> dict[str, Any]:
        """The filters as recorded in the audit row (no search text: it may be a name or ID number)."""
        out: dict[str, Any] = self.model_dump(exclude={"q"}, exclude_defaults=True)
        if self.q:
            out["q"] = True
        return out
