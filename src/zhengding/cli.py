"""Command line: `zhengding --help`."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from zhengding import domains
from zhengding.config import get_settings

app = typer.Typer(
    help="政钉 Zhengding — 命令行工具",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="数据库", no_args_is_help=True)
divisions_app = typer.Typer(help="行政区划", no_args_is_help=True)
demo_app = typer.Typer(help="演示数据", no_args_is_help=True)
audit_app = typer.Typer(help="审计日志", no_args_is_help=True)
accounts_app = typer.Typer(help="账号", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(divisions_app, name="divisions")
app.add_typer(demo_app, name="demo")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _with_db(fn):  # type: ignore[no-untyped-def]
    """Run `fn(db)` on the configured database, once it is at the code's migration heads:
    otherwise one line saying to run `zhengding db upgrade`, exit status 2."""
    from zhengding.core.db import init_db, set_db
    from zhengding.core.migrate import schema_problem

    settings = get_settings()
    db = init_db(settings.database_url)
    try:
        problem = await schema_problem(db.write_engine)
        if problem:
            typer.echo(problem, err=True)
            raise typer.Exit(2)
        return await fn(db)
    finally:
        await db.dispose()
        set_db(None)


def require_schema() -> None:
    """For long-running commands that open the database later (serve, worker): refuse now."""

    async def nothing(db):  # type: ignore[no-untyped-def]
        return None

    _run(_with_db(nothing))


def _ensure_var() -> None:
    settings = get_settings()
    if settings.database_url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """执行数据库迁移（alembic upgrade）。"""
    from zhengding.core.migrate import upgrade

    _ensure_var()
    upgrade(get_settings().database_url, revision)
    typer.echo(f"数据库已迁移到 {revision}")


@divisions_app.command("load")
def divisions_load(
    province: Annotated[str, typer.Option(help="省级代码前两位，如 46 海南、44 广东")] = "46",
) -> None:
    """从随附的官方区划代码载入一个省，并建立对应的组织机构树。"""
    from zhengding.demo import seed_org_tree

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.unit_of_work() as session:
            return await seed_org_tree(session, province)

    try:
        created = _run(_with_db(go))
    except ValueError as exc:
        typer.echo(f"无法载入：{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"已载入省份 {province} 的行政区划，新建组织机构 {created} 个")


@demo_app.command("seed")
def demo_seed(per_village: int = 3) -> None:
    """载入海南组织机构树、演示账号和待激活的网格员账号。"""
    from zhengding import demo
    from zhengding.orgs.models import OrgUnit

    settings = get_settings()

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.unit_of_work() as session:
            created = await demo.seed_org_tree(session)
        async with db.unit_of_work() as session:
            personas = await demo.seed_personas(session)
        async with db.unit_of_work() as session:
            pending = await demo.seed_grid_workers(session, per_village)
        async with db.unit_of_work() as session:
            village = await session.get(OrgUnit, personas["grid1"]["unit_id"])
            samples = await demo.activation_samples(session, village)
        async with db.unit_of_work() as session:
            source = await demo.seed_inbound_source(session)
        return created, personas, pending, samples, source

    created, personas, pending, samples, source = _run(_with_db(go))
    path = demo.write_accounts_file(settings.var_dir, personas, samples, [source])
    typer.echo(f"组织机构新建 {created} 个；待激活网格员账号新建 {pending} 个")
    typer.echo("")
    typer.echo(f"演示账号（密码均为 {demo.DEMO_PASSWORD}）：")
    for username, info in personas.items():
        extra = f"  动态口令密钥 {info['totp_secret']}" if info["totp_secret"] else ""
        typer.echo(
            f"  {username:<11} {info['name']}  {info['role'] or '无角色'} @ {info['unit_name']}{extra}"
        )
    typer.echo("")
    typer.echo("可用于体验激活的网格员（姓名 / 手机号 / 激活码）：")
    for s in samples:
        typer.echo(f"  {s['name']}  {s['phone']}  {s['code']}  ({s['unit_name']})")
    typer.echo(f"\n健康码系统推送接口：key_id {source['key_id']}（密钥见下述文件）")
    typer.echo(f"\n以上信息已写入 {path}")


@audit_app.command("verify")
def audit_verify() -> None:
    """校验审计日志哈希链：报告被修改、删除或调换顺序的记录位置。"""
    from zhengding.audit.service import verify_chain

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            return await verify_chain(session)

    checked, problems, head = _run(_with_db(go))
    for p in problems:
        typer.echo(f"第 {p.position} 条：{p.kind}  {p.detail}")
    typer.echo(f"已校验 {checked} 条；链尾 #{head[0]} {head[1]}")
    if problems:
        typer.echo(f"发现 {len(problems)} 处问题", err=True)
        raise typer.Exit(1)
    typer.echo("审计日志链完整")


@accounts_app.command("check-duties")
def accounts_check_duties() -> None:
    """列出违反三权分立的账号（管理员角色与其他角色兼任）；有则以非零状态退出。"""
    from zhengding.accounts.service.duties import duties_violations

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            return await duties_violations(session)

    found = _run(_with_db(go))
    for violation in found:
        typer.echo(violation.describe())
    if found:
        typer.echo(f"发现 {len(found)} 个账号违反三权分立，请撤销多余的角色", err=True)
        raise typer.Exit(1)
    typer.echo("未发现违反三权分立的账号")


@accounts_app.command("issue-code")
def accounts_issue_code(phone: str) -> None:
    """为一个待激活账号签发新的激活码（旧码作废）。"""
    from sqlalchemy import select

    from zhengding.accounts.models import User
    from zhengding.accounts.service.users import issue_codes
    from zhengding.privacy.crypto import blind_index
    from zhengding.privacy.idcard import normalize_phone

    async def go(db):  # type: ignore[no-untyped-def]
        async with db.unit_of_work() as session:
            user = (
                await session.execute(
                    select(User).where(User.phone_bidx == blind_index("phone", normalize_phone(phone)))
                )
            ).scalar_one_or_none()
            if user is None or user.status != "pending":
                return None
            return (await issue_codes(session, None, [user.id]))[user.id]

    code = _run(_with_db(go))
    if code is None:
        typer.echo("没有该手机号的待激活账号", err=True)
        raise typer.Exit(1)
    typer.echo(code)


@app.command("resolve")
def resolve(
    texts: Annotated[list[str] | None, typer.Argument(help="地址文本；不给则逐行读标准输入")] = None,
) -> None:
    """把目的地文本解析为行政区划，每行输出一个 JSON 对象。"""
    from zhengding.divisions.resolver_cli import main

    main(list(texts or []))


@app.command("openapi")
def openapi_document() -> None:
    """输出 OpenAPI 文档（JSON）：make web 由它生成网页端的接口类型（web/shared/api/schema.ts）。"""
    import json

    from zhengding.app import create_app

    typer.echo(json.dumps(create_app().openapi(), ensure_ascii=False, indent=1))


@app.command("serve")
def serve(
    host: str | None = None,
    port: int | None = None,
    workers: Annotated[int, typer.Option(min=1, help="工作进程数；大于 1 时须设置 ZD_REDIS_URL")] = 1,
) -> None:
    """启动服务（API、WebSocket 与网页）。"""
    import logging

    import uvicorn

    from zhengding.realtime.wsprotocol import IMPORT_PATH as WS_PROTOCOL

    settings = get_settings()
    settings.check_secrets()
    if workers > 1 and not settings.redis_url:
        # Live events travel between processes through Redis; without it each worker's
        # sockets would hear only the events raised in that worker.
        typer.echo(
            f"--workers {workers} 需要设置 ZD_REDIS_URL：没有 Redis 时实时推送只能送达一个工作进程的连接，"
            "请设置 ZD_REDIS_URL 或以 --workers 1 运行",
            err=True,
        )
        raise typer.Exit(2)
    require_schema()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    _ensure_var()
    uvicorn.run(
        "zhengding.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,  # our access log (http/middleware.py) omits query strings: /ws?token=…
        proxy_headers=False,
        server_header=False,  # no "server: uvicorn" banner (http/security_headers.py)
        # Frames are small JSON: compressing each costs CPU and a zlib context per connection
        # (tens of KB each, times thousands of phones) for little gain.
        ws_per_message_deflate=False,
        # uvicorn's sans-I/O protocol plus a synchronous text-frame write for fan-out
        ws=WS_PROTOCOL,
    )


# Every command runs with the same registries as the app and the worker (roles with their
# domains' permissions, outbox handlers …); each manifest's `cli` adds its commands.
domains.install(domains.MANIFESTS)
domains.register_commands(app)

if __name__ == "__main__":
    sys.exit(app())
