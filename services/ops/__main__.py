from services.ops.cli import app

app(prog_name="python -m services.ops")
