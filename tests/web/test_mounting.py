"""The dashboard mounted in Starlette, FastAPI, Flask and Django hosts, as docs/dashboard.md shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest
import redis
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from roadie.web import create_app

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _check_dashboard_html(html: str) -> None:
    """Check that links, assets and forms all carry the /roadie prefix."""
    assert 'href="/roadie/static/roadie.css"' in html
    assert 'src="/roadie/static/roadie.js"' in html
    assert 'href="/roadie/retries"' in html
    assert 'href="/static/' not in html


# ---------------------------------------------------------------- Starlette


def test_starlette_mount_serves_dashboard(redis_url: str, seed, redis_client: redis.Redis) -> None:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("host home")

    host = Starlette(routes=[Route("/", home), Mount("/roadie", app=create_app(redis_url))])
    score, jid, _ = seed.retry()

    with TestClient(host) as http:
        page = http.get("/roadie/")
        css = http.get("/roadie/static/roadie.css")
        bare = http.get("/roadie", follow_redirects=False)
        action = http.post(f"/roadie/retries/{score!r}-{jid}", data={"action": "delete"}, headers=SAME_ORIGIN,
                           follow_redirects=False)
        stats = http.get("/roadie/stats")
        host_home = http.get("/")

    assert page.status_code == 200
    _check_dashboard_html(page.text)
    assert css.status_code == 200
    assert bare.headers["location"].endswith("/roadie/")
    assert action.headers["location"] == "/roadie/retries"
    assert redis_client.zcard("retry") == 0
    assert stats.json()["sidekiq"]["retries"] == 0
    assert host_home.text == "host home"


def test_fastapi_mount_serves_dashboard(redis_url: str) -> None:
    from fastapi import FastAPI

    host = FastAPI()

    @host.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    host.mount("/roadie", create_app(redis_url))

    with TestClient(host) as http:
        page = http.get("/roadie/")
        health_response = http.get("/health")

    assert page.status_code == 200
    _check_dashboard_html(page.text)
    assert health_response.json() == {"status": "ok"}


def test_csrf_cookie_scoped_to_mount(redis_url: str) -> None:
    host = Starlette(routes=[Mount("/roadie", app=create_app(redis_url))])
    with TestClient(host) as http:
        cookie = http.get("/roadie/").headers["set-cookie"]
    assert "Path=/roadie" in cookie


def test_root_path_prefixes_links(redis_url: str) -> None:
    # A proxy strips /ops before the request reaches the app.
    with TestClient(create_app(redis_url, root_path="/ops/")) as http:
        html = http.get("/").text
        redirect = http.post("/retries/all/delete", headers=SAME_ORIGIN, follow_redirects=False)
    assert 'href="/ops/static/roadie.css"' in html
    assert redirect.headers["location"] == "/ops/retries"


# -------------------------------------------------------------------- Flask


def test_flask_dispatcher_serves_dashboard(redis_url: str, seed, redis_client: redis.Redis) -> None:
    from a2wsgi import ASGIMiddleware
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    flask_app = Flask("host")

    @flask_app.route("/")
    def home() -> str:
        return "flask home"

    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, {"/roadie": ASGIMiddleware(create_app(redis_url))}
    )
    seed.enqueue(queue="mailers")
    client = flask_app.test_client()

    page = client.get("/roadie/")
    clear = client.post("/roadie/queues/mailers", data={"action": "clear"}, headers=SAME_ORIGIN)
    home_page = client.get("/")

    assert page.status_code == 200
    _check_dashboard_html(page.get_data(as_text=True))
    assert clear.status_code == 303
    assert clear.headers["location"] == "/roadie/queues"
    assert redis_client.llen("queue:mailers") == 0
    assert home_page.get_data(as_text=True) == "flask home"


# ------------------------------------------------------------------- Django

# Django's settings are global to a process, and the Django integration tests
# configure their own, so these hosts run in a child process.
DJANGO_HOSTS = textwrap.dedent(
    """
    import json, sys
    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    class URLConf:
        urlpatterns = [path("", lambda request: HttpResponse("django home"))]

    settings.configure(DEBUG=False, SECRET_KEY="test only", ALLOWED_HOSTS=["*"], ROOT_URLCONF=URLConf,
                       INSTALLED_APPS=[], MIDDLEWARE=[])
    django.setup()

    from a2wsgi import ASGIMiddleware
    from django.core.asgi import get_asgi_application
    from django.core.wsgi import get_wsgi_application
    from starlette.routing import Mount, Router
    from starlette.testclient import TestClient
    from werkzeug.test import Client
    from roadie.web import create_app

    redis_url, entry_key = sys.argv[1], sys.argv[2]
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    results = {}

    # ASGI: a router sends /roadie to the dashboard and the rest to Django.
    asgi = Router(routes=[Mount("/roadie", app=create_app(redis_url)), Mount("/", app=get_asgi_application())])
    with TestClient(asgi) as http:
        page = http.get("/roadie/")
        results["asgi"] = {"status": page.status_code, "html": page.text, "home": http.get("/").text}

    # WSGI: a dispatching function, with the dashboard behind a2wsgi.
    django_app = get_wsgi_application()
    dashboard = ASGIMiddleware(create_app(redis_url))

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/roadie" or path.startswith("/roadie/"):
            environ = {**environ, "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + "/roadie",
                       "PATH_INFO": path[len("/roadie"):] or "/"}
            return dashboard(environ, start_response)
        return django_app(environ, start_response)

    client = Client(application)
    page = client.get("/roadie/")
    action = client.post(f"/roadie/morgue/{entry_key}", data={"action": "retry"}, headers=same_origin)
    results["wsgi"] = {"status": page.status_code, "html": page.get_data(as_text=True),
                       "home": client.get("/").get_data(as_text=True), "action_status": action.status_code,
                       "action_location": action.headers.get("location")}
    print(json.dumps(results))
    """
)


@pytest.fixture
def django_hosts(redis_url: str, seed) -> dict[str, Any]:
    """Run both Django hosts in a child process; return what each served."""
    score, jid, _ = seed.dead()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ROADIE_")}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-c", DJANGO_HOSTS, redis_url, f"{score!r}-{jid}"],
                            capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_django_asgi_router_serves_dashboard(django_hosts: dict[str, Any]) -> None:
    served = django_hosts["asgi"]
    assert served["status"] == 200
    _check_dashboard_html(served["html"])
    assert served["home"] == "django home"


def test_django_wsgi_serves_dashboard(django_hosts: dict[str, Any], redis_client: redis.Redis) -> None:
    served = django_hosts["wsgi"]
    assert served["status"] == 200
    _check_dashboard_html(served["html"])
    assert served["action_status"] == 303
    assert served["action_location"] == "/roadie/morgue"
    assert redis_client.zcard("dead") == 0
    assert served["home"] == "django home"
