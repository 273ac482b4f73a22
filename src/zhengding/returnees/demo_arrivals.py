"""Realistic arrival registrations for demonstrations and the benchmark (`zhengding demo arrivals`).

Destinations are written the way travellers type them: formal full paths, common short
forms, skipped levels, lead words (回老家), house numbers, full-width digits, stray spaces,
town-only addresses (manual routing) and a few places outside the province or unreadable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from zhengding.core.clock import now
from zhengding.divisions import service as division_service
from zhengding.privacy.idcard import check_digit

ORIGINS = [
    ("广东省", "广州市", "440106"),
    ("广东省", "深圳市", "440305"),
    ("广东省", "湛江市", "440802"),
    ("北京市", "北京市", "110105"),
    ("上海市", "上海市", "310115"),
    ("浙江省", "杭州市", "330106"),
    ("湖南省", "长沙市", "430104"),
    ("湖北省", "武汉市", "420106"),
    ("四川省", "成都市", "510107"),
    ("广西壮族自治区", "南宁市", "450103"),
    ("福建省", "厦门市", "350203"),
    ("江苏省", "南京市", "320106"),
    ("河南省", "郑州市", "410105"),
    ("黑龙江省", "哈尔滨市", "230103"),
    ("陕西省", "西安市", "610113"),
]
PORTS = [
    ("海口美兰国际机场", "flight", ["CZ", "HU", "MU", "CA", "3U", "ZH"]),
    ("三亚凤凰国际机场", "flight", ["CZ", "HU", "MU", "CA", "GS"]),
    ("琼海博鳌国际机场", "flight", ["HU", "CZ"]),
    ("海口新海港", "ship", ["琼州海峡轮渡"]),
    ("海口秀英港", "ship", ["琼州海峡轮渡"]),
    ("海口火车站", "train", ["D", "K", "Z"]),
    ("海口新海港（自驾）", "car", ["粤"]),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾符蔡潘云邢羊吉"
GIVEN = "海琼椰南明华国建文俊伟芳秀英丽强军平东红玉春兰志勇杰涛超静敏燕霞娟波斌辉"
LEADS = ["", "", "", "回老家", "返乡至", "到", "回", "去"]
STREETS = ["3队12号", "5栋302", "二组", "村口小卖部旁", "12号", "新村路8号", "东区7幢", ""]
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_SUFFIXES = (
    "居民委员会",
    "村民委员会",
    "居委会",
    "村委会",
    "社区",
    "街道",
    "镇",
    "乡",
    "区",
    "县",
    "市",
    "省",
)


def _short(name: str) -> str:
    for suffix in ("居民委员会", "村民委员会", "居委会", "村委会"):
        if name.endswith(suffix):
            return name[: -len(suffix)] + ("社区" if "居" in suffix else "村")
    for suffix in ("黎族自治县", "黎族苗族自治县", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


class ArrivalFactory:
    def __init__(self, seed: int = 2022, province: str = "46") -> None:
        self.rng = random.Random(seed)
        rows = division_service.read_province(province)
        self.by_code = {r.code: r for r in rows}
        self.villages = [r for r in rows if r.level == 5 and not r.placeholder]
        self.towns = [r for r in rows if r.level == 4 and not r.placeholder]
        self.prefix = f"DEMO{seed}"
        self.n = 0

    def _chain(self, row: Any) -> list[Any]:
        chain = [row]
        while chain[-1].parent_code and chain[-1].parent_code in self.by_code:
            chain.append(self.by_code[chain[-1].parent_code])
        return [r for r in reversed(chain) if not r.placeholder]

    def destination(self, village: Any | None = None) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:
            return rng.choice(["广东省广州市天河区体育西路", "老家", "海南", "不详", "回家过年"])
        if roll < 0.12:
            chain = self._chain(rng.choice(self.towns))
        else:
            chain = self._chain(village or rng.choice(self.villages))
        names = [r.name for r in chain]
        style = rng.random()
        if style < 0.3:
            parts = names  # formal
        elif style < 0.6:
            parts = [_short(n) for n in names[1:]]  # short forms, no province
        elif style < 0.8:
            parts = [n for i, n in enumerate(names[1:]) if i != len(names) - 3]  # a level skipped
        else:
            parts = [_short(n) for n in names[-3:]]
        text = (
            rng.choice(LEADS)
            + rng.choice(["", " "]).join(parts)
            + rng.choice(["", " ", "，"])
            + rng.choice(STREETS)
        )
        if rng.random() < 0.15:
            text = text.translate(_FULLWIDTH)
        return text.strip()

    def id_number(self, region: str) -> str:
        rng = self.rng
        born = now() - timedelta(days=rng.randint(18 * 365, 70 * 365))
        first17 = f"{region}{born:%Y%m%d}{rng.randint(0, 999):03d}"
        return first17 + check_digit(first17)

    def registration(self, village: Any | None = None, **overrides: Any) -> dict[str, Any]:
        rng = self.rng
        self.n += 1
        province, city, region = rng.choice(ORIGINS)
        port, transport, carriers = rng.choice(PORTS)
        number = {
            "flight": lambda: f"{rng.choice(carriers)}{rng.randint(1000, 8999)}",
            "train": lambda: f"{rng.choice(carriers)}{rng.randint(100, 7999)}",
            "ship": lambda: carriers[0],
            "car": lambda: f"{carriers[0]}{rng.choice('ABCDEFG')}{rng.randint(10000, 99999)}",
        }[transport]()
        item = {
            "registration_id": f"{self.prefix}-{self.n:07d}",
            "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
            "id_number": self.id_number(region),
            "phone": rng.choice(["13", "15", "17", "18", "19"]) + f"{rng.randint(0, 999999999):09d}",
            "origin_province": province,
            "origin_city": city,
            "origin_risk_area": rng.random() < 0.05,
            "port_of_entry": port,
            "arrived_at": (now() - timedelta(minutes=rng.randint(1, 240))).replace(microsecond=0).isoformat(),
            "transport": transport,
            "transport_no": number,
            "destination": self.destination(village),
            "health_code": "green" if rng.random() < 0.95 else rng.choice(["yellow", "red"]),
        }
        item.update(overrides)
        return item

    def many(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.registration()
