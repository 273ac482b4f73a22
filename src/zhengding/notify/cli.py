"""CLI commands of the notify domain: `zhengding worker`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        worker_id: str = typer.Option(None, "--id", help="工作进程标识（默认：主机名:进程号）"),
        concurrency: int = typer.Option(
            1, "--concurrency", "-c", min=1, max=32, help="本进程内并行的处理循环数"
        ),
    ) -> None:
        """运行后台任务处理进程（发件箱：短信、提醒、升级、定时任务）。"""
        from zhengding.cli import require_schema
        from zhengding.notify.worker_main import main

        require_schema()
        main(worker_id, concurrency)
