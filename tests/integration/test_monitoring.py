"""What ops alert on exists: every metric the alert rules (deploy/monitoring/alerts.yaml) and the
Grafana dashboard (deploy/monitoring/dashboard.json) read is served by a running portal's metrics
listeners, the rules have Prometheus' shape, and the JetStream gauges report every durable."""

import json
import re
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from contracts.durables import durables_of
from deploy.infra import SERVICES
from runtime.bus import streams_used
from tests.support import promql
from tests.support.manifests import kustomize
from tests.support.wait import until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yaml"
DASHBOARD = ROOT / "deploy" / "monitoring" / "dashboard.json"
K8S_MONITORING = ROOT / "deploy" / "k8s" / "monitoring"
# read by the rules, served by others than the portal
EXTERNAL = {
    "up": "Prometheus, for every target it scrapes",
    "kube_deployment_status_replicas_unavailable": "kube-state-metrics (readiness as Kubernetes probes it)",
}
DURATION = re.compile(r"^\d+[smhd]$")
SEVERITIES = {"warning", "critical"}


def rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def served_names(text: str) -> set[str]:
    """Every name a query may use for what the text exposes: the samples, and for a family with
    no sample yet (a labelled counter nothing has counted) the names its samples will have."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {sample.name for sample in family.samples}
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


async def scrape(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        assert response.status == 200, url
        return await response.text()


async def some_traffic(session: aiohttp.ClientSession, portal) -> None:
    async with session.get(f"{portal.gateway_url}/") as response:
        assert response.status < 500
    async with session.post(
        f"{portal.gateway_url}/api/v1/accounts/sessions",
        json={"email": f"kp-{uuid4().hex[:8]}@example.de", "password": "ganz sicher falsch"},
        headers={"Origin": portal.gateway_url},
    ) as response:
        assert response.status == 401


def test_the_rules_file_has_the_prometheus_rule_shape() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"} and document["groups"]
    names = []
    for group in document["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"], group.get("name")
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
            assert DURATION.match(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
            names.append(rule["alert"])
    assert len(names) == len(set(names)), "alert names repeat"
    print(f"{len(names)} alert rules in {len(document['groups'])} groups")


def test_every_query_is_well_formed_promql() -> None:
    for expr in [rule["expr"] for rule in rules()] + dashboard_exprs():
        assert promql.problems(expr) == [], expr


def test_the_promql_check_finds_what_it_is_for() -> None:
    assert promql.problems("sum(rate(portal_x_total[5m])") == ["unclosed '('"]
    assert promql.problems("summ(portal_x)") == ["unknown function summ"]
    assert promql.metric_names('max by (stream) (a{state="open"}) > b offset 5m and c[5m] * 1e3') == {"a", "b", "c"}


def test_the_dashboard_shows_every_portal_metric_an_alert_watches() -> None:
    shown = set().union(*(promql.metric_names(expr) for expr in dashboard_exprs()))
    alerted = set().union(*(promql.metric_names(rule["expr"]) for rule in rules()))
    assert alerted - shown == set()


def test_the_prometheus_rule_for_kubernetes_carries_the_same_groups() -> None:
    objects = {obj["kind"]: obj for obj in kustomize(K8S_MONITORING)}
    assert objects["PrometheusRule"]["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]
    monitor = objects["PodMonitor"]["spec"]
    assert sorted(monitor["selector"]["matchExpressions"][0]["values"]) == sorted(SERVICES)
    assert [endpoint["port"] for endpoint in monitor["podMetricsEndpoints"]] == ["metrics"]
    assert all(obj["metadata"]["namespace"] == "kundenportal" for obj in objects.values())


async def test_every_metric_the_rules_and_the_dashboard_read_is_served(portal) -> None:
    wanted = set().union(*(promql.metric_names(expr) for expr in [r["expr"] for r in rules()] + dashboard_exprs()))
    async with aiohttp.ClientSession() as session:
        await some_traffic(session, portal)
        texts = {name: await scrape(session, portal.services[name].metrics_url) for name in SERVICES}
    served = set().union(*(served_names(text) for text in texts.values()))
    missing = wanted - served - set(EXTERNAL)
    print(f"{len(wanted)} metric names read, {len(wanted & set(EXTERNAL))} external, missing: {sorted(missing)}")
    assert missing == set()
    latency = samples(texts["gateway"], "portal_http_request_duration_seconds_count")
    assert any(labels["status_class"] == "4xx" and labels["method"] == "POST" for labels, _ in latency)


async def test_each_consuming_service_reports_its_durables_and_streams(portal) -> None:
    """Polled in the background: every durable appears with its pending and unacknowledged
    count, every stream with as many current replicas as the service expects, and /readyz's
    checks as portal_ready."""
    async with aiohttp.ClientSession() as session:
        for name in ("accounts", "pins", "notifications"):

            async def reported(name=name) -> str | None:
                text = await scrape(session, portal.services[name].metrics_url)
                pending = {
                    (labels["stream"], labels["durable"]) for labels, _ in samples(text, "portal_consumer_pending")
                }
                replicas = {labels["stream"] for labels, _ in samples(text, "portal_stream_replicas")}
                ready = {labels["check"]: value for labels, value in samples(text, "portal_ready")}
                durables = {(d.stream, d.name) for d in durables_of(name)}
                whole = pending >= durables and replicas >= set(streams_used(name))
                return text if whole and ready == {"database": 1, "messaging": 1} else None

            text = await until(reported, f"{name} reports every durable and stream, and ready", timeout=20)
            unacked = {labels["durable"] for labels, _ in samples(text, "portal_consumer_ack_pending")}
            assert unacked >= {d.name for d in durables_of(name)}, name
            expected = {labels["stream"]: value for labels, value in samples(text, "portal_stream_replicas_expected")}
            for labels, value in samples(text, "portal_stream_replicas"):
                assert value >= expected[labels["stream"]] >= 1, (name, labels)
        gateway = await scrape(session, portal.services["gateway"].metrics_url)
        assert samples(gateway, "portal_consumer_pending") == []  # no durable, no JetStream API
