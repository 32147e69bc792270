"""Kafka fixtures for the tail and republish tests: the analytics tests' (a namespace of the test's own)."""

from tests.analytics.conftest import kafka_config, services  # noqa: F401
