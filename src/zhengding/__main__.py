from zhengding.cli import app

app()
