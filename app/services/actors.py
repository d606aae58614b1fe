"""Who is acting on a booking, and from where; passed to SQL for checks and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ActorKind = Literal["api_key", "staff", "guest", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    email: str | None = None
    name: str | None = None
    #: sha256 hex of a guest's manage token; None for everyone else.
    token_hash: str | None = None

    @classmethod
    def guest_link(cls, *, token_hash: str, token_id: str, action: str) -> Actor:
        """A guest holding a guest link (the pub's guest_tokens) the service has just opened:
        its hash goes to SQL as ``link:<hash>``, which tb_booking_by_reference admits for the
        link's own booking only (a 2025 manage token is a bare hash, never a link)."""
        return cls(
            kind="guest",
            id=token_id,
            name=f"guest link ({action})",
            token_hash=f"link:{token_hash}",
        )

    @property
    def is_guest(self) -> bool:
        return self.kind == "guest"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "email": self.email, "name": self.name}


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"ip": self.ip, "user_agent": self.user_agent}
