"""Every list of the services names the same ones in the same order: a service added to one and
forgotten in another fails here (docs/architecture.md, "How to add... a service")."""

from __future__ import annotations

import re

from libs.events.cluster import SERVICE_NAMES, service_ports
from services.gateway.embedded import SERVICES as EMBEDDED
from tests.deploy.manifests import DEPLOY, SERVICES, compose, k8s_kind, template_variables


def test_the_embedded_portal_the_cluster_entry_points_and_the_deploy_tests_list_the_same_services() -> None:
    assert tuple(definition.name for definition in EMBEDDED) == SERVICE_NAMES == SERVICES


def test_the_local_cluster_script_starts_the_same_services_on_the_same_ports() -> None:
    script = (DEPLOY / "local" / "cluster.sh").read_text(encoding="utf-8")
    listed = re.search(r"^SERVICES=\(([^)]*)\)", script, re.MULTILINE)
    assert listed is not None, "no SERVICES=(...) in cluster.sh"
    assert tuple(listed.group(1).split()) == SERVICE_NAMES
    assert "$((8101 + i))" in script
    assert list(service_ports().values()) == [8101 + index for index in range(len(SERVICE_NAMES))]


def test_compose_k8s_and_the_gateway_have_every_service_its_worker_and_its_relay() -> None:
    deployments = k8s_kind("Deployment")
    for name in SERVICE_NAMES:
        for process in (name, f"{name}-worker", f"{name}-relay"):
            assert process in compose()["services"], process
            assert process in deployments, process
        assert f"{name.upper()}_UPSTREAM" in template_variables(), name
