"""SMS text: ``{{variable}}`` templates and how a text travels (GSM-7 or UCS-2, and segments).

Pure functions. A template with a variable nobody supplied is an error at render time, so no
guest ever receives a text with ``{{...}}`` in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")

# GSM 03.38: the basic character set, and the extension table (each costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


class TemplateError(ValueError):
    """A template cannot be rendered: a variable is missing, or a placeholder is malformed."""


def placeholders(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall(template))


def render(template: str, variables: Mapping[str, object]) -> str:
    missing = sorted(placeholders(template) - set(variables))
    if missing:
        raise TemplateError(f"missing template variables: {', '.join(missing)}")
    text = _PLACEHOLDER.sub(lambda m: str(variables[m.group(1)]), template)
    if "{{" in _PLACEHOLDER.sub("", template) or "}}" in _PLACEHOLDER.sub("", template):
        raise TemplateError("the template has a malformed placeholder")
    return text


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    encoding: Literal["GSM-7", "UCS-2"]
    #: septets (GSM-7, extension characters count two) or UTF-16 code units (UCS-2)
    length: int
    segments: int


def sms_encoding(text: str) -> SmsEncoding:
    """How Twilio will send ``text``: one segment up to 160 GSM-7 septets or 70 UCS-2 units,
    else 153 or 67 per concatenated segment."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return SmsEncoding("GSM-7", length, _segments(length, single=160, multi=153))
    length = len(text.encode("utf-16-le")) // 2  # emoji take two UTF-16 units
    return SmsEncoding("UCS-2", length, _segments(length, single=70, multi=67))


def _segments(length: int, *, single: int, multi: int) -> int:
    if length <= single:
        return 1 if length else 0
    return -(-length // multi)
