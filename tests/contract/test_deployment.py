"""The deployment files agree with the code: every manifest and the compose file parse, name real processes,
ports and settings, and keep secrets out.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from pydantic_settings import BaseSettings
from redis.crc import key_slot

from cpted.cli import app as cli
from cpted.dev import Ports
from services.metrics.tasks import on_rabbitmq
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
APIS = ("audits", "events", "metrics")
SECRET_NAME = "cpted-secrets"
OTHER_ENV = {"MPLCONFIGDIR"}
"""Variables the image reads that are not the platform's settings."""


def _settings_classes() -> list[type[BaseSettings]]:
    modules = ["shared.settings", "services.metrics.cswb.settings", "services.audits.photos.settings"]
    modules += [f"services.{p.parent.name}.settings" for p in sorted((ROOT / "services").glob("*/settings.py"))]
    found = []
    for name in modules:
        module = importlib.import_module(name)
        found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, BaseSettings)]
    return [cls for cls in found if cls is not BaseSettings]


SETTINGS = {
    f"{cls.model_config['env_prefix']}{field.upper()}" for cls in _settings_classes() for field in cls.model_fields
}


def _docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


DOCS = _docs()


def _kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in DOCS if d.get("kind") == kind}


DEPLOYMENTS, SERVICES, STATEFULSETS = _kind("Deployment"), _kind("Service"), _kind("StatefulSet")
CONFIG = {"cpted-config": _kind("ConfigMap")["cpted-config"]}
"""The platform's settings (rabbitmq.yaml has a ConfigMap of RabbitMQ's own)."""
WORKLOADS = {**DEPLOYMENTS, **_kind("Job")}
POLICIES = _kind("NetworkPolicy")
WORKERS = ("relay-audits", "relay-events", "consumer", "celery-worker", "celery-beat")
"""The processes without an API: their probes are the heartbeat server's (shared/bus/health.py)."""
DATA_STORES = {"postgresql": 5432, "redis": 6379, "rabbitmq": 5672}
INGRESS_NAMESPACE = "ingress-nginx"


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def _port_of(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


def _check_process(command: list[str]) -> None:
    """The command starts a process the code has: an app factory, the Celery app, or a `cpted` command."""
    if command[0] == "uvicorn":
        module, _, factory = next(arg for arg in command if ":create_app" in arg).partition(":")
        assert callable(getattr(importlib.import_module(module), factory))
    elif command[0] == "celery":
        module, _, name = command[command.index("-A") + 1].partition(":")
        assert getattr(importlib.import_module(module), name).main == "metrics"
        assert command[command.index("-A") + 2] in ("worker", "beat")
    else:
        assert command[0] == "cpted", command
        assert command[1] in typer.main.get_command(cli).commands, command  # type: ignore[attr-defined]
        if command[1] == "relay":
            assert command[2] in ("audits", "events")


def test_every_manifest_parses_and_every_workload_names_a_real_process_with_resources() -> None:
    assert {"audits", "events", "metrics", "relay-audits", "relay-events", "consumer"} <= set(DEPLOYMENTS)
    assert {"celery-worker", "celery-beat"} <= set(DEPLOYMENTS)
    for name, workload in WORKLOADS.items():
        for container in _containers(workload):
            _check_process(container["command"])
            for bound in ("requests", "limits"):
                resources = container["resources"][bound]
                assert resources.get("cpu") and resources.get("memory"), (name, bound)
            assert container["image"] == "cpted-platform", name


def test_the_apis_scale_out_behind_services_with_health_probes() -> None:
    for name in APIS:
        deployment, service = DEPLOYMENTS[name], SERVICES[name]
        assert deployment["spec"]["replicas"] > 1
        (container,) = _containers(deployment)
        port = _port_of(container["command"])
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": port}
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["targetPort"] in ("http", port)


def test_consumers_and_relays_run_several_replicas_and_beat_exactly_one() -> None:
    for name in ("consumer", "relay-audits", "relay-events", "celery-worker"):
        assert DEPLOYMENTS[name]["spec"]["replicas"] > 1, name
    (consumer,) = _containers(DEPLOYMENTS["consumer"])
    naming = next(e for e in consumer["env"] if e["name"] == "CPTED_CONSUMER_NAME")
    assert naming["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"  # one distinct consumer per pod
    beat = DEPLOYMENTS["celery-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"


def test_every_variable_the_manifests_set_is_a_setting_and_secrets_come_from_the_secret() -> None:
    (config,) = CONFIG.values()
    assert set(config["data"]) <= SETTINGS | OTHER_ENV
    for name, workload in WORKLOADS.items():
        for container in _containers(workload):
            assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == ["cpted-config"]
            for env in container.get("env", []):
                assert env["name"] in SETTINGS, (name, env["name"])
                secret = env.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret["name"] == SECRET_NAME
                    assert f"CPTED_{secret['key'].replace('-', '_').upper()}" == env["name"]
    assert not _kind("Secret"), "secrets are created outside version control"


def test_service_urls_in_the_config_point_at_services_and_ports_that_exist() -> None:
    (config,) = CONFIG.values()
    for api in APIS:
        url = config["data"][f"CPTED_{api.upper()}_URL"]
        host, port = re.fullmatch(r"http://([a-z-]+):(\d+)", url).groups()  # type: ignore[union-attr]
        assert host == api and int(port) in [p["port"] for p in SERVICES[api]["spec"]["ports"]]


def _same_slot(prefix: str) -> bool:
    settings = Settings(stream_prefix=prefix)
    keys = [settings.stream("audits"), settings.stream("events"), settings.dead_letter_stream]
    return len({key_slot(k.encode()) for k in keys}) == 1


def test_stream_keys_share_one_redis_cluster_slot_through_a_hash_tag() -> None:
    (config,) = CONFIG.values()
    compose_env = _compose()["x-app"]["environment"]
    example = _env_example()
    for prefix in (
        config["data"]["CPTED_STREAM_PREFIX"],
        compose_env["CPTED_STREAM_PREFIX"],
        example["CPTED_STREAM_PREFIX"],
    ):
        assert re.search(r"\{[^}]+\}", prefix) and _same_slot(prefix), prefix
    assert not _same_slot("cpted")  # why the tag is needed


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def _env_example() -> dict[str, str]:
    lines = (ROOT / "deploy" / "env.example").read_text().splitlines()
    pairs = [line.lstrip("# ").split("=", 1) for line in lines if re.match(r"#? ?CPTED_[A-Z0-9_]+=", line)]
    return {k: v for k, v in pairs}


def _interpolated() -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))


def test_compose_runs_every_process_on_the_documented_ports() -> None:
    services = _compose()["services"]
    servers = {"postgres", "redis", "rabbitmq"}
    expected = {*servers, "migrate", *APIS, "relay-audits", "relay-events", "consumer", "worker", "beat"}
    assert expected <= set(services)
    defaults = Ports()
    for api in APIS:
        port = _port_of(services[api]["command"])
        assert services[api]["ports"] == [f"{getattr(defaults, api)}:{port}"]
    for name, service in services.items():
        if name not in servers:
            _check_process(service["command"])
            assert set(service["environment"]) <= SETTINGS, name


def test_compose_starts_things_in_order_and_checks_their_health() -> None:
    services = _compose()["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services and rule["condition"] in conditions, (name, dependency)
            if rule["condition"] == "service_healthy":
                assert "test" in services[dependency]["healthcheck"], dependency
        serves_http = service.get("command", [""])[0] == "uvicorn"  # the image's HEALTHCHECK applies
        assert serves_http or "healthcheck" in service, name
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "--appendonly" in services["redis"]["command"]


def test_no_secret_is_written_in_compose_and_the_env_example_names_only_settings() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}", text):
        if re.search("PASSWORD|SECRET|TOKEN", match.group(1)):
            assert (match.group(2) or "").startswith(":?"), f"{match.group(0)} has a default value"
    for key, value in yaml.safe_load(text)["x-app"]["environment"].items():
        if re.search("PASSWORD|SECRET|TOKEN", key):
            pytest.fail(f"{key} is set in docker-compose.yml: {value}")
    example = _env_example()
    assert set(example) <= SETTINGS | _interpolated()
    assert {"CPTED_CSWB_SIGNING_SECRET", "CPTED_CSWB_DESTINATIONS", "CPTED_DATABASE_URL"} <= set(example)


def test_the_image_is_slim_runs_as_a_user_and_checks_its_health() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    assert final.startswith("python:3.11-slim")
    assert re.search(r"^USER (?!0\b|root\b)\S+", final, re.M)
    assert re.search(r"^HEALTHCHECK .*", final, re.M) and "/healthz" in final
    assert "OPENBLAS_NUM_THREADS=1" in final, "the estimators run with one BLAS thread"


def test_every_manifest_is_valid_kubernetes_in_strict_mode() -> None:
    """Unknown fields (a misspelt probe, say) are errors, not silently ignored as kubectl apply would."""
    version = kubernetes_validate.latest_version()
    for doc in DOCS:
        if doc["kind"] != "Kustomization":
            kubernetes_validate.validate(doc, version, strict=True)  # raises, naming the field
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}, "a manifest kustomize skips"


def _probes(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kind: container[f"{kind}Probe"] for kind in ("startup", "liveness", "readiness")}


def test_every_deployment_has_startup_liveness_and_readiness_probes_that_hold_under_load() -> None:
    for name, deployment in DEPLOYMENTS.items():
        (container,) = _containers(deployment)
        probes = _probes(container)
        ports = {p["name"] for p in container["ports"]}
        for kind, probe in probes.items():
            assert probe["httpGet"]["port"] in ports, (name, kind)
            assert probe["timeoutSeconds"] >= 5, (name, kind)  # the default 1 s fails a busy pod that is fine
        assert probes["startup"]["httpGet"]["path"] == probes["liveness"]["httpGet"]["path"] == "/healthz", name
        assert probes["readiness"]["httpGet"]["path"] == "/readyz", name
        startup = probes["startup"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, name  # slow imports on a busy node
        assert "initialDelaySeconds" not in probes["liveness"], name  # the startup probe holds it back


def test_workers_answer_their_probes_on_the_heartbeat_port_in_kubernetes_and_compose() -> None:
    compose = _compose()["services"]
    compose_names = {"celery-worker": "worker", "celery-beat": "beat"}
    for name in WORKERS:
        (container,) = _containers(DEPLOYMENTS[name])
        port = int(next(e["value"] for e in container["env"] if e["name"] == "CPTED_HEALTH_PORT"))
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"health": port}, name
        assert {probe["httpGet"]["port"] for probe in _probes(container).values()} == {"health"}, name
        service = compose[compose_names.get(name, name)]
        assert service["environment"]["CPTED_HEALTH_PORT"] == str(port), name
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"]), name


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, and matchExpressions with In) picks pods with these labels."""
    if not selector:
        return True
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _admitting(labels: dict[str, str]) -> list[dict[str, Any]]:
    """The policies that let something in to pods with these labels (a deny-all admits nothing)."""
    admitting = [p["spec"] for p in POLICIES.values() if "Ingress" in p["spec"]["policyTypes"]]
    return [spec for spec in admitting if spec.get("ingress") and _selects(spec["podSelector"], labels)]


def _sources(policies: list[dict[str, Any]], port: int | str | None = None) -> list[dict[str, Any]]:
    """Who may reach ``port`` (any port: None) of the pods these policies select."""
    return [
        peer for policy in policies for rule in policy["ingress"]
        if port is None or any(p["port"] == port for p in rule.get("ports", [])) for peer in rule["from"]
    ]  # fmt: skip


def test_nothing_is_reachable_but_what_a_network_policy_lets_in() -> None:
    deny = [p for p in POLICIES.values() if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    for name, service in SERVICES.items():  # every Service is reached through a policy of its own pods
        assert _admitting(service["spec"]["selector"]), f"no network policy lets anything in to Service {name}"
    platform = {"app.kubernetes.io/part-of": "cpted"}
    for api in APIS:
        labels = DEPLOYMENTS[api]["spec"]["template"]["metadata"]["labels"]
        peers = _sources(_admitting(labels), "http")
        assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}} in peers
        assert {"podSelector": {"matchLabels": platform}} in peers
    for name in WORKERS:  # the workers serve no one: only Prometheus reaches their health port
        labels = DEPLOYMENTS[name]["spec"]["template"]["metadata"]["labels"]
        peers = _sources(_admitting(labels))
        assert peers == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}], name


def test_postgresql_redis_and_rabbitmq_are_reached_from_the_platforms_pods_only() -> None:
    for store, port in DATA_STORES.items():
        labels = {"app.kubernetes.io/name": store}
        peers = _sources(_admitting(labels), port)
        assert {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "cpted"}}} in peers, store
        for peer in peers:  # pods of this namespace only: the platform's, or the store's own replicas
            assert set(peer) == {"podSelector"}, (store, peer)
            assert peer["podSelector"]["matchLabels"] in ({"app.kubernetes.io/part-of": "cpted"}, labels), store


def _target(kind: str) -> dict[str, dict[str, Any]]:
    return {d["spec"]["scaleTargetRef"]["name"]: d for d in _kind(kind).values() if "scaleTargetRef" in d["spec"]}


def test_the_apis_and_the_consumer_autoscale_and_no_drain_takes_every_replica() -> None:
    autoscalers = _target("HorizontalPodAutoscaler")
    assert set(autoscalers) == {*APIS, "consumer"}
    for name, hpa in autoscalers.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert spec["minReplicas"] == DEPLOYMENTS[name]["spec"]["replicas"] < spec["maxReplicas"], name
        (container,) = _containers(DEPLOYMENTS[name])
        assert container["resources"]["requests"]["cpu"], "utilisation is measured against the request"
    budgets = _kind("PodDisruptionBudget")
    for name, deployment in DEPLOYMENTS.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets.values() if _selects(b["spec"]["selector"], labels)]
        if deployment["spec"]["replicas"] > 1:
            (budget,) = covering
            allowed = budget["spec"].get(
                "maxUnavailable", deployment["spec"]["replicas"] - budget["spec"].get("minAvailable", 0)
            )
            assert 0 < allowed < deployment["spec"]["replicas"], name
        else:  # one replica: a budget would block every drain of its node
            assert not covering, name


def test_the_ingress_routes_one_host_to_each_api() -> None:
    (ingress,) = _kind("Ingress").values()
    backends = {rule["host"]: rule["http"]["paths"][0]["backend"]["service"] for rule in ingress["spec"]["rules"]}
    assert sorted(b["name"] for b in backends.values()) == sorted(APIS)
    for backend in backends.values():
        assert backend["port"]["name"] in [p["name"] for p in SERVICES[backend["name"]]["spec"]["ports"]]
    assert set(backends) == set(ingress["spec"]["tls"][0]["hosts"])


def test_one_image_tag_everywhere_from_the_build_argument() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    (default,) = re.findall(r"^ARG CPTED_VERSION=(\S+)$", final, re.M)
    app = _compose()["x-app"]
    assert app["image"] == f"cpted-platform:${{CPTED_VERSION:-{default}}}"
    assert app["build"]["args"] == {"CPTED_VERSION": f"${{CPTED_VERSION:-{default}}}"}
    (image,) = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]
    assert image == {"name": "cpted-platform", "newTag": default}
    for name, workload in WORKLOADS.items():
        assert {c["image"] for c in _containers(workload)} == {"cpted-platform"}, name  # the tag is kustomize's


def _env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_kubernetes_runs_celery_on_a_three_node_rabbitmq_with_a_volume_each() -> None:
    (config,) = CONFIG.values()
    url = config["data"]["CPTED_CELERY_BROKER_URL"]
    assert on_rabbitmq(url) and not re.search(r"//[^@/]*:[^@/]*@", url), "the password is never in the ConfigMap"
    host, port = re.fullmatch(r"amqps?://[^@]+@([a-z-]+):(\d+)/\w+", url).groups()  # type: ignore[union-attr]
    rabbitmq = STATEFULSETS["rabbitmq"]
    labels = rabbitmq["spec"]["template"]["metadata"]["labels"]
    assert rabbitmq["metadata"]["labels"]["app.kubernetes.io/name"] == labels["app.kubernetes.io/name"] == "rabbitmq"
    assert rabbitmq["spec"]["replicas"] >= 3 and rabbitmq["spec"]["replicas"] % 2 == 1  # a quorum survives one
    (claim,) = rabbitmq["spec"]["volumeClaimTemplates"]
    (container,) = _containers(rabbitmq)
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/rabbitmq"} in container["volumeMounts"]
    assert SERVICES[rabbitmq["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    service = SERVICES[host]
    assert service["spec"]["selector"].items() <= labels.items()
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    password = _env_of(container)["RABBITMQ_DEFAULT_PASS"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": SECRET_NAME, "key": "celery-broker-password"}
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert "rabbitmq.yaml" in kustomization["resources"]


def test_every_process_that_sends_tasks_has_the_brokers_password() -> None:
    # the metrics API queues redeliveries, the consumer webhook deliveries, beat the schedule, workers retries
    for name in ("metrics", "consumer", "celery-worker", "celery-beat"):
        (container,) = _containers(DEPLOYMENTS[name])
        ref = _env_of(container).get("CPTED_CELERY_BROKER_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
        assert ref == {"name": SECRET_NAME, "key": "celery-broker-password"}, name


def test_compose_runs_celery_on_rabbitmq_once_it_is_healthy() -> None:
    compose = _compose()
    services = compose["services"]
    url = compose["x-app"]["environment"]["CPTED_CELERY_BROKER_URL"]
    assert on_rabbitmq(url)
    host = re.fullmatch(r"amqp://[a-z]+@([a-z-]+):5672/\w+", url).group(1)  # type: ignore[union-attr]
    rabbitmq = services[host]
    assert rabbitmq["image"].startswith("rabbitmq:") and "test" in rabbitmq["healthcheck"]
    assert "CPTED_CELERY_BROKER_PASSWORD" in rabbitmq["environment"]["RABBITMQ_DEFAULT_PASS"]
    assert any(v.endswith(":/var/lib/rabbitmq") for v in rabbitmq["volumes"])
    for name in ("worker", "beat", "metrics", "consumer"):
        assert services[name]["depends_on"][host]["condition"] == "service_healthy", name


def test_each_api_runs_as_many_processes_as_the_cores_it_may_use() -> None:
    for name in APIS:
        (container,) = _containers(DEPLOYMENTS[name])
        command = container["command"]
        workers = int(command[command.index("--workers") + 1])
        assert workers == int(container["resources"]["limits"]["cpu"]), name
