from __future__ import annotations

import libs.events.schemas  # noqa: F401  (registers the published event types)
from libs.events.service.logs import configure_logging

configure_logging("console", "WARNING")
