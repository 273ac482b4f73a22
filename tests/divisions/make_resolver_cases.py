"""Generate tests/divisions/resolver_cases.jsonl from the division data (deterministic).

Run: .venv/bin/python tests/divisions/make_resolver_cases.py

Each case is {"kind", "text", "code"}; "code" is what a careful human would route the text to.
Expected values come from the data, not from the resolver: a text is read segment by segment
(county, town, village …); each segment is looked up among the descendants of what was read
so far, using the forms people write (formal name, 镇/乡/街道/市/县/区 dropped, 自治县 stem,
某某村 / 某某社区 for a committee). A segment fitting several places stops at their deepest
common ancestor; a segment fitting none stops at what was read so far. Texts whose segment
could be read at two different levels are not emitted: the answer there is a judgement call,
covered by focused unit tests instead.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "zhengding" / "data"
OUT = Path(__file__).with_name("resolver_cases.jsonl")
SEED = 20240501

PLACEHOLDER = re.compile(r"(直辖县级行政区划|直辖村级区划)$")
COMMITTEE = re.compile(
    r"(村民委员会|村委员会|村委会|村委员|社区居民委员会|社区居委会|居民委员会|居委会|社区)$"
)
AUTONOMOUS = re.compile(r"^(.+?)(?:(?:黎|苗)族)+自治县$")
TAILS = ["", "", "3队12号", "12号", "一组", "二队5号", "5巷3号", "2栋301", "大路边8号", "18号"]
LEADS = ["回老家", "返乡至", "返回", "到", "去", "前往", "目的地：", "回", "家住"]
SEPARATORS = [" ", "　", "，", "、", "-", " / ", "  "]


class Tree:
    def __init__(self, rows: list[dict]) -> None:
        self.rows = {r["code"]: r for r in rows}
        self.children: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            if r["parent_code"]:
                self.children[r["parent_code"]].append(r["code"])
        self.forms_index: dict[str, set[str]] = defaultdict(set)
        for code in self.rows:
            for form in self.forms(code):
                self.forms_index[form].add(code)

    def name(self, code: str) -> str:
        return self.rows[code]["name"]

    def level(self, code: str) -> int:
        return int(self.rows[code]["level"])

    def placeholder(self, code: str) -> bool:
        return bool(PLACEHOLDER.search(self.name(code)))

    def chain(self, code: str) -> list[str]:
        """Real (non-placeholder) divisions from the province down to code."""
        out = []
        while code:
            if not self.placeholder(code):
                out.append(code)
            code = self.rows[code]["parent_code"]
        return out[::-1]

    def is_under(self, code: str, scope: str | None) -> bool:
        if scope is None:
            return True
        code = self.rows[code]["parent_code"]
        while code:
            if code == scope:
                return True
            code = self.rows[code]["parent_code"]
        return False

    def common_ancestor(self, codes: set[str]) -> str | None:
        chains = [self.chain(c) for c in codes]
        common = None
        for items in zip(*chains, strict=False):
            if len(set(items)) != 1:
                break
            common = items[0]
        return common

    # What people write for a division.
    def stem(self, code: str) -> str | None:
        name, level = self.name(code), self.level(code)
        if level in (2, 3):
            m = AUTONOMOUS.match(name)
            if m:
                return m.group(1)
            if name.endswith(("市", "县", "区")) and len(name) > 2:
                return name[:-1]
        if level == 4:
            m = re.match(r"^(.+?)(镇|乡|街道)$", name)
            if m and len(m.group(1)) >= 2:
                return m.group(1)
        if level == 1 and name.endswith("省"):
            return name[:-1]
        return None

    def short(self, code: str) -> str | None:
        """某某村 / 某某社区 for a village committee."""
        m = COMMITTEE.search(self.name(code))
        if self.level(code) != 5 or not m:
            return None
        core = self.name(code)[: m.start()]
        return core + ("村" if m.group(1).startswith("村") else "社区")

    def forms(self, code: str) -> set[str]:
        if self.placeholder(code):
            return set()
        out = {self.name(code)}
        for form in (self.stem(code), self.short(code)):
            if form:
                out.add(form)
        m = COMMITTEE.search(self.name(code))
        if self.level(code) == 5 and m:
            core = self.name(code)[: m.start()]
            if core.endswith(("村", "居")) and len(core) >= 2:
                out.add(core)
        if self.level(code) in (2, 3) and AUTONOMOUS.match(self.name(code)):
            out.add(AUTONOMOUS.match(self.name(code)).group(1) + "县")
        return out

    def read(self, segments: list[str]) -> str | None | bool:
        """The careful human's reading; False when a segment is readable at two levels."""
        scope: str | None = None
        for seg in segments:
            cands = {c for c in self.forms_index.get(seg, ()) if self.is_under(c, scope)}
            if not cands:
                return scope
            if len({self.level(c) for c in cands}) > 1:
                return False
            if len(cands) > 1:
                return self.common_ancestor(cands)
            scope = cands.pop()
        return scope


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


def main() -> None:
    rng = random.Random(SEED)
    with open(DATA / "hainan-divisions.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    tree = Tree(rows)
    villages = [r["code"] for r in rows if r["level"] == "5"]
    committees = [v for v in villages if tree.short(v)]
    towns = [r["code"] for r in rows if r["level"] == "4" and not tree.placeholder(r["code"])]
    counties = [c for c in tree.rows if tree.level(c) in (2, 3) and not tree.placeholder(c)]
    cases: list[dict] = []
    seen: set[str] = set()

    def add(kind: str, segments: list[str], text: str | None = None, expect: str | None | bool = ...) -> bool:
        text = "".join(segments) if text is None else text
        if expect is ...:
            expect = tree.read(segments)
        if expect is False or text in seen:
            return False
        seen.add(text)
        cases.append({"kind": kind, "text": text, "code": expect})
        return True

    def names(code: str) -> list[str]:
        return [tree.name(c) for c in tree.chain(code)]

    def fill(kind: str, n: int, make) -> None:
        made = tries = 0
        while made < n and tries < n * 50:
            tries += 1
            made += bool(make())

    def usable_stem(code: str) -> str | None:
        """A stem only this division answers to (白沙 is also 白沙街道, 秀英 also 秀英街道)."""
        stem = tree.stem(code)
        return stem if stem and tree.forms_index[stem] == {code} else None

    # 1. Full formal address, province down to village.
    fill("full_formal", 40, lambda: add("full_formal", names(rng.choice(villages))))
    # 2. No province.
    fill("no_province", 25, lambda: add("no_province", names(rng.choice(villages))[1:]))

    # 3. No province, no city (county down).
    def no_city() -> bool:
        chain = tree.chain(rng.choice(villages))
        if len(chain) < 5:
            return False
        return add("no_city", [tree.name(c) for c in chain[2:]])

    fill("no_city", 25, no_city)

    # 4. Shortened county and town, village short form, house number.
    def short_county() -> bool:
        v = rng.choice(committees)
        chain = tree.chain(v)
        county, town = chain[-3], chain[-2]
        if tree.level(county) != 3 or not usable_stem(county) or not tree.stem(town):
            return False
        segs = [usable_stem(county), tree.stem(town), tree.short(v)]
        return add("short_county", segs, "".join(segs) + rng.choice(TAILS))

    fill("short_county", 25, short_county)

    # 5. Town + village short form + house number, nothing above.
    def town_village() -> bool:
        v = rng.choice(committees)
        segs = [tree.name(tree.chain(v)[-2]), tree.short(v)]
        return add("town_village_short", segs, "".join(segs) + rng.choice(TAILS[2:]))

    fill("town_village_short", 30, town_village)

    # 6. Spaces, punctuation, full-width digits and spaces.
    def spaced() -> bool:
        v = rng.choice(committees)
        segs = names(v)[rng.choice([0, 1]) :]
        segs[-1] = tree.short(v)
        text = "".join(s + rng.choice(SEPARATORS) for s in segs[:-1]) + segs[-1]
        text = rng.choice(["", " ", "　"]) + text + fullwidth(rng.choice(TAILS[2:]))
        return add("spaces_fullwidth", segs, text)

    fill("spaces_fullwidth", 25, spaced)

    # 7. Lead words.
    def lead() -> bool:
        v = rng.choice(committees)
        segs = names(v)[rng.choice([0, 1, 2]) :]
        segs[-1] = tree.short(v)
        return add("lead_word", segs, rng.choice(LEADS) + "".join(segs) + rng.choice(TAILS))

    fill("lead_word", 20, lead)

    # 8. 儋州: towns hang directly under the city.
    danzhou = [c for c in tree.rows if c.startswith("4604") and tree.level(c) >= 4]

    def danzhou_case() -> bool:
        c = rng.choice(danzhou)
        chain = tree.chain(c)
        if tree.level(c) == 4:
            town = chain[-1]
            segs = rng.choice(
                [["儋州市", tree.name(town)], ["儋州", tree.stem(town) or tree.name(town)], [tree.name(town)]]
            )
            return add("danzhou", segs)
        segs = ["儋州市", tree.name(chain[-2]), tree.short(c) or tree.name(c)]
        return add("danzhou", segs, "".join(segs) + rng.choice(TAILS))

    fill("danzhou", 15, danzhou_case)

    # 9. County-level cities and counties directly under the province.
    direct = [v for v in committees if v.startswith("469")]

    def direct_case() -> bool:
        v = rng.choice(direct)
        chain = tree.chain(v)
        county, town = chain[1], chain[2]
        segs = rng.choice(
            [
                ["海南省", tree.name(county), tree.name(town), tree.short(v)],
                [tree.name(county), tree.name(town), tree.short(v)],
                [tree.name(county), tree.name(town)],
            ]
        )
        return add("direct_county", segs, "".join(segs) + rng.choice(TAILS))

    fill("direct_county", 20, direct_case)

    # 10. Ambiguous village short forms: same short form twice in the named scope.
    by_scope: dict[tuple[str, str], list[str]] = defaultdict(list)
    for v in committees:
        for scope in tree.chain(v)[:-2]:
            by_scope[(scope, tree.short(v))].append(v)
    dup_scopes = sorted(k for k, vs in by_scope.items() if len({tree.chain(x)[-2] for x in vs}) > 1)

    dup_by_level: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for scope, short in dup_scopes:
        dup_by_level[tree.level(scope)].append((scope, short))

    def ambiguous() -> bool:
        # Province, city and county scopes equally often (bare names dominate otherwise).
        scope, short = rng.choice(dup_by_level[rng.choice(sorted(dup_by_level))])
        if tree.level(scope) == 1:
            segs = [short]
        elif tree.level(scope) == 3:
            segs = [rng.choice([tree.name(scope), usable_stem(scope) or tree.name(scope)]), short]
        else:
            segs = [tree.name(scope), short]
        expect = tree.read(segs)
        if expect is False or tree.level(expect) == 5:
            return False
        return add("ambiguous_village", segs, "".join(segs) + rng.choice(TAILS), expect)

    fill("ambiguous_village", 30, ambiguous)

    # 11. Town level.
    def town_case() -> bool:
        t = rng.choice(towns)
        chain = tree.chain(t)
        county = chain[-2]
        segs = rng.choice(
            [
                [tree.name(county), tree.name(t)],
                [usable_stem(county) or tree.name(county), tree.stem(t) or tree.name(t)],
                [tree.name(t)],
            ]
        )
        return add("town", segs)

    fill("town", 20, town_case)

    # 12. County / city level.
    fill(
        "county",
        12,
        lambda: add("county", [rng.choice([tree.name, usable_stem])(rng.choice(counties)) or "海南省"]),
    )

    # 13. A bare village name, unique in the province.
    def bare() -> bool:
        v = rng.choice(committees)
        form = rng.choice([tree.name(v), tree.short(v)])
        return tree.read([form]) == v and add("bare_village", [form])

    fill("bare_village", 10, bare)

    # 14. Contradiction: a village that is not in the named town → stop at the town.
    def contradiction() -> bool:
        t, v = rng.choice(towns), rng.choice(committees)
        if tree.is_under(v, t):
            return False
        segs = [tree.name(t), tree.short(v)]
        return tree.read(segs) == t and add("contradiction", segs, "".join(segs) + "5号")

    fill("contradiction", 8, contradiction)

    # 15. Outside the province, empty and garbage → unroutable.
    hainan_forms = [f for f in tree.forms_index if len(f) >= 2]
    with gzip.open(DATA / "cn-divisions.csv.gz", "rt", encoding="utf-8") as f:
        foreign = [r for r in csv.DictReader(f) if r["level"] == "5" and not r["code"].startswith("46")]
    foreign_rows: dict[str, dict] = {}

    def foreign_chain(row: dict) -> list[str]:
        # Parents of a sampled village: look them up lazily from the same file's codes.
        return [foreign_rows[c]["name"] for c in ancestors_of(row["code"]) if c in foreign_rows] + [
            row["name"]
        ]

    def ancestors_of(code: str) -> list[str]:
        return [code[:2] + "0" * 10, code[:4] + "0" * 8, code[:6] + "0" * 6, code[:9] + "000"]

    sample = rng.sample(foreign, 60)
    wanted = {a for r in sample for a in ancestors_of(r["code"])}
    with gzip.open(DATA / "cn-divisions.csv.gz", "rt", encoding="utf-8") as f:
        foreign_rows = {r["code"]: r for r in csv.DictReader(f) if r["code"] in wanted}

    made = 0
    for r in sample:
        segs = [n for n in foreign_chain(r) if not PLACEHOLDER.search(n) and n != "市辖区"]
        segs = segs[rng.choice([0, 0, 1]) :]
        text = rng.choice(["", "", "回老家", "去"]) + "".join(segs) + rng.choice(TAILS)
        if any(text.startswith(f) or text.lstrip("回老家去").startswith(f) for f in hainan_forms):
            continue
        made += add("outside_province", segs, text, None)
        if made >= 25:
            break
    for text in [
        "",
        "   ",
        "？？？",
        "asdf",
        "12345",
        "不知道",
        "无",
        "暂无地址",
        "N/A",
        "———",
        "青海省海南藏族自治州共和县",
        "海南藏族自治州贵德县",
    ]:
        add("unroutable", [], text, None)

    with open(OUT, "w", encoding="utf-8") as f:
        for case in cases:
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    counts: dict[str, int] = defaultdict(int)
    for case in cases:
        counts[case["kind"]] += 1
    print(len(cases), "cases →", OUT.relative_to(ROOT), dict(counts))


if __name__ == "__main__":
    main()
