from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("toy-hello")
    def hello() -> None:
        """玩具命令。"""
        typer.echo("toy says hello")
