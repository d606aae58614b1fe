"""Phone normalisation: guest input to E.164, and the legacy forms used for customer lookup."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ValidationFailed
from app.services.phones import (
    _is_valid,
    _valid_e164,
    normalise_phone,
    phone_variants,
    variants_of_normalised,
)

DRAMA = "+447700900123"
MOBILE = "+447911123456"
US = "+12025550123"
FIELD_DETAILS = {"field": "customer.mobile_number"}

# The autouse respx fixture is function-scoped; it is harmless to share it between examples.
fast = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_rejected(raw: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone(raw)
    error = caught.value
    assert error.details == FIELD_DETAILS
    assert error.code == "VALIDATION_ERROR"
    assert error.message
    assert "phonenumbers" not in error.message.lower()
    return error


class TestNormalise:
    @pytest.mark.parametrize(
        "raw",
        [
            "07700 900123",
            "(07700) 900-123",
            "447700900123",
            "00447700900123",
            "+44 7700 900123",
            "+44 (0)7700 900123",
            "+447700900123",
            "  07700900123  ",
        ],
    )
    def test_uk_forms_of_a_drama_number(self, raw: str) -> None:
        assert normalise_phone(raw) == DRAMA

    @pytest.mark.parametrize(
        "raw",
        [
            "07911 123456",
            "0044 7911 123456",
            "7911123456",
            "+4407911123456",
            "44 (0)7911 123456",
            "07911-123-456",
            "07911.123.456",
            "07911\u00a0123456",
            "07911\uff11\uff12\uff13\uff14\uff15\uff16",
        ],
    )
    def test_uk_forms_of_a_real_mobile(self, raw: str) -> None:
        assert normalise_phone(raw) == MOBILE

    def test_uk_landline(self) -> None:
        assert normalise_phone("020 7946 0000") == "+442079460000"

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("+1 202 555 0123", US),
            ("0012025550123", US),
            ("001 202 555 0123", US),
            ("12025550123", US),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("0033612345678", "+33612345678"),
            ("33612345678", "+33612345678"),
            ("+7 911 123 45 67", "+79111234567"),
        ],
    )
    def test_foreign_numbers_keep_their_country(self, raw: str, expected: str) -> None:
        assert normalise_phone(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "expected", "region"),
        [
            ("07797 712345", "+447797712345", "JE"),
            ("07781 123456", "+447781123456", "GG"),
            ("07624 123456", "+447624123456", "IM"),
        ],
    )
    def test_crown_dependencies_are_plus_44(self, raw: str, expected: str, region: str) -> None:
        parsed = phonenumbers.parse(raw, "GB")
        assert phonenumbers.region_code_for_number(parsed) == region
        assert not phonenumbers.is_valid_number_for_region(parsed, "GB")
        assert normalise_phone(raw) == expected

    @pytest.mark.parametrize("raw", ["+447700900000", "07700 900999", "07700 900500"])
    def test_drama_range_accepted_though_phonenumbers_calls_it_invalid(self, raw: str) -> None:
        assert not phonenumbers.is_valid_number(phonenumbers.parse(raw, "GB"))
        assert normalise_phone(raw).startswith("+447700900")

    @pytest.mark.parametrize(
        "raw", ["07700 901000", "07700 909999", "077009001234", "0770090012", "+44 007700900123"]
    )
    def test_beside_the_drama_range_is_rejected(self, raw: str) -> None:
        assert_rejected(raw)

    @pytest.mark.parametrize(
        "raw",
        [
            "07911 123456 x123",
            "07911 123456 X 123",
            "07911123456x123",
            "07911 123456 ext. 123",
            "07911 123456, ext 123",
            "07911 123456 extn 4",
            "07911 123456 extension 12",
            "07911123456#123",
        ],
    )
    def test_extension_is_dropped(self, raw: str) -> None:
        assert normalise_phone(raw) == MOBILE

    def test_extension_on_a_drama_number_is_dropped(self) -> None:
        assert normalise_phone("07700 900123 x12") == DRAMA

    @pytest.mark.parametrize("raw", [DRAMA, MOBILE, US, "+447797712345"])
    def test_e164_is_a_fixed_point(self, raw: str) -> None:
        assert normalise_phone(raw) == raw


class TestRejections:
    @pytest.mark.parametrize("raw", ["", " ", "\t\n  "])
    def test_empty(self, raw: str) -> None:
        assert "enter a phone number" in assert_rejected(raw).message

    @pytest.mark.parametrize(
        "raw",
        [
            "not-a-phone",
            "07911 CALLME",
            "0800 FLOWERS",
            "tel:+447911123456",
            "07911 123456 x",
            "07911 123456!",
            "07911*123456",
            "x123",
            "#123",
        ],
    )
    def test_letters_and_symbols(self, raw: str) -> None:
        assert "doesn't look like a phone number" in assert_rejected(raw).message

    @pytest.mark.parametrize(
        "raw",
        [
            "123",
            "0791112345",
            "7911 12345",
            "079111234567",
            "07911 123456 789",
            "0" * 40,
            "+44",
            "()-",
            "07911 +123456",
            "+999 123 456 789",
            "0447911123456",
            "1 202 555 0123 4",
        ],
    )
    def test_invalid_numbers(self, raw: str) -> None:
        assert "doesn't look right" in assert_rejected(raw).message

    def test_uk_mobile_missing_its_0_is_never_read_as_plus_7(self) -> None:
        # One digit too many: as "+7…" this would be a valid Russian mobile.
        assert phonenumbers.is_valid_number(phonenumbers.parse("+79111234567"))
        assert_rejected("79111234567")

    def test_over_64_characters_is_refused_before_parsing(self) -> None:
        raw = "07911 123456" + " " * 60
        assert len(raw) > 64
        assert "too long" in assert_rejected(raw).message

    def test_64_characters_is_still_parsed(self) -> None:
        raw = "07911 123456".ljust(64)
        assert normalise_phone(raw) == MOBILE


class TestVariants:
    def test_uk_number(self) -> None:
        assert phone_variants(DRAMA) == [DRAMA, "447700900123", "00447700900123", "07700900123"]

    def test_foreign_number(self) -> None:
        assert phone_variants(US) == [US, "12025550123", "0012025550123"]

    def test_crown_dependency_has_a_uk_national_form(self) -> None:
        assert phone_variants("+447797712345")[-1] == "07797712345"

    def test_takes_any_accepted_input(self) -> None:
        assert phone_variants("(07700) 900-123") == phone_variants(DRAMA)

    def test_bare_digits_read_as_another_uk_number_are_left_out(self) -> None:
        # Estonia +372 321 2345; its bare digits are the valid UK number 03723 212345.
        estonia = "+3723212345"
        assert normalise_phone("3723212345") == "+443723212345"
        assert phone_variants(estonia) == [estonia, "003723212345"]

    def test_plus_7_bare_digits_are_left_out(self) -> None:
        assert phone_variants("+79111234567") == ["+79111234567", "0079111234567"]

    @pytest.mark.parametrize(
        "e164",
        [DRAMA, MOBILE, US, "+447624123456", "+442079460000", "+33612345678", "+353850123456"],
    )
    def test_every_variant_normalises_back(self, e164: str) -> None:
        variants = phone_variants(e164)
        assert variants[0] == e164
        assert len(variants) == len(set(variants))
        assert all(normalise_phone(v) == e164 for v in variants)

    def test_invalid_input_is_refused(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            phone_variants("123")
        assert caught.value.details == FIELD_DETAILS


def _is_valid_uk(national: str) -> bool:
    return bool(phonenumbers.is_valid_number(phonenumbers.parse("+44" + national)))


# National significant numbers (no trunk 0) of UK mobiles: real ones 074xx-079xx (filtered to
# what phonenumbers calls valid, including Crown Dependency ranges) and the drama range.
uk_mobiles = st.one_of(
    st.integers(7400_000000, 7999_999999).map(str).filter(_is_valid_uk),
    st.integers(0, 999).map(lambda n: f"7700900{n:03d}"),
)

Render = Callable[[str], str]
FORMATS: dict[str, Render] = {
    "national compact": lambda n: f"0{n}",
    "national spaced": lambda n: f"0{n[:4]} {n[4:]}",
    "brackets and dash": lambda n: f"(0{n[:4]}) {n[4:7]}-{n[7:]}",
    "dashes": lambda n: f"0{n[:4]}-{n[4:7]}-{n[7:]}",
    "dots": lambda n: f"0{n[:4]}.{n[4:7]}.{n[7:]}",
    "no trunk 0": lambda n: n,
    "plus 44": lambda n: f"+44 {n[:4]} {n[4:]}",
    "plus 44 compact": lambda n: f"+44{n}",
    "plus 44 bracketed 0": lambda n: f"+44 (0){n[:4]} {n[4:]}",
    "0044": lambda n: f"0044 {n[:4]} {n[4:]}",
    "44": lambda n: f"44{n}",
    "padded": lambda n: f"  0{n[:4]}  {n[4:]}  ",
    "extension": lambda n: f"0{n} x12",
}


class TestProperties:
    @fast
    @given(national=uk_mobiles)
    def test_every_format_gives_the_same_e164(self, national: str) -> None:
        expected = "+44" + national
        for name, render in FORMATS.items():
            assert normalise_phone(render(national)) == expected, name

    @fast
    @given(national=uk_mobiles, render=st.sampled_from(list(FORMATS.values())))
    def test_normalising_is_idempotent(self, national: str, render: Render) -> None:
        once = normalise_phone(render(national))
        assert normalise_phone(once) == once

    @fast
    @given(national=uk_mobiles)
    def test_variants_contain_the_e164_and_normalise_back(self, national: str) -> None:
        e164 = "+44" + national
        variants = phone_variants(e164)
        assert variants == [e164, e164[1:], "00" + e164[1:], "0" + national]
        assert all(normalise_phone(v) == e164 for v in variants)


def _slow_variants(e164: str) -> list[str]:
    """phone_variants by its definition: every candidate form that normalise_phone maps back."""
    canonical = normalise_phone(e164)
    digits = canonical.removeprefix("+")
    candidates = [canonical, digits, "00" + digits]
    number = phonenumbers.parse(canonical, None)
    if number.country_code == 44:
        candidates.append("0" + phonenumbers.national_significant_number(number))
    kept = []
    for form in dict.fromkeys(candidates):
        try:
            if normalise_phone(form) == canonical:
                kept.append(form)
        except ValidationFailed:
            pass
    return kept


# Valid numbers of many countries and lengths (phonenumbers' own examples, and the UK mobiles
# above), including the short foreign numbers whose bare digits read as another UK number.
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
example_numbers = (
    st.sampled_from(_REGIONS)
    .flatmap(
        lambda region: st.sampled_from(
            [
                t
                for t in (
                    phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE,
                    phonenumbers.PhoneNumberType.TOLL_FREE,
                )
                if phonenumbers.example_number_for_type(region, t) is not None
            ]
            or [phonenumbers.PhoneNumberType.MOBILE]
        ).map(lambda t: phonenumbers.example_number_for_type(region, t))
    )
    .filter(lambda n: n is not None)
)


class TestQuickVariants:
    """variants_of_normalised skips phonenumbers' validity check where it cannot change the
    answer; it must give exactly what the definition gives."""

    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(number=example_numbers)
    def test_same_as_the_definition_worldwide(self, number: phonenumbers.PhoneNumber) -> None:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        try:
            canonical = normalise_phone(e164)
        except ValidationFailed:
            return  # not a number the service takes
        assert phone_variants(e164) == _slow_variants(e164)
        assert variants_of_normalised(canonical) == _slow_variants(e164)

    @settings(
        max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(national=uk_mobiles)
    def test_same_as_the_definition_for_uk_mobiles(self, national: str) -> None:
        e164 = "+44" + national
        assert variants_of_normalised(normalise_phone(e164)) == _slow_variants(e164)

    @pytest.mark.parametrize("e164", ["+3723212345", "+79111234567", US, DRAMA])
    def test_the_awkward_ones(self, e164: str) -> None:
        assert variants_of_normalised(e164) == _slow_variants(e164)


class TestQuickValidity:
    """normalise_phone asks phonenumbers about the UK first; it must answer as
    ``phonenumbers.is_valid_number`` does, for every country and for the Crown dependencies."""

    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(number=example_numbers)
    def test_same_as_is_valid_number_worldwide(self, number: phonenumbers.PhoneNumber) -> None:
        assert _is_valid(number) == phonenumbers.is_valid_number(number)

    @fast
    @given(national=uk_mobiles)
    def test_same_as_is_valid_number_for_uk_mobiles(self, national: str) -> None:
        number = phonenumbers.parse("+44" + national)
        assert _is_valid(number) == phonenumbers.is_valid_number(number)

    @pytest.mark.parametrize(
        "e164",
        # Guernsey, Isle of Man and Jersey mobiles, a UK landline, the drama range, a number on
        # no list, and one too short.
        [
            "+447781123456",
            "+447624123456",
            "+447797123456",
            "+441632960123",
            DRAMA,
            "+447000000000",
            "+44123",
        ],
    )
    def test_the_awkward_ones(self, e164: str) -> None:
        number = phonenumbers.parse(e164)
        assert _is_valid(number) == phonenumbers.is_valid_number(number)


def _by_parse(text: str) -> str | None:
    """What normalise_phone's first step made of UK national digits before its quick path."""
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number) or e164.startswith("+447700900"):
        return e164
    return None


class TestQuickUkNational:
    """UK national digits ("07911123456") skip phonenumbers.parse; the answer must be the
    parse's, valid or not, for every such string."""

    @settings(
        max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(text=st.from_regex(r"0[1-9][0-9]{9}", fullmatch=True))
    def test_any_eleven_digits_starting_0(self, text: str) -> None:
        assert _valid_e164(text, "GB") == _by_parse(text)

    @fast
    @given(national=uk_mobiles)
    def test_uk_mobiles(self, national: str) -> None:
        assert _valid_e164("0" + national, "GB") == _by_parse("0" + national) == "+44" + national

    @pytest.mark.parametrize(
        "text",
        # Guernsey, Isle of Man and Jersey mobiles, a London landline, freephone, drama, a
        # number on no list, and premium rate.
        [
            "07781123456",
            "07624123456",
            "07797123456",
            "02079460000",
            "08001111111",
            "07700900123",
            "07000000000",
            "09098790000",
        ],
    )
    def test_the_awkward_ones(self, text: str) -> None:
        assert _valid_e164(text, "GB") == _by_parse(text)
