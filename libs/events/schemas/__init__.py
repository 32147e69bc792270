"""Published event schemas, one module per service: what one service emits and others may consume.

Importing this package registers every published event type in `libs.events.registry`.
Changing a published model needs a new schema version and an upcaster from the previous one.
"""

from libs.events.schemas import billing, contracts, identity, notifications, payments, profile

__all__ = ["billing", "contracts", "identity", "notifications", "payments", "profile"]
