"""The support staff's page at ``/``: sign-in, sign-out, and the shell the script fills.

Server-rendered (Jinja2) with a small vanilla script for progressive enhancement: every bit of
data the page shows or changes goes through the documented ``/api/v1`` routes, authenticated
by the session cookie this module issues (see ``console/session.py`` for CSRF).

Staff sign in with their email and password (``omnitrail staff add``); the cookie names the account,
the role is the account's. An API token still signs in too (the cookie names its fingerprint, the role
is the token's): tokens are for machines, and for a first look before any account exists.
"""

from __future__ import annotations

import hmac
from importlib import resources
from pathlib import Path

import structlog
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import oidc as sso
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


def _onwards() -> HTMLResponse:
    return HTMLResponse(
        '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">'
        '<title>Signed in</title><a href="/">Continue to Omnitrail</a>',
        headers=_HEADERS,
    )


def _same_origin(request: Request) -> bool:
    """Forms posted from another site are refused (login CSRF): browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return origin.rstrip("/") == str(request.base_url).rstrip("/")


def router(
    auth: TokenAuth, throttle: Throttle, *, secure_cookie: bool, oidc: sso.OidcSignIn | None = None
) -> APIRouter:
    page = APIRouter(include_in_schema=False)

    def with_session(response: Response, cookie: str) -> Response:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(auth.session_lifetime_s),
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
            path="/",
        )
        return response

    async def render(request: Request, status_code: int = 200, **context: object) -> HTMLResponse:
        principal = await auth.from_session(request)
        csrf = (await auth.codec()).csrf_token(principal.session) if principal and principal.session else None
        return templates.TemplateResponse(
            request,
            "page.html",
            {"principal": principal, "csrf": csrf, "sso": oidc is not None, **context},
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
        return with_session(RedirectResponse("/", status_code=303), cookie)

    @page.get("/signin/oidc", response_model=None)
    async def signin_oidc(request: Request) -> Response:
        """Off to the sign-in provider, with this browser's state, nonce and PKCE verifier in a cookie."""
        if oidc is None:
            return await render(request, 404, error="Single sign-on is not configured.")
        try:
            url, pending = await oidc.start()
        except sso.OidcError as exc:
            return await render(request, 503, error=str(exc))
        redirect = RedirectResponse(url, status_code=303)
        # Lax: the provider sends the browser back by a cross-site navigation, which a Strict cookie would miss.
        redirect.set_cookie(
            sso.COOKIE,
            pending.cookie(),
            max_age=sso.PENDING_S,
            httponly=True,
            samesite="lax",
            secure=secure_cookie,
            path=sso.COOKIE_PATH,
        )
        return redirect

    @page.get("/signin/oidc/callback", response_model=None)
    async def signin_oidc_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
        if oidc is None:
            return await render(request, 404, error="Single sign-on is not configured.")
        pending = sso.Pending.read(request.cookies.get(sso.COOKIE))
        if error:
            return await render(request, 401, error="Sign-in was cancelled or refused at the sign-in provider.")
        if pending is None or not code or not hmac.compare_digest(state.encode(), pending.state.encode()):
            return await render(request, 400, error="That sign-in expired or was not started here: sign in again.")
        try:
            issued = await auth.sign_in_verified(await oidc.finish(pending, code))
        except sso.OidcError as exc:
            log.info("console.signin_failed", by="oidc", reason=str(exc))
            return await render(request, 401, error=str(exc))
        if issued is None:
            log.info("console.signin_failed", by="oidc", reason="no enabled staff account")
            return await render(
                request, 403, error="You have no Omnitrail account: ask an administrator (omnitrail staff add)."
            )
        cookie, principal = issued
        log.info("console.signed_in", by="oidc", role=principal.role)
        # A page that moves on by itself: "/" reached by a redirect from the provider's cross-site navigation
        # would not carry the Strict session cookie yet; a same-site navigation from here does.
        response = with_session(_onwards(), cookie)
        response.delete_cookie(sso.COOKIE, path=sso.COOKIE_PATH, httponly=True, samesite="lax", secure=secure_cookie)
        return response

    @page.post("/signout", response_model=None)
    async def signout(request: Request, csrf: str = Form(default="", max_length=200)) -> Response:
        principal = await auth.from_session(request)
        if principal is None or principal.session is None or not (await auth.codec()).csrf_ok(principal.session, csrf):
            return await render(request, 403, error="Sign-out needs the page's form.")
        await auth.sign_out(principal.session)  # the cookie no longer counts anywhere, even if it was copied
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure_cookie)
        return response

    return page
