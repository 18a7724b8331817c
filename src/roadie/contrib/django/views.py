"""The dashboard as a Django view: checks access, then hands the request to the ASGI dashboard.

The view works under WSGI and ASGI servers alike: it calls the dashboard
(a Starlette app) through asgiref's ``async_to_sync`` and copies its response
into an HttpResponse. The dashboard protects its forms with its own CSRF
check, so the view is exempt from Django's.
"""

from __future__ import annotations

import hashlib
import hmac

import functools
from typing import Any

from asgiref.sync import async_to_sync
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from roadie.contrib.django.conf import installed_options
from roadie.errors import ConfigError

__all__ = ["dashboard"]


@csrf_exempt
def dashboard(request: HttpRequest, path: str) -> HttpResponse:
    """Serve the dashboard page at ``path`` below this view's URL prefix."""
    if not _allowed(request):
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        raise PermissionDenied("the roadie dashboard is open to staff users only")

    prefix = request.path[: len(request.path) - len(path)].rstrip("/")
    status, headers, body = async_to_sync(_call_dashboard)(_scope(request, prefix, path), request.body)
    return _response(status, headers, body)


def _allowed(request: HttpRequest) -> bool:
    permission = installed_options().dashboard_permission
    if permission is None:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_active and user.is_staff)
    check = import_string(permission) if isinstance(permission, str) else permission
    return bool(check(request))


@functools.lru_cache(maxsize=2)
def _dashboard_app(read_only: bool) -> Any:
    try:
        from roadie.web import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the roadie dashboard cannot be served: {exc}; install it with pip install 'roadie[web]'"
        ) from exc
    from django.conf import settings

    # Without settings the dashboard reads through roadie's process default
    # client, which the Django app configured from settings.ROADIE. Every
    # process signs CSRF tokens with a key derived from SECRET_KEY.
    csrf_secret = hmac.new(settings.SECRET_KEY.encode("utf-8"), b"roadie dashboard csrf", hashlib.sha256).digest()
    return create_app(None, read_only=read_only, csrf_secret=csrf_secret)


def _scope(request: HttpRequest, prefix: str, path: str) -> dict[str, Any]:
    server_port = request.META.get("SERVER_PORT") or ("443" if request.is_secure() else "80")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "root_path": prefix,
        # ASGI paths include the root path.
        "path": f"{prefix}/{path}",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()
        ],
        "server": (request.META.get("SERVER_NAME", "localhost"), int(server_port)),
    }
    if request.META.get("REMOTE_ADDR"):
        scope["client"] = (request.META["REMOTE_ADDR"], 0)
    return scope


async def _call_dashboard(scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    app = _dashboard_app(installed_options().dashboard_read_only)
    request_messages = [{"type": "http.request", "body": body, "more_body": False}]
    response: dict[str, Any] = {"status": 500, "headers": [], "body": []}

    async def receive() -> dict[str, Any]:
        # After the body, the client counts as gone, as a finished request is.
        return request_messages.pop() if request_messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
            response["headers"] = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            response["body"].append(message.get("body", b""))

    await app(scope, receive, send)
    return response["status"], response["headers"], b"".join(response["body"])


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status)
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        if name.lower() == "set-cookie":
            response.cookies.load(value)
        else:
            response.headers[name] = value
    return response
