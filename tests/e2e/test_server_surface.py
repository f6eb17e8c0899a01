"""Streamlit's own surface on the real server (serve.py), reached with a websocket client, no browser: a socket
that asks for another connection's session id leaves no session id in the server log, and gets that session only
with the same session cookie; /_stcore/metrics answers only a signed-in admin's cookie; a clear_cache message
from a socket that never signed in clears nobody's caches."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest

from core import auth, sessions, users
from core.workspace import open_workspace
from tests.e2e.conftest import serve

pytestmark = pytest.mark.slow
websockets_client = pytest.importorskip("websockets.sync.client")
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
WAIT_S = 120  # a first script run imports the app's modules: slow on a busy 2-core machine


@pytest.fixture
def server(tmp_path):
    """Sign-in required, as on the plant LAN; yields (url, workspace path, log path)."""
    for url, workspace in serve(tmp_path, {}):
        yield url, workspace, tmp_path / "streamlit.log"


def connect(url: str, session_id: str = "", cookie: str | None = None):
    """A websocket as Streamlit's frontend opens it; session_id: the one it asks to resume; cookie: the
    browser's session cookie."""
    protocols = ["streamlit", "no-xsrf-token", *([session_id] if session_id else [])]
    return websockets_client.connect(
        url.replace("http", "ws", 1) + "/_stcore/stream",
        subprotocols=protocols,
        origin=url,
        max_size=None,
        open_timeout=30,
        additional_headers={"Cookie": f"{sessions.COOKIE}={cookie}"} if cookie else None,
    )


def send(sock, **fields) -> None:
    msg = BackMsg(**fields)
    sock.send(msg.SerializeToString())


def receive_until(sock, wanted: str) -> ForwardMsg:
    """Forward messages until one of type `wanted` (script runs, heartbeats)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        msg = ForwardMsg()
        msg.ParseFromString(sock.recv(timeout=deadline - time.monotonic()))
        if msg.WhichOneof("type") == wanted:
            return msg
    raise AssertionError(f"no {wanted} message in {WAIT_S} s")


def run_script(sock) -> str:
    """The app runs once for this socket (the sign-in page); returns the session id Streamlit gave it."""
    send(sock, rerun_script={"query_string": "", "page_script_hash": ""})
    session_id = receive_until(sock, "new_session").new_session.initialize.session_id
    receive_until(sock, "script_finished")
    return session_id


def wait_for_log(log, pattern: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace")
        if re.search(pattern, content):
            return content
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never logged; log ends: {log.read_text(errors='replace')[-2000:]}")


def metrics(url: str, cookie: str | None = None, path: str = "/_stcore/metrics") -> tuple[int, str]:
    """Streamlit's count of calls to each cached function, by hit and miss (a live counter)."""
    request = urllib.request.Request(
        url + path + "?families=cache_lookups", headers={"Cookie": f"{sessions.COOKIE}={cookie}"} if cookie else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def signed_in_cookie(workspace, role: str) -> str:
    """The cookie a browser holds after signing in as a user with this role (made the way the server makes it)."""
    ws = open_workspace(workspace)
    name = f"kim-{role}"
    users.add(ws.conn, auth.Actor("setup", "admin"), name, role, email=f"{name}@plant.example")
    token = sessions.redeem(ws.conn, sessions.create(ws.conn, auth.Actor(name, role)).code)
    ws.conn.close()
    return sessions.sign(sessions.load_secret(workspace), token)


def no_session_id_in(content: str) -> None:
    assert not UUID.search(content), [line for line in content.splitlines() if UUID.search(line)]


def test_a_second_socket_resuming_a_session_leaves_no_session_id_in_the_server_log(server):
    url, workspace, log = server
    with connect(url) as sock:
        run_script(sock)  # the app has run once: the workspace exists
    cookie = signed_in_cookie(workspace, "trainer")
    with connect(url, cookie=cookie) as first:
        session_id = run_script(first)
        with connect(url, session_id, cookie=cookie) as second:  # the same browser takes its session over
            assert run_script(second) == session_id
            content = wait_for_log(log, "is already connected")  # Streamlit says so at WARNING, with the id
    assert session_id not in content
    no_session_id_in(content)


def test_a_socket_naming_another_connections_session_without_its_cookie_gets_a_new_session(server):
    url, _, log = server
    with connect(url) as first:
        session_id = run_script(first)
        with connect(url, session_id) as second:  # an attacker who read the id somewhere asks for it
            assert run_script(second) != session_id
            content = wait_for_log(log, "user identity mismatch")
    no_session_id_in(content)


def test_a_dropped_connection_with_the_same_session_cookie_resumes_its_session(server):
    url, workspace, _ = server
    with connect(url) as sock:
        run_script(sock)
    cookie = signed_in_cookie(workspace, "trainer")
    with connect(url, cookie=cookie) as first:
        session_id = run_script(first)
    with connect(url, session_id, cookie=cookie) as again:  # the browser reconnects after a network drop
        assert run_script(again) == session_id


def test_metrics_refuse_a_visitor_and_a_non_admin_and_answer_a_signed_in_admin(server):
    url, workspace, _ = server
    with connect(url) as sock:
        run_script(sock)  # the app has run once: the workspace exists
    assert metrics(url)[0] == 403
    for other_spelling in ("/_stcore/metrics/", "//_stcore/metrics", "/_stcore/./metrics", "/_stcore/%6detrics"):
        assert "cache_lookups" not in metrics(url, path=other_spelling)[1], other_spelling  # refused, or the app
    assert metrics(url, "forged.cookie")[0] == 403
    assert metrics(url, signed_in_cookie(workspace, "viewer"))[0] == 403
    status, text = metrics(url, signed_in_cookie(workspace, "admin"))
    assert status == 200 and "cache_lookups_total" in text


def lookups(url: str, cookie: str, function: str) -> dict[str, int]:
    found = re.findall(
        rf'cache_lookups_total{{cache="{re.escape(function)}",[^}}]*result="(\w+)"}} (\d+)', metrics(url, cookie)[1]
    )
    return {result: int(count) for result, count in found}


def test_clear_cache_from_a_socket_that_never_signed_in_clears_no_cache(server):
    url, workspace, _ = server
    key_cache = "ui.session._key"  # st.cache_resource: the workspace's cookie key, read by every first run
    with connect(url) as sock:
        run_script(sock)
        admin = signed_in_cookie(workspace, "admin")
        assert lookups(url, admin, key_cache) == {"hit": 0, "miss": 1}
        send(sock, clear_cache=True)
        send(sock, app_heartbeat=True)  # answered after the clear_cache was handled: messages are handled in order
        receive_until(sock, "heartbeat_ack")
    with connect(url) as another:
        run_script(another)  # a cleared cache would be a second miss
    assert lookups(url, admin, key_cache) == {"hit": 1, "miss": 1}
