"""CLI of the returnee domain: `zhengding inbound add-source|send`, `zhengding demo arrivals`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def _credentials(key_id: str | None, secret: str | None) -> tuple[str, str]:
    if key_id and secret:
        return key_id, secret
    from zhengding.config import get_settings

    path = get_settings().var_dir / "demo-accounts.json"
    if path.exists():
        sources = json.loads(path.read_text(encoding="utf-8")).get("inbound_sources") or []
        if sources:
            return sources[0]["key_id"], sources[0]["secret"]
    typer.echo("缺少来源系统凭据：--key-id/--secret，或 ZD_INBOUND_KEY_ID/ZD_INBOUND_SECRET", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    inbound_app = typer.Typer(help="返乡人员登记接口（健康码系统对接）", no_args_is_help=True)
    app.add_typer(inbound_app, name="inbound")

    @inbound_app.command("add-source")
    def add_source(name: str) -> None:
        """登记一个来源系统，打印其 key id 与密钥（密钥只显示这一次）。"""
        from zhengding.cli import _run, _with_db
        from zhengding.core.errors import AppError
        from zhengding.returnees.service import inbound

        async def go(db):  # type: ignore[no-untyped-def]
            async with db.unit_of_work() as session:
                source, secret = await inbound.add_source(session, name)
                return source.key_id, secret

        try:
            key_id, secret = _run(_with_db(go))
        except AppError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from None
        typer.echo(f"key_id: {key_id}\nsecret: {secret}\n请妥善保存密钥：它不会再次显示。")

    @inbound_app.command("send")
    def send(
        file: Annotated[Path, typer.Argument(help="JSON Lines 文件，每行一条登记；- 为标准输入")],
        url: Annotated[str, typer.Option(help="政钉服务地址")] = "http://127.0.0.1:8000",
        key_id: Annotated[
            str | None, typer.Option(help="来源系统 key id", envvar="ZD_INBOUND_KEY_ID")
        ] = None,
        secret: Annotated[str | None, typer.Option(help="来源系统密钥", envvar="ZD_INBOUND_SECRET")] = None,
        batch: Annotated[int, typer.Option(min=1, max=500, help="每个请求的条数（>1 用批量接口）")] = 1,
    ) -> None:
        """参考发送端：签名并推送登记记录，逐条报告结果。"""
        import httpx
        import orjson

        from zhengding.returnees import signing

        kid, sec = _credentials(key_id, secret)
        lines = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
        items = [orjson.loads(line) for line in lines if line.strip()]
        counts: dict[str, int] = {}
        path = "/api/inbound/registrations" + ("/batch" if batch > 1 else "")
        with httpx.Client(base_url=url, timeout=30) as client:
            for start in range(0, len(items), batch):
                chunk = items[start : start + batch]
                body = orjson.dumps({"items": chunk} if batch > 1 else chunk[0])
                r = client.post(
                    path, content=body, headers=signing.signed_headers(kid, sec, "POST", path, body)
                )
                if batch > 1 and r.status_code == 200:
                    for item in r.json()["items"]:
                        counts[item["status"]] = counts.get(item["status"], 0) + 1
                        if item.get("errors"):
                            typer.echo(
                                f"{item.get('registration_id')}: {item['status']} {item['errors']}", err=True
                            )
                    continue
                status = {201: "accepted", 200: "replayed", 409: "conflict", 422: "rejected"}.get(
                    r.status_code, f"http_{r.status_code}"
                )
                counts[status] = counts.get(status, 0) + 1
                if r.status_code >= 300:
                    typer.echo(f"{chunk[0].get('registration_id')}: {status} {r.text[:300]}", err=True)
                    if r.status_code == 401:
                        raise typer.Exit(1)
        typer.echo("，".join(f"{k} {v}" for k, v in sorted(counts.items())) or "没有记录")

    demo_app = next(g.typer_instance for g in app.registered_groups if g.name == "demo")
    assert demo_app is not None

    @demo_app.command("arrivals")
    def arrivals(
        count: Annotated[int, typer.Option(min=1, max=1_000_000, help="条数")] = 100,
        seed: Annotated[int, typer.Option(help="随机种子")] = 2022,
        out: Annotated[Path | None, typer.Option(help="输出文件（默认标准输出）")] = None,
    ) -> None:
        """生成逼真的抵琼登记记录（JSON Lines，含不规范的目的地写法），供 inbound send 使用。"""
        import orjson

        from zhengding.returnees.demo_arrivals import ArrivalFactory

        target = out.open("wb") if out else sys.stdout.buffer
        for item in ArrivalFactory(seed).many(count):
            target.write(orjson.dumps(item) + b"\n")
        if out:
            target.close()
            typer.echo(f"已生成 {count} 条登记记录：{out}")
