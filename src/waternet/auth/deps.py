"""The role check every endpoint declares: ``Depends(require_roles(...))``.

Every endpoint except health and metrics declares the roles it admits; a test walks the OpenAPI
document to prove it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from waternet.auth.models import Principal, Role
from waternet.auth.security import read_token
from waternet.errors import AuthError, Forbidden

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


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
