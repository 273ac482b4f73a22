from __future__ import annotations

import io

import segno
from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import MfaState
from zhengding.accounts.schemas import (
    AccountCreate,
    AccountList,
    AccountRead,
    ActivationRequest,
    CodeRequest,
    LoginRequest,
    LoginResponse,
    Me,
    MfaResponse,
    Ok,
    PasswordChange,
    RoleAssign,
    RoleDefRead,
    TokenResponse,
    TotpSetup,
)
from zhengding.accounts.service import profile
from zhengding.accounts.service import sessions as session_service
from zhengding.accounts.service import users as user_service
from zhengding.authz.actor import Actor
from zhengding.authz.roles import ROLES
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Page, paging
from zhengding.http.routing import make_router

auth_router = make_router("/api/auth", tags=["登录与会话"])
router = make_router("/api", tags=["账号管理"])


async def _me(session: AsyncSession, actor: Actor) -> Me:
    auth_session, user = await session_service.current_session(session)
    return await profile.me(session, actor, user, auth_session)


@auth_router.post("/login", response_model=LoginResponse)
async def login(body: LoginRequest, request: Request, session: AsyncSession = Depends(get_session)):
    result = await session_service.login(
        session,
        body.login,
        body.password,
        ip=request.state.client_ip,
        user_agent=request.headers.get("user-agent"),
    )
    me = await profile.me(session, result.actor, result.user, result.auth_session)
    return LoginResponse(
        token=result.token,
        expires_at=result.auth_session.expires_at,
        mfa=result.auth_session.mfa_state,
        me=me,
    )


@auth_router.post("/totp/verify", response_model=MfaResponse)
async def totp_verify(
    body: CodeRequest, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    await session_service.verify_totp(session, actor, body.code)
    return MfaResponse(mfa=MfaState.NONE, me=await _me(session, actor))


@auth_router.post("/totp/setup", response_model=TotpSetup)
async def totp_setup(actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)):
    secret, uri = await session_service.start_totp_setup(session, actor)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_svg=buffer.getvalue().decode())


@auth_router.post("/totp/confirm", response_model=MfaResponse)
async def totp_confirm(
    body: CodeRequest, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    await session_service.confirm_totp(session, actor, body.code)
    return MfaResponse(mfa=MfaState.NONE, me=await _me(session, actor))


@auth_router.post("/logout", response_model=Ok)
async def logout(actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)):
    await session_service.logout(session, actor)
    return Ok()


@auth_router.get("/me", response_model=Me)
async def me(actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)):
    return await _me(session, actor)


@auth_router.post("/password", response_model=TokenResponse)
async def change_password(
    body: PasswordChange,
    request: Request,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    token, row = await session_service.change_password(
        session,
        actor,
        body.old_password,
        body.new_password,
        ip=request.state.client_ip,
        user_agent=request.headers.get("user-agent"),
    )
    return TokenResponse(token=token, expires_at=row.expires_at)


@router.post("/accounts/activate", response_model=Ok)
async def activate(body: ActivationRequest, session: AsyncSession = Depends(get_session)):
    await user_service.activate(
        session,
        name=body.name,
        phone=body.phone,
        code=body.code,
        password=body.password,
        device_id=body.device_id,
    )
    return Ok()


@router.get("/accounts", response_model=AccountList)
async def list_accounts(
    unit_id: str | None = None,
    q: str | None = Query(None, max_length=50),
    status: str | None = Query(None, pattern="^(pending|active|disabled)$"),
    p: Page = paging(size=20, max_size=200),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    return await profile.list_accounts(
        session, actor, unit_id=unit_id, q=q, status=status, page=p.page, page_size=p.size
    )


@router.post("/accounts", response_model=AccountRead, status_code=201)
async def create_account(
    body: AccountCreate, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    user = await user_service.create_user(session, actor, **body.model_dump())
    return (await profile.account_reads(session, [user]))[0]


@router.get("/accounts/{user_id}", response_model=AccountRead)
async def get_account(
    user_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    user = await user_service.access_user(session, actor, user_id)
    return (await profile.account_reads(session, [user]))[0]


@router.post("/accounts/{user_id}/disable", response_model=AccountRead)
async def disable(
    user_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    user = await user_service.disable_user(session, actor, user_id)
    return (await profile.account_reads(session, [user]))[0]


@router.post("/accounts/{user_id}/enable", response_model=AccountRead)
async def enable(
    user_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    user = await user_service.enable_user(session, actor, user_id)
    return (await profile.account_reads(session, [user]))[0]


@router.post("/accounts/{user_id}/reset-activation", response_model=AccountRead)
async def reset_activation(
    user_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
):
    user = await user_service.reset_activation(session, actor, user_id)
    return (await profile.account_reads(session, [user]))[0]


@router.get("/roles", response_model=list[RoleDefRead])
async def list_roles(actor: Actor = Depends(current_actor)):
    return [
        RoleDefRead(
            role=r.name, label=r.label, scope=r.scope, permissions=sorted(r.permissions), admin=r.admin
        )
        for r in ROLES.values()
    ]


@router.post("/accounts/{user_id}/roles", response_model=AccountRead)
async def assign_role(
    user_id: str,
    body: RoleAssign,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    await user_service.assign_role(session, actor, user_id, body.role, body.unit_id)
    user = await user_service.access_user(session, actor, user_id, "roles.assign")
    return (await profile.account_reads(session, [user]))[0]


@router.delete("/accounts/{user_id}/roles/{assignment_id}", response_model=AccountRead)
async def remove_role(
    user_id: str,
    assignment_id: str,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    await user_service.remove_role(session, actor, user_id, assignment_id)
    user = await user_service.access_user(session, actor, user_id, "roles.assign")
    return (await profile.account_reads(session, [user]))[0]
