"""States and vocabularies of the returnee workflow (stored as strings)."""

from __future__ import annotations

from enum import StrEnum


class ReturneeStatus(StrEnum):
    ROUTING = "routing"  # waiting in a unit's manual-routing queue (destination not certain to a village)
    DISPATCHED = "dispatched"  # assigned to a village, pushed to its grid workers
    ACKNOWLEDGED = "acknowledged"  # a grid worker confirmed receipt
    MONITORING = "monitoring"  # enrolled (登记造册), daily health monitoring running
    RELEASED = "released"  # monitoring ended (解除)


class HealthCode(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Transport(StrEnum):
    FLIGHT = "flight"
    TRAIN = "train"
    SHIP = "ship"
    CAR = "car"
    OTHER = "other"


class AnomalyKind(StrEnum):
    FEVER = "fever"  # 发热
    LEFT = "left"  # 擅自离开
    UNREACHABLE = "unreachable"  # 失联
    REFUSES = "refuses"  # 拒不配合
    OTHER = "other"


class AnomalyStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


ANOMALY_LABELS = {
    AnomalyKind.FEVER: "发热",
    AnomalyKind.LEFT: "擅自离开",
    AnomalyKind.UNREACHABLE: "无法联系",
    AnomalyKind.REFUSES: "拒不配合",
    AnomalyKind.OTHER: "其他异常",
}

STATUS_LABELS = {
    ReturneeStatus.ROUTING: "待分派",
    ReturneeStatus.DISPATCHED: "待签收",
    ReturneeStatus.ACKNOWLEDGED: "已签收",
    ReturneeStatus.MONITORING: "监测中",
    ReturneeStatus.RELEASED: "已解除",
}
