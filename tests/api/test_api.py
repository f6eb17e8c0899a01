"""The API over real HTTP (uvicorn in a thread, the app api/ builds; httpx for TestClient is not installed):
401 for a missing, bad or revoked token, 403 for a role too low, 422 with the reason for a bad photo, 413 over
the limit, never a 500 on the malformed-file corpus, and a diagnosis from a tiny trained model."""

from __future__ import annotations

import io
import json
import socket
import threading
import time

import numpy as np
import pytest
import requests
import uvicorn
from PIL import Image

from api import app as api_app
from api import predictors
from core import audit, auth, runs, tokens
from core.workspace import open_workspace
from tests.conftest import make_image
from tests.core.malformed_corpus import CORPUS, _bmp_claiming

ADMIN = auth.Actor("alice", "admin")
REPORT = "/v1/inspections/1/report.pdf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The API app on a free localhost port, served by uvicorn in a thread of this process."""

    def __init__(self, workspace: str) -> None:
        self.app = api_app.create_app(lambda: workspace)
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:  # waits on the server's own state
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.pool.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """(server, workspace, {role: secret}) on a fresh workspace with one token per role."""
    path = tmp_path_factory.mktemp("api") / "ws"
    ws = open_workspace(path)
    secrets = {role: tokens.add_token(ws.conn, ADMIN, f"t-{role}", role)[1] for role in auth.ROLES}
    server = Server(str(path))
    yield server, ws, secrets
    server.stop()
    ws.close()
    predictors.forget()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def post_file(server: Server, path: str, data: bytes, name: str = "crop.jpg", secret: str | None = None, **form):
    headers = bearer(secret) if secret else {}
    return requests.post(server.url + path, files={"file": (name, data)}, data=form, headers=headers, timeout=60)


def test_a_missing_bad_or_revoked_token_gets_401_json(api):
    server, ws, _ = api
    _, secret = tokens.add_token(ws.conn, ADMIN, "soon-gone", "viewer")
    tokens.revoke_token(ws.conn, ADMIN, "soon-gone")
    tries = {
        "missing": {},
        "not bearer": {"Authorization": "Basic YWxpY2U6cHc="},
        "empty bearer": {"Authorization": "Bearer "},
        "unknown": bearer("bst_" + "A" * 43),
        "revoked": bearer(secret),
        "huge": bearer("x" * 5000),
    }
    for why, headers in tries.items():
        for method, path in (
            ("POST", "/v1/diagnose"),
            ("GET", "/v1/inspections"),
            ("GET", "/v1/inspections/1/report.pdf"),
        ):
            answer = requests.request(method, server.url + path, headers=headers, timeout=30)
            assert answer.status_code == 401, (why, path, answer.text)
            body = answer.json()
            assert body["error"] in ("api.token_missing", "api.token_refused") and body["message"], why
            assert answer.headers["www-authenticate"] == "Bearer"
    assert requests.get(server.url + "/v1/nowhere", timeout=30).status_code == 401  # nothing answers without one


def test_a_role_too_low_gets_403_and_the_refusal_is_audited(api, monkeypatch):
    server, ws, secrets = api
    # every endpoint is open to viewers; make diagnosing an admin's action for this test to see the 403 path
    monkeypatch.setitem(auth.ACTION_MIN_ROLE, "diagnose", "admin")
    answer = post_file(server, "/v1/diagnose", make_image(1), secret=secrets["trainer"])
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "error.permission" and "needs role 'admin'" in answer.json()["message"]
    refused = audit.query(ws.conn, user="token:t-trainer", actions=("refused",))
    assert refused and refused[0].target == "diagnose"


def test_every_use_is_audited_with_its_endpoint(api):
    server, ws, secrets = api
    requests.get(server.url + "/v1/inspections/abc/report.pdf", headers=bearer(secrets["viewer"]), timeout=30)
    use = audit.query(ws.conn, user="token:t-viewer", actions=("token.use",), limit=1)[0]
    assert use.details["endpoint"] == "GET /v1/inspections/abc/report.pdf" and use.details["client"].startswith("127.")


def test_bad_input_is_a_4xx_with_a_json_reason(api):
    server, _, secrets = api
    viewer = bearer(secrets["viewer"])
    no_file = requests.post(server.url + "/v1/diagnose", data={"x": "1"}, headers=viewer, timeout=30)
    assert no_file.status_code == 422 and no_file.json()["error"] == "api.bad_request"
    assert "file" in no_file.json()["message"]
    not_a_number = requests.get(server.url + "/v1/inspections/abc/report.pdf", headers=viewer, timeout=30)
    assert not_a_number.status_code == 422 and not_a_number.json()["error"] == "api.bad_request"
    unknown = requests.get(server.url + "/v1/nowhere", headers=viewer, timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"] == "api.not_found"
    wrong_method = requests.put(server.url + "/v1/diagnose", headers=viewer, timeout=30)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "api.method"


def test_an_upload_over_the_limit_gets_413_before_it_is_read(api, monkeypatch):
    server, _, secrets = api
    monkeypatch.setenv("BOLTSCOPE_MAX_FILE_MB", "1")
    big = b"\xff\xd8" + b"\x00" * (3 * 2**20)
    answer = post_file(server, "/v1/diagnose", big, secret=secrets["viewer"])
    assert answer.status_code == 413 and answer.json()["error"] == "api.too_large", answer.text

    def chunks(field: bytes):  # no Content-Length: the streamed body is counted as it comes
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="' + field + b'"; filename="x.jpg"\r\n\r\n'
        for _ in range(40):
            yield b"\x00" * 2**16
        yield b"\r\n" + boundary + b"--\r\n"

    headers = {**bearer(secrets["viewer"]), "Content-Type": "multipart/form-data; boundary=b0undary"}
    # a file the handler would refuse too, and a file in a field no handler reads: only the stream count sees it
    for path, field in (("/v1/diagnose", b"file"), ("/v1/inspections", b"unread")):
        streamed = requests.post(server.url + path, data=chunks(field), headers=headers, timeout=30)
        assert streamed.status_code == 413 and streamed.json()["error"] == "api.too_large", (path, streamed.text)


def test_the_docs_and_schema_need_no_token(api):
    server, _, _ = api
    schema = requests.get(server.url + "/openapi.json", timeout=30).json()
    assert {"/v1/diagnose", "/v1/inspections", "/v1/inspections/{inspection_id}/report.pdf"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = requests.get(server.url + "/docs", timeout=30)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_the_docs_page_loads_nothing_from_outside(api):
    """A plant LAN reaches no CDN: every script, style and icon of the page comes from this server."""
    import re

    server, _, _ = api
    page = requests.get(server.url + "/docs", timeout=30).text
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page)
    assert urls and not [u for u in urls if "://" in u or u.startswith("//")], urls
    for url in urls:
        got = requests.get(server.url + url, timeout=30)
        assert got.status_code == 200 and len(got.content) > 100, url
    script = requests.get(server.url + "/docs-assets/swagger-ui-bundle.js", timeout=30)
    assert "SwaggerUIBundle" in script.text and script.headers["content-type"].startswith("text/javascript")
    for name in ("../app.py", "nope.js", "..%2fcore.py", "%2e%2e%2f%2e%2e%2fapi%2fapp.py"):
        refused = requests.get(server.url + "/docs-assets/" + name, timeout=30)
        assert refused.status_code == 404 and refused.json()["error"], name


def _huge_png_header() -> bytes:
    """A valid PNG claiming 60000 x 60000 pixels in 200 bytes: the header, one tiny compressed row, the end."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def malformed() -> dict[str, tuple[str, bytes]]:
    """The importer's corpus of refused files, and the API's own: a truncated JPEG, zero bytes, text, headers
    that claim huge pictures."""
    refused = {kind: (name, data) for kind, (name, data, expected) in CORPUS.items() if expected and "zip" not in kind}
    whole = make_image(7, size=(96, 96))
    return {
        **refused,
        "truncated jpeg": ("cut.jpg", whole[: len(whole) // 3]),
        "zero bytes": ("empty.jpg", b""),
        "text file": ("notes.jpg", "볼트 검사 notes\n".encode() * 20),
        "png bomb header": ("bomb.png", _huge_png_header()),
        "bmp claiming 100k x 100k": ("huge.bmp", _bmp_claiming(100_000, 100_000)),
        "jpeg signature only": ("sig.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 16),
    }


def test_without_a_production_model_diagnose_says_so(api):
    server, _, secrets = api
    if runs.production_run_id(api[1].conn) is not None:
        pytest.skip("the module's model is trained already (test order)")
    answer = post_file(server, "/v1/diagnose", make_image(2), secret=secrets["viewer"])
    assert answer.status_code == 409 and answer.json()["error"] == "diagnose.no_model", answer.text


@pytest.fixture(scope="module")
def trained(api):
    """The api workspace with a promoted 2-epoch tiny_cnn run (about 5 s on a CPU)."""
    from tests.core.train_helpers import promoted_tiny_run

    return promoted_tiny_run(api[1])


@pytest.mark.slow
def test_no_500_on_the_malformed_corpus_but_422_with_each_reason(api, trained):
    server, _, secrets = api
    seen = {}
    for kind, (name, data) in malformed().items():
        answer = post_file(server, "/v1/diagnose", data, name=name, secret=secrets["viewer"])
        assert answer.status_code == 422, (kind, answer.status_code, answer.text)
        body = answer.json()
        assert body["error"].startswith("reject.") and body["message"] and "{" not in body["message"], (kind, body)
        seen[kind] = body["error"]
    assert seen["zero bytes"] == "reject.empty" and seen["png bomb header"] in ("reject.pixels", "reject.bomb")
    assert seen["text file"] == "reject.not_image" and seen["truncated jpeg"] == "reject.corrupt"


def _crop() -> bytes:
    arr = np.random.default_rng(3).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    return out.getvalue()


@pytest.mark.slow
def test_diagnose_answers_with_the_production_models_decision(api, trained):
    server, ws, secrets = api
    run = trained
    answer = post_file(server, "/v1/diagnose", _crop(), name="bolt.png", secret=secrets["viewer"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["run_id"] == run.id and set(body["probs"]) == set(run.class_names)
    assert abs(sum(body["probs"].values()) - 1) < 1e-3 and body["label"] in run.class_names
    assert body["verdict"] in ("pass", "defect", "check") and "threshold" in body["operating_point"]
    from core.ml import diagnosis, predict

    expected = diagnosis.diagnose(ws, predict.load_predictor(ws), "bolt.png", _crop())
    assert body["probs"] == pytest.approx(expected.result.probs, abs=1e-5) and body["label"] == expected.result.label
    assert expected.result.familiarity is not None  # the trained run keeps an index: the API tells the same
    assert body["familiarity"]["unfamiliar"] == expected.result.familiarity.unfamiliar
    assert body["familiarity"]["percentile"] == pytest.approx(expected.result.familiarity.percentile, abs=0.05)
    bad = post_file(server, "/v1/diagnose", b"", secret=secrets["viewer"])
    assert bad.status_code == 422 and bad.json()["error"] == "reject.empty"


# ---- inspections: a whole photo at a station, as the CLI and the Inspect page record it ----------------------


def _board() -> tuple[bytes, list]:
    """A 400×300 plate with three demo bolts pasted at known boxes, as JPEG, and its positions."""
    from PIL import ImageDraw

    from core import demo, stations

    plate = Image.new("RGB", (400, 300), (90, 90, 95))
    boxes = [(10, 10, 90, 90), (120, 20, 200, 100), (30, 150, 110, 230)]
    for i, (box, label) in enumerate(zip(boxes, ("normal", "broken", "missing"), strict=True)):
        plate.paste(demo.render_crop(i, label).image.resize((80, 80)), box[:2])
    ImageDraw.Draw(plate).rectangle((300, 250, 320, 270), fill=(200, 200, 0))
    out = io.BytesIO()
    plate.save(out, "JPEG", quality=92)
    return out.getvalue(), [stations.Position(f"P{i + 1}", box) for i, box in enumerate(boxes)]


@pytest.fixture(scope="module")
def station(api, trained):
    from core import stations

    data, positions = _board()
    stations.add_station(api[1], ADMIN, "board", data, positions, run_id=trained.id, margin=0.1)
    return data


def post_photo(server: Server, data: bytes, secret: str, name: str = "wheel.jpg", **form) -> requests.Response:
    files = {"photo": (name, data)}
    return requests.post(server.url + "/v1/inspections", files=files, data=form, headers=bearer(secret), timeout=120)


@pytest.mark.slow
def test_posting_a_photo_gives_the_record_the_cli_makes(api, station, monkeypatch):
    from core import align, inspections
    from core.ml import inspect

    # OpenCV's RANSAC draws from a per-thread generator: the server's thread and this one may differ by a pixel.
    # The same alignment for both paths makes the records comparable exactly; real alignment: the next test.
    monkeypatch.setattr(align, "align", lambda _ref, _photo, _boxes: align.identity())
    server, ws, secrets = api
    answer = post_photo(server, station, secrets["viewer"], station="board", asset="OHT-7/W1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    stored = inspections.get_inspection(ws.conn, body["inspection_id"])
    assert body == json.loads(json.dumps(inspections.inspection_json(stored)))
    assert body["inspector"] == "token:t-viewer" and body["photo"] == "wheel.jpg" and body["asset"] == "OHT-7/W1"
    assert body["alignment"]["ok"] is True and body["station"] == "board"
    # the same photo through core's own entry point (as `inspect PHOTO --station board` does) gives the same record
    setup = inspect.load_setup(ws, "board")
    direct_id, _, _ = inspect.inspect_data(ws, ADMIN, setup, "wheel.jpg", station, "OHT-7/W1")
    direct = inspections.inspection_json(inspections.get_inspection(ws.conn, direct_id))
    same = ("verdict", "station", "station_version", "run_id", "threshold", "photo_sha256")
    assert {k: body[k] for k in same} == {k: direct[k] for k in same}
    assert body["alignment"] == direct["alignment"]
    for got, want in zip(body["positions"], direct["positions"], strict=True):
        assert (got["name"], got["label"], got["box"]) == (want["name"], want["label"], want["box"])
        assert got["probs"] == pytest.approx(want["probs"], abs=1e-5)
        assert set(got["familiarity"]) == {"percentile", "unfamiliar"}  # every judged position is measured
        assert got["familiarity"]["percentile"] == pytest.approx(want["familiarity"]["percentile"], abs=0.05)
    recorded = audit.query(ws.conn, user="token:t-viewer", actions=("inspect",))
    assert [e.target for e in recorded] == [str(body["inspection_id"])]

    def get(path: str, **params: str) -> requests.Response:
        return requests.get(server.url + path, params=params, headers=bearer(secrets["viewer"]), timeout=30)

    listed = get("/v1/inspections", asset="OHT-7/W1")
    assert [i["inspection_id"] for i in listed.json()] == [body["inspection_id"], direct_id]
    assert (
        get("/v1/inspections", station="other").json() == [] and get("/v1/inspections", since="2999-01-01").json() == []
    )
    assert len(get("/v1/inspections", station="board", since="2000-01-01").json()) == 2
    bad_since = get("/v1/inspections", since="yesterday")
    assert bad_since.status_code == 422 and bad_since.json()["error"] == "inspect.record.error_since"
    report = get(f"/v1/inspections/{body['inspection_id']}/report.pdf", lang="ko")
    assert report.status_code == 200, report.text
    assert report.headers["content-type"] == "application/pdf" and report.content.startswith(b"%PDF")
    downloads = audit.query(ws.conn, user="token:t-viewer", actions=("report",))
    assert [e.target for e in downloads] == [f"inspection {body['inspection_id']}"]
    assert get(f"/v1/inspections/{body['inspection_id']}/report.pdf", lang="fr").status_code == 422
    missing = get("/v1/inspections/99999/report.pdf")
    assert missing.status_code == 404 and missing.json()["error"] == "inspect.record.error_unknown"


@pytest.mark.slow
def test_real_alignment_then_unknown_station_404_and_bad_photos_422_recording_nothing(api, station):
    from core import inspections

    server, ws, secrets = api
    aligned = post_photo(server, station, secrets["viewer"], station="board", asset="real-alignment")
    assert aligned.status_code == 200, aligned.text
    assert aligned.json()["alignment"]["ok"] is True and aligned.json()["alignment"]["method"] == "auto"
    boxes = [p["box"] for p in aligned.json()["positions"]]
    assert np.abs(np.array(boxes) - np.array([p.box for p in _board()[1]])).max() <= 2
    before = len(inspections.list_inspections(ws.conn))
    unknown = post_photo(server, station, secrets["viewer"], station="nowhere")
    assert unknown.status_code == 404 and unknown.json()["error"] == "station.error_unknown", unknown.text
    for kind, (name, data) in malformed().items():
        answer = post_photo(server, data, secrets["viewer"], name=name, station="board")
        assert answer.status_code == 422, (kind, answer.status_code, answer.text)
        assert answer.json()["error"].startswith("reject."), (kind, answer.json())
    files = {"photo": ("a.jpg", station)}
    no_station = requests.post(
        server.url + "/v1/inspections", files=files, headers=bearer(secrets["viewer"]), timeout=30
    )
    assert no_station.status_code == 422 and "station" in no_station.json()["message"]
    assert len(inspections.list_inspections(ws.conn)) == before
