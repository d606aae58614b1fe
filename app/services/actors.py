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
