"""`omnitrail up` with nothing configured starts its own broker and PostgreSQL; other commands find them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from omnitrail.local_stack import read_state
from tests.helpers import inbound_sms, signed
from tests.integration.stack import AGENT, clean_env, start_up

pytestmark = pytest.mark.integration


def omnitrail(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(OMNITRAIL_DATA_DIR=str(tmp / ".omnitrail"))
    return subprocess.run(
        [sys.executable, "-m", "omnitrail", *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=60
    )


def test_embedded_stack_end_to_end_and_clean_shutdown(tmp_path: Path) -> None:
    stack = start_up(tmp_path, "--demo")  # no OMNITRAIL_KAFKA_BOOTSTRAP, no OMNITRAIL_DATABASE_URL
    try:
        state = read_state(tmp_path / ".omnitrail")
        assert state is not None
        assert state.embedded_broker
        assert state.embedded_database
        children = psutil.Process(stack.proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        assert "tansu" in names
        assert "worker" in names
        # glibc's mmap threshold, fixed for the worker by its environment (omnitrail/memory_tuning.py).
        (worker,) = [c for c in children if c.cmdline()[-1:] == ["worker"]]
        assert worker.environ()["MALLOC_MMAP_THRESHOLD_"] == "131072"
        # pg_ctl daemonizes PostgreSQL: it is found through its pid file, not as a child.
        postmaster = int((tmp_path / ".omnitrail" / "postgres" / "postmaster.pid").read_text().split()[0])
        assert psutil.pid_exists(postmaster)
        banner = stack.log_path.read_text()
        assert "IN MEMORY" in banner
        assert state.kafka_bootstrap in banner

        # Other commands with the same data directory find the running stack by themselves.
        topics = omnitrail(tmp_path, "topics", "create")
        assert topics.returncode == 0, topics.stderr
        assert "nothing, all exist" in topics.stdout
        migrated = omnitrail(tmp_path, "migrate")
        assert migrated.returncode == 0
        assert "up to date" in migrated.stdout

        body, headers = signed(stack.url + "/webhooks/twilio/messages", inbound_sms("SMembedded1", "933 444 555"))
        assert httpx.post(stack.url + "/webhooks/twilio/messages", content=body, headers=headers).status_code == 200
        found = None
        for _ in range(150):
            items = httpx.get(stack.url + "/api/v1/contacts", params={"q": "933444555"}, headers=AGENT).json()["items"]
            if items:
                found = items[0]
                break
            time.sleep(0.2)
        assert found is not None
        # --demo: Ana Silva on chat, email, SMS and WhatsApp with a note, and a namesake to review (a merge suggestion).
        [ana] = httpx.get(stack.url + "/api/v1/contacts", params={"q": "912 345 678"}, headers=AGENT).json()["items"]
        timeline = httpx.get(f"{stack.url}/api/v1/contacts/{ana['contact_id']}/timeline", headers=AGENT).json()
        assert [(i["channel"], i["direction"], i["kind"]) for i in timeline["items"]] == [
            ("whatsapp", "inbound", "message"),
            ("sms", "inbound", "message"),
            ("sms", "outbound", "message"),
            ("other", "outbound", "note"),
            ("email", "inbound", "message"),
            ("email", "outbound", "message"),
            ("email", "inbound", "message"),
            ("livechat", "outbound", "message"),
            ("livechat", "inbound", "message"),
        ]
        assert timeline["items"][4]["quoted_text"].startswith("Em 3 de dez.")
        rules: set[str] = set()
        for _ in range(150):
            reviews = httpx.get(stack.url + "/api/v1/identity/reviews", headers=AGENT).json()["items"]
            rules = {r["rule"] for r in reviews if ana["contact_id"] in (r["contact_a"], r["contact_b"])}
            if rules:
                break
            time.sleep(0.2)
        assert "same_name" in rules  # her namesake from another address: staff decide
    finally:
        code = stack.stop()
    assert code == 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not psutil.pid_exists(postmaster) or psutil.Process(postmaster).status() == psutil.STATUS_ZOMBIE
    assert read_state(tmp_path / ".omnitrail") is None
    # Without a running stack, commands say what to do instead of hanging.
    orphan = omnitrail(tmp_path, "topics", "create")
    assert orphan.returncode == 2
    assert "OMNITRAIL_KAFKA_BOOTSTRAP" in orphan.stderr
