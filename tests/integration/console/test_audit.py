"""Every API route that takes a contact leaves an audit row, found from the app's own OpenAPI document:
a route added later without audit (or without a request here) fails this test."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from console.session import fingerprint
from tests.integration.console.data import a_customer, contact_of, sms
from tests.integration.stack import ADMIN, Stack

pytestmark = pytest.mark.integration
Body = Callable[[dict[str, str]], Any]


def _none(_: dict[str, str]) -> None:
    return None


#: (method, path) -> (the audit action it must write, its request body from the test's context). In the
#: order they run: reads and changes first, then merge and unmerge, the erasure last.
ROUTES: dict[tuple[str, str], tuple[str, Body]] = {
    ("GET", "/api/v1/contacts/{contact_id}"): ("contact.read", _none),
    ("GET", "/api/v1/contacts/{contact_id}/timeline"): ("timeline.read", _none),
    ("GET", "/api/v1/contacts/{contact_id}/summary"): ("summary.read", _none),
    ("GET", "/api/v1/contacts/{contact_id}/events"): ("timeline.live", _none),
    ("GET", "/api/v1/contacts/{contact_id}/suggestions"): ("suggestions.read", _none),
    ("POST", "/api/v1/contacts/{contact_id}/notes"): (
        "note.add",
        lambda _: {"note_id": str(uuid.uuid4()), "text": "Audited note"},
    ),
    ("GET", "/api/v1/contacts/{contact_id}/consents"): ("consents.read", _none),
    ("POST", "/api/v1/contacts/{contact_id}/consents"): (
        "consent.record",
        lambda _: {"purpose": "marketing", "granted": True, "source": "form"},
    ),
    ("PATCH", "/api/v1/contacts/{contact_id}/attributes"): ("attributes.set", lambda c: {c["attribute"]: "gold"}),
    ("GET", "/api/v1/contacts/{contact_id}/export"): ("contact.export", _none),
    ("POST", "/api/v1/contacts/{contact_id}/merge"): ("contact.merge", lambda c: {"contact_id": c["other"]}),
    ("POST", "/api/v1/contacts/{contact_id}/unmerge"): ("contact.unmerge", _none),
    ("DELETE", "/api/v1/contacts/{contact_id}"): ("contact.erase", _none),
}


def contact_routes(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """Every operation with a ``contact_id`` path parameter."""
    return {
        (method.upper(), path)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if any(p["in"] == "path" and p["name"] == "contact_id" for p in operation.get("parameters", []))
    }


async def newest(client: httpx.AsyncClient, contact_id: str) -> dict[str, Any] | None:
    response = await client.get("/api/v1/audit", params={"contact_id": contact_id, "limit": 1}, headers=ADMIN)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return items[0] if items else None


async def call(client: httpx.AsyncClient, method: str, url: str, body: Any) -> int:
    if url.endswith("/events"):  # server-sent events never end: the headers are the answer
        async with client.stream("GET", url, headers=ADMIN) as stream:
            return stream.status_code
    return (await client.request(method, url, json=body, headers=ADMIN)).status_code


async def test_every_route_that_takes_a_contact_writes_an_audit_row(
    client: httpx.AsyncClient, console_stack: Stack
) -> None:
    routes = contact_routes((await client.get("/openapi.json")).json())
    missing = routes - set(ROUTES)
    assert not missing, f"routes taking a contact with no audit check here (add each to ROUTES): {missing}"
    assert set(ROUTES) - routes == set(), "ROUTES lists a route the API no longer has"

    person, other = a_customer(), a_customer()
    await sms(client, console_stack, person, "Audit me")
    await sms(client, console_stack, other, "And me")
    cid = (await contact_of(client, person.e164))["contact_id"]
    context = {
        "other": (await contact_of(client, other.e164))["contact_id"],
        "attribute": f"tier_{uuid.uuid4().hex[:6]}",
    }
    definition = {"name": context["attribute"], "type": "enum", "values": ["gold"]}
    assert (await client.post("/api/v1/attributes", json=definition, headers=ADMIN)).status_code == 201

    admin = fingerprint("admin-token")
    for (method, path), (action, body) in ROUTES.items():
        before = await newest(client, cid)
        status = await call(client, method, path.replace("{contact_id}", cid), body(context))
        assert 200 <= status < 300, (method, path, status)
        row = await newest(client, cid)
        assert row is not None, (method, path)
        assert before is None or row["audit_id"] > before["audit_id"], (method, path)
        assert (row["action"], row["actor"], row["role"], row["via"]) == (action, admin, "admin", "token")
        if action in ("contact.merge", "contact.unmerge"):  # the other person's data changed too
            assert (await newest(client, context["other"]) or {}).get("action") == action


async def test_marking_an_identifier_shared_is_audited_on_its_contact(
    client: httpx.AsyncClient, console_stack: Stack
) -> None:
    person = a_customer()
    await sms(client, console_stack, person, "A family phone")
    cid = (await contact_of(client, person.e164))["contact_id"]
    body = {"kind": "phone", "value": person.e164, "shared": True}
    assert (await client.post("/api/v1/identity/shared", json=body, headers=ADMIN)).status_code == 200
    assert (await newest(client, cid) or {}).get("action") == "identity.shared"
