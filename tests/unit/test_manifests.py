"""deploy/k8s without a cluster: the kustomizations render (as kubectl would), every object is valid
Kubernetes, every service gets each PORTAL_* variable it cannot start without, probes, ports,
resources and migrations are where the services expect them, the network policies admit exactly
who DESIGN.md says, and no file holds a secret. The NATS Helm values carry cluster.conf and
accounts.conf as they are."""

import re

import kubernetes_validate
import pytest
import yaml

from deploy.nats_local import ACCOUNTS_CONF
from runtime.settings import DatabaseUrlSettings
from services.accounts.settings import Settings as AccountsSettings
from services.gateway.settings import Settings as GatewaySettings
from services.notifications.settings import Settings as NotificationsSettings
from services.pins.settings import Settings as PinsSettings
from tests.support.manifests import (
    K8S,
    KUSTOMIZATIONS,
    LITERAL_SECRETS,
    ROOT,
    SECRET_NAMES,
    by_identity,
    conf_variables,
    containers,
    env_names,
    env_value,
    find,
    known_variables,
    kubectl_kustomize,
    kustomize,
    pod_spec,
    required_variables,
    selects,
)

SERVICES = {
    "gateway": GatewaySettings,
    "accounts": AccountsSettings,
    "pins": PinsSettings,
    "notifications": NotificationsSettings,
}
WITH_DATABASE = ("accounts", "pins", "notifications")
# the oldest Kubernetes the manifests promise to work on, and the newest the validator knows
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
# custom resources of operators the manifests rely on: no schema in kubernetes-validate, so the
# fields their operators cannot do without are checked here
CUSTOM_RESOURCES = {
    ("postgresql.cnpg.io/v1", "Cluster"): lambda spec: spec["instances"] >= 1 and spec["storage"]["size"],
    ("monitoring.coreos.com/v1", "ServiceMonitor"): lambda spec: spec["endpoints"] and spec["selector"],
    ("monitoring.coreos.com/v1", "PodMonitor"): lambda spec: spec["podMetricsEndpoints"] and spec["selector"],
}
NATS_VALUES = K8S / "nats" / "values.yaml"
DEPLOY_README = ROOT / "deploy" / "README.md"
ARGON2_MIB_PER_HASH = 19  # DESIGN.md: argon2id at m = 19 MiB


def mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity) / 2**20


@pytest.fixture(scope="module", params=list(KUSTOMIZATIONS))
def rendered(request) -> list[dict]:
    return kustomize(KUSTOMIZATIONS[request.param])


@pytest.mark.parametrize("name", list(KUSTOMIZATIONS))
def test_the_python_reading_renders_what_kubectl_kustomize_renders(name):
    ours = by_identity(kustomize(KUSTOMIZATIONS[name]))
    theirs = kubectl_kustomize(KUSTOMIZATIONS[name])
    if theirs is None:
        pytest.skip("kubectl is not installed: the Python reading stands alone")
    assert by_identity(theirs) == ours


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(rendered, version):
    checked = 0
    for obj in rendered:
        custom = CUSTOM_RESOURCES.get((obj["apiVersion"], obj["kind"]))
        if custom is not None:
            assert obj["metadata"]["name"] and custom(obj["spec"]), f"{obj['kind']}/{obj['metadata']['name']}"
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}")
        checked += 1
    assert checked >= 20


def test_every_part_runs_from_the_one_image_with_its_command(rendered):
    commands = {}
    for obj in rendered:
        spec = pod_spec(obj)
        if spec:
            for container in spec.get("initContainers", []) + spec["containers"]:
                commands[(obj["metadata"]["name"], container["name"])] = container["args"]
    for name in SERVICES:
        assert commands[(name, name)] == ["python", "-m", f"services.{name}"]
    for name in WITH_DATABASE:
        assert commands[(name, "migrate")] == ["python", "-m", f"services.{name}", "migrate"]
    assert commands[("printshop", "printshop")] == ["python", "-m", "deploy.printshop"]
    assert commands[("nats-streams", "streams")] == ["python", "-m", "deploy.streams", "--replicas", "3"]
    images = {c["image"] for c in containers(rendered)}
    assert len(images) == 1 and images.pop().split("/")[-1].split(":")[0] == "kundenportal"


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_gets_every_variable_it_cannot_start_without(rendered, name):
    spec = pod_spec(find(rendered, "Deployment", name))
    (container,) = spec["containers"]
    given = env_names(container)
    assert not container.get("envFrom"), "explicit variables only: a reader sees what a service gets"
    missing = required_variables(SERVICES[name]) - set(given)
    assert not missing, f"{name} would refuse to start: {sorted(missing)}"
    unknown = {v for v in given if v.startswith("PORTAL_")} - known_variables(SERVICES[name])
    assert not unknown, f"{name} does not read {sorted(unknown)}"
    if name in WITH_DATABASE:
        (migrate,) = spec["initContainers"]
        assert required_variables(DatabaseUrlSettings) <= set(env_names(migrate))


def test_references_resolve_to_what_is_rendered_or_documented(rendered):
    """ConfigMap keys come from the rendering or an ops ConfigMap, Secret keys from deploy/README.md's
    table, and $(VAR) only names a variable set before it (Kubernetes expands nothing else)."""
    readme = DEPLOY_README.read_text()
    config_maps = {o["metadata"]["name"]: o["data"] for o in rendered if o["kind"] == "ConfigMap"}
    for container in containers(rendered):
        earlier: list[str] = []
        for variable in container.get("env", []):
            source = variable.get("valueFrom", {})
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                known = config_maps.get(ref["name"]) or documented_keys(readme, ref["name"])
                assert ref["key"] in known, f"{container['name']}: {ref}"
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                assert ref["key"] in documented_keys(readme, ref["name"]), f"{container['name']}: {ref} not documented"
            for used in re.findall(r"\$\((\w+)\)", variable.get("value", "")):
                assert used in earlier, f"{container['name']}: {variable['name']} uses $({used}) before it is set"
            earlier.append(variable["name"])


def documented_keys(readme: str, name: str) -> set[str]:
    """The keys deploy/README.md lists for a Secret or ConfigMap ops make: `| \\`name\\` | … keys … |`."""
    for line in readme.splitlines():
        if line.startswith(f"| `{name}` |"):
            return set(re.findall(r"`([\w.-]+)`", line.split("|")[2]))
    return set()


@pytest.mark.parametrize("name", list(SERVICES))
def test_probes_ports_and_metrics_are_where_the_service_listens(rendered, name):
    deployment = find(rendered, "Deployment", name)
    (container,) = pod_spec(deployment)["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert str(ports["http"]) == env_value(container, "PORTAL_HTTP_PORT")
    assert str(ports["metrics"]) == env_value(container, "PORTAL_METRICS_PORT")
    assert env_value(container, "PORTAL_HTTP_HOST") == env_value(container, "PORTAL_METRICS_HOST") == "0.0.0.0"
    # whole before the first request; then only what the replica needs to answer (NATS away: the outbox)
    assert container["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz?serving", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    service = find(rendered, "Service", name)
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]  # never the metrics port
    assert selects({"matchLabels": service["spec"]["selector"]}, deployment["spec"]["template"]["metadata"]["labels"])


def test_gateway_finds_each_service_at_its_service_address(rendered):
    (gateway,) = pod_spec(find(rendered, "Deployment", "gateway"))["containers"]
    for name in WITH_DATABASE:
        port = find(rendered, "Service", name)["spec"]["ports"][0]["port"]
        assert env_value(gateway, f"PORTAL_{name.upper()}_URL") == f"http://{name}:{port}"


def test_scaling_and_disruption_budgets(rendered):
    for name in ("gateway", "accounts"):
        hpa = find(rendered, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] >= 2
        # the autoscaler owns the count: a fixed one would be reset by every apply
        assert "replicas" not in find(rendered, "Deployment", name)["spec"]
    for name in SERVICES:
        deployment = find(rendered, "Deployment", name)
        budget = find(rendered, "PodDisruptionBudget", name)
        assert selects(budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
        assert budget["spec"]["minAvailable"] == 1
        replicas = deployment["spec"].get("replicas")
        assert replicas is None or replicas >= 2, f"{name}: one replica and a budget of one blocks every drain"


def test_every_container_has_resources_and_runs_restricted(rendered):
    for obj in rendered:
        spec = pod_spec(obj)
        if not spec:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{obj['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, where
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True, where


def test_accounts_has_memory_for_every_hash_in_flight(rendered):
    (accounts,) = pod_spec(find(rendered, "Deployment", "accounts"))["containers"]
    workers = int(env_value(accounts, "PORTAL_HASH_WORKERS"))
    limits = accounts["resources"]["limits"]
    # ~60 MiB measured for the process at start, twice that as headroom, plus each hash's memory
    assert mib(limits["memory"]) >= 120 + workers * ARGON2_MIB_PER_HASH
    assert float(limits["cpu"]) >= workers  # each worker hashes on a core of its own


def workload_labels(rendered) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in rendered if pod_spec(o) is not None
    }


def uses(rendered, variables: set[str]) -> set[str]:
    """The workloads whose containers set one of `variables`."""
    return {
        o["metadata"]["name"]
        for o in rendered
        if pod_spec(o)
        and any(
            variables & set(env_names(c)) for c in pod_spec(o).get("initContainers", []) + pod_spec(o)["containers"]
        )
    }


def admitted(rendered, pod_labels: dict, port) -> list[dict]:
    """The `from` peers of every rule that lets traffic reach `port` of a pod with these labels."""
    peers = []
    for policy in (o for o in rendered if o["kind"] == "NetworkPolicy"):
        if selects(policy["spec"]["podSelector"], pod_labels):
            for rule in policy["spec"].get("ingress", []):
                if any(p["port"] == port for p in rule["ports"]):
                    assert rule.get("from"), f"{policy['metadata']['name']}: a rule without `from` admits everyone"
                    peers += rule["from"]
    return peers


def pods_admitted(peers: list[dict], workloads: dict[str, dict]) -> set[str]:
    return {
        name
        for name, labels in workloads.items()
        for peer in peers
        if set(peer) == {"podSelector"} and selects(peer["podSelector"], labels)
    }


def namespaces_admitted(peers: list[dict]) -> set[str]:
    return {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers if "namespaceSelector" in p
    }


NATS_POD = {
    "app.kubernetes.io/name": "nats",
    "app.kubernetes.io/instance": "nats",
    "app.kubernetes.io/component": "nats",
}
POSTGRES_POD = {"cnpg.io/cluster": "portal-db", "cnpg.io/podRole": "instance"}


def test_network_policies_admit_exactly_who_must_talk(rendered):
    workloads = workload_labels(rendered)
    deny = [o for o in rendered if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"] == {}]
    assert deny and all("ingress" not in d["spec"] and d["spec"]["policyTypes"] == ["Ingress"] for d in deny)

    # only the gateway from outside, and only from the ingress controller's namespace
    gateway = admitted(rendered, workloads["gateway"], "http")
    assert namespaces_admitted(gateway) == {"ingress-nginx"} and not pods_admitted(gateway, workloads)
    for name in WITH_DATABASE:
        peers = admitted(rendered, workloads[name], "http")
        assert pods_admitted(peers, workloads) == {"gateway"} and not namespaces_admitted(peers), name
    for name in SERVICES:
        assert namespaces_admitted(admitted(rendered, workloads[name], "metrics")) == {"monitoring"}
    for name in ("printshop", "nats-streams"):
        assert all(not admitted(rendered, workloads[name], port) for port in ("http", 8026, 8000)), name

    # NATS from exactly the workloads that connect to it; its routes only from its own pods
    nats_clients = uses(rendered, {"PORTAL_NATS_URL", "PRINTSHOP_NATS_URL", "NATS_URL"})
    assert nats_clients == {"gateway", "accounts", "pins", "notifications", "printshop", "nats-streams"}
    peers = admitted(rendered, NATS_POD, 4222)
    assert pods_admitted(peers, workloads) == nats_clients and not namespaces_admitted(peers)
    assert all(selects(p["podSelector"], NATS_POD) for p in admitted(rendered, NATS_POD, 6222))
    assert not admitted(rendered, NATS_POD, 8222)

    # Postgres from exactly the workloads with a database, its own instances and the operator
    peers = admitted(rendered, POSTGRES_POD, 5432)
    assert pods_admitted(peers, workloads) == uses(rendered, {"PORTAL_DATABASE_URL"}) == set(WITH_DATABASE)
    others = [p for p in peers if not pods_admitted([p], workloads)]
    assert all(selects(p["podSelector"], POSTGRES_POD) or "namespaceSelector" in p for p in others)
    assert namespaces_admitted(peers) == {"cnpg-system"}


def test_no_manifest_holds_a_secret(rendered):
    assert not [o for o in rendered if o["kind"] == "Secret"], "ops make the Secrets; the manifests only name them"
    for obj in rendered:
        spec = pod_spec(obj)
        if not spec:
            continue
        from_secrets = {v["name"] for v in spec.get("volumes", []) if "secret" in v}
        for container in spec.get("initContainers", []) + spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            for variable in container.get("env", []):
                if not SECRET_NAMES.search(variable["name"]):
                    continue
                if variable["name"].endswith("_FILE"):  # a path: the file must be a Secret's
                    folder = variable["value"].rsplit("/", 1)[0]
                    assert mounts.get(folder) in from_secrets, f"{variable['name']}: {folder} is no Secret"
                else:
                    assert "secretKeyRef" in variable.get("valueFrom", {}), (
                        f"{variable['name']} must come from a Secret"
                    )
    for path in sorted(K8S.rglob("*")):
        if path.is_file():
            text = path.read_text()
            for pattern in LITERAL_SECRETS:
                assert not pattern.search(text), f"{path.relative_to(ROOT)}: {pattern.pattern}"


def nats_values() -> dict:
    return yaml.safe_load(NATS_VALUES.read_text())


def test_nats_values_make_the_cluster_of_deploy_nats():
    values = nats_values()
    config = values["config"]
    assert config["cluster"]["enabled"] and config["cluster"]["replicas"] == 3
    assert config["jetstream"]["enabled"] and config["jetstream"]["fileStore"]["enabled"]
    # TLS for clients and routes, routes with mutual TLS and a password (as cluster.conf)
    assert config["nats"]["tls"]["enabled"] and config["cluster"]["tls"]["enabled"]
    assert config["cluster"]["tls"]["merge"]["verify"] is True and values["tlsCA"]["enabled"]
    authorization = config["cluster"]["merge"]["authorization"]
    assert authorization["user"] == "route" and authorization["password"] == "<< $NATS_ROUTE_PASSWORD >>"
    assert config["cluster"]["merge"]["routes"] == "<< $NATS_ROUTE_URLS >>"
    # the users and permissions: accounts.conf itself, included beside nats.conf
    assert config["merge"]["$include"] == "./accounts.conf"
    assert "--set-file 'configMap.merge.data.accounts\\.conf=deploy/nats/accounts.conf'" in NATS_VALUES.read_text()


def test_nats_servers_get_every_password_their_config_reads_from_a_secret():
    env = nats_values()["container"]["env"]
    needed = conf_variables(ACCOUNTS_CONF) | {"NATS_ROUTE_PASSWORD"}
    assert needed <= set(env), sorted(needed - set(env))
    for name in needed:
        assert "secretKeyRef" in env[name]["valueFrom"], name
    # the chart lists env in name order; Kubernetes expands only what comes earlier
    urls = env["NATS_ROUTE_URLS"]
    for used in re.findall(r"\$\((\w+)\)", urls):
        assert used in env and used < "NATS_ROUTE_URLS"
    fullname = nats_values()["fullnameOverride"]
    hosts = re.findall(r"@([\w.-]+):(\d+)", urls)
    assert hosts == [(f"{fullname}-{i}.{fullname}-headless", "6222") for i in range(3)]
    assert not [line for line in NATS_VALUES.read_text().splitlines() if re.search(r"password:\s*[^<\s]", line)]


def conf_settings(text: str, block: str | None = None) -> dict[str, str]:
    """`key: value` lines of nats.conf at the top level, or inside `block: { … }` (one level)."""
    settings, depth, inside = {}, 0, block is None
    for raw in text.splitlines():
        line = raw.split("#")[0].strip()
        if depth == 0 and block and re.match(rf"{block}\s*:\s*{{", line):
            inside = True
        if inside and depth == (0 if block is None else 1):
            match = re.match(r"^(\w+)\s*:\s*([^{\[]+?)\s*$", line)
            if match:
                settings[match[1]] = match[2]
        depth += line.count("{") - line.count("}")
        if block and depth == 0:
            inside = False
    return settings


def test_nats_values_keep_the_server_settings_of_cluster_conf():
    """A setting added to cluster.conf (a sync_interval, a limit) must reach the Helm values too."""
    text = (ROOT / "deploy" / "nats" / "cluster.conf").read_text()
    config = nats_values()["config"]
    by_chart = {"server_name", "listen", "http"}  # the chart sets these from the pod and its ports
    for key, value in conf_settings(text).items():
        if key not in by_chart:
            assert str(config["merge"].get(key)).strip("<> ") == value, f"cluster.conf's {key}: {value}"
    cluster = config["cluster"]
    for key, value in conf_settings(text, "cluster").items():
        if key == "no_advertise":
            assert str(cluster["noAdvertise"]).lower() == value
        elif key not in {"name", "listen", "routes"}:  # the chart's, and NATS_ROUTE_URLS
            assert str(cluster["merge"].get(key)).strip("<> ") == value, f"cluster.conf's cluster {key}: {value}"
    jetstream = config["jetstream"]
    chart_fields = {
        "store_dir": None,
        "max_file_store": jetstream["fileStore"]["maxSize"],
        "max_memory_store": jetstream["memoryStore"]["maxSize"],
    }
    for key, value in conf_settings(text, "jetstream").items():
        if key in chart_fields:
            assert chart_fields[key] in (None, value), f"cluster.conf's jetstream {key}: {value}"
        else:
            assert str(jetstream.get("merge", {}).get(key)).strip("<> ") == value, f"cluster.conf's jetstream {key}"


def test_clients_reach_the_nats_pods_as_their_own_user_and_trust_its_ca(rendered):
    values = nats_values()
    fullname, tls = values["fullnameOverride"], values["config"]["nats"]["tls"]
    servers = {f"{fullname}-{i}.{fullname}-headless:4222" for i in range(values["config"]["cluster"]["replicas"])}
    users = set(re.findall(r"user:\s*(\w+)", ACCOUNTS_CONF.read_text()))
    for obj in rendered:
        spec = pod_spec(obj)
        if not spec:
            continue
        for container in spec["containers"]:
            for name in ("PORTAL_NATS_URL", "PRINTSHOP_NATS_URL", "NATS_URL"):
                url = env_value(container, name)
                if url is None:
                    continue
                entries = [re.match(r"tls://(?:(\w+):\$\(NATS_PASSWORD\)@)?([\w.-]+:\d+)$", u) for u in url.split(",")]
                assert all(entries), url
                assert {e[2] for e in entries} == servers
                user = entries[0][1] or env_value(container, "PRINTSHOP_NATS_USER") or env_value(container, "NATS_USER")
                assert user in users and user == ("ops" if name == "NATS_URL" else obj["metadata"]["name"])
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            if "nats-ca" in volumes:
                assert volumes["nats-ca"]["secret"]["secretName"] == tls["secretName"]
