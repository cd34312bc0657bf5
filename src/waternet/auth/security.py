"""Password hashing (argon2) and short-lived JWTs (PyJWT, HS256). Pure: no database."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from waternet.auth.models import Principal, Role
from waternet.errors import AuthError

_hasher = PasswordHasher()
ALGORITHM = "HS256"
ISSUER = "waternet"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(principal: Principal, *, secret: str, minutes: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": principal.name,
        "role": principal.role.value,
        "iss": ISSUER,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER)
        return Principal(name=str(claims["sub"]), role=Role(claims["role"]))
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except (jwt.PyJWTError, KeyError, ValueError):
        raise AuthError("invalid token") from None


def load_or_create_secret(configured: str | None, state_dir: Path) -> str:
    """The signing secret: configured, or generated once and kept under the state dir (0600)."""
    if configured:
        return configured
    path = state_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
