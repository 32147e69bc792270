"""`python -m services.analytics export --out DIR`: the event topics as Parquet files (see export.py)."""

from services.analytics.cli import app

app(prog_name="python -m services.analytics")
