"""The deployment files and the docs say what the code does: settings names, metric names, topics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

# Imported for the metrics their modules register: the code's full set of exported names.
import omnitrail.http
import omnitrail.media
import omnitrail.subscriptions
import omnitrail.worker  # noqa: F401  # imported for the metrics it registers
from omnitrail.registry import SETTINGS_CLASSES
from schemas import topics
from schemas.config import known_env_vars
from sinks.kafka.clients import RETENTION_MS
from sinks.kafka.settings import KafkaSettings

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
_NAME = re.compile(r"\bOMNITRAIL_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_*])")
_METRIC = re.compile(r"\bomnitrail_[a-z0-9_]+")


def readme_configuration_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `OMNITRAIL_")]


def documented_variables() -> set[str]:
    """First cell of each row; `_SUFFIX` shorthands continue the first name's settings prefix."""
    prefixes = sorted({str(c.model_config.get("env_prefix")) for c in SETTINGS_CLASSES}, key=len, reverse=True)
    names: set[str] = set()
    for row in readme_configuration_rows():
        cell = row.split("|")[1]
        tokens = re.findall(r"`([A-Z0-9_]+)`", cell)
        owner = next(p for p in prefixes if tokens[0].startswith(p))
        names.update(t if t.startswith("OMNITRAIL_") else owner.rstrip("_") + t for t in tokens)
    return names


def test_every_setting_is_in_the_readme_configuration_reference() -> None:
    known = known_env_vars(list(SETTINGS_CLASSES))
    documented = documented_variables()
    assert not known - documented, (
        f"settings missing from README.md's configuration table: {sorted(known - documented)}"
    )
    assert not documented - known, f"README.md documents variables no setting accepts: {sorted(documented - known)}"


def _setting_names_in(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {name for line in lines if not line.lstrip().startswith("#") for name in _NAME.findall(line)}


def test_compose_kubernetes_and_env_templates_use_only_accepted_settings() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in {".yaml", ".example", ".env", ".py", ""}]
    assert DEPLOY / "compose.yaml" in files
    assert DEPLOY / "k8s" / "base" / "config.env" in files
    used = {name: path for path in files for name in _setting_names_in(path)}
    known = known_env_vars(list(SETTINGS_CLASSES))
    unknown = {name: str(path.relative_to(ROOT)) for name, path in used.items() if name not in known}
    assert not unknown, f"variables no setting accepts (the processes would refuse to start): {unknown}"
    assert {"OMNITRAIL_KAFKA_BOOTSTRAP", "OMNITRAIL_DATABASE_URL", "OMNITRAIL_WORKER_METRICS_PORT"} <= set(used)


def test_compose_runs_every_role_with_the_documented_partitions() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    commands = {name: service.get("command") for name, service in services.items()}
    for channel in ("twilio", "meta", "telegram", "livechat", "x", "events", "email"):
        assert commands[f"connector-{channel}"] == ["connector", channel]
    assert commands["worker"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert commands["console"] == ["console"]
    assert commands["init"] == ["omnitrail migrate && omnitrail topics create"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    partitions = str(KafkaSettings().partitions)
    assert services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"] == partitions
    assert services["worker"]["environment"]["OMNITRAIL_KAFKA_PARTITIONS"] == partitions
    for name, service in services.items():
        assert service.get("restart"), f"{name} has no restart policy"
        if name not in ("init",):
            assert "healthcheck" in service or service.get("image", "").startswith("${IMAGE"), (
                f"{name}: no health check"
            )


def exported_metric_names() -> tuple[set[str], set[str]]:
    """(every sample name the code can export, the metric family names) for families named omnitrail_*."""
    samples: set[str] = set()
    families: set[str] = set()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    for family in REGISTRY.collect():
        if family.name.startswith("omnitrail_"):
            families.add(family.name)
            samples.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return samples, families


def test_grafana_dashboard_uses_exactly_the_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "omnitrail-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in _METRIC.findall(e)}
    samples, families = exported_metric_names()
    assert not used - samples, f"dashboard queries metrics the code does not export: {sorted(used - samples)}"
    shown = {f for f in families if any(u == f or u.startswith(f + "_") for u in used)}
    assert families == shown, f"exported metrics without a dashboard panel: {sorted(families - shown)}"


def test_alert_rules_use_exported_metrics_and_cover_the_issue() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "omnitrail-rules.yaml").read_text(encoding="utf-8"))
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    samples, _ = exported_metric_names()
    for name, expr in alerts.items():
        unknown = set(_METRIC.findall(expr)) - samples
        assert not unknown, f"{name} uses metrics the code does not export: {unknown}"
    joined = " ".join(alerts.values())
    for needed in (
        "omnitrail_consumer_lag",
        "dead_lettered",
        "omnitrail_webhook_sink_responses_total",
        "checkpoint_age",
    ):
        assert needed in joined
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert not [a for a in alerts if a not in operations], "every alert is explained in docs/operations.md"


def test_operations_topic_table_matches_what_topics_create_makes() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = {r.split("|")[1].strip().strip("`"): r for r in operations.splitlines() if r.startswith("| `omnitrail.")}
    assert set(rows) == set(topics.ALL)
    for name in topics.ALL:
        if name in topics.COMPACTED:
            assert "compact" in rows[name]
        else:
            assert f"{RETENTION_MS[name] // 86_400_000} days" in rows[name], rows[name]


def _manifests(*parts: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").joinpath(*parts).glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_kubernetes_base_has_what_operations_expect() -> None:
    docs = _manifests("base")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for channel in ("twilio", "meta", "telegram", "livechat", "x", "events", "email"):
        assert ("Deployment", f"connector-{channel}") in kinds
    needed = {
        ("Deployment", "worker"),
        ("HorizontalPodAutoscaler", "worker"),
        ("PodDisruptionBudget", "worker"),
        ("Deployment", "console"),
        ("Service", "console"),
        ("Ingress", "omnitrail"),
        ("Job", "migrate"),
    }
    assert needed <= kinds
    assert any(kind == "NetworkPolicy" for kind, _ in kinds)
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            where = f"{doc['metadata']['name']}/{container['name']}"
            assert {"requests", "limits"} <= set(container["resources"]), where
            assert {"configMapRef": {"name": "omnitrail-config"}} in container["envFrom"], where
            if doc["kind"] == "Job":
                assert container["args"] == ["omnitrail migrate && omnitrail topics create"]
                continue
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", where
            if any(p["name"] == "http" for p in container["ports"]):
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where


def test_worker_autoscaling_stays_within_the_partition_count() -> None:
    """Workers beyond the partition count of the interactions topic would sit idle."""
    base_config = dict(
        line.split("=", 1) for line in (DEPLOY / "k8s" / "base" / "config.env").read_text().splitlines() if line
    )
    [hpa] = [d for d in _manifests("base") if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["maxReplicas"] <= int(base_config["OMNITRAIL_KAFKA_PARTITIONS"])
    overlay = yaml.safe_load((DEPLOY / "k8s" / "overlays" / "example" / "kustomization.yaml").read_text())
    literals = dict(literal.split("=", 1) for g in overlay["configMapGenerator"] for literal in g.get("literals", []))
    patched = [
        op["value"]
        for p in overlay["patches"]
        if p.get("target", {}).get("kind") == "HorizontalPodAutoscaler"
        for op in yaml.safe_load(p["patch"])
        if op["path"] == "/spec/maxReplicas"
    ]
    assert patched
    assert patched[0] <= int(literals["OMNITRAIL_KAFKA_PARTITIONS"])
