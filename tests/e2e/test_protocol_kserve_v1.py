"""The ``kserve-v1`` protocol (KServe V1 / TensorFlow Serving REST): its request and answer
shapes, and a whole ``stagecheck run`` against a real V1 server on loopback.

The server is written here (KServe's V1 server needs a model runtime this machine lacks): a
``ThreadingHTTPServer`` serving ``/v1/models/<model>:predict`` with the demo's own classifier,
so the run's accuracy is checked against the same model's offline predictions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from stagecheck.demo.model import load_default
from stagecheck.protocols import ResponseParseError, build_adapter
from tests.support import REPO

MODEL = "intents"


def v1(options: dict[str, Any] | None = None, inputs: tuple[str, ...] = ("text",),
       model: str | None = MODEL) -> Any:  # fmt: skip
    return build_adapter("kserve-v1", model=model, inputs=inputs, options=options or {})


@pytest.mark.unit
@pytest.mark.parametrize(
    ("options", "inputs", "row", "instance"),
    [
        ({}, ("text",), {"text": "refund please"}, "refund please"),
        ({}, ("meta.title", "body"), {"meta.title": "Parcel", "body": "where"},
         {"title": "Parcel", "body": "where"}),
        ({"columns": {"text": "sentence"}}, ("text",), {"text": "hi"}, {"sentence": "hi"}),
    ],
)  # fmt: skip
def test_a_row_is_one_instance(options, inputs, row, instance):
    req = v1(options, inputs).prepare(row, row)
    assert req.path == f"/v1/models/{MODEL}:predict"
    assert json.loads(req.body) == {"instances": [instance]}


@pytest.mark.unit
def test_the_path_names_the_model_and_a_missing_model_is_a_problem():
    assert v1({"path": "/predict/{model}"}).prepare({"text": "x"}, {}).path == "/predict/intents"
    assert v1(model="a/b").prepare({"text": "x"}, {}).path == "/v1/models/a%2Fb:predict"
    assert v1(model=None).problems() == [
        "endpoint.model: kserve-v1 needs a model name "
        "(it is part of the path /v1/models/<model>:predict)"
    ]
    assert "'other' is not one of dataset.input" in v1({"columns": {"other": "x"}}).problems()[0]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("body", "options", "prediction"),
    [
        ({"predictions": ["refund", "billing"]}, {}, "refund"),
        ({"predictions": [{"label": "refund"}]}, {}, "refund"),
        ({"predictions": [{"label": "refund", "p": 0.9}]}, {"prediction_key": "label"}, "refund"),
        ({"predictions": [3]}, {}, 3),
    ],
)
def test_the_prediction_is_the_first_one(body, options, prediction):
    assert v1(options).parse(json.dumps(body).encode()) == prediction


@pytest.mark.unit
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "response is not JSON"),
        (b'{"error": "model intents is not ready"}',
         "the server answered with an error: model intents is not ready"),
        (b'{"outputs": []}', "no predictions in response"),
        (b'{"predictions": []}', "predictions in response is empty"),
        (b'{"predictions": {"a": 1}}', "predictions in response is not a list"),
        (b'{"predictions": [{"a": 1, "b": 2}]}', None),  # several keys, no key named: the object
    ],
)  # fmt: skip
def test_an_answer_without_a_prediction_says_why(body, reason):
    if reason is None:
        assert v1().parse(body) == {"a": 1, "b": 2}
        return
    with pytest.raises(ResponseParseError, match=reason):
        v1().parse(body)


class _V1Server(ThreadingHTTPServer):
    daemon_threads = True
    predicted = 0


@pytest.fixture(scope="module")
def v1_server() -> Iterator[_V1Server]:
    model = load_default()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a model server does

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != f"/v1/models/{MODEL}:predict":
                status, answer = 404, {"error": f"no route {self.path}"}
            else:
                texts = json.loads(body)["instances"]
                status, answer = 200, {"predictions": [model.predict(t)[0] for t in texts]}
                server.predicted += len(texts)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = _V1Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.e2e
def test_a_run_against_a_v1_server_scores_the_models_own_predictions(v1_server, cli, tmp_path):
    scenario = tmp_path / "v1.yaml"
    scenario.write_text(f"""
name: kserve-v1
endpoint: {{url: "http://127.0.0.1:{v1_server.server_port}", protocol: kserve-v1, model: {MODEL}}}
dataset: {{path: {REPO / "scenarios/data/support_intents.jsonl"}, input: text, expected: label,
          passes: 1, limit: 80}}
load: {{users: 4, duration: 60s}}
thresholds: []
""")
    r = cli("run", str(scenario))
    assert r.code == 0, r.stderr + r.stdout
    lines = (REPO / "scenarios/data/support_intents.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in lines][:80]
    model = load_default()
    offline = sum(model.predict(row["text"])[0] == row["label"] for row in rows) / len(rows)
    s = r.summary
    assert s["requests"]["total"] == v1_server.predicted == 80
    assert s["quality"]["accuracy"] == pytest.approx(offline, abs=1e-12)
