"""SMS text: ``{{variable}}`` rendering and how a text travels (GSM-7 or UCS-2, segments)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.services.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    SmsEncoding,
    TemplateError,
    placeholders,
    render,
    sms_encoding,
)

# GSM 03.38 written out independently of the module: the 128 basic characters less ESC (0x1B).
GSM_03_38_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_03_38_EXTENDED = "\f^{}\\[~]|€"
CURLY_QUOTE = "\u2019"  # what a phone keyboard types for an apostrophe


class TestRender:
    def test_substitutes_every_placeholder(self) -> None:
        text = render(
            "Hi {{customer_name}}, table for {{party_size}}. Ref: {{reference}}",
            {"customer_name": "Ann", "party_size": 4, "reference": "TB-8229A1B4"},
        )
        assert text == "Hi Ann, table for 4. Ref: TB-8229A1B4"

    def test_the_same_variable_twice(self) -> None:
        assert render("{{a}} and {{a}}", {"a": "x"}) == "x and x"

    @pytest.mark.parametrize(
        "placeholder", ["{{ name }}", "{{name }}", "{{  name}}", "{{\tname\t}}"]
    )
    def test_whitespace_inside_the_braces(self, placeholder: str) -> None:
        assert render(f"Hi {placeholder}!", {"name": "Ann"}) == "Hi Ann!"

    def test_a_missing_variable_is_an_error_naming_it(self) -> None:
        with pytest.raises(TemplateError) as raised:
            render("Hi {{customer_name}}, ref {{reference}}", {"customer_name": "Ann"})
        assert "reference" in str(raised.value)
        assert "customer_name" not in str(raised.value)

    def test_every_missing_variable_is_named(self) -> None:
        with pytest.raises(TemplateError) as raised:
            render("{{time}} {{date}} {{party_size}}", {"date": "Friday 27 November"})
        message = str(raised.value)
        assert "time" in message and "party_size" in message

    def test_extra_variables_are_ignored(self) -> None:
        assert render("Hi {{name}}", {"name": "Ann", "unused": "x", "reference": "y"}) == "Hi Ann"

    def test_a_template_without_placeholders(self) -> None:
        assert render("Plain text, £5.", {}) == "Plain text, £5."

    def test_a_value_is_not_rendered_again(self) -> None:
        # Substitution is one pass: a value that looks like a placeholder is not expanded.
        assert render("{{a}}-{{b}}", {"a": "{{b}}", "b": "2"}) == "{{b}}-2"

    def test_single_braces_are_plain_text(self) -> None:
        assert render("{not a placeholder} {{a}}", {"a": "1"}) == "{not a placeholder} 1"

    @pytest.mark.parametrize(
        "template",
        [
            "Hi {{ 1x }}",
            "Hi {{1x}}",
            "Hi {{Name}}",
            "Hi {{first-name}}",
            "Hi {{}}",
            "Hi {{ }}",
            "Hi {{name",
            "Hi name}}",
            "Hi {{name}",
            "Hi {name}}",
            "Hi {{name}} and {{",
        ],
    )
    def test_a_malformed_placeholder_is_an_error(self, template: str) -> None:
        with pytest.raises(TemplateError):
            render(template, {"name": "Ann", "Name": "Ann", "first-name": "Ann", "1x": "Ann"})

    def test_template_error_is_a_value_error(self) -> None:
        assert issubclass(TemplateError, ValueError)

    def test_placeholders_lists_the_variable_names(self) -> None:
        assert placeholders("{{a}} {{ b }} {{a}} {{ 1x }}") == {"a", "b"}


class TestAlphabet:
    def test_basic_table_is_gsm_03_38(self) -> None:
        assert set(GSM_03_38_BASIC) == GSM7_BASIC
        assert len(GSM7_BASIC) == 127

    def test_extension_table_is_gsm_03_38(self) -> None:
        assert set(GSM_03_38_EXTENDED) == GSM7_EXTENDED


class TestSmsEncoding:
    def test_plain_ascii_is_gsm7(self) -> None:
        assert sms_encoding("Hi Ann, your table is confirmed.") == SmsEncoding("GSM-7", 32, 1)

    def test_pound_sign_is_gsm7_and_counts_one(self) -> None:
        assert sms_encoding("£15.00") == SmsEncoding("GSM-7", 6, 1)

    def test_accented_letters_in_the_gsm_table(self) -> None:
        assert sms_encoding("Renée Müller Ñoño") == SmsEncoding("GSM-7", 17, 1)
        assert sms_encoding("Zoë").encoding == "UCS-2"  # ë is not in the table

    def test_empty_text_is_no_segments(self) -> None:
        assert sms_encoding("") == SmsEncoding("GSM-7", 0, 0)

    @pytest.mark.parametrize(
        ("length", "segments"),
        [(1, 1), (159, 1), (160, 1), (161, 2), (305, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
    )
    def test_gsm7_segments(self, length: int, segments: int) -> None:
        assert sms_encoding("a" * length) == SmsEncoding("GSM-7", length, segments)

    @pytest.mark.parametrize("char", sorted(GSM_03_38_EXTENDED))
    def test_extension_characters_count_two(self, char: str) -> None:
        assert sms_encoding(char) == SmsEncoding("GSM-7", 2, 1)
        assert sms_encoding("a" + char + "a").length == 4

    @pytest.mark.parametrize(
        ("count", "length", "segments"), [(80, 160, 1), (81, 162, 2), (153, 306, 2), (154, 308, 3)]
    )
    def test_euro_signs(self, count: int, length: int, segments: int) -> None:
        assert sms_encoding("€" * count) == SmsEncoding("GSM-7", length, segments)

    def test_one_extension_character_tips_160_into_two_segments(self) -> None:
        assert sms_encoding("a" * 159 + "[").segments == 2
        assert sms_encoding("a" * 158 + "]").segments == 1

    @pytest.mark.parametrize(
        "char", [CURLY_QUOTE, "\u201c", "\u201d", "😀", "ë", "ç", "—", "…", "\t"]
    )
    def test_a_character_outside_gsm7_switches_to_ucs2(self, char: str) -> None:
        assert sms_encoding("Hi Ann" + char).encoding == "UCS-2"

    @pytest.mark.parametrize(
        ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
    )
    def test_ucs2_segments(self, length: int, segments: int) -> None:
        text = CURLY_QUOTE + "a" * (length - 1)
        assert sms_encoding(text) == SmsEncoding("UCS-2", length, segments)

    def test_an_emoji_counts_two_units(self) -> None:
        assert sms_encoding("😀") == SmsEncoding("UCS-2", 2, 1)
        assert sms_encoding("😀" * 35) == SmsEncoding("UCS-2", 70, 1)
        assert sms_encoding("😀" * 35 + "a") == SmsEncoding("UCS-2", 71, 2)

    def test_ucs2_extension_characters_count_one(self) -> None:
        # In UCS-2 "€" is one code unit like any other.
        assert sms_encoding("€" + CURLY_QUOTE) == SmsEncoding("UCS-2", 2, 1)


GSM_CHARS = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENDED))


class TestProperties:
    @given(st.text(alphabet=GSM_CHARS, max_size=700))
    def test_gsm_segments_follow_the_ceiling_rule(self, text: str) -> None:
        result = sms_encoding(text)
        septets = sum(2 if c in GSM_03_38_EXTENDED else 1 for c in text)
        assert result.encoding == "GSM-7"
        assert result.length == septets
        if septets == 0:
            assert result.segments == 0
        elif septets <= 160:
            assert result.segments == 1
        else:
            assert result.segments == math.ceil(septets / 153)

    @given(st.text(max_size=300).filter(lambda t: any(c not in GSM_03_38_BASIC for c in t)))
    def test_any_text_ucs2_or_gsm_follows_its_rule(self, text: str) -> None:
        result = sms_encoding(text)
        if all(c in GSM_03_38_BASIC or c in GSM_03_38_EXTENDED for c in text):
            assert result.encoding == "GSM-7"
            return
        units = len(text.encode("utf-16-le")) // 2
        assert result == SmsEncoding(
            "UCS-2", units, 0 if units == 0 else 1 if units <= 70 else math.ceil(units / 67)
        )

    @given(
        st.lists(st.sampled_from(["name", "party_size", "reference", "date"]), max_size=6),
        st.lists(st.text(alphabet=st.characters(exclude_characters="{}"), max_size=20), max_size=7),
        st.dictionaries(
            st.sampled_from(["name", "party_size", "reference", "date", "extra"]),
            st.text(alphabet=st.characters(exclude_characters="{}"), max_size=30),
        ),
    )
    def test_render_never_leaves_braces(
        self, names: list[str], gaps: list[str], variables: dict[str, str]
    ) -> None:
        pieces = [gaps[i] if i < len(gaps) else "" for i in range(len(names) + 1)]
        template = pieces[0] + "".join(
            "{{" + name + "}}" + pieces[i + 1] for i, name in enumerate(names)
        )
        missing = set(names) - set(variables)
        if missing:
            with pytest.raises(TemplateError) as raised:
                render(template, variables)
            assert all(name in str(raised.value) for name in missing)
        else:
            text = render(template, variables)
            assert "{{" not in text and "}}" not in text
