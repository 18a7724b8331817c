"""Request guards and response headers: authentication, read-only mode, CSRF, CSP.

:class:`Guard` is an ASGI middleware that runs before every route:

* It calls the ``auth`` callable; False gives 403, and an ``HTTPException`` the
  callable raises (such as the 401 challenge of :func:`basic_auth`) is sent as is.
* In read-only mode it rejects every unsafe method (anything but GET, HEAD and
  OPTIONS) with 403.
* It rejects an unsafe request whose ``Sec-Fetch-Site`` header is present and
  not ``same-origin`` with 403. A request without the header (an old browser, a
  script) must carry a CSRF token instead, which :func:`verify_form_token`
  checks once the route has read the form.
* It adds a per-request CSP nonce to the scope and the security headers to
  every response.

The CSRF token is a signed double-submit cookie. The cookie contains a random
value and its HMAC under the app's secret, and every form repeats the cookie's
value in a hidden field. A cross-site page can neither read the cookie nor set
one that carries a valid signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "AuthCallable",
    "Guard",
    "basic_auth",
    "csrf_token_for",
    "verify_form_token",
]

AuthCallable = Callable[[Request], "bool | Awaitable[bool]"]

CSRF_COOKIE = "roadie_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Scope key of the guard's per-request values (the CSP nonce, the same-origin flag).
SCOPE_KEY = "roadie.web"
# Static file names carry no version, so browsers keep them for one day at most.
STATIC_CACHE_CONTROL = "private, max-age=86400"
PAGE_CACHE_CONTROL = "private, no-store"


def _content_security_policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


class Guard:
    """ASGI middleware: authentication, read-only mode, cross-site checks and security headers."""

    def __init__(self, app: ASGIApp, *, auth: AuthCallable | None, read_only: bool) -> None:
        self.app = app
        self.auth = auth
        self.read_only = read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        nonce = secrets.token_urlsafe(16)
        state: dict[str, Any] = {"nonce": nonce, "same_origin": False}
        scope[SCOPE_KEY] = state
        send = _with_security_headers(send, nonce, _is_static(scope))

        rejection = await self._rejection(scope)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _rejection(self, scope: Scope) -> Response | None:
        """Return the response that rejects this request, or None to let it through."""
        request = Request(scope)
        if self.auth is not None:
            try:
                allowed = self.auth(request)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
            except HTTPException as exc:
                return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
            if not allowed:
                return PlainTextResponse("Forbidden: the dashboard's auth check rejected this request", 403)

        if request.method in SAFE_METHODS:
            return None
        if self.read_only:
            return PlainTextResponse("Forbidden: this dashboard is read-only", 403)
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is None:
            # No header: the route checks the form's CSRF token instead.
            return None
        if fetch_site != "same-origin":
            return PlainTextResponse(f"Forbidden: cross-site request (Sec-Fetch-Site: {fetch_site})", 403)
        scope[SCOPE_KEY]["same_origin"] = True
        return None


def _is_static(scope: Scope) -> bool:
    root = scope.get("root_path", "")
    path: str = scope.get("path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path.startswith("/static/")


def _with_security_headers(send: Send, nonce: str, static: bool) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Content-Security-Policy"] = _content_security_policy(nonce)
            headers["X-Content-Type-Options"] = "nosniff"
            headers["Referrer-Policy"] = "same-origin"
            headers["X-Frame-Options"] = "SAMEORIGIN"
            headers["Cache-Control"] = STATIC_CACHE_CONTROL if static else PAGE_CACHE_CONTROL
        await send(message)

    return send_with_headers


# ---------------------------------------------------------------------- CSRF


def _signature(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("ascii"), hashlib.sha256).hexdigest()


def _valid_cookie(secret: bytes, cookie: str | None) -> bool:
    if not cookie or "." not in cookie:
        return False
    value, _, signature = cookie.partition(".")
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(_signature(secret, value), signature)


def csrf_token_for(request: Request, secret: bytes) -> tuple[str, bool]:
    """Return the token forms on this page carry, and True when it is new and must be set as the cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie is not None and _valid_cookie(secret, cookie):
        return cookie, False
    value = secrets.token_urlsafe(24)
    return f"{value}.{_signature(secret, value)}", True


def verify_form_token(request: Request, form: FormData, secret: bytes) -> None:
    """Raise 403 unless the request came from the same origin or carries a valid CSRF token.

    The guard has already rejected a present ``Sec-Fetch-Site`` other than
    ``same-origin``; this covers requests without the header.
    """
    if request.scope.get(SCOPE_KEY, {}).get("same_origin"):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not _valid_cookie(secret, cookie):
        raise HTTPException(403, "Forbidden: missing or invalid CSRF token; reload the page and try again")
    assert cookie is not None
    if not hmac.compare_digest(submitted.encode("utf-8"), cookie.encode("utf-8")):
        raise HTTPException(403, "Forbidden: missing or invalid CSRF token; reload the page and try again")


# ---------------------------------------------------------------- basic auth


def basic_auth(username: str, password: str, *, realm: str = "roadie") -> Callable[[Request], bool]:
    """Build an ``auth`` callable for :func:`roadie.web.create_app` that requires HTTP basic auth.

    A request without matching credentials gets 401 with a ``WWW-Authenticate``
    challenge, so browsers ask for them. Both names are compared in constant time.
    """
    if not username or not password:
        raise ValueError("basic auth needs a non-empty username and password")
    expected_user = username.encode("utf-8")
    expected_password = password.encode("utf-8")
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}

    def check(request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        user, password_given = b"", b""
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            user, _, password_given = decoded.partition(b":")
        # Evaluate both comparisons so the time taken does not reveal which one failed.
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(password_given, expected_password)
        if user_ok and password_ok:
            return True
        raise HTTPException(401, "Unauthorized: this dashboard requires a username and password", headers=challenge)

    return check
