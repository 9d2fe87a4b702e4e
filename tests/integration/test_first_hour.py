"""A new user's first hour, as real ``omnitrail`` processes: a bad setting stops ``up`` before anything
starts, and a stack moved to another port checks webhook signatures against the URL it serves."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import free_port
from tests.helpers import inbound_sms, signed
from tests.integration.stack import clean_env, start_up

pytestmark = pytest.mark.integration


def test_a_token_without_a_role_stops_up_before_it_starts_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / ".omnitrail"
    env = clean_env(OMNITRAIL_API_TOKENS="dev-agent", OMNITRAIL_DATA_DIR=str(data_dir))
    done = subprocess.run(
        [sys.executable, "-m", "omnitrail", "up"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "omnitrail: OMNITRAIL_API_TOKENS: each entry must be token:agent or token:admin"
    assert "Omnitrail is up" not in done.stdout
    assert "embedded_broker" not in done.stdout + done.stderr  # no broker, no PostgreSQL started
    assert not data_dir.exists()


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "omnitrail", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith("omnitrail, version ")


def test_with_only_the_port_set_twilio_signatures_are_checked_against_that_port(
    tmp_path: Path, broker, database_url
) -> None:
    # OMNITRAIL_HTTP_PORT set to a free port, OMNITRAIL_PUBLIC_URL unset: a user who only moved the port.
    stack = start_up(tmp_path, bootstrap=broker.bootstrap, database_url=database_url, OMNITRAIL_PUBLIC_URL="")
    port = httpx.URL(stack.url).port
    try:
        path = "/webhooks/twilio/messages"
        sid = "SM" + uuid.uuid4().hex
        params = inbound_sms(sid, "+351912000111")
        body, headers = signed(f"http://localhost:{port}{path}", params)
        assert httpx.post(stack.url + path, content=body, headers=headers, timeout=20).status_code == 200
        body, headers = signed(f"http://localhost:8080{path}", params)  # signed for another URL
        refused = httpx.post(stack.url + path, content=body, headers=headers, timeout=20)
        assert refused.status_code == 403
        assert f"http://localhost:{port}{path}" in refused.json()["reason"]
    finally:
        stack.stop()


def test_on_a_terminal_up_logs_readable_lines_and_no_xdg_runtime_dir_warning(tmp_path: Path) -> None:
    env = clean_env(OMNITRAIL_DATA_DIR=str(tmp_path / ".omnitrail"), OMNITRAIL_HTTP_PORT=str(free_port()))
    env.pop("XDG_RUNTIME_DIR", None)  # as over ssh, in a container, in CI
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnitrail", "up"], env=env, cwd=tmp_path, stdout=follower, stderr=follower
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 90
    try:
        while b"Omnitrail is up" not in screen and time.monotonic() < deadline and proc.poll() is None:
            if select.select([leader], [], [], 1)[0]:
                screen += os.read(leader, 65536)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        os.close(leader)
    text = screen.decode(errors="replace")
    assert "Omnitrail is up" in text, text[-2000:]
    assert "XDG_RUNTIME_DIR" not in text
    started = next(line for line in text.splitlines() if "embedded_broker.started" in line)
    assert not started.lstrip().startswith("{")  # a line for people, not a JSON object
    assert "[info" in started
