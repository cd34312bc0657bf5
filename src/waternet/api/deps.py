"""Request dependencies: the database connection and the role check.

Every endpoint except health and metrics declares the roles it admits with
``Depends(require_roles(...))``; a test walks the OpenAPI spec to prove it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from psycopg import AsyncConnection

from waternet.auth.models import Principal, Role
from waternet.auth.security import read_token
from waternet.errors import AuthError, Forbidden

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def db_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.pool.connection() as conn:
        yield conn


DbConn = Annotated[AsyncConnection, Depends(db_conn)]


def require_roles(*roles: Role | str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting a valid token whose role is one of ``roles`` (admin always)."""
    allowed = {Role(r) for r in roles} | {Role.admin}

    async def check(
        request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Principal:
        if not token:
            raise AuthError("missing bearer token")
        principal = read_token(token, secret=request.app.state.jwt_secret)
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role.value} may not use this endpoint")
        return principal

    check.roles = allowed  # type: ignore[attr-defined]
    return check


ANY_ROLE = tuple(Role)
