"""Security headers, cross-site request rejection, CSRF tokens, auth and read-only mode."""

from __future__ import annotations

import base64
import re

import pytest
import redis
from starlette.requests import Request
from starlette.testclient import TestClient

from roadie.web import basic_auth, create_app

PAGES = ["/", "/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue", "/metrics"]


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, "page has no CSRF token"
    return match.group(1)


def _seed_everything(seed) -> dict[str, tuple[float, str, bytes]]:
    seed.enqueue()
    seed.process()
    return {"retry": seed.retry(), "scheduled": seed.scheduled(), "dead": seed.dead()}


# ------------------------------------------------------------------ headers


def test_pages_send_security_headers(dashboard, seed) -> None:
    _seed_everything(seed)
    for path in PAGES + ["/stats", "/stats/queues", "/queues/bad$name"]:
        response = dashboard.get(path)
        policy = response.headers["content-security-policy"]
        assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", policy), path
        assert "unsafe-inline" not in policy, path
        assert "object-src 'none'" in policy, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["cache-control"] == "private, no-store", path


def test_nonce_differs_per_request(dashboard) -> None:
    first = dashboard.get("/").headers["content-security-policy"]
    second = dashboard.get("/").headers["content-security-policy"]
    assert first != second


def test_scripts_carry_the_nonce(dashboard) -> None:
    response = dashboard.get("/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    scripts = re.findall(r"<script[^>]*\ssrc=[^>]*>", response.text)
    assert len(scripts) == 3
    for tag in scripts:
        assert f'nonce="{nonce}"' in tag


def test_no_inline_script_or_handler(dashboard, seed) -> None:
    keys = _seed_everything(seed)
    detail_pages = [f"/retries/{keys['retry'][0]!r}-{keys['retry'][1]}",
                    f"/scheduled/{keys['scheduled'][0]!r}-{keys['scheduled'][1]}",
                    f"/morgue/{keys['dead'][0]!r}-{keys['dead'][1]}"]
    for path in PAGES + detail_pages:
        html = dashboard.get(path).text
        inline = re.findall(r"<script(?![^>]*\ssrc=)(?![^>]*application/json)[^>]*>", html)
        assert inline == [], path
        assert re.search(r"<[^>]+\son[a-z]+\s*=", html) is None, path


def test_static_files_cached_privately(dashboard) -> None:
    for path in ("/static/roadie.css", "/static/roadie.js", "/static/vendor/chart.umd.min.js"):
        response = dashboard.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, max-age=86400", path
        assert response.headers["x-content-type-options"] == "nosniff", path


# -------------------------------------------------------- cross-site POSTs


@pytest.mark.parametrize("site", [None, "cross-site", "same-site", "none"])
def test_cross_site_post_rejected(dashboard, seed, redis_client: redis.Redis, site: str | None) -> None:
    score, jid, _ = seed.retry()
    target = seed.process()
    headers = {"Sec-Fetch-Site": site} if site else {}
    posts = [
        (f"/retries/{score!r}-{jid}", {"action": "delete"}),
        ("/retries", {"action": "delete", "key": f"{score!r}-{jid}"}),
        ("/retries/all/delete", {}),
        ("/queues/default", {"action": "clear"}),
        ("/busy", {"action": "stop", "identity": target}),
    ]
    seed.enqueue()
    for path, form in posts:
        response = dashboard.http.post(path, data=form, headers=headers, follow_redirects=False)
        assert response.status_code == 403, path
    assert redis_client.zcard("retry") == 1
    assert redis_client.llen("queue:default") == 1
    assert redis_client.llen(f"{target}-signals") == 0


def test_csrf_token_allows_post(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    token = _token(dashboard.get("/retries").text)

    response = dashboard.http.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": token},
                                   follow_redirects=False)

    assert response.status_code == 303
    assert redis_client.zcard("retry") == 0


def test_wrong_csrf_token_rejected(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    token = _token(dashboard.get("/retries").text)
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    response = dashboard.http.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": forged},
                                   follow_redirects=False)
    assert response.status_code == 403
    assert redis_client.zcard("retry") == 1


def test_csrf_token_without_cookie_rejected(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    token = _token(dashboard.get("/retries").text)
    dashboard.http.cookies.clear()
    response = dashboard.http.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": token},
                                   follow_redirects=False)
    assert response.status_code == 403
    assert redis_client.zcard("retry") == 1


def test_unsigned_cookie_rejected(dashboard, seed, redis_client: redis.Redis) -> None:
    # An attacker who can set a cookie (from a sibling subdomain) cannot sign it.
    score, jid, _ = seed.retry()
    dashboard.http.cookies.set("roadie_csrf", "chosen.value")
    response = dashboard.http.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": "chosen.value"},
                                   follow_redirects=False)
    assert response.status_code == 403
    assert redis_client.zcard("retry") == 1


def test_token_from_other_app_rejected(redis_url: str, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    with TestClient(create_app(redis_url)) as first, TestClient(create_app(redis_url)) as second:
        token = _token(first.get("/retries").text)
        second.cookies.set("roadie_csrf", token)
        response = second.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": token},
                               follow_redirects=False)
    assert response.status_code == 403
    assert redis_client.zcard("retry") == 1


def test_shared_secret_accepts_token(redis_url: str, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    apps = [create_app(redis_url, csrf_secret="shared secret") for _ in range(2)]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        token = _token(first.get("/retries").text)
        second.cookies.set("roadie_csrf", token)
        response = second.post(f"/retries/{score!r}-{jid}", data={"action": "delete", "csrf_token": token},
                               follow_redirects=False)
    assert response.status_code == 303
    assert redis_client.zcard("retry") == 0


def test_csrf_cookie_is_strict(dashboard) -> None:
    cookie = dashboard.get("/").headers["set-cookie"]
    assert "roadie_csrf=" in cookie
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()


# ------------------------------------------------------------- read-only


def test_read_only_hides_actions(redis_url: str, seed) -> None:
    keys = _seed_everything(seed)
    details = [f"/retries/{keys['retry'][0]!r}-{keys['retry'][1]}",
               f"/scheduled/{keys['scheduled'][0]!r}-{keys['scheduled'][1]}",
               f"/morgue/{keys['dead'][0]!r}-{keys['dead'][1]}"]
    with TestClient(create_app(redis_url, read_only=True)) as http:
        for path in PAGES + details:
            html = http.get(path).text
            assert 'method="post"' not in html, path
            assert 'type="checkbox"' not in html, path
            assert "read-only" in html, path


def test_read_only_rejects_every_post(redis_url: str, seed, redis_client: redis.Redis) -> None:
    keys = _seed_everything(seed)
    identity = seed.process()
    retry_key = f"{keys['retry'][0]!r}-{keys['retry'][1]}"
    posts = [
        ("/busy", {"action": "quiet"}),
        ("/busy", {"action": "stop", "identity": identity}),
        ("/queues/default", {"action": "clear"}),
        ("/queues/default", {"action": "pause"}),
        ("/queues/default/delete", {"key_val": "e30="}),
        ("/retries", {"action": "delete", "key": retry_key}),
        (f"/retries/{retry_key}", {"action": "retry"}),
        ("/retries/all/delete", {}),
        ("/retries/all/retry", {}),
        ("/retries/all/kill", {}),
        ("/scheduled/all/add_to_queue", {}),
        ("/scheduled/all/delete", {}),
        ("/morgue/all/retry", {}),
        ("/morgue/all/delete", {}),
    ]
    before = {key: redis_client.type(key) for key in redis_client.keys("*")}

    with TestClient(create_app(redis_url, read_only=True)) as http:
        token = http.get("/").cookies["roadie_csrf"]
        for path, form in posts:
            # A same-origin POST with a valid token: only read-only mode can reject it.
            response = http.post(path, data={**form, "csrf_token": token}, headers={"Sec-Fetch-Site": "same-origin"},
                                 follow_redirects=False)
            assert response.status_code == 403, path

    assert redis_client.zcard("retry") == 1
    assert redis_client.zcard("schedule") == 1
    assert redis_client.zcard("dead") == 1
    assert redis_client.llen("queue:default") == 1
    assert not redis_client.exists("paused")
    assert not redis_client.exists(f"{identity}-signals")
    assert {key: redis_client.type(key) for key in redis_client.keys("*")} == before


# ------------------------------------------------------------------ auth


def test_auth_false_is_403(redis_url: str) -> None:
    with TestClient(create_app(redis_url, auth=lambda request: False)) as http:
        assert http.get("/").status_code == 403
        assert http.get("/stats").status_code == 403
        assert http.get("/static/roadie.css").status_code == 403


def test_auth_sees_the_request(redis_url: str) -> None:
    def allow_admins(request: Request) -> bool:
        return request.headers.get("x-role") == "admin"

    with TestClient(create_app(redis_url, auth=allow_admins)) as http:
        assert http.get("/", headers={"x-role": "admin"}).status_code == 200
        assert http.get("/", headers={"x-role": "guest"}).status_code == 403


def test_async_auth_awaited(redis_url: str) -> None:
    async def deny(request: Request) -> bool:
        return False

    with TestClient(create_app(redis_url, auth=deny)) as http:
        assert http.get("/").status_code == 403


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_challenges(redis_url: str) -> None:
    with TestClient(create_app(redis_url, auth=basic_auth("admin", "s3cret"))) as http:
        missing = http.get("/")
        wrong = http.get("/", headers=_basic("admin", "guess"))
        wrong_user = http.get("/", headers=_basic("root", "s3cret"))
        garbage = http.get("/", headers={"Authorization": "Basic !!!"})
        right = http.get("/", headers=_basic("admin", "s3cret"))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith('Basic realm="roadie"')
    assert wrong.status_code == 401
    assert wrong_user.status_code == 401
    assert garbage.status_code == 401
    assert right.status_code == 200


def test_basic_auth_password_with_colon(redis_url: str) -> None:
    with TestClient(create_app(redis_url, auth=basic_auth("admin", "a:b:c"))) as http:
        assert http.get("/", headers=_basic("admin", "a:b:c")).status_code == 200


def test_basic_auth_needs_credentials() -> None:
    with pytest.raises(ValueError):
        basic_auth("", "password")
    with pytest.raises(ValueError):
        basic_auth("admin", "")


def test_root_path_must_be_absolute() -> None:
    with pytest.raises(ValueError):
        create_app("redis://127.0.0.1:1/0", root_path="roadie")
