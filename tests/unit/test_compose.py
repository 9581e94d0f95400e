"""compose.yaml and the Dockerfile without Docker (none runs here; the image build itself is not
exercised): the compose file loads as YAML and has the parts the issue names, each container gets
what it cannot start without (from its environment or the keys of its environment file's example),
the NATS nodes every variable deploy/nats/ reads, and no file holds a secret."""

import re

import pytest
import yaml

from deploy.nats_local import ACCOUNTS_CONF
from deploy.printshop.settings import ConfigError
from deploy.printshop.settings import Settings as PrintshopSettings
from runtime.settings import DatabaseUrlSettings
from services.accounts.settings import Settings as AccountsSettings
from services.gateway.settings import Settings as GatewaySettings
from services.notifications.settings import Settings as NotificationsSettings
from services.pins.settings import Settings as PinsSettings
from tests.support.manifests import (
    LITERAL_SECRETS,
    ROOT,
    SECRET_NAMES,
    conf_variables,
    known_variables,
    required_variables,
)

COMPOSE = ROOT / "compose.yaml"
EXAMPLES = ROOT / "deploy" / "compose"
SERVICES = {
    "gateway": GatewaySettings,
    "accounts": AccountsSettings,
    "pins": PinsSettings,
    "notifications": NotificationsSettings,
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def example_keys(env_file: str) -> dict[str, str]:
    """The keys (and values, which must be empty) of the example behind `…/<name>.env`."""
    example = EXAMPLES / (env_file.rsplit("/", 1)[-1] + ".example")
    assert example.exists(), f"{env_file}: no {example.relative_to(ROOT)} names its keys"
    lines = [line for line in example.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def provided(service: dict) -> set[str]:
    names = set(service.get("environment", {}))
    for env_file in service.get("env_file", []):
        names |= set(example_keys(env_file))
    return names


def replicas_of(compose: dict, command: list[str]) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if s.get("command") == command}


def test_three_nats_nodes_run_deploy_nats_as_it_is(compose):
    nodes = {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("nats:")}
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    read = conf_variables(ROOT / "deploy" / "nats" / "cluster.conf") | conf_variables(ACCOUNTS_CONF)
    for name, node in nodes.items():
        assert node["command"] == ["-c", "/etc/nats/cluster.conf"]
        assert "./deploy/nats:/etc/nats:ro" in node["volumes"] and any(v.endswith(":/data") for v in node["volumes"])
        assert node["environment"]["NATS_SERVER_NAME"] == name == node["hostname"]
        missing = read - provided(node)
        assert not missing, f"{name}: nats-server cannot read {sorted(missing)}"
        for path in (node["environment"][v] for v in ("NATS_TLS_CERT", "NATS_TLS_KEY", "NATS_TLS_CA")):
            assert path.removeprefix("/run/secrets/") in node["secrets"]
    routes = example_keys("nats.env")
    assert "NATS_ROUTES" in routes  # a node joins with the route password in its route URLs


@pytest.mark.parametrize("name", list(SERVICES))
def test_two_replicas_of_each_service_get_what_they_cannot_start_without(compose, name):
    replicas = replicas_of(compose, ["python", "-m", f"services.{name}"])
    assert len(replicas) == 2, f"{name}: {sorted(replicas)}"
    instances = set()
    for replica_name, replica in replicas.items():
        given = provided(replica)
        missing = required_variables(SERVICES[name]) - given
        assert not missing, f"{replica_name} would refuse to start: {sorted(missing)}"
        unknown = {v for v in given if v.startswith("PORTAL_")} - known_variables(SERVICES[name])
        assert not unknown, f"{replica_name} does not read {sorted(unknown)}"
        assert replica["environment"]["PORTAL_HTTP_HOST"] == "0.0.0.0"
        assert replica["environment"]["PORTAL_STREAM_REPLICAS"] == "3"
        instances.add(replica["environment"]["PORTAL_INSTANCE"])
    assert len(instances) == 2


@pytest.mark.parametrize("name", ["accounts", "pins", "notifications"])
def test_migrations_run_once_before_the_replicas_start(compose, name):
    (step,) = replicas_of(compose, ["python", "-m", f"services.{name}", "migrate"]).items()
    step_name, migrate = step
    assert required_variables(DatabaseUrlSettings) <= provided(migrate)
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for replica in replicas_of(compose, ["python", "-m", f"services.{name}"]).values():
        assert replica["depends_on"][step_name] == {"condition": "service_completed_successfully"}


def test_gateways_spread_over_both_replicas_of_each_service(compose):
    for gateway in replicas_of(compose, ["python", "-m", "services.gateway"]).values():
        for name in ("accounts", "pins", "notifications"):
            replicas = replicas_of(compose, ["python", "-m", f"services.{name}"])
            wanted = {f"http://{host}:{r['environment']['PORTAL_HTTP_PORT']}" for host, r in replicas.items()}
            urls = gateway["environment"][f"PORTAL_{name.upper()}_URL"].split(",")
            assert sorted(urls) == sorted(wanted), urls
        assert all(p.startswith("127.0.0.1:") for p in gateway["ports"])  # the host's TLS proxy is in front


def test_streams_print_shop_postgres_and_mail(compose):
    services = compose["services"]
    streams = services["streams"]
    assert streams["command"] == ["python", "-m", "deploy.streams", "--replicas", "3"]
    assert streams["environment"]["NATS_USER"] == "ops" and "NATS_PASSWORD" in provided(streams)
    assert {"nats-1", "nats-2", "nats-3"} <= set(streams["depends_on"])

    (printshop,) = replicas_of(compose, ["python", "-m", "deploy.printshop"]).values()
    try:
        PrintshopSettings.from_env({name: "1" for name in provided(printshop)})
    except ConfigError as error:
        pytest.fail(f"the print shop would not start: {error}")
    assert printshop["environment"]["PRINTSHOP_HTTP_HOST"] == "127.0.0.1" and "ports" not in printshop

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["environment"]["POSTGRES_DB"] == "kundenportal"
    roles = (EXAMPLES / "postgres-roles.sh").read_text()
    assert set(re.findall(r"\$(POSTGRES_\w+_PASSWORD)", roles)) | {"POSTGRES_PASSWORD"} <= provided(postgres)
    assert any(
        v.startswith("./deploy/compose/postgres-roles.sh:/docker-entrypoint-initdb.d/") for v in postgres["volumes"]
    )

    mail = [
        s for s in services.values() if "mailpit" in s.get("image", "") or "deploy.mailcatcher" in s.get("command", [])
    ]
    assert mail, "a mail catcher"
    notifications = replicas_of(compose, ["python", "-m", "services.notifications"]).values()
    assert all(n["environment"]["PORTAL_SMTP_HOST"] == "mailcatcher" for n in notifications)


def test_portal_containers_share_one_image(compose):
    ours = [s for s in compose["services"].values() if s.get("command", [""])[0] == "python"]
    assert len(ours) == 2 * 4 + 3 + 1 + 1  # replicas, migrations, streams, print shop
    assert len({s["image"] for s in ours}) == 1


def test_no_secret_in_compose_or_the_examples(compose):
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            assert not SECRET_NAMES.search(variable), f"{name}: {variable} belongs in its environment file"
    for path in [COMPOSE, *sorted(EXAMPLES.iterdir())]:
        text = path.read_text()
        for pattern in LITERAL_SECRETS:
            assert not pattern.search(text), f"{path.relative_to(ROOT)}: {pattern.pattern}"
    for example in EXAMPLES.glob("*.env.example"):
        values = example_keys(example.name.removesuffix(".example"))
        assert not any(values.values()), f"{example.name} holds values"


def dockerfile_stages() -> list[list[str]]:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages: list[list[str]] = [[]]
    for line in instructions:
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_image_is_two_stages_on_one_slim_base_and_runs_unprivileged():
    preamble, build, final = dockerfile_stages()
    (base,) = [line for line in preamble if line.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.(1[1-9])-slim\S*", base)
    assert build[0] == "FROM ${PYTHON_IMAGE} AS build" and final[0] == "FROM ${PYTHON_IMAGE}"
    assert any("pip wheel" in line for line in build) and any("pip install" in line for line in build)
    final_text = "\n".join(final)
    assert not re.search(r"apt-get|gcc|build-essential|pip (install|wheel)", final_text), (
        "nothing built in the final stage"
    )
    assert [line for line in final if line.startswith("COPY")] == ["COPY --from=build /opt/venv /opt/venv"]
    (user,) = [line for line in final if line.startswith("USER ")]
    uid = re.search(r"ARG UID=(\d+)", final_text)[1]
    assert user == "USER ${UID}:${UID}" and int(uid) >= 1000
    assert final[-1] == 'CMD ["python", "-m", "services.gateway"]'
    assert not [line for line in final if line.startswith("ENV") and SECRET_NAMES.search(line)]


def test_the_build_context_leaves_state_and_secrets_out():
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert patterns[0] == "*", "everything out, then only what the image needs back in"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "contracts", "runtime", "services", "deploy"}
