"""Response shapes: personal data masked, free text scrubbed."""

from __future__ import annotations

from typing import Any

from zhengding.core.clock import now
from zhengding.privacy.masking import mask_id_number, mask_name, mask_phone, scrub
from zhengding.returnees.enums import ANOMALY_LABELS, STATUS_LABELS, AnomalyKind, ReturneeStatus
from zhengding.returnees.models import Anomaly, CheckIn, Returnee, ReturneeHistory
from zhengding.returnees.stats_table import is_overdue


def list_item(r: Returnee, unit_name: str | None) -> dict[str, Any]:
    return {
        "id": r.id,
        "name_masked": mask_name(r.name),
        "id_number_masked": mask_id_number(r.id_number),
        "phone_masked": mask_phone(r.phone),
        "origin_province": r.origin_province,
        "origin_city": r.origin_city,
        "origin_risk_area": r.origin_risk_area,
        "port_of_entry": r.port_of_entry,
        "arrived_at": r.arrived_at,
        "transport": r.transport,
        "transport_no": r.transport_no,
        "destination_text": scrub(r.destination_text),
        "resolved_path": r.resolved_path,
        "health_code": r.health_code,
        "status": r.status,
        "status_label": STATUS_LABELS[ReturneeStatus(r.status)],
        "unit_id": r.unit_id,
        "unit_name": unit_name,
        "received_at": r.received_at,
        "acknowledged_at": r.acknowledged_at,
        "enrolled_at": r.enrolled_at,
        "monitoring_until": r.monitoring_until,
        "monitoring_due": bool(
            r.monitoring_until and r.monitoring_until <= now() and r.status == ReturneeStatus.MONITORING
        ),
        "last_check_in_day": r.last_check_in_day,
        "overdue": is_overdue(r),
        "ack_overdue": r.ack_overdue_at is not None,
        "check_in_overdue_day": r.checkin_overdue_day if r.checkin_overdue_at else None,
        "open_anomalies": r.open_anomalies,
    }


def history_item(h: ReturneeHistory, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": h.id,
        "kind": h.kind,
        "actor_name": h.actor_name,
        "at": h.at,
        "note": scrub(h.note),
        "from_unit_id": h.from_unit_id,
        "from_unit_name": names.get(h.from_unit_id or ""),
        "to_unit_id": h.to_unit_id,
        "to_unit_name": names.get(h.to_unit_id or ""),
    }


def check_in_item(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "day": c.day,
        "temperature": c.temperature,
        "symptoms": c.symptoms,
        "note": scrub(c.note),
        "recorded_by_name": c.recorded_by_name,
        "created_at": c.created_at,
    }


def anomaly_item(
    a: Anomaly, returnee: Returnee | None = None, unit_name: str | None = None
) -> dict[str, Any]:
    out = {
        "id": a.id,
        "returnee_id": a.returnee_id,
        "kind": a.kind,
        "kind_label": ANOMALY_LABELS[AnomalyKind(a.kind)],
        "description": scrub(a.description),
        "status": a.status,
        "reported_by_name": a.reported_by_name,
        "reported_at": a.reported_at,
        "ding_id": a.ding_id,
        "resolved_by_name": a.resolved_by_name,
        "resolved_at": a.resolved_at,
        "resolution": scrub(a.resolution),
    }
    if returnee is not None:
        out["returnee_name_masked"] = mask_name(returnee.name)
        out["unit_name"] = unit_name
    return out


def anomaly_event(a: Anomaly, returnee: Returnee, unit_name: str | None) -> dict[str, Any]:
    """The payload of "returnees.anomaly.reported" and "returnees.anomaly.resolved"."""
    return {**anomaly_item(a, returnee, unit_name), "unit_id": returnee.unit_id}


def detail(
    r: Returnee,
    unit_name: str | None,
    history: list[dict[str, Any]],
    check_ins: list[CheckIn],
    anomalies: list[Anomaly],
) -> dict[str, Any]:
    out = list_item(r, unit_name)
    out.update(
        {
            "registration_id": r.registration_id,
            "resolved_code": r.resolved_code,
            "resolved_level": r.resolved_level,
            "actual_address": scrub(r.actual_address) if r.actual_address else None,
            "contact_phone_masked": mask_phone(r.contact_phone),
            "household_size": r.household_size,
            "household_note": scrub(r.household_note or ""),
            "monitoring_plan": r.monitoring_plan,
            "monitoring_days": r.monitoring_days,
            "released_at": r.released_at,
            "history": history,
            "check_ins": [check_in_item(c) for c in check_ins],
            "anomalies": [anomaly_item(a) for a in anomalies],
        }
    )
    return out
