"""A new user's first hour, as real ``omnitrail`` processes: a bad setting stops ``up`` before anything
starts, and a stack moved to another port checks webhook signatures against the URL it serves."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from omnitrail.local_stack import EmbeddedBroker, free_port
from tests.helpers import inbound_sms, signed
from tests.integration.stack import AGENT, clean_env, start_up

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
    tmp_path: Path, broker: EmbeddedBroker, database_url: str
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


def test_on_a_terminal_up_says_it_is_up_once_http_answers_how_to_sign_in_and_its_webhooks(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        OMNITRAIL_DATA_DIR=str(tmp_path / ".omnitrail"),
        OMNITRAIL_HTTP_PORT=str(port),
        OMNITRAIL_TWILIO_AUTH_TOKEN="dev-twilio-token",
        OMNITRAIL_API_TOKENS="dev-agent:agent",
    )
    env.pop("XDG_RUNTIME_DIR", None)  # as over ssh, in a container, in CI
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnitrail", "up"], env=env, cwd=tmp_path, stdout=follower, stderr=follower
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 90
    try:
        while b"Stop with Ctrl-C." not in screen and time.monotonic() < deadline and proc.poll() is None:
            if select.select([leader], [], [], 1)[0]:
                screen += os.read(leader, 65536)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # at once: no retry
        assert health.status_code == 200
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
    assert f"console      http://127.0.0.1:{port}/" in text
    assert "sign in      with a staff account: make one with omnitrail staff add EMAIL --name NAME --role admin" in text
    assert "or an API token from OMNITRAIL_API_TOKENS" in text
    assert f"webhook      http://localhost:{port}/webhooks/twilio/messages" in text


def test_a_busy_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = tmp_path / ".omnitrail"
        env = clean_env(OMNITRAIL_DATA_DIR=str(data_dir), OMNITRAIL_HTTP_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "omnitrail", "up"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"omnitrail: port {port} on 127.0.0.1 is already in use (another omnitrail up?): "
        "stop what holds it, or set OMNITRAIL_HTTP_PORT"
    )
    assert not data_dir.exists()


def test_after_a_restart_verify_and_deadletter_list_say_the_embedded_brokers_history_is_gone(tmp_path: Path) -> None:
    env = clean_env(OMNITRAIL_DATA_DIR=str(tmp_path / ".omnitrail"))
    first = start_up(tmp_path)  # embedded broker and PostgreSQL, as on a laptop
    try:
        path, phone = "/webhooks/twilio/messages", f"+3519{uuid.uuid4().int % 10**8:08d}"
        body, headers = signed(first.url + path, inbound_sms("SM" + uuid.uuid4().hex, phone))
        assert httpx.post(first.url + path, content=body, headers=headers, timeout=20).status_code == 200
        deadline = time.monotonic() + 60
        while not httpx.get(first.url + "/api/v1/contacts", params={"q": phone}, headers=AGENT).json()["items"]:
            assert time.monotonic() < deadline, "the SMS was not stored"
            time.sleep(0.3)
    finally:
        first.stop()
    second = start_up(tmp_path)  # the timeline kept in PostgreSQL, the broker's topics gone with the last run
    try:
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
        verify = subprocess.run(
            [sys.executable, "-m", "omnitrail", "verify", "--since", since],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verify.returncode == 1, verify.stdout + verify.stderr
        assert "cannot verify: 1 timeline row(s) received in this range are no longer on" in verify.stdout
        assert "the embedded broker keeps its topics in memory" in verify.stderr
        letters = subprocess.run(
            [sys.executable, "-m", "omnitrail", "deadletter", "list"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert letters.returncode == 0, letters.stderr
        assert "0 dead letter(s)" in letters.stderr
        assert "nothing from before this omnitrail up started" in letters.stderr
    finally:
        second.stop()
