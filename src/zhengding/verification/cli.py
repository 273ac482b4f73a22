"""`zhengding trace FILE.xlsx`: who exported a watermarked xlsx, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def trace(file: Annotated[Path, typer.Argument(help="导出的 xlsx 文件")]) -> None:
    """追溯导出的 xlsx 文件：校验隐藏水印并显示导出人与导出时间。"""
    from datetime import datetime

    from zhengding.config import get_settings
    from zhengding.core.clock import local_text
    from zhengding.core.spreadsheets import trace_xlsx

    try:
        content = file.read_bytes()
    except OSError as exc:
        typer.echo(f"无法读取文件：{exc}", err=True)
        raise typer.Exit(2) from None
    mark, tokens = trace_xlsx(content, get_settings().secret_key)
    if mark is None:
        typer.echo("未找到有效水印" + ("（水印签名校验失败，文件可能被篡改）" if tokens else ""), err=True)
        raise typer.Exit(1)
    at = local_text(datetime.fromisoformat(mark.at), "%Y-%m-%d %H:%M:%S")
    typer.echo(f"导出人：{mark.name}（用户ID {mark.user_id}）")
    typer.echo(f"导出时间：{at}（北京时间）")
    typer.echo(f"导出内容：{mark.kind}")


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
