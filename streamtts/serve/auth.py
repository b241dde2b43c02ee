"""The bearer token the HTTP and WebSocket doors ask for."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

__all__ = ["Authorizer"]


class Authorizer:
    """``Authorization: Bearer TOKEN``, or ``?token=`` where a browser cannot
    set headers (a WebSocket). With no token set, everyone is let in."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def allows(self, headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> bool:
        if self.token is None:
            return True
        given = headers.get("authorization", "")
        if given.lower().startswith("bearer "):
            given = given[7:]
        elif query is not None:
            given = query.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())
