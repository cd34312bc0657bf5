"""Roles and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    crew = "crew"
    analyst = "analyst"
    service = "service"


ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    password_hash: str
    disabled: bool
