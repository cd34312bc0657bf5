"""HTTP: token issue (OAuth2 password flow) and the current principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from waternet.auth import service
from waternet.auth.deps import ANY_ROLE, require_roles
from waternet.auth.models import Principal
from waternet.auth.schemas import Me, Token
from waternet.db.deps import DbConn

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=Token)
async def token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: DbConn
) -> Token:
    settings = request.app.state.settings
    jwt = await service.login(
        conn,
        name=form.username,
        password=form.password,
        secret=request.app.state.jwt_secret,
        minutes=settings.token_minutes,
    )
    return Token(access_token=jwt, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=Me)
async def me(principal: Annotated[Principal, Depends(require_roles(*ANY_ROLE))]) -> Me:
    return Me(name=principal.name, role=principal.role.value)
