"""SQL for users. Takes a connection; never commits (the service layer owns transactions)."""

from __future__ import annotations

from typing import Any

from waternet.auth.models import Role, User
from waternet.db.connect import AsyncConnection


def _user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        disabled=row["disabled"],
    )


async def get_by_name(conn: AsyncConnection, name: str) -> User | None:
    cur = await conn.execute(
        "SELECT id, name, role, password_hash, disabled FROM users WHERE name = %s", (name,)
    )
    row = await cur.fetchone()
    return None if row is None else _user(row)


async def upsert(conn: AsyncConnection, *, name: str, password_hash: str, role: Role) -> User:
    cur = await conn.execute(
        """
        INSERT INTO users (name, password_hash, role) VALUES (%s, %s, %s)
        ON CONFLICT (name) DO UPDATE
           SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, disabled = false
        RETURNING id, name, role, password_hash, disabled
        """,
        (name, password_hash, role.value),
    )
    row = await cur.fetchone()
    assert row is not None
    return _user(row)


async def list_users(conn: AsyncConnection) -> list[User]:
    cur = await conn.execute(
        "SELECT id, name, role, password_hash, disabled FROM users ORDER BY id"
    )
    return [_user(r) for r in await cur.fetchall()]
