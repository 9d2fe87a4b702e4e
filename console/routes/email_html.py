"""An email's HTML, made safe to show: sanitized, then served as its own sandboxed document.

Email HTML is hostile (scripts, event handlers, ``javascript:`` links, tracking pixels), so
three independent layers stand between it and the staff member's browser:

1. ``nh3`` (Rust's ammonia) keeps an allow-list of tags, attributes, URL schemes and inline
   style properties; scripts, handlers and ``javascript:`` URLs are gone before we send a byte.
2. The response's Content-Security-Policy forbids every script and (by default) every remote
   image, and carries ``sandbox`` so the document runs in an opaque origin even when opened on
   its own; remote images load only when the viewer asks for this one message (``images=true``).
3. The page embeds it in ``<iframe sandbox>`` without ``allow-scripts`` or ``allow-same-origin``.

Any one of them alone stops a script; the tests check the combination in a real browser.
"""

from __future__ import annotations

import uuid

import nh3
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from console.audit import Audit
from console.auth import Principal
from sinks import queries
from sinks.connection import ConnectionFactory

_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES.setdefault("*", set()).update({"style", "align", "valign", "width", "height", "bgcolor", "dir", "lang"})
_ATTRIBUTES.setdefault("img", set()).update({"src", "alt", "title", "width", "height"})
_ATTRIBUTES.setdefault("a", set()).update({"href", "title"})
_STYLE = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "text-align", "text-decoration", "line-height", "margin", "margin-top", "margin-bottom", "margin-left",
    "margin-right", "padding", "padding-top", "padding-bottom", "padding-left", "padding-right", "border",
    "border-collapse", "width", "max-width", "height", "vertical-align", "white-space",
}  # fmt: skip
_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
_BLOCKED_IMAGES = "img-src data: cid:"
_REMOTE_IMAGES = "img-src data: cid: https: http:"
_SHELL = (
    '<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
    "<style>body{{font:15px/1.45 system-ui,sans-serif;margin:8px;overflow-wrap:anywhere}}"
    "img{{max-width:100%;height:auto}}table{{max-width:100%}}</style></head><body>{body}</body></html>"
)


def sanitize(html: str) -> str:
    """The allow-listed subset of an email's HTML: no script survives, links open nothing."""
    return nh3.clean(
        html,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        filter_style_properties=_STYLE,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def policy(*, images: bool) -> str:
    return "; ".join(
        (
            "sandbox",
            "default-src 'none'",
            "script-src 'none'",
            "style-src 'unsafe-inline'",
            _REMOTE_IMAGES if images else _BLOCKED_IMAGES,
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
        )
    )


def router(connection: ConnectionFactory, audit: Audit) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["contacts"])
    # A name, not an annotation: the string annotations of this module cannot see locals.
    reader = audit.principal("agent")

    @api.get("/interactions/{interaction_id}/html", response_class=HTMLResponse)
    async def email_html(
        interaction_id: uuid.UUID,
        who: Principal = reader,
        images: bool = Query(default=False, description="Allow remote images for this message"),
    ) -> HTMLResponse:
        """An interaction's HTML body, sanitized, as a standalone sandboxed document for an iframe."""
        async with connection() as conn:
            found = await queries.interaction(conn, interaction_id)
        if found is None or not found[1].get("html"):
            raise HTTPException(404, "no such interaction with an HTML body")
        await audit.write(who, "email.read", found[0])
        return HTMLResponse(
            _SHELL.format(body=sanitize(str(found[1]["html"]))),
            headers={
                "Content-Security-Policy": policy(images=images),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "private, no-store",
            },
        )

    return api
