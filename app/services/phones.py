"""Phone numbers: what a guest typed, as E.164, and the legacy forms the pub's app stored.

The pub's existing app stores E.164 now, but older ``customers.mobile_number`` rows hold
``447…``, ``0044…`` or ``07…``; ``phone_variants`` lists those forms so a lookup still finds them.
Pure functions: no I/O.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from app.errors import ValidationFailed

DEFAULT_REGION = "GB"
UK_COUNTRY_CODE = 44
UK_PREFIX = f"+{UK_COUNTRY_CODE}"
MAX_INPUT_LENGTH = 64
FIELD = "customer.mobile_number"

# Ofcom reserves 07700 900000-900999 for drama. phonenumbers calls them invalid, but the pub's docs
# and tests use them as example numbers, so they are accepted; no real phone can have one.
_DRAMA_RANGE = re.compile(r"\+447700900\d{3}")

# A trailing extension ("x123", "ext. 123", "#123") is dropped: only the line itself can take a
# call or a text, and refusing the booking over it would help no one.
_EXTENSION = re.compile(r"[\s,;]*(?:ext(?:ension|n)?\.?|x|#)\s*\d{1,10}\s*$", re.IGNORECASE)

# A UK number in national form, digits only ("07911123456"): 0, then ten digits not starting 0.
_UK_NATIONAL_DIGITS = re.compile(r"0[1-9][0-9]{9}")

# What may surround the digits. Anything else (letters above all) is refused rather than handed to
# phonenumbers, which would read letters as a keypad word ("0800 FLOWERS").
_PUNCTUATION = frozenset("+-.()[]/\u2010\u2011\u2012\u2013\u2014\u2212")


def _longest_national(region: str) -> int:
    """The most digits a number of ``region`` has without its country code (phonenumbers'
    metadata)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        raise LookupError(f"phonenumbers has no metadata for {region}")
    return max(metadata.general_desc.possible_length)


_UK_LONGEST_NATIONAL = _longest_national(DEFAULT_REGION)

_EMPTY = "Please enter a phone number."
_TOO_LONG = "That phone number is too long. Please check it and try again."
_NOT_A_NUMBER = (
    "That doesn't look like a phone number. Please use digits, for example 07700 900123."
)
_INVALID = (
    "That phone number doesn't look right. Please check it, for example 07700 900123, "
    "or include the country code, for example +1 202 555 0123."
)


def normalise_phone(raw: str) -> str:
    """E.164 for a phone number a guest typed; raises app.errors.ValidationFailed.

    UK is the default: ``07700 900123``, ``7700900123``, ``447700900123``, ``0044…``, ``+44 (0)…``
    all give ``+447700900123``. +44 includes Jersey, Guernsey and the Isle of Man (validated on
    the country code, never on region "GB"). A number with ``+`` or ``00`` keeps its country; bare
    digits that are not a valid UK number are tried as ``+<digits>`` (how the legacy app stored
    ``12025550123``), except those starting with 7, which are a UK mobile missing its 0 and never
    read as +7. Accepted: anything ``phonenumbers.is_valid_number`` accepts, plus Ofcom's drama
    range +447700900000..+447700900999. A trailing extension (``x123``, ``ext 123``, ``#123``) is
    dropped, not refused. Refused: empty input, more than 64 characters, letters or other
    symbols, and anything phonenumbers cannot make valid (too short, too long, junk).
    """
    if len(raw) > MAX_INPUT_LENGTH:
        raise _error(_TOO_LONG)
    text = _EXTENSION.sub("", raw.strip()).strip()
    if not text:
        raise _error(_EMPTY if not raw.strip() else _NOT_A_NUMBER)
    if not all(ch.isdecimal() or ch.isspace() or ch in _PUNCTUATION for ch in text):
        raise _error(_NOT_A_NUMBER)

    e164 = _valid_e164(text, DEFAULT_REGION)
    if e164 is None and "+" not in text:
        digits = phonenumbers.normalize_digits_only(text)
        # A UK mobile typed without its 0 and with a digit too many ("79111234567") would
        # otherwise become a valid Russian number.
        if not digits.startswith(("0", "7")):
            e164 = _valid_e164("+" + digits, None)
    if e164 is None:
        raise _error(_INVALID)
    return e164


def phone_variants(e164: str) -> list[str]:
    """The legacy forms the pub's app may have stored in customers.mobile_number, for lookup.

    ``+447700900123`` -> ``["+447700900123", "447700900123", "00447700900123", "07700900123"]``;
    ``+12025550123`` -> ``["+12025550123", "12025550123", "0012025550123"]``. Takes anything
    ``normalise_phone`` accepts (and raises as it does). A form that would normalise to a
    different number (the bare digits of some short foreign numbers read as UK, or of +7 numbers)
    is left out, so a lookup never matches someone else's legacy row.
    """
    return variants_of_normalised(normalise_phone(e164))


def variants_of_normalised(canonical: str) -> list[str]:
    """``phone_variants`` of a number ``normalise_phone`` has already returned (no second
    normalisation: a booking normalises the guest's number once and looks up these forms)."""
    digits = canonical.removeprefix("+")
    # The number itself and its international form (00 is the UK's international prefix, so
    # "00<digits>" is read as "+<digits>") always normalise back; so does the UK national form of
    # a +44 number. Only the bare digits can be read as another number.
    forms = [canonical, digits, "00" + digits]
    # E.164 is "+", the country code, then the national significant number, and no other
    # country code begins with 44: the UK national form needs no second parse.
    if canonical.startswith(UK_PREFIX):
        forms.append("0" + canonical.removeprefix(UK_PREFIX))
    return [form for form in forms if form != digits or _normalises_to(form, canonical)]


def _valid_e164(text: str, region: str | None) -> str | None:
    if region == DEFAULT_REGION and _UK_NATIONAL_DIGITS.fullmatch(text):
        # The form websites send most: what phonenumbers.parse makes of it (the 0 is the national
        # prefix, the rest the national number), without the parse.
        number = phonenumbers.PhoneNumber(
            country_code=UK_COUNTRY_CODE, national_number=int(text[1:])
        )
        e164 = UK_PREFIX + text[1:]
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if _is_valid(number) or _DRAMA_RANGE.fullmatch(e164):
        return e164
    return None


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``, asking about the UK first. is_valid_number finds the
    number's region among those sharing its country code and asks that region; for +44 the UK
    comes first and is chosen whenever the number is one of its types, so a number valid for the
    UK is valid. Asking the UK alone is half the work; anything else takes the full check."""
    if number.country_code == UK_COUNTRY_CODE and phonenumbers.is_valid_number_for_region(
        number, DEFAULT_REGION
    ):
        return True
    return bool(phonenumbers.is_valid_number(number))


def _normalises_to(form: str, canonical: str) -> bool:
    """Whether ``normalise_phone(form) == canonical``, for a ``canonical`` it returned.

    The quick answers: ``form`` read as a UK number is ``canonical`` itself, whose validity is
    known, so normalise_phone would return it without asking phonenumbers whether it is valid
    (the costly part). Otherwise normalise_phone decides. Reading it needs no parse for the bare
    digits of a +44 number that are too long for a UK national number: phonenumbers then takes
    the leading 44 as the country code, which gives ``canonical`` back.
    """
    if canonical.startswith(UK_PREFIX) and len(form) > _UK_LONGEST_NATIONAL:
        return True
    try:
        quick = phonenumbers.format_number(
            phonenumbers.parse(form, DEFAULT_REGION), phonenumbers.PhoneNumberFormat.E164
        )
    except phonenumbers.NumberParseException:
        quick = None
    if quick == canonical:
        return True
    try:
        return normalise_phone(form) == canonical
    except ValidationFailed:
        return False


def _error(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": FIELD})


# What a number can be used for (phonenumbers.number_type). Texts go only to numbers that can be
# mobiles; premium-rate and shared-cost numbers can only earn their owner money per text, so a
# booking with one is refused (SMS toll fraud). Anything else (landlines, personal numbers, VoIP,
# satellite and other non-geographic numbers, +881/+882) books, and hears by email only.
_TEXTABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
_FRAUD_ONLY_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST}
)
_NON_GEOGRAPHIC = "001"
_COSTLY = (
    "Sorry, we cannot take bookings with premium-rate or shared-cost numbers. Please give a "
    "mobile or landline number."
)


@functools.lru_cache(maxsize=4096)
def _facts(number: str) -> tuple[str, str | None, int] | None:
    """(E.164, region, ``phonenumbers.number_type``) of ``number`` read as in the UK, or None
    when it cannot be read. Kept for the newest numbers: the type is the dear part (it tries
    every kind of number's patterns), and a create asks two questions of the same number."""
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.region_code_for_number(parsed),
        phonenumbers.number_type(parsed),
    )


def can_receive_sms(number: str) -> bool:
    """Whether the pub may text ``number`` (E.164, or a legacy stored form): a number that can be
    a mobile, in a country (Ofcom's drama range counts, for demos)."""
    facts = _facts(number)
    if facts is None:
        return False
    e164, region, kind = facts
    if _DRAMA_RANGE.fullmatch(e164):
        return True
    if region in (None, _NON_GEOGRAPHIC):
        return False
    return kind in _TEXTABLE_TYPES


def require_bookable(e164: str) -> None:
    """Refuse a number that can only be fraud (premium rate, shared cost); raises
    app.errors.ValidationFailed."""
    facts = _facts(e164)
    if facts is not None and facts[2] in _FRAUD_ONLY_TYPES:
        raise _error(_COSTLY)
