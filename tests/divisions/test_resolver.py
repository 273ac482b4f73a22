"""Destination resolver: free-text address → the deepest division it names with certainty."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhengding.divisions.resolver import DivisionRow, Resolution, Resolver, default_resolver
from zhengding.divisions.resolver_cli import main, resolve_lines

CASES_FILE = Path(__file__).with_name("resolver_cases.jsonl")
CASES = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line]
DATA_FILE = Path(__file__).resolve().parents[2] / "src" / "zhengding" / "data" / "hainan-divisions.csv"
ROWS = list(csv.DictReader(DATA_FILE.open(encoding="utf-8")))
BY_CODE = {r["code"]: r for r in ROWS}
PLACEHOLDERS = {r["code"] for r in ROWS if r["name"].endswith(("直辖县级行政区划", "直辖村级区划"))}


def chain(code: str) -> list[dict]:
    out = []
    while code:
        out.append(BY_CODE[code])
        code = BY_CODE[code]["parent_code"]
    return out[::-1]


def formal_address(code: str) -> str:
    return "".join(r["name"] for r in chain(code) if r["code"] not in PLACEHOLDERS)


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return default_resolver()


def resolve(text: str) -> Resolution:
    return default_resolver().resolve(text)


class TestCaseSet:
    def test_case_set_is_large_and_varied(self):
        assert len(CASES) >= 250
        assert len({c["kind"] for c in CASES}) >= 12

    def test_exact_accuracy_is_at_least_95_percent(self, resolver):
        wrong = [
            (c["text"], c["code"], resolver.resolve(c["text"]).code)
            for c in CASES
            if resolver.resolve(c["text"]).code != c["code"]
        ]
        accuracy = 1 - len(wrong) / len(CASES)
        assert accuracy >= 0.95, f"accuracy {accuracy:.1%}, wrong: {wrong[:20]}"

    def test_never_returns_a_wrong_village(self, resolver):
        wrong = []
        for c in CASES:
            got = resolver.resolve(c["text"])
            if got.level == 5 and got.code != c["code"]:
                wrong.append((c["text"], c["code"], got.code))
        assert wrong == []

    def test_every_kind_is_resolved_exactly(self, resolver):
        by_kind: dict[str, list[bool]] = {}
        for c in CASES:
            by_kind.setdefault(c["kind"], []).append(resolver.resolve(c["text"]).code == c["code"])
        weak = {k: sum(v) / len(v) for k, v in by_kind.items() if sum(v) / len(v) < 0.9}
        assert weak == {}


class TestResolution:
    def test_to_dict_has_exactly_the_public_fields(self):
        assert set(resolve("海口市").to_dict()) == {"input", "code", "level", "path", "confidence"}

    def test_full_formal_chain_is_certain(self):
        got = resolve("海南省海口市秀英区秀英街道向荣村委会")
        assert got.to_dict() == {
            "input": "海南省海口市秀英区秀英街道向荣村委会",
            "code": "460105001200",
            "level": 5,
            "path": ["海南省", "海口市", "秀英区", "秀英街道", "向荣村委会"],
            "confidence": 1.0,
        }

    def test_placeholders_are_left_out_of_the_path(self):
        got = resolve("海南省琼海市嘉积镇")
        assert got.code == "469002100000"
        assert got.path == ["海南省", "琼海市", "嘉积镇"]
        assert "省直辖县级行政区划" not in got.path

    def test_village_under_placeholder_town_path(self):
        got = resolve("三亚市海棠区藤桥村")
        assert got.code == "460202198200"
        assert got.path == ["海南省", "三亚市", "海棠区", "藤桥村委会"]


class TestShortForms:
    def test_without_province_city_or_county(self):
        got = resolve("秀英街道向荣村")
        assert (got.code, got.level) == ("460105001200", 5)
        assert got.confidence < 1.0

    def test_county_and_town_without_suffixes(self):
        assert resolve("琼中湾岭").code == "469030101000"

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("陵水", "469028000000"),
            ("陵水县", "469028000000"),
            ("白沙", "469025000000"),
            ("昌江", "469026000000"),
            ("乐东", "469027000000"),
            ("保亭", "469029000000"),
            ("保亭县", "469029000000"),
            ("琼中", "469030000000"),
            ("琼海", "469002000000"),
            ("五指山", "469001000000"),
            ("三亚", "460200000000"),
            ("海南", "460000000000"),
        ],
    )
    def test_short_county_and_city_names(self, text, code):
        got = resolve(text)
        assert got.code == code
        assert 0 < got.confidence < 1.0

    def test_village_short_form_with_house_number(self):
        got = resolve("秀英街道向荣村3队12号")
        assert got.code == "460105001200"

    def test_community_short_form(self):
        # 秀华社区居民委员会 written as 秀华社区; 高新居委会 written as 高新社区.
        assert resolve("秀英街道秀华社区").code == "460105001001"
        assert resolve("秀英街道高新社区").code == "460105001006"

    def test_shortened_reading_is_less_confident_than_formal(self):
        formal = resolve("海南省琼中黎族苗族自治县湾岭镇")
        short = resolve("琼中湾岭")
        assert formal.code == short.code
        assert short.confidence < formal.confidence

    def test_short_stem_must_not_run_into_further_text(self):
        # 白龙南路 is a road, not 白龙街道; 海南藏族自治州 is in Qinghai.
        assert resolve("海口市美兰区白龙南路8号").code == "460108000000"
        assert resolve("海南藏族自治州贵德县").code is None

    def test_farm_written_by_its_place_name(self):
        assert resolve("万宁兴隆").code == "469006500000"


class TestWritingNoise:
    def test_spaces_punctuation_and_full_width(self):
        got = resolve("　海口市 秀英区，秀英街道、向荣村１２号 ")
        assert got.code == "460105001200"

    def test_full_width_letters_and_digits_do_not_block(self):
        assert resolve("琼中湾岭３队").code == "469030101000"

    @pytest.mark.parametrize("lead", ["回老家", "返乡至", "返回", "到", "去", "前往", "目的地：", "回"])
    def test_lead_words(self, lead):
        assert resolve(f"{lead}陵水黎族自治县椰林镇").code == "469028100000"

    def test_place_name_starting_with_a_lead_word_is_kept(self):
        # 回新社区 begins with 回 ("return to"), which must not be stripped away.
        assert resolve("回新社区").code == "460204198019"


class TestTreeQuirks:
    def test_county_level_city_under_province(self):
        got = resolve("琼海市嘉积镇")
        assert got.code == "469002100000"
        assert got.level == 4

    def test_danzhou_town_directly_under_city(self):
        got = resolve("儋州那大")
        assert got.code == "460400100000"
        assert got.path == ["海南省", "儋州市", "那大镇"]

    def test_danzhou_development_zone(self):
        assert resolve("洋浦").code == "460400499000"


class TestAmbiguity:
    def test_bare_stem_of_district_and_its_street_office_stops_at_district(self):
        assert resolve("秀英").code == "460105000000"

    def test_village_name_in_several_towns_stops_at_the_county(self):
        # 大坡村 exists in more than one town of 定安县.
        towns = {
            BY_CODE[r["parent_code"]]["name"]
            for r in ROWS
            if r["code"].startswith("469021") and r["name"].startswith("大坡村")
        }
        assert len(towns) > 1
        got = resolve("定安县大坡村3队")
        assert got.code == "469021000000"
        assert got.confidence <= 0.5

    def test_bare_ambiguous_village_stops_at_province(self):
        got = resolve("新村村")
        assert got.level == 1
        assert got.confidence < 0.5

    def test_same_name_at_two_places_of_one_level(self):
        # 永兴 (三沙) and 永兴镇 (海口): neither wins.
        assert resolve("永兴").level == 1

    def test_village_not_in_named_town_stops_at_town_with_lower_confidence(self):
        got = resolve("湾岭镇向荣村")
        assert got.code == "469030101000"
        assert got.confidence < resolve("湾岭镇").confidence

    def test_town_of_another_city_stops_at_the_city(self):
        got = resolve("海口市天涯区")
        assert got.code == "460100000000"
        assert got.confidence < 0.8


class TestUnroutable:
    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "？？？",
            "asdf",
            "不知道",
            "广东省广州市天河区石牌街道",
            "回老家湖南省长沙市",
            "北京市朝阳区",
        ],
    )
    def test_outside_province_or_garbage(self, text):
        assert resolve(text).to_dict() == {
            "input": text,
            "code": None,
            "level": None,
            "path": [],
            "confidence": 0.0,
        }

    def test_none_input_is_unroutable(self):
        assert resolve(None).code is None  # type: ignore[arg-type]


class TestConstruction:
    SMALL = [
        ("460000000000", "海南省", 1, ""),
        ("469000000000", "省直辖县级行政区划", 2, "460000000000"),
        ("469030000000", "琼中黎族苗族自治县", 3, "469000000000"),
        ("469030101000", "湾岭镇", 4, "469030000000"),
        ("469030101200", "鸭坡村委会", 5, "469030101000"),
    ]

    def test_builds_from_tuples(self):
        got = Resolver(self.SMALL).resolve("琼中湾岭鸭坡村")
        assert got.code == "469030101200"
        assert got.path == ["海南省", "琼中黎族苗族自治县", "湾岭镇", "鸭坡村委会"]

    def test_builds_from_rows_and_csv(self, tmp_path):
        path = tmp_path / "d.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["code", "name", "level", "parent_code"])
            w.writerows(self.SMALL)
        rows = [DivisionRow(c, n, lv, p or None) for c, n, lv, p in self.SMALL]
        assert Resolver.from_csv(path).resolve("湾岭镇").code == "469030101000"
        assert Resolver(rows).resolve("湾岭镇").code == "469030101000"

    def test_default_resolver_is_built_once(self):
        assert default_resolver() is default_resolver()


class TestCli:
    def test_resolve_lines(self):
        out = resolve_lines(["琼中湾岭", "广东省广州市"])
        assert [o["code"] for o in out] == ["469030101000", None]

    def test_main_prints_one_json_object_per_text(self, capsys):
        main(["陵水", "秀英街道向荣村"])
        lines = capsys.readouterr().out.splitlines()
        assert [json.loads(x)["code"] for x in lines] == ["469028000000", "460105001200"]
        assert "陵水黎族自治县" in lines[0]  # ensure_ascii=False

    def test_main_reads_stdin_without_arguments(self, capsys, monkeypatch):
        monkeypatch.setattr("sys.stdin", io.StringIO("陵水\n琼海\n"))
        main([])
        lines = capsys.readouterr().out.splitlines()
        assert [json.loads(x)["code"] for x in lines] == ["469028000000", "469002000000"]


VILLAGES = sorted(r["code"] for r in ROWS if r["level"] == "5")
NAMES = sorted({r["name"] for r in ROWS})


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(st.sampled_from(VILLAGES))
    def test_formal_full_village_address_resolves_to_that_village(self, code):
        got = resolve(formal_address(code))
        assert got.code == code
        assert got.confidence == 1.0

    @settings(max_examples=200, deadline=None)
    @given(
        st.sampled_from(VILLAGES),
        st.lists(st.sampled_from([" ", "　", "，", "-", "/"]), min_size=5, max_size=5),
    )
    def test_separators_between_parts_do_not_change_the_result(self, code, seps):
        parts = [r["name"] for r in chain(code) if r["code"] not in PLACEHOLDERS]
        text = "".join(p + s for p, s in zip(parts, seps, strict=False))
        assert resolve(text).code == code

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(NAMES), st.text(max_size=4)), max_size=4))
    def test_any_result_is_a_consistent_ancestor_chain(self, pieces):
        got = resolve("".join(pieces))
        if got.code is None:
            assert (got.level, got.path, got.confidence) == (None, [], 0.0)
            return
        rows = [r for r in chain(got.code) if r["code"] not in PLACEHOLDERS]
        assert got.path == [r["name"] for r in rows]
        assert got.level == int(BY_CODE[got.code]["level"])
        assert 0 < got.confidence <= 1
        # NBS codes are prefix-consistent: each ancestor's significant digits prefix the code.
        significant = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}
        for r in rows:
            n = significant[int(r["level"])]
            assert got.code[:n] == r["code"][:n]
