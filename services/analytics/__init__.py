"""The analytics export: the services' event topics as Parquet files (`python -m services.analytics --help`)."""
