"""`python -m services.profile --port N`: this service alone, in cluster mode (libs/events/cluster.py)."""

from libs.events.cluster import service_main
from services.profile.service import definition

if __name__ == "__main__":
    service_main(definition)
