"""Use cases: add a user, authenticate, issue a token."""

from __future__ import annotations

import re

from waternet.auth import repository
from waternet.auth.models import Principal, Role, User
from waternet.auth.security import hash_password, issue_token, verify_password
from waternet.db.connect import AsyncConnection
from waternet.errors import AuthError, ValidationFailed

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


async def add_user(conn: AsyncConnection, *, name: str, password: str, role: str) -> User:
    problems = []
    if not _NAME.match(name):
        problems.append("name: 1-64 letters, digits or _ . @ -")
    if len(password) < 8:
        problems.append("password: at least 8 characters")
    try:
        role_ = Role(role)
    except ValueError:
        problems.append(f"role: one of {', '.join(r.value for r in Role)}")
        role_ = Role.analyst
    if problems:
        raise ValidationFailed("cannot add user", details=problems)
    async with conn.transaction():
        return await repository.upsert(
            conn, name=name, password_hash=hash_password(password), role=role_
        )


async def login(
    conn: AsyncConnection, *, name: str, password: str, secret: str, minutes: int
) -> str:
    user = await repository.get_by_name(conn, name)
    if user is None or user.disabled or not verify_password(user.password_hash, password):
        raise AuthError("wrong user name or password")
    return issue_token(Principal(name=user.name, role=user.role), secret=secret, minutes=minutes)
