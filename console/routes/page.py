"""The support staff's page at ``/``: sign-in, sign-out, and the shell the script fills.

Server-rendered (Jinja2) with a small vanilla script for progressive enhancement: every bit of
data the page shows or changes goes through the documented ``/api/v1`` routes, authenticated
by the session cookie this module issues (see ``console/session.py`` for CSRF).

Staff sign in with their email and password (``omnitrail staff add``); the cookie names the account,
the role is the account's. An API token still signs in too (the cookie names its fingerprint, the role
is the token's): tokens are for machines, and for a first look before any account exists.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import structlog
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console.auth import TokenAuth
from console.session import COOKIE
from console.throttle import Throttle

log = structlog.get_logger(__name__)
_HERE = Path(str(resources.files("console")))
templates = Jinja2Templates(directory=_HERE / "templates")
static_files = StaticFiles(directory=_HERE / "static")
#: The page's own policy: its script and styles only; frames only from us (the email view).
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _same_origin(request: Request) -> bool:
    """Forms posted from another site are refused (login CSRF): browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return origin.rstrip("/") == str(request.base_url).rstrip("/")


def router(auth: TokenAuth, throttle: Throttle, *, secure_cookie: bool) -> APIRouter:
    page = APIRouter(include_in_schema=False)

    async def render(request: Request, status_code: int = 200, **context: object) -> HTMLResponse:
        principal = await auth.from_session(request)
        csrf = auth.sessions.csrf_token(principal.session) if principal and principal.session else None
        return templates.TemplateResponse(
            request,
            "page.html",
            {"principal": principal, "csrf": csrf, **context},
            status_code=status_code,
            headers=_HEADERS,
        )

    @page.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return await render(request)

    @page.post("/signin", response_model=None)
    async def signin(
        request: Request,
        email: str = Form(default="", max_length=320),
        password: str = Form(default="", max_length=1000),
        token: str = Form(default="", max_length=500),
    ) -> Response:
        client = request.client.host if request.client else "unknown"
        if not _same_origin(request):
            return await render(request, 403, error="Sign-in must come from this page.")
        wait = throttle.retry_after(client)
        if wait is not None:
            log.warning("console.signin_throttled")
            response = await render(request, 429, error=f"Too many failed sign-ins. Try again in {wait} s.")
            response.headers["Retry-After"] = str(wait)
            return response
        if email.strip():
            issued = await auth.sign_in_staff(email, password)
        else:
            issued = await auth.sign_in(token.strip()) if token.strip() else None
        if issued is None:
            throttle.failed(client)
            log.info("console.signin_failed", by="password" if email.strip() else "token")
            error = "Wrong email or password." if email.strip() else "That token is not valid."
            return await render(request, 401, error=error)
        throttle.succeeded(client)
        cookie, principal = issued
        # An email is personal data: the log says how and as what, not who.
        log.info("console.signed_in", by="password" if email.strip() else "token", role=principal.role)
        redirect = RedirectResponse("/", status_code=303)
        redirect.set_cookie(
            COOKIE,
            cookie,
            max_age=int(auth.sessions.lifetime_s),
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
            path="/",
        )
        return redirect

    @page.post("/signout", response_model=None)
    async def signout(request: Request, csrf: str = Form(default="", max_length=200)) -> Response:
        principal = await auth.from_session(request)
        if principal is None or principal.session is None or not auth.sessions.csrf_ok(principal.session, csrf):
            return await render(request, 403, error="Sign-out needs the page's form.")
        await auth.sign_out(principal.session)  # the cookie no longer counts anywhere, even if it was copied
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookie)
        return response

    return page
