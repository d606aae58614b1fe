"""The service's error tree: every failure a caller can see is one of these.

Each class is one row of the error table in ``API.md`` (code and HTTP status). Services and
database adapters raise them; one handler in ``app.main`` turns them into the envelope
``{"success": false, "error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error the API reports; renders as ``INTERNAL_ERROR`` (500)."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status_code: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong on our side. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def envelope(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": {"code": self.code, "message": self.message, "details": self.details},
        }


class ValidationFailed(AppError):
    code = "VALIDATION_ERROR"
    status_code = 400
    default_message = "The request is not valid."


class Unauthorized(AppError):
    code = "UNAUTHORIZED"
    status_code = 401
    default_message = "A valid credential is required."


class Forbidden(AppError):
    code = "FORBIDDEN"
    status_code = 403
    default_message = "This credential may not do that."


class NotFound(AppError):
    code = "NOT_FOUND"
    status_code = 404
    default_message = "Not found."


class MethodNotAllowed(AppError):
    # Not a row of API.md's table: 405 keeps its own status but still uses the envelope.
    code = "METHOD_NOT_ALLOWED"
    status_code = 405
    default_message = "This method is not allowed on this path."


class PayloadTooLarge(AppError):
    # Not a row of API.md's table: 413 keeps its own status but still uses the envelope.
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413
    default_message = "The request body is too large."


class NoAvailability(AppError):
    code = "NO_AVAILABILITY"
    status_code = 409
    default_message = "There is no room for that party at that time."


class BookingNotModifiable(AppError):
    code = "BOOKING_NOT_MODIFIABLE"
    status_code = 409
    default_message = "This booking can no longer be changed."


class IdempotencyKeyConflict(AppError):
    code = "IDEMPOTENCY_KEY_CONFLICT"
    status_code = 409
    default_message = "This Idempotency-Key was already used with a different request."


class IdempotencyKeyRequired(AppError):
    """The 2026 contract's create needs an Idempotency-Key (pub-api-2026.md 5.1)."""

    code = "IDEMPOTENCY_KEY_REQUIRED"
    status_code = 400
    default_message = "Missing Idempotency-Key header"


class IdempotencyKeyInProgress(AppError):
    """A create under this Idempotency-Key is still being made (pub-api-2026.md 5.3)."""

    code = "IDEMPOTENCY_KEY_IN_PROGRESS"
    status_code = 409
    default_message = "This request is already being processed. Please retry shortly."


class IdempotencyKeyNotFound(AppError):
    """The replay-only probe found nothing under this Idempotency-Key (pub-api-2026.md 5.3)."""

    code = "IDEMPOTENCY_KEY_NOT_FOUND"
    status_code = 404
    default_message = "No previous booking attempt found"


class PolicyViolation(AppError):
    code = "POLICY_VIOLATION"
    status_code = 422
    default_message = "The booking is not allowed by the pub's booking policy."


class InvalidMenuItems(AppError):
    code = "INVALID_MENU_ITEMS"
    status_code = 422
    default_message = "One or more menu items are unknown or unavailable."


class InvalidMealSelection(AppError):
    code = "INVALID_MEAL_SELECTION"
    status_code = 422
    default_message = "Sunday lunch needs exactly one main per guest."


class RateLimitExceeded(AppError):
    code = "RATE_LIMIT_EXCEEDED"
    status_code = 429
    default_message = "Too many requests. Please wait and try again."


class ServiceUnavailable(AppError):
    code = "SERVICE_UNAVAILABLE"
    status_code = 503
    default_message = "The service is temporarily unavailable. Please try again shortly."


class DepositFirst(AppError):
    """Not an answer to callers: the create found a deposit due while its caller takes the
    deposit first (``deposit_first``), and wrote nothing. ``details.deposit_amount`` says how
    much; the caller makes the PayPal order (or refuses) and creates again."""

    code = "DEPOSIT_FIRST"
    status_code = 500

    @property
    def amount(self) -> Decimal:
        details = self.details if isinstance(self.details, dict) else {}
        return Decimal(str(details["deposit_amount"]))


class NotConfigured(ServiceUnavailable):
    """A provider this deployment deliberately left out (PayPal in development): the caller gets
    the same 503, but it is not an outage, so monitoring does not count it as an API error."""


class InternalError(AppError):
    """An unexpected failure; the message shown to callers never carries its cause."""


class DatabaseConflict(InternalError):
    """A unique constraint refused a write (SQLSTATE 23505).

    Services that expect a race catch it and retry; if it escapes, it is a bug and renders as
    ``INTERNAL_ERROR``.
    """


#: The codes a database function may raise (``RAISE EXCEPTION USING MESSAGE = '<CODE>'``),
#: mapped to the error they become. Both database adapters use this one table.
BUSINESS_ERRORS: dict[str, type[AppError]] = {
    cls.code: cls
    for cls in (
        ValidationFailed,
        Unauthorized,
        Forbidden,
        NotFound,
        NoAvailability,
        BookingNotModifiable,
        IdempotencyKeyConflict,
        PolicyViolation,
        InvalidMenuItems,
        InvalidMealSelection,
        RateLimitExceeded,
        ServiceUnavailable,
        DepositFirst,
    )
}
