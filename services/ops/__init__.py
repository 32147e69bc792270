"""The ops CLI: `python -m services.ops --help` (projections status, rebuild and reset; dead letters)."""
