"""The files in deploy/: alert rules Prometheus accepts, cases that fire every alert, a
dashboard whose queries parse, and no metric named that the service does not export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from letters.worker.health import ServiceProbe, health_app
from tests.support.stacks import Stack

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "alerts.yml"
RULE_CASES = DEPLOY / "alerts-test.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"

# Series Prometheus itself adds to every target.
PROMETHEUS_OWN = {"up"}
_METRIC = re.compile(r"\b(letters_[a-z_]+|up)\b")


def _promtool(*args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: ./dev test installs Debian's prometheus package")
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def _exported_names(stack: Stack) -> set[str]:
    """The sample names a worker group's /metrics can show, read from a real scrape."""
    assert stack.ledger.status_counts() == {}  # migrated, as a worker group does first
    probe = ServiceProbe(stack.settings)
    try:
        app = health_app(probe)
        status: list[str] = []
        body = b"".join(
            app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, lambda s, h: status.append(s))
        )
    finally:
        probe.close()
    assert status == ["200 OK"]
    names = set()
    for family in text_string_to_metric_families(body.decode()):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def test_prometheus_accepts_the_alert_rules_and_their_cases_pass() -> None:
    checked = _promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cases = _promtool("test", "rules", RULE_CASES.name)
    assert cases.returncode == 0, cases.stdout + cases.stderr


def test_every_alert_has_a_case_in_which_it_fires() -> None:
    cases = yaml.safe_load(RULE_CASES.read_text(encoding="utf-8"))["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in _rules()}
    assert alerts - fired == set(), "alerts with no case that fires them"
    assert fired <= alerts


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    queries = _dashboard_queries()
    assert len(queries) >= 15
    # promtool parses PromQL in rule files: each query becomes a recording rule.
    as_rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{n}", "expr": q} for n, q in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "dashboard-queries.yml").write_text(yaml.safe_dump(as_rules), encoding="utf-8")
    checked = _promtool("check", "rules", "dashboard-queries.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rules_and_the_dashboard_name_only_metrics_the_service_exports(
    embedded: Stack,
) -> None:
    exported = _exported_names(embedded) | PROMETHEUS_OWN
    assert {"letters_outcomes_total", "letters_queue_messages", "letters_broker_up"} <= exported
    used_by_rules = {m for rule in _rules() for m in _METRIC.findall(rule["expr"])}
    used_by_dashboard = {m for q in _dashboard_queries() for m in _METRIC.findall(q)}
    assert used_by_rules - exported == set(), "alert rules name metrics nobody exports"
    assert used_by_dashboard - exported == set(), "the dashboard names metrics nobody exports"
    # The dashboard shows every metric the service exports.
    shown = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used_by_dashboard}
    families = {
        re.sub(r"_(bucket|sum|count)$", "", m)
        for m in exported
        if m.startswith("letters_") and not m.endswith("_created")
    }
    assert families - shown == set(), "exported metrics the dashboard does not show"
