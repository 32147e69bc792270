"""`python -m services.identity --port N`: this service alone, in cluster mode (libs/events/cluster.py).

`python -m services.identity rotate-signing-key | prune-signing-keys | signing-keys`: its signing keys
(services/identity/signing_keys.py).
"""

import sys

from libs.events.cluster import service_main
from services.identity.service import definition
from services.identity.signing_keys import COMMANDS, app

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        app()
    else:
        service_main(definition)
