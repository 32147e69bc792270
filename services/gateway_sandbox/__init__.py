"""A PayU-compatible gateway sandbox for dev mode and the tests (see app.py)."""
