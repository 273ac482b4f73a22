"""Masking (脱敏) and resident ID numbers (GB 11643-1999)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhengding.privacy.idcard import (
    check_digit,
    is_valid,
    normalize,
    normalize_phone,
    phone_error,
    upgrade_15,
    validation_error,
)
from zhengding.privacy.masking import mask_id_number, mask_name, mask_phone, scrub

VALID = "11010519491231002X"  # the standard's own example
VALID_HAINAN = "460105199001011232"


class TestMasking:
    def test_phone(self):
        assert mask_phone("13812348000") == "138****8000"
        assert mask_phone(None) is None and mask_phone("") == ""
        assert mask_phone("12345") == "*****"

    def test_id_number(self):
        assert mask_id_number("460105199001011234") == "460105********1234"
        assert mask_id_number(VALID) == "110105********002X"
        assert mask_id_number(None) is None

    @pytest.mark.parametrize(
        ("name", "masked"),
        [("张三", "张*"), ("张", "*"), ("欧阳娜娜", "欧***"), ("符网格", "符**"), ("", "")],
    )
    def test_name(self, name, masked):
        assert mask_name(name) == masked

    def test_scrub_masks_numbers_inside_free_text(self):
        text = f"联系人 13812348000，身份证 {VALID}，备用 139 1234 5678，家属 +8613900001111；小写 {VALID.lower()}"
        out = scrub(text)
        assert out == (
            "联系人 138****8000，身份证 110105********002X，备用 139****5678，家属 +86139****1111；"
            "小写 110105********002x"
        )

    @pytest.mark.parametrize(
        "text",
        [
            "订单号 2138123480001",
            "编号 12345678901234567890",
            "金额 1380000 元",
            "电话 010-12345678",
            "没有数字",
        ],
    )
    def test_scrub_leaves_other_numbers_alone(self, text):
        assert scrub(text) == text


class TestIdNumber:
    def test_valid_numbers(self):
        assert validation_error(VALID) is None
        assert is_valid(VALID_HAINAN)

    def test_wrong_check_digit(self):
        wrong = VALID_HAINAN[:17] + ("7" if VALID_HAINAN[17] != "7" else "8")
        assert validation_error(wrong) == "身份证号校验位不正确"

    def test_x_check_digit_must_be_upper_after_normalising(self):
        assert check_digit(VALID[:17]) == "X"
        assert not is_valid(VALID.lower())
        assert is_valid(normalize(VALID.lower()))

    @pytest.mark.parametrize("born", ["19900230", "19901301", "18991231", "19900000"])
    def test_impossible_birth_date(self, born):
        first17 = "460105" + born + "123"
        assert validation_error(first17 + check_digit(first17)) == "身份证号中的出生日期无效"

    def test_birth_date_in_the_future(self):
        born = (date.today() + timedelta(days=400)).strftime("%Y%m%d")
        first17 = "460105" + born + "123"
        assert validation_error(first17 + check_digit(first17)) == "身份证号中的出生日期无效"

    @pytest.mark.parametrize(
        "bad",
        [
            "",
            "46010519900101123",
            "4601051990010112345",
            "46010519900101123Y",
            "X60105199001011236",
            "46010519900101123 ",
        ],
    )
    def test_wrong_shape(self, bad):
        assert validation_error(bad) == "身份证号应为18位（最后一位可为X）"

    def test_fifteen_digit_numbers_are_upgraded(self):
        old = "110105491231002"  # the same person as VALID, before 1999
        assert upgrade_15(old) == VALID
        assert is_valid(upgrade_15(old))

    def test_full_width_digits_and_spaces_are_normalised(self):
        assert normalize("４６０１０５ １９９００１０１ １２３２") == VALID_HAINAN
        assert normalize("１１０１０５１９４９１２３１００２ｘ") == VALID
        assert is_valid(normalize("４６０１０５１９９００１０１１２３２"))

    def test_phone_normalising(self):
        for raw in (
            "138 1234 8000",
            "138-1234-8000",
            "+86 13812348000",
            "8613812348000",
            "１３８１２３４８０００",
        ):
            assert normalize_phone(raw) == "13812348000", raw
        assert phone_error("13812348000") is None
        assert phone_error("12812348000") and phone_error("1381234800") and phone_error("138123480001")


_birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    area=st.from_regex(r"[1-8]\d{5}", fullmatch=True),
    born=_birth_dates,
    seq=st.from_regex(r"\d{3}", fullmatch=True),
    other=st.sampled_from("0123456789X"),
)
def test_any_id_with_its_check_digit_validates_and_no_other_last_character_does(area, born, seq, other):
    first17 = area + born.strftime("%Y%m%d") + seq
    good = first17 + check_digit(first17)
    assert is_valid(good)
    assert mask_id_number(good) == good[:6] + "********" + good[-4:]
    assert scrub(f"号码{good}。") == f"号码{mask_id_number(good)}。"
    if other != good[-1]:
        assert validation_error(first17 + other) == "身份证号校验位不正确"


@settings(max_examples=200, deadline=None)
@given(
    phone=st.from_regex(r"1[3-9]\d{9}", fullmatch=True),
    before=st.sampled_from(["", "电话", "：", "+86", "tel "]),
)
def test_any_mobile_number_in_text_is_scrubbed(phone, before):
    out = scrub(f"{before}{phone}。")
    assert phone not in out
    assert out == f"{before}{mask_phone(phone)}。"
