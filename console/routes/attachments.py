"""Attachment content in the console: images as thumbnails, audio and video in a player, the rest to download.

``GET /api/v1/interactions/{id}/attachments/{n}`` (agent, audited ``attachment.read``) answers how
the page may show a kept attachment and with which short-lived signed URLs
(:mod:`console.media_urls`). ``GET /media/{token}`` serves the file, and never lets it run:

- a thumbnail is decoded and re-encoded by Pillow (PNG), so what reaches an ``<img>`` is pixels we
  wrote, whatever the file held; an image that would decode to too many pixels has none (404), and
  thumbnails are drawn a few at a time and once per file (:mod:`console.thumbnails`);
- the file itself goes with ``X-Content-Type-Options: nosniff`` and a CSP of ``sandbox;
  default-src 'none'``; only raster images (the type sniffed from the bytes, never the provider's
  label) go inline, everything else with ``Content-Disposition: attachment``. An HTML page or an
  SVG with a script sent as a photo is sniffed as neither, so it downloads, sandboxed, and runs
  nowhere.

The file answers range requests (:mod:`console.byte_ranges`): players seek in it, and Safari on
iOS plays audio and video only from a server that does. A range is read from the store alone.

``HEAD`` (players and download managers learn the size, the type and that ranges are served)
answers what ``GET`` would, status and headers, ranges and 416 included, from the store's size
lookup alone: no byte of the file is read. A thumbnail's length is known only once it is drawn, so
its ``HEAD`` omits ``Content-Length`` (RFC 9110 section 9.3.2 allows it), and says 200 for an image
its ``GET`` would find undecodable (404).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from console import byte_ranges
from console.audit import Audit
from console.auth import Principal
from console.media_urls import Grant, MediaUrls
from console.signing import DeploymentSecret
from console.thumbnails import Thumbnails
from sinks import queries
from sinks.connection import ConnectionFactory
from sinks.media import deletions
from sinks.media.store import MediaStore

log = structlog.get_logger(__name__)

#: Raster types a browser shows and Pillow reads; the only ones served inline.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
#: Larger images get no thumbnail (the download still works).
THUMBNAIL_MAX_BYTES = 25 * 1024 * 1024
SANDBOX = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"


def kind_of(content_type: str) -> str:
    if content_type in INLINE_IMAGES:
        return "image"
    if content_type.startswith("audio/"):
        return "audio"
    if content_type.startswith("video/"):
        return "video"
    return "document"


def router(
    connection: ConnectionFactory, audit: Audit, store: MediaStore, secret: DeploymentSecret, *, ttl_s: int
) -> APIRouter:
    api = APIRouter(tags=["contacts"])
    reader = audit.principal("agent")
    thumbnails = Thumbnails()

    made: MediaUrls | None = None

    async def signed() -> MediaUrls:
        """Made once, on first use (the secret may have to be read from the database), like the session codec."""
        nonlocal made
        if made is None:
            made = MediaUrls(await secret.get(), ttl_s=ttl_s)
        return made

    @api.get("/api/v1/interactions/{interaction_id}/attachments/{index}")
    async def attachment(interaction_id: uuid.UUID, index: int, who: Principal = reader) -> dict[str, Any]:
        """How to show a kept attachment: its kind and short-lived URLs (``thumbnail_url`` for images)."""
        async with connection() as conn:
            found = await queries.interaction(conn, interaction_id)
        attachments = found[1].get("attachments") or [] if found else []
        if found is None or not 0 <= index < len(attachments):
            raise HTTPException(404, "no such attachment")
        media = attachments[index].get("media") or {}
        if media.get("state") != "stored":
            raise HTTPException(404, "this attachment's content is not kept")
        await audit.write(who, "attachment.read", found[0])
        sha256, content_type = str(media["sha256"]), str(media.get("content_type") or "application/octet-stream")
        name = str(attachments[index].get("name") or f"attachment-{index + 1}")
        kind, urls = kind_of(content_type), await signed()
        thumbnail = kind == "image" and int(media.get("size") or 0) <= THUMBNAIL_MAX_BYTES
        return {
            "kind": kind,
            "name": name,
            "content_type": content_type,
            "size": media.get("size"),
            "url": urls.url(sha256, "original", content_type, name),
            "thumbnail_url": urls.url(sha256, "thumbnail", content_type, name) if thumbnail else None,
        }

    @api.api_route("/media/{token}", methods=["GET", "HEAD"], include_in_schema=False)
    async def content(token: str, request: Request) -> Response:
        head = request.method == "HEAD"
        grant = (await signed()).read(token)
        if grant is None:
            raise HTTPException(403, "this link is not valid or has expired")
        async with connection() as conn:  # erased or purged since the link was made: nobody's to see
            if not await deletions.referenced(conn, grant.sha256):
                thumbnails.forget(grant.sha256)
                raise HTTPException(404, "no longer kept")
        try:
            size = await store.size(grant.sha256)
        except FileNotFoundError:
            raise HTTPException(404, "no longer kept") from None
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SANDBOX,
            "Cache-Control": "private, max-age=300",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
        if grant.variant == "thumbnail":
            if grant.content_type not in INLINE_IMAGES or size > THUMBNAIL_MAX_BYTES:
                raise HTTPException(404, "no thumbnail for this file")
            headers["Content-Disposition"] = "inline"
            if head:
                return headers_only(200, "image/png", headers)

            async def whole() -> bytes:
                return b"".join([c async for c in store.read(grant.sha256)])

            png = await thumbnails.get(grant.sha256, whole)
            if png is None:
                raise HTTPException(404, "no thumbnail for this file")
            return Response(png, media_type="image/png", headers=headers)
        inline = grant.content_type in INLINE_IMAGES
        tag = byte_ranges.etag(grant.sha256)
        headers["Content-Disposition"] = disposition(grant, inline=inline)
        headers.update({"Accept-Ranges": "bytes", "ETag": tag})
        try:
            span = byte_ranges.requested(request.headers.get("range"), request.headers.get("if-range"), tag, size)
        except byte_ranges.Unsatisfiable:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        if span is None:
            status = 200
            headers["Content-Length"] = str(size)
        else:
            status = 206
            headers.update({"Content-Length": str(span.length), "Content-Range": span.content_range})
        if head:
            return headers_only(status, grant.content_type, headers)
        stream = _stream(store, grant, None if span is None else (span.start, span.end))
        return StreamingResponse(stream, status_code=status, media_type=grant.content_type, headers=headers)

    return api


def headers_only(status: int, media_type: str, headers: dict[str, str]) -> Response:
    """A ``HEAD`` answer: ``GET``'s status and headers, no body. Not given a ``Content-Length`` (a
    thumbnail's), it sends none, rather than the empty body's 0."""
    response = Response(status_code=status, media_type=media_type, headers=headers)
    if "Content-Length" not in headers:
        del response.headers["content-length"]
    return response


async def _stream(store: MediaStore, grant: Grant, span: tuple[int, int] | None = None) -> AsyncIterator[bytes]:
    async for chunk in store.read(grant.sha256, span):
        yield chunk


def disposition(grant: Grant, *, inline: bool) -> str:
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in grant.name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(grant.name, safe='')}"
