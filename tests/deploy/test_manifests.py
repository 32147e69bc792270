"""deploy/: the compose file and the Kubernetes manifests parse, name every service, worker and relay,
run each service's consumers in exactly one process, set only variables the services' settings know,
probe /healthz and /readyz, and hold no secret."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.events.cluster import ClusterInfra
from libs.events.service.settings import ServiceSettings
from tests.deploy.manifests import (
    BLOB_STORES,
    COMPOSE,
    DEPLOY,
    INFRA_ENV,
    K8S,
    ROOT,
    SECRETS_EXAMPLE,
    SERVICES,
    SETTINGS,
    ContainerEnv,
    blob_root,
    compose,
    compose_blob_findings,
    compose_consumer_findings,
    compose_env,
    compose_keyring_findings,
    compose_metrics_findings,
    consumers_running,
    env_findings,
    image_folders_of_the_app_user,
    k8s_blob_findings,
    k8s_consumer_findings,
    k8s_container,
    k8s_docs,
    k8s_env,
    k8s_keyring_findings,
    k8s_kind,
    k8s_metrics_findings,
    load_all,
    read_env_file,
    secret_findings,
    services_building_file_blob_stores,
    yaml_files,
)

RELAYS = tuple(f"{service}-relay" for service in SERVICES)
WORKERS = tuple(f"{service}-worker" for service in SERVICES)


def _id(path: Path) -> str:
    return str(path.relative_to(DEPLOY))


# --- parsing ------------------------------------------------------------------------------------


def test_the_expected_manifests_exist() -> None:
    names = {_id(path) for path in yaml_files()}
    expected = {"docker-compose.yml", "otel/collector.yaml", "k8s/kustomization.yaml", "k8s/secrets.template.yaml"}
    expected |= {f"k8s/{service}.yaml" for service in SERVICES}
    assert expected <= names


@pytest.mark.parametrize("path", yaml_files(), ids=_id)
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


def test_every_k8s_document_has_kind_and_name() -> None:
    for doc in k8s_docs():
        if doc.get("kind") == "Kustomization":
            continue
        assert doc.get("apiVersion"), doc
        assert doc["metadata"]["name"], doc


def test_kustomization_lists_every_manifest_but_the_secret_templates() -> None:
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    listed = set(kustomization["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secrets.template.yaml"}
    assert all((K8S / name).is_file() for name in listed)


def test_the_collector_config_is_the_same_in_compose_and_k8s() -> None:
    config_map = k8s_kind("ConfigMap")["otel-collector"]
    in_k8s = yaml.safe_load(config_map["data"]["collector.yaml"])
    assert in_k8s == load_all(DEPLOY / "otel" / "collector.yaml")[0]
    pipeline = in_k8s["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert any(name.startswith("otlp/jaeger") for name in pipeline["exporters"])


# --- every service and relay, in compose and k8s ------------------------------------------------


def test_compose_names_all_services_their_workers_relays_and_the_infrastructure() -> None:
    services = compose()["services"]
    for service in SERVICES:
        assert services[service]["command"][:3] == ["python", "-m", f"services.{service}"]
        assert services[f"{service}-worker"]["command"] == services[service]["command"]
        assert services[f"{service}-relay"]["command"] == ["python", "-m", "libs.events.relay", "--service", service]
    for infra in ("kurrentdb", "kafka", "mongo", "gateway", "otel-collector", "jaeger"):
        assert infra in services, infra
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["mongo"]["image"].startswith("mongo:7")
    assert "--replSet" in services["mongo"]["command"]


def test_compose_runs_each_relay_and_worker_once() -> None:
    for name in (*RELAYS, *WORKERS):
        service = compose()["services"][name]
        assert service.get("deploy", {}).get("replicas", 1) == 1, name
        assert "ports" not in service
    for relay in RELAYS:
        assert "healthcheck" not in compose()["services"][relay]


def test_k8s_has_a_deployment_service_and_hpa_per_api_and_a_single_active_relay() -> None:
    deployments = k8s_kind("Deployment")
    k8s_services = k8s_kind("Service")
    hpas = k8s_kind("HorizontalPodAutoscaler")
    for service in SERVICES:
        api = deployments[service]
        assert k8s_container(api)["args"][:3] == ["python", "-m", f"services.{service}"]
        assert k8s_services[service]["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
        target = hpas[service]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", service)
        assert hpas[service]["spec"]["minReplicas"] >= 2

        relay = deployments[f"{service}-relay"]
        assert k8s_container(relay)["args"] == ["python", "-m", "libs.events.relay", "--service", service]
        assert relay["spec"]["replicas"] == 1
        assert relay["spec"]["strategy"] == {"type": "Recreate"}

        worker = deployments[f"{service}-worker"]
        assert k8s_container(worker)["args"] == k8s_container(api)["args"]
        assert worker["spec"]["replicas"] == 1
        assert worker["spec"]["strategy"] == {"type": "Recreate"}
        worker_labels = worker["spec"]["template"]["metadata"]["labels"]
        for selecting in k8s_services.values():
            selector = selecting["spec"].get("selector") or {}
            assert not selector.items() <= worker_labels.items(), f"Service {selecting['metadata']['name']} -> worker"
    scaled = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert not scaled & {*RELAYS, *WORKERS}, "a relay or worker must never be autoscaled"


# --- the consumers: one process per service -----------------------------------------------------


def test_compose_runs_each_services_consumers_in_its_worker_alone() -> None:
    for service in SERVICES:
        assert consumers_running(service, compose_env(service)) is False, service
        assert consumers_running(service, compose_env(f"{service}-worker")) is True, service
    assert compose_consumer_findings(compose()) == []


def test_k8s_runs_each_services_consumers_in_one_single_active_worker() -> None:
    for service in SERVICES:
        assert consumers_running(service, k8s_env(service)) is False, service
        assert consumers_running(service, k8s_env(f"{service}-worker")) is True, service
    assert k8s_consumer_findings(k8s_docs()) == []


def test_the_consumer_checks_catch_a_scaled_or_second_consumer() -> None:
    document = copy.deepcopy(compose())
    del document["services"]["billing"]["environment"]["BILLING_CONSUMERS"]  # the API back to the default: on
    document["services"]["payments-worker"]["deploy"] = {"replicas": 2}
    document["services"]["profile-worker"]["environment"]["PROFILE_CONSUMERS"] = "false"
    findings = " ".join(compose_consumer_findings(document))
    assert "2 containers run billing's consumers" in findings
    assert "payments-worker runs payments's consumers with more than one replica" in findings
    assert "0 containers run profile's consumers" in findings

    docs = copy.deepcopy(k8s_docs())
    deployments = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "Deployment"}
    k8s_container(deployments["billing"])["env"] = []
    deployments["payments-worker"]["spec"]["replicas"] = 2
    deployments["contracts-worker"]["spec"]["strategy"] = {"type": "RollingUpdate"}
    findings = " ".join(k8s_consumer_findings(docs))
    assert "2 Deployments run billing's consumers" in findings
    assert "payments-worker (runs payments's consumers): replicas is not 1" in findings
    assert "contracts-worker (runs contracts's consumers): strategy is not Recreate" in findings
    assert "billing (runs billing's consumers): replicas is not 1" in findings
    assert "billing (runs billing's consumers): has an HPA" in findings


# --- Kafka topics -------------------------------------------------------------------------------


def _kafka_partitions(env: ContainerEnv) -> int:
    """The partitions a process gives the topics it creates, as the cluster entry points read them."""
    environ = {**env.values, "KAFKA_BOOTSTRAP": "kafka:9092", "MONGO_URI": "mongodb://mongo:27017/"}
    return ClusterInfra.from_env(environ).kafka.partitions


def test_every_process_creates_topics_with_the_same_partitions() -> None:
    """Whichever process creates a topic first decides its partitions for good: they must all agree."""
    for envs in ([compose_env(name) for name, _ in _compose_processes()], [k8s_env(name) for name in _k8s_processes()]):
        assert all("KAFKA_PARTITIONS" in env.values for env in envs), [
            e.where for e in envs if "KAFKA_PARTITIONS" not in e.values
        ]
        assert {_kafka_partitions(env) for env in envs} == {3}


def _compose_processes() -> list[tuple[str, str]]:
    return [(name, service) for service in SERVICES for name in (service, f"{service}-worker", f"{service}-relay")]


def _k8s_processes() -> list[str]:
    return [name for service in SERVICES for name in (service, f"{service}-worker", f"{service}-relay")]


def test_each_relay_keeps_its_checkpoint_on_its_own_persistent_volume() -> None:
    claims = k8s_kind("PersistentVolumeClaim")
    for service in SERVICES:
        relay = k8s_kind("Deployment")[f"{service}-relay"]
        volumes = {v["name"]: v for v in relay["spec"]["template"]["spec"]["volumes"]}
        data_mount = next(m for m in k8s_container(relay)["volumeMounts"] if m["mountPath"] == "/data")
        claim = volumes[data_mount["name"]]["persistentVolumeClaim"]["claimName"]
        assert claims[claim]["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert k8s_env(f"{service}-relay").values[f"{service.upper()}_DATA_DIR"] == "/data"


def test_every_k8s_pod_turns_service_links_off_and_has_resources() -> None:
    """Service links would put IDENTITY_PORT=tcp://... and the like into every pod's environment."""
    for name, deployment in k8s_kind("Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        assert spec.get("enableServiceLinks") is False, name
        resources = k8s_container(deployment)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert {"cpu", "memory"} <= set(resources["limits"]), name


# --- environment = settings fields --------------------------------------------------------------


def _envs() -> list[tuple[str, ContainerEnv]]:
    found: list[tuple[str, ContainerEnv]] = []
    for service in SERVICES:
        for name in (service, f"{service}-worker", f"{service}-relay"):
            found.append((service, compose_env(name)))
            found.append((service, k8s_env(name)))
    return found


@pytest.mark.parametrize(("service", "env"), _envs(), ids=lambda value: getattr(value, "where", value))
def test_every_variable_is_a_settings_field_of_that_service(service: str, env: ContainerEnv) -> None:
    assert env.names, f"{env.where}: no environment at all"
    assert env_findings(service, env) == []


@pytest.mark.parametrize(("service", "env"), _envs(), ids=lambda value: getattr(value, "where", value))
def test_the_literal_values_are_valid_settings(
    service: str, env: ContainerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.values.items():
        monkeypatch.setenv(name, value)
    settings = SETTINGS[service]()
    prefix = service.upper() + "_"
    for name, value in env.values.items():
        if name.startswith(prefix) and value:
            assert getattr(settings, name.removeprefix(prefix).lower()) is not None


def test_every_service_reaches_the_servers_traces_and_keys() -> None:
    for service in SERVICES:
        prefix = service.upper()
        worker = f"{service}-worker"
        for env in (compose_env(service), k8s_env(service), compose_env(worker), k8s_env(worker)):
            assert {"EVENTSTORE_URI", "KAFKA_BOOTSTRAP", "MONGO_URI"} <= env.names, env.where
            assert {f"{prefix}_DATA_DIR", f"{prefix}_BACKOFFICE_TOKEN_SHA256"} <= env.names, env.where
            assert env.values[f"{prefix}_JWKS_LOCATION"].endswith("/.well-known/jwks.json"), env.where
            assert env.values[f"{prefix}_OTLP_ENDPOINT"] == "http://otel-collector:4318", env.where
            assert env.values[f"{prefix}_LOG_FORMAT"] == "json", env.where
        relay = k8s_env(f"{service}-relay")
        assert {"EVENTSTORE_URI", "KAFKA_BOOTSTRAP"} <= relay.names


def test_the_env_check_catches_unknown_and_foreign_variables() -> None:
    env = ContainerEnv(
        where="bad", names={"CONTRACTS_DATA_DIR", "CONTRACTS_NO_SUCH_FIELD", "BILLING_ISSUER_NAME", "RANDOM"}
    )
    findings = env_findings("contracts", env)
    assert len(findings) == 3
    assert all(name in " ".join(findings) for name in ("CONTRACTS_NO_SUCH_FIELD", "BILLING_ISSUER_NAME", "RANDOM"))
    env.missing.append("ConfigMap nowhere")
    assert len(env_findings("contracts", env)) == 4


def test_readme_names_every_variable_the_manifests_set() -> None:
    """Each name literally, or in its generic form: `<NAME>_DATA_DIR` for a field every service has,
    `<SERVICE>_UPSTREAM` for the gateway's upstreams."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    names = set(INFRA_ENV)
    for _, env in _envs():
        names |= env.names
    for template_env in k8s_container(k8s_kind("Deployment")["gateway"])["env"]:
        names.add(template_env["name"])
    prefixes = tuple(f"{service.upper()}_" for service in SERVICES)
    base_fields = set(ServiceSettings.model_fields)

    def documented(name: str) -> bool:
        if f"`{name}`" in readme:
            return True
        if name.endswith("_UPSTREAM"):
            return "`<SERVICE>_UPSTREAM`" in readme
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        field = name.removeprefix(prefix).lower() if prefix else ""
        return prefix is not None and field in base_fields and f"`<NAME>_{field.upper()}`" in readme

    assert sorted(name for name in names if not documented(name)) == []


# --- identity's keyring -------------------------------------------------------------------------


def _identity_k8s_keyring_findings(deployment: dict[str, Any]) -> list[str]:
    secrets_dir = k8s_env("identity").values["IDENTITY_SECRETS_DIR"]
    return k8s_keyring_findings(deployment, secrets_dir, k8s_kind("Secret"))


@pytest.mark.parametrize("name", ["identity", "identity-worker"])
def test_compose_mounts_identitys_signing_key_next_key_and_retired_keys(name: str) -> None:
    assert compose_keyring_findings(compose(), name) == []


@pytest.mark.parametrize("name", ["identity", "identity-worker"])
def test_k8s_mounts_identitys_signing_key_next_key_and_retired_keys_so_a_rotation_reaches_running_pods(
    name: str,
) -> None:
    assert _identity_k8s_keyring_findings(k8s_kind("Deployment")[name]) == []


def test_the_compose_keyring_check_catches_a_missing_or_wrong_mount() -> None:
    def broken(change: str) -> list[str]:
        document = copy.deepcopy(compose())
        identity = document["services"]["identity"]
        if change == "only the signing key":
            identity["secrets"] = [s for s in identity["secrets"] if s["target"] == "identity-signing-key.pem"]
            identity["volumes"] = ["identity-data:/data"]
        elif change == "next key from another file":
            document["secrets"]["identity_signing_key_next"]["file"] = "./secrets/keys/identity-signing-key.pem"
        elif change == "retired folder writable":
            identity["volumes"] = [
                "identity-data:/data",
                "./secrets/keys/identity-signing-keys:/run/secrets/identity-signing-keys",
            ]
        elif change == "retired folder in a named volume":
            identity["volumes"] = ["identity-data:/data", "retired:/run/secrets/identity-signing-keys:ro"]
        return compose_keyring_findings(document)

    assert len(broken("only the signing key")) == 2
    assert "identity-signing-key.next.pem" in " ".join(broken("only the signing key"))
    assert "identity-signing-keys" in " ".join(broken("only the signing key"))
    assert broken("next key from another file")
    assert "not read-only" in " ".join(broken("retired folder writable"))
    assert "not a bind mount" in " ".join(broken("retired folder in a named volume"))
    short_syntax = ["identity-data:/data", "./secrets/keys/identity-signing-keys:/run/secrets/identity-signing-keys:ro"]
    document = copy.deepcopy(compose())
    document["services"]["identity"]["volumes"] = short_syntax
    assert compose_keyring_findings(document) == []


def test_the_k8s_keyring_check_catches_a_missing_frozen_or_unknown_mount() -> None:
    def broken(change: str) -> list[str]:
        deployment = copy.deepcopy(k8s_kind("Deployment")["identity"])
        spec = deployment["spec"]["template"]["spec"]
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = k8s_container(deployment)["volumeMounts"]
        keys_sources = volumes["keys"]["projected"]["sources"]
        if change == "only the signing key":
            del keys_sources[1]
            mounts[:] = [mount for mount in mounts if mount["name"] != "retired-signing-keys"]
        elif change == "retired keys as items":
            volumes["retired-signing-keys"]["secret"]["items"] = [{"key": "0123.pem", "path": "0123.pem"}]
        elif change == "subPath":
            mounts[:] = [mount for mount in mounts if mount["name"] != "keys"]
            for name in ("identity-signing-key.pem", "identity-signing-key.next.pem"):
                mount = {"name": "keys", "mountPath": f"/var/run/strefa/keys/{name}", "subPath": name, "readOnly": True}
                mounts.append(mount)
        elif change == "optional signing key":
            keys_sources[0]["secret"]["optional"] = True
        elif change == "unknown Secret":
            volumes["retired-signing-keys"]["secret"]["secretName"] = "no-such-secret"
        return _identity_k8s_keyring_findings(deployment)

    only_current = " ".join(broken("only the signing key"))
    assert "identity-signing-key.next.pem" in only_current
    assert "identity-signing-keys" in only_current
    assert "not a whole Secret" in " ".join(broken("retired keys as items"))
    assert " ".join(broken("subPath")).count("subPath") == 2
    assert "optional" in " ".join(broken("optional signing key"))
    assert "no-such-secret is not in secrets.template.yaml" in " ".join(broken("unknown Secret"))


# --- metrics ------------------------------------------------------------------------------------


def _processes() -> list[str]:
    return _k8s_processes()


@pytest.mark.parametrize("name", _processes())
def test_every_service_worker_and_relay_serves_metrics_in_compose(name: str) -> None:
    assert compose_metrics_findings(name, compose()["services"][name], compose_env(name)) == []


@pytest.mark.parametrize("name", _processes())
def test_every_service_worker_and_relay_serves_metrics_on_a_declared_port_in_k8s(name: str) -> None:
    assert k8s_metrics_findings(k8s_kind("Deployment")[name], k8s_env(name)) == []


def test_the_metrics_checks_catch_an_unset_unreachable_or_undeclared_endpoint() -> None:
    relay = k8s_kind("Deployment")["billing-relay"]
    unset = ContainerEnv(where="bad", values={"BILLING_DATA_DIR": "/data"})
    assert "BILLING_METRICS_LISTEN is not set" in " ".join(k8s_metrics_findings(relay, unset))
    loopback = ContainerEnv(where="bad", values={"BILLING_METRICS_LISTEN": "127.0.0.1:9464"})
    assert "cannot be scraped" in " ".join(k8s_metrics_findings(relay, loopback))
    other_port = ContainerEnv(where="bad", values={"BILLING_METRICS_LISTEN": "0.0.0.0:9465"})
    findings = " ".join(k8s_metrics_findings(relay, other_port))
    assert "no container port named metrics" in findings
    assert "prometheus.io/port" in findings
    undeclared = copy.deepcopy(relay)
    del k8s_container(undeclared)["ports"]
    del undeclared["spec"]["template"]["metadata"]["annotations"]
    assert len(k8s_metrics_findings(undeclared, k8s_env("billing-relay"))) == 4

    service = copy.deepcopy(compose()["services"]["billing"])
    on_api_port = ContainerEnv(where="bad", values={"BILLING_METRICS_LISTEN": "0.0.0.0:8000"})
    assert "API's port" in " ".join(compose_metrics_findings("billing", service, on_api_port))
    service["ports"] = ["127.0.0.1:9464:9464"]
    assert "published" in " ".join(compose_metrics_findings("billing", service, compose_env("billing")))
    assert compose_metrics_findings("billing", service, unset)


# --- probes -------------------------------------------------------------------------------------


def test_k8s_api_and_worker_probes_hit_healthz_and_readyz_on_the_service_port() -> None:
    for name in (*SERVICES, *WORKERS):
        container = k8s_container(k8s_kind("Deployment")[name])
        port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in port_names
        assert "--port" in container["args"]
        assert str(port_names["http"]) == container["args"][container["args"].index("--port") + 1]


def test_compose_healthchecks_hit_readyz_and_the_gateway_waits_for_them() -> None:
    services = compose()["services"]
    for service in SERVICES:
        for name in (service, f"{service}-worker"):
            check = " ".join(services[name]["healthcheck"]["test"])
            assert "http://127.0.0.1:8000/readyz" in check
        assert services["gateway"]["depends_on"][service] == {"condition": "service_healthy"}


# --- blobs: one shared volume per service -------------------------------------------------------


def _app_user_folders() -> set[str]:
    return image_folders_of_the_app_user((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_the_blob_checks_cover_every_service_that_keeps_files() -> None:
    assert services_building_file_blob_stores() == set(BLOB_STORES)


def test_k8s_keeps_each_services_blobs_on_one_read_write_many_claim_mounted_by_all_its_pods() -> None:
    """A document stored through one API replica is read through another, by the worker's orphan
    sweep, and after the pod that stored it is gone."""
    assert k8s_blob_findings(k8s_docs()) == []
    for service in BLOB_STORES:
        # the API replicas and the worker use one folder (the relay never reads a blob)
        roots = {blob_root(service, k8s_env(name).values) for name in (service, f"{service}-worker")}
        assert len(roots) == 1, roots


def test_compose_keeps_each_services_blobs_on_one_named_volume_of_its_api_and_worker() -> None:
    assert compose_blob_findings(compose(), _app_user_folders()) == []


def test_the_image_gives_its_user_the_data_and_blob_folders() -> None:
    assert {"/data", "/data/blobs", "/blobs"} <= _app_user_folders()
    assert image_folders_of_the_app_user("FROM python:3.11-slim AS app\nRUN mkdir -p /data/blobs\n") == set()


def test_the_k8s_blob_check_catches_blobs_on_a_per_pod_or_unshared_volume() -> None:
    def broken(change: str) -> str:
        docs = copy.deepcopy(k8s_docs())
        deployments = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "Deployment"}
        claims = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "PersistentVolumeClaim"}
        config_maps = {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == "ConfigMap"}

        def volumes(name: str) -> dict[str, dict[str, Any]]:
            return {volume["name"]: volume for volume in deployments[name]["spec"]["template"]["spec"]["volumes"]}

        def mounts(name: str) -> list[dict[str, Any]]:
            mounted: list[dict[str, Any]] = k8s_container(deployments[name])["volumeMounts"]
            return mounted

        if change == "billing as it was: the PDFs in the data emptyDir":
            for name in ("billing", "billing-worker"):
                mounts(name)[:] = [mount for mount in mounts(name) if mount["name"] != "blobs"]
        elif change == "the worker's blobs in an emptyDir":
            blobs = volumes("billing-worker")["blobs"]
            del blobs["persistentVolumeClaim"]
            blobs["emptyDir"] = {}
        elif change == "the claim ReadWriteOnce":
            claims["profile-blobs"]["spec"]["accessModes"] = ["ReadWriteOnce"]
        elif change == "the worker on a claim of its own":
            volumes("profile-worker")["blobs"]["persistentVolumeClaim"]["claimName"] = "profile-worker-blobs"
        elif change == "the worker in a subfolder of the claim":
            next(mount for mount in mounts("profile-worker") if mount["name"] == "blobs")["subPath"] = "worker"
        elif change == "the blob folder moved off the claim":
            config_maps["profile-config"]["data"]["PROFILE_BLOB_DIR"] = "/data/blobs"
        elif change == "no fsGroup":
            del deployments["billing"]["spec"]["template"]["spec"]["securityContext"]["fsGroup"]
        elif change == "the claim missing":
            docs = tuple(doc for doc in docs if doc is not claims["billing-blobs"])
        return " ".join(k8s_blob_findings(docs))

    as_it_was = broken("billing as it was: the PDFs in the data emptyDir")
    for name in ("billing", "billing-worker"):
        assert f"Deployment {name}: billing's blob folder /data/blobs is on the emptyDir volume data" in as_it_was
    assert "no process keeps billing's blobs on a shared volume" in as_it_was
    assert "billing-worker: billing's blob folder /data/blobs is on the emptyDir volume blobs" in broken(
        "the worker's blobs in an emptyDir"
    )
    assert "profile-blobs: accessModes ['ReadWriteOnce'], not [ReadWriteMany]" in broken("the claim ReadWriteOnce")
    assert "profile's processes keep blobs in different places" in broken("the worker on a claim of its own")
    assert "PersistentVolumeClaim profile-worker-blobs does not exist" in broken("the worker on a claim of its own")
    assert "profile's processes keep blobs in different places" in broken("the worker in a subfolder of the claim")
    moved = broken("the blob folder moved off the claim")
    assert "Deployment profile: profile's blob folder /data/blobs is on the emptyDir volume data" in moved
    assert "Deployment billing: fsGroup is None, not 10001" in broken("no fsGroup")
    assert "PersistentVolumeClaim billing-blobs does not exist" in broken("the claim missing")


def test_the_compose_blob_check_catches_blobs_a_container_keeps_alone_or_cannot_write() -> None:
    def broken(change: str, folders: set[str] | None = None) -> str:
        document = copy.deepcopy(compose())
        services = document["services"]
        if change == "a volume per container":
            services["billing-worker"]["volumes"] = ["billing-worker-data:/data", "billing-worker-blobs:/data/blobs"]
            document["volumes"] |= {"billing-worker-data": None, "billing-worker-blobs": None}
        elif change == "an anonymous volume":
            services["profile"]["volumes"] = ["profile-data:/data", "/blobs"]
        elif change == "a tmpfs":
            services["profile-worker"]["volumes"] = ["profile-data:/data"]
            services["profile-worker"]["tmpfs"] = [*services["profile-worker"]["tmpfs"], "/blobs"]
        elif change == "an undeclared volume":
            del document["volumes"]["billing-data"]
        return " ".join(compose_blob_findings(document, _app_user_folders() if folders is None else folders))

    assert "billing's processes keep blobs in different places" in broken("a volume per container")
    assert "services.profile: profile's blob folder /blobs is on a anonymous volume" in broken("an anonymous volume")
    assert "services.profile-worker: profile's blob folder /blobs is on a tmpfs" in broken("a tmpfs")
    assert "the volume billing-data is not declared" in broken("an undeclared volume")
    no_blob_folder = broken("as is", _app_user_folders() - {"/data"})
    assert "services.billing: the image has no folder /data of its user" in no_blob_folder


# --- no inline secret ---------------------------------------------------------------------------


def _all_documents() -> list[tuple[str, Any]]:
    documents: list[tuple[str, Any]] = [
        (f"{_id(path)}#{index}", doc) for path in yaml_files() for index, doc in enumerate(load_all(path))
    ]
    for path in sorted(SECRETS_EXAMPLE.glob("*.env")):
        documents.append((_id(path), read_env_file(path)))
    return documents


@pytest.mark.parametrize(
    ("where", "document"), _all_documents(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_no_manifest_holds_an_inline_secret(where: str, document: Any) -> None:
    assert secret_findings(document, where) == []


def test_no_raw_text_holds_a_key_or_a_password_assignment() -> None:
    """The parsed checks miss comments; the raw text must not have them either."""
    for path in [*yaml_files(), *SECRETS_EXAMPLE.glob("*.env"), DEPLOY / "Dockerfile"]:
        text = path.read_text(encoding="utf-8")
        assert "-----BEGIN" not in text, path
        assert not re.search(r"(?i)password[ \t]*[:=][ \t]*['\"]?[A-Za-z0-9!@#$%^&*]{6,}", text), path


def test_the_secret_check_catches_inline_values() -> None:
    bad_compose = {"services": {"x": {"environment": {"MONGO_INITDB_ROOT_PASSWORD": "hunter22", "OK": "1"}}}}
    assert len(secret_findings(bad_compose, "compose")) == 1
    bad_env = {"spec": {"containers": [{"env": [{"name": "PAYMENTS_PAYU_CLIENT_SECRET", "value": "s3cr3t"}]}]}}
    assert secret_findings(bad_env, "k8s")
    bad_secret = {"kind": "Secret", "metadata": {"name": "x"}, "stringData": {"TOKEN": "abc"}}
    assert secret_findings(bad_secret, "k8s")
    assert secret_findings({"MONGO_URI": "mongodb://admin:pa55@mongo:27017/"}, "env")
    assert secret_findings({"IDENTITY_BACKOFFICE_TOKEN_SHA256": "a" * 64}, "env")
    assert secret_findings({"x": {"password": "letmein"}}, "any")
    assert secret_findings({"X_SECRETS_DIR": "/run/secrets", "Y_SECRET": "/run/x"}, "dir") == [
        "dir.Y_SECRET: secret-named Y_SECRET has an inline value"
    ]
    fine = {"secretName": "strefa-keys", "X_TOKEN": "", "Y_PASSWORD": "${Y_PASSWORD}", "MONGO_URI": "mongodb://m/"}
    assert secret_findings(fine, "fine") == []


def test_secrets_stay_out_of_the_repository() -> None:
    compose_file = COMPOSE.read_text(encoding="utf-8")
    assert "./secrets/" in compose_file
    for service in SERVICES:
        assert f"./secrets/{service}.env" in compose_file
        assert (SECRETS_EXAMPLE / f"{service}.env").is_file()
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    assert "secrets.template.yaml" not in kustomization["resources"]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a checkout")
def test_the_filled_in_secrets_are_gitignored() -> None:
    git = shutil.which("git")
    assert git is not None
    for path in ("deploy/secrets/infra.env", "deploy/secrets/payments.env", "deploy/secrets/keys/identity-code-pepper"):
        result = subprocess.run(  # noqa: S603
            [git, "-C", str(ROOT), "check-ignore", "-q", path], capture_output=True, check=False, timeout=30
        )
        assert result.returncode == 0, f"{path} is not ignored by git"
