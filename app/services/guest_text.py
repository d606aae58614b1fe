"""What a guest may type: names that are names, free text without control characters.

Pure functions. A guest's name goes into texts the pub sends, so it must read as a name and
nothing else (no line breaks, no links, no sentences); free text (requests, allergies, notes) is
kept, but with control and formatting characters taken out, so nothing stored can rewrite a
terminal, reverse a line (U+202E) or hide words (zero-width characters).
"""

from __future__ import annotations

import re
import unicodedata

NAME_MAX_LENGTH = 50

#: Besides letters (and the marks that combine with them): what names are written with.
_NAME_PUNCTUATION = frozenset(" '\u2019-")  # and the typographic apostrophe

# ANSI/VT escape sequences (CSI ... final byte, OSC ... BEL or ST, or ESC and one character):
# removed whole, so no "[31m" is left behind.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)?", re.DOTALL)
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t]+")

#: Unicode categories that are never kept: controls, formatting (bidi overrides, zero-width
#: characters, BOM), lone surrogates (PostgreSQL cannot store them) and unassigned points.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn"})


def check_name(value: str, *, required: bool) -> str:
    """A person's name: letters, spaces, apostrophes and hyphens, starting with a letter, at most
    50 characters. Raises ValueError (pydantic reports it on the field)."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip(" ")
    if not text:
        if required:
            raise ValueError("must not be empty")
        return text
    if len(text) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters")
    if not unicodedata.category(text[0]).startswith("L"):
        raise ValueError("must start with a letter")
    for ch in text:
        if ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LM":
            continue
        raise ValueError("may contain only letters, spaces, apostrophes and hyphens")
    return text


def is_name(value: str) -> bool:
    """Whether ``value`` is a name by :func:`check_name` (for text already stored)."""
    try:
        return bool(check_name(value, required=True))
    except ValueError:
        return False


def clean_text(value: str, *, multiline: bool) -> str:
    """Free text with escape sequences and control or formatting characters removed; line
    breaks become ``\\n`` (kept only when ``multiline``, else a space), runs of spaces one."""
    text = _LINE_BREAKS.sub("\n", _ESCAPE.sub("", value))
    text = "".join(
        ch
        for ch in text.replace("\t", " ")
        if ch == "\n" or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    if not multiline:
        text = text.replace("\n", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def has_hidden_characters(value: str) -> bool:
    """Whether ``value`` holds control or formatting characters (refused in emails)."""
    return any(unicodedata.category(ch) in _DROPPED_CATEGORIES for ch in value)
