"""serving/: the local TF-Serving-compatible server (REST and gRPC), the clients against it,
TF Serving's error statuses for bad requests, and the deployment kit."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from export import saved_model
from serving import prepare
from serving.client import GrpcClient, RestClient, ServedRunner, ServingClientError
from serving.repository import ModelConfig, Repository, read_model_config_file
from serving.server import Server

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model_base(trained_tiny_spn, tmp_path_factory):
    """models/deblur/{1,2}: version 2 is the trained SPN, version 1 an untrained one."""
    import keras_spgan as ks

    spn, _ = trained_tiny_spn
    out = str(tmp_path_factory.mktemp("served"))
    from tests.conftest import TINY_SPN

    saved_model.export(ks.build_spn(**TINY_SPN), out, "deblur", version=1, parity_windows=1, log=lambda *_: None)
    saved_model.export(spn, out, "deblur", version=2, parity_windows=1, log=lambda *_: None)
    return os.path.join(out, "deblur")


@pytest.fixture(scope="module")
def servers(model_base):
    """REST (and gRPC) servers on free ports: all versions served, labels stable=1, canary=2."""
    from serving.grpc_server import start_grpc_server

    config = ModelConfig("deblur", model_base, policy="all", labels={"stable": 1, "canary": 2})
    repository = Repository([config])
    rest = Server(("127.0.0.1", 0), repository, max_body_bytes=2_000_000)
    thread = threading.Thread(target=rest.serve_forever, daemon=True)
    thread.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        grpc_port = s.getsockname()[1]
    grpc = start_grpc_server(repository, grpc_port)
    yield f"http://127.0.0.1:{rest.server_address[1]}", f"127.0.0.1:{grpc_port}", repository
    rest.shutdown()
    rest.server_close()
    grpc.stop(0)


def frames(batch=2, size=(12, 20), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, 5, *size, 3)).astype(np.uint8)


def post(url, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], json.loads(error.read())


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def local_uint8(model_base, version, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(os.path.join(model_base, str(version)))
    return loaded.signatures["serving_default"](frames=tf.constant(x))["sharp"].numpy()


def test_status_and_metadata_are_shaped_as_tf_serving_documents(servers):
    url, _, _ = servers
    status, body = get(f"{url}/v1/models/deblur")
    assert status == 200
    assert body == {"model_version_status": [
        {"version": v, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}} for v in ("2", "1")]}
    assert get(f"{url}/v1/models/deblur/labels/stable")[1]["model_version_status"][0]["version"] == "1"
    status, meta = get(f"{url}/v1/models/deblur/versions/1/metadata")
    assert status == 200 and meta["model_spec"] == {"name": "deblur", "signature_name": "", "version": "1"}
    signatures = meta["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["float", "luma", "serving_default"]
    frames_info = signatures["serving_default"]["inputs"]["frames"]
    assert frames_info["dtype"] == "DT_UINT8"
    assert [d["size"] for d in frames_info["tensor_shape"]["dim"]] == ["-1", "5", "-1", "-1", "3"]
    assert signatures["serving_default"]["method_name"] == "tensorflow/serving/predict"


def test_predict_rows_columns_versions_and_labels(servers, model_base):
    url, _, _ = servers
    x = frames()
    status, content_type, body = post(f"{url}/v1/models/deblur:predict", {"instances": x.tolist()})
    assert status == 200 and content_type == "application/json"
    newest = local_uint8(model_base, 2, x)
    np.testing.assert_array_equal(np.array(body["predictions"]), newest)
    _, _, body = post(f"{url}/v1/models/deblur/labels/stable:predict", {"inputs": {"frames": x.tolist()}})
    np.testing.assert_array_equal(np.array(body["outputs"]), local_uint8(model_base, 1, x))
    _, _, body = post(f"{url}/v1/models/deblur/versions/2:predict",
                      {"signature_name": "float", "instances": (x / 255.0).tolist()})
    assert np.abs(np.array(body["predictions"]) * 255 - newest).max() <= 1.0


@pytest.mark.parametrize(
    "path, body, raw, status, message",
    [
        ("deblur:predict", None, b"{not json", 400, "JSON Parse error"),
        ("deblur:predict", None, b"", 400, "JSON Parse error"),
        ("deblur:predict", {"instances": [], "inputs": []}, None, 400, "only one of 'inputs' or 'instances'"),
        ("deblur:predict", {"signature_name": "serving_default"}, None, 400, "Missing 'inputs' or 'instances'"),
        ("deblur:predict", {"instances": [[1, 2], [3]]}, None, 400, "ragged"),
        ("deblur:predict", {"instances": [["a", "b"]]}, None, 400, "expected numbers of type DT_UINT8, got strings"),
        ("deblur:predict", {"instances": [[[1, 2, 3]]]}, None, 400, "expected rank 5"),
        ("deblur:predict", {"instances": [[[[[300, 0, 0]]]] * 5]}, None, 400, "outside the range of DT_UINT8"),
        ("deblur:predict", {"instances": [1], "signature_name": "nope"}, None, 400, 'signature name: "nope" not found'),
        ("nope:predict", {"instances": [1]}, None, 404, "Servable not found"),
        ("deblur/versions/9:predict", {"instances": [1]}, None, 404, "Specific(deblur, 9)"),
        ("deblur/versions/x:predict", {"instances": [1]}, None, 400, "Failed to convert version"),
        ("deblur/labels/beta:predict", {"instances": [1]}, None, 400, "Unrecognized servable version label: beta"),
        ("deblur:predict", None, b"[" + b"0," * 1_100_000 + b"0]", 429, "exceeds the limit"),
    ],
    ids=["malformed_json", "empty_body", "both_keys", "no_key", "ragged", "strings", "wrong_rank", "out_of_range",
         "unknown_signature", "unknown_model", "unknown_version", "bad_version", "unknown_label", "oversize_body"],
)
def test_bad_requests_get_tf_servings_status_and_an_error(servers, path, body, raw, status, message):
    url, _, _ = servers
    got, content_type, reply = post(f"{url}/v1/models/{path}", body, raw)
    assert (got, content_type) == (status, "application/json")
    assert list(reply) == ["error"] and message in reply["error"]


def test_concurrent_requests_and_a_client_that_disconnects(servers, model_base):
    url, _, _ = servers
    host, port = url[len("http://"):].split(":")
    # A client that promises 1000 bytes, sends 10 and leaves: the server carries on.
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /v1/models/deblur:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"instanc")
    inputs = [frames(1, seed=i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda x: post(f"{url}/v1/models/deblur:predict", {"instances": x.tolist()}), inputs))
    for x, (status, _, body) in zip(inputs, replies):
        assert status == 200
        np.testing.assert_array_equal(np.array(body["predictions"]), local_uint8(model_base, 2, x))


def test_rest_and_grpc_clients(servers, model_base):
    url, grpc_target, _ = servers
    x = frames()
    expected = local_uint8(model_base, 2, x)
    rest = RestClient(url, "deblur")
    np.testing.assert_array_equal(rest.predict(x), expected)
    np.testing.assert_array_equal(rest.predict(x, columnar=True), expected)
    assert rest.status()["model_version_status"][0]["version"] == "2"
    grpc = GrpcClient(grpc_target, "deblur")
    np.testing.assert_array_equal(grpc.predict(x), expected)
    assert grpc.status()["model_version_status"][0]["version"] == "2"
    assert "serving_default" in grpc.metadata().signature_def
    np.testing.assert_array_equal(GrpcClient(grpc_target, "deblur", label="stable").predict(x),
                                  local_uint8(model_base, 1, x))
    with pytest.raises(ServingClientError) as error:
        RestClient(url, "deblur", version=9).predict(x)
    assert error.value.status == 404 and "Specific(deblur, 9)" in error.value.message
    with pytest.raises(ServingClientError) as error:
        GrpcClient(grpc_target, "nope").predict(x)
    assert error.value.status == "NOT_FOUND"
    assert ServedRunner(rest).num_frames == 5 and ServedRunner(grpc).num_frames == 5


def test_rest_client_retries_503_with_backoff_and_gives_up():
    calls = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            calls.append(self.path)
            status, body = (503, {"error": "warming up"}) if len(calls) < 3 else (200, {"ok": True})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert RestClient(url, "m", retries=3, backoff=0.01).status() == {"ok": True} and len(calls) == 3
        calls.clear()
        with pytest.raises(ServingClientError) as error:
            RestClient(url, "m", retries=1, backoff=0.01).status()
        assert error.value.status == 503 and error.value.message == "warming up" and len(calls) == 2
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(urllib.error.URLError):  # nothing listens there any more: retried, then raised
        RestClient(url, "m", retries=1, backoff=0.01, timeout=2).status()


def test_client_deblur_command_matches_local_inference(servers, model_base, tmp_path):
    import cv2

    from keras_spgan.deblur import deblur_video
    from serving import client

    url, _, _ = servers
    source = tmp_path / "in"
    os.makedirs(source)
    for i, frame in enumerate(frames(7, size=(24, 28))[:, 2]):
        cv2.imwrite(str(source / f"{i:03d}.png"), frame)
    assert client.main(["deblur", str(source), str(tmp_path / "served"), "--server", url, "--model", "deblur",
                        "--batch", "2", "--in_flight", "3", "--quiet"]) == 0
    deblur_video(str(source), str(tmp_path / "local"), os.path.join(model_base, "2"), progress=False)
    names = sorted(os.listdir(source))
    assert sorted(os.listdir(tmp_path / "served")) == names
    served = np.stack([cv2.imread(str(tmp_path / "served" / n)) for n in names]).astype(int)
    local = np.stack([cv2.imread(str(tmp_path / "local" / n)) for n in names]).astype(int)
    # serving_default (uint8) vs the float signature used locally: the same graph after the uint8
    # -> float step; they may differ by one level where a value sits on a rounding boundary.
    assert np.abs(served - local).max() <= 1 and np.mean(served == local) > 0.999


def test_prepare_writes_configs_tf_serving_parses_and_prints_the_commands(model_base, tmp_path, capsys):
    out = tmp_path / "config"
    assert prepare.main(["--model_base_path", model_base, "--name", "deblur", "--policy", "all",
                         "--label", "stable=1", "--label", "canary=2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "docker run --rm -p 8501:8501 -p 8500:8500" in printed and "tensorflow/serving:latest-gpu" in printed
    assert "--model_config_file=/config/models.config" in printed and "curl -s http://localhost:8501" in printed
    (config,) = read_model_config_file(str(out / "models.config"))
    assert (config.name, config.base_path, config.policy) == ("deblur", "/models/deblur", "all")
    assert config.labels == {"stable": 1, "canary": 2}
    assert "max_batch_size { value: 4 }" in (out / "batching.config").read_text()
    (out / "models.config").unlink()  # one of the two there: neither is written
    assert prepare.main(["--model_base_path", model_base, "--name", "other", "--out", str(out)]) == 2
    assert "batching.config: already exists" in capsys.readouterr().err
    assert not (out / "models.config").exists()
    assert prepare.main(["--model_base_path", model_base, "--name", "d", "--label", "x=7", "--out",
                         str(tmp_path / "o2")]) == 2
    assert "error: --label: version(s) [7] not found" in capsys.readouterr().err
    assert prepare.main(["--model_base_path", model_base, "--name", "d", "--label", "x7"]) == 2
    assert "error: --label: expected NAME=VERSION, got 'x7'" in capsys.readouterr().err
    assert prepare.main(["--model_base_path", model_base, "--name", "d", "--max_batch_size", "0"]) == 2
    assert "error: --max_batch_size: " in capsys.readouterr().err
    assert prepare.main(["--model_base_path", str(tmp_path / "none"), "--name", "d"]) == 2
    err = capsys.readouterr().err
    assert "error: --model_base_path: " in err and "no such folder" in err



def test_prepare_tells_clients_to_align_for_a_model_trained_on_aligned_windows(tmp_path, capsys):
    import json

    for version, alignment in ((1, "none"), (2, "flow")):
        folder = tmp_path / "deblur" / str(version)
        (folder / "assets.extra").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"")
        (folder / "assets.extra" / "keras_spgan.json").write_text(json.dumps({"spn": {"alignment": alignment}}))
    assert prepare.main(["--model_base_path", str(tmp_path / "deblur"), "--name", "deblur"]) == 0
    printed = capsys.readouterr().out
    assert "version 2 was trained on windows aligned by optical flow" in printed
    assert "--model deblur --alignment flow" in printed
    (tmp_path / "deblur" / "2" / "assets.extra" / "keras_spgan.json").unlink()  # a report-less export
    assert prepare.main(["--model_base_path", str(tmp_path / "deblur"), "--name", "deblur", "--overwrite"]) == 0
    assert "--alignment" not in capsys.readouterr().out


def test_server_command_starts_from_flags(model_base):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
    process = subprocess.Popen([sys.executable, "-m", "serving.server", "--model_base_path", model_base,
                                "--model_name", "deblur", "--rest_api_port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = process.stdout.readline()
        while line and "serving deblur" not in line:
            line = process.stdout.readline()
        assert "serving deblur [2]" in line  # TF Serving's default policy: the newest version only
        status, body = get(f"http://127.0.0.1:{port}/v1/models/deblur/versions/1")
        assert status == 404 and "Specific(deblur, 1)" in body["error"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_grpc_unavailable_is_retried_then_reported_and_rest_requests_time_out():
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(ServingClientError) as error:
        GrpcClient(f"127.0.0.1:{dead}", "deblur", retries=2, backoff=0.2, timeout=5).predict(frames(1))
    assert error.value.status == "UNAVAILABLE"
    assert time.perf_counter() - start >= 0.2 + 0.4  # two backoffs: it did retry

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            time.sleep(3)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.perf_counter()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            RestClient(f"http://127.0.0.1:{server.server_address[1]}", "m", timeout=0.5, retries=0).status()
        assert time.perf_counter() - start < 2.5
    finally:
        server.shutdown()
        server.server_close()


def test_server_and_client_commands_refuse_bad_input(model_base, tmp_path, capsys):
    from serving import client, server

    assert server.main(["--model_base_path", str(tmp_path / "nothing"), "--model_name", "m"]) == 2
    assert "does not exist" in capsys.readouterr().err
    os.makedirs(tmp_path / "empty")
    assert server.main(["--model_base_path", str(tmp_path / "empty"), "--model_name", "m"]) == 2
    assert "no servable versions" in capsys.readouterr().err
    # A server that is not there: the client command fails cleanly and writes nothing.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    os.makedirs(tmp_path / "in")
    import cv2

    cv2.imwrite(str(tmp_path / "in" / "0.png"), frames(1)[0, 2])
    assert client.main(["deblur", str(tmp_path / "in"), str(tmp_path / "out"), "--grpc", f"127.0.0.1:{dead}",
                        "--retries", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: --grpc: 127.0.0.1:{dead}: UNAVAILABLE" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out")
    assert client.main(["deblur", str(tmp_path / "missing"), str(tmp_path / "out2"), "--quiet"]) == 2
    assert "missing: no such file" in capsys.readouterr().err
    assert client.main(["deblur", str(tmp_path / "in"), str(tmp_path / "out3"), "--server",
                        f"http://127.0.0.1:{dead}", "--retries", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"error: --server: http://127.0.0.1:{dead}: cannot reach it" in err and not os.path.exists(tmp_path / "out3")
    assert client.main(["deblur", str(tmp_path / "in"), str(tmp_path / "out4"), "--version", "1", "--label", "x"]) == 2
    assert "error: --label: give --version or --label, not both" in capsys.readouterr().err
    for kind, address in ((client.RestClient, "http://localhost:1"), (client.GrpcClient, "localhost:1")):
        with pytest.raises(ValueError, match="a version or a label, not both"):
            kind(address, "deblur", version=1, label="stable")


def test_a_tiny_grpc_request_declaring_a_huge_tensor_is_refused_at_once(servers):
    """Issue 16.1: tf.make_ndarray fills a declared shape from one value (14 GB from 40 bytes)."""
    import time

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    _, grpc_address, _ = servers
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "deblur"
    tensor = request.inputs["frames"]
    tensor.dtype = 4  # DT_UINT8
    for size in (4000, 5, 1000, 1000, 3):
        tensor.tensor_shape.dim.add().size = size
    tensor.int_val.append(7)
    assert len(request.SerializeToString()) < 60
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(grpc_address))
    start = time.time()
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=30)
    assert time.time() - start < 2
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the limit" in error.value.details()
    # A shape the values do not fill is refused too, before any array exists.
    tensor.tensor_shape.dim[0].size = 1
    tensor.tensor_shape.dim[2].size = tensor.tensor_shape.dim[3].size = 8
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "1 values for shape" in error.value.details()


def _raw_exchange(url, data, wait=5.0):
    """Sends raw bytes on one connection; returns everything the server sent until it closed."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(data)
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except socket.timeout:
            pass
    return received


def test_a_rejected_chunked_body_closes_the_connection(servers):
    """Issue 16.4: the body after a refused chunked request was read as the next request."""
    url, _, _ = servers
    smuggled = b"GET /v1/models/deblur HTTP/1.1\r\nHost: x\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    request = (b"POST /v1/models/deblur:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\n" + body)
    received = _raw_exchange(url, request)
    assert received.count(b"HTTP/1.1 ") == 1 and received.startswith(b"HTTP/1.1 400")


def test_idle_half_sent_connections_do_not_block_a_status_request(servers):
    """Issue 16.3: 64 clients that send half a request and wait."""
    url, _, _ = servers
    host, port = url.split("//")[1].split(":")
    idle = []
    try:
        for _ in range(64):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"POST /v1/models/deblur:predict HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{")
            idle.append(s)
        start = __import__("time").time()
        status, reply = get(f"{url}/v1/models/deblur")
        assert status == 200 and __import__("time").time() - start < 10
    finally:
        for s in idle:
            s.close()


def test_hostile_requests_get_a_plain_400_without_python_internals(servers):
    """Issue 16.5: a version of thousands of digits and deeply nested JSON answered 500 with class names."""
    url, _, _ = servers
    status, _, reply = post(f"{url}/v1/models/deblur/versions/{'9' * 5000}:predict", {"instances": [1]})
    assert status == 400 and "Failed to convert version" in reply["error"]
    status, _, reply = post(f"{url}/v1/models/deblur:predict", None, raw=b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and "nested too deeply" in reply["error"]
    for text in (reply["error"],):
        assert "Error" not in text.split(":")[0] and "Traceback" not in text


def test_predict_requests_beyond_the_admission_limits_get_429_then_503_and_the_server_recovers(model_base):
    """Issue 16.2: a bounded number of predictions in flight; beyond it TF Serving's error form."""
    from serving.server import Admission

    repository = Repository([ModelConfig("deblur", model_base)])
    admission = Admission(threads=1, queued=1, timeout_s=0.3)
    rest = Server(("127.0.0.1", 0), repository, admission=admission)
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{rest.server_address[1]}/v1/models/deblur:predict"
    x = frames(1)
    try:
        assert admission.enter() and admission.enter()  # both places taken: the next request is refused at once
        status, content_type, reply = post(url, {"instances": x.tolist()})
        assert (status, content_type) == (429, "application/json")
        assert list(reply) == ["error"] and "busy" in reply["error"]
        admission.leave()  # a place, but the only worker is busy: admitted, then refused after the timeout
        with admission.worker():
            status, _, reply = post(url, {"instances": x.tolist()})
        assert status == 503 and "No worker became free within 300 ms" in reply["error"]
        admission.leave()
        status, _, reply = post(url, {"instances": x.tolist()})  # everything released: served again
        assert status == 200
        np.testing.assert_array_equal(np.array(reply["predictions"]), local_uint8(model_base, 2, x))
        assert admission.enter() and admission.enter() and not admission.enter()  # no place was leaked
    finally:
        rest.shutdown()
        rest.server_close()


def test_the_rest_client_retries_a_busy_server():
    calls = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(self.path)
            status, body = (429, {"error": "busy"}) if len(calls) < 2 else (200, {"predictions": [[[[1, 2, 3]]]]})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = RestClient(f"http://127.0.0.1:{server.server_address[1]}", "deblur", backoff=0.01)
        got = client.predict(np.zeros((1, 5, 1, 1, 3), np.uint8))
        assert len(calls) == 2 and got.dtype == np.uint8 and got.tolist() == [[[[1, 2, 3]]]]
    finally:
        server.shutdown()
        server.server_close()


def test_grpc_refuses_calls_beyond_its_limit_with_resource_exhausted(model_base, monkeypatch):
    from serving import predict
    from serving.grpc_server import start_grpc_server

    started, release = threading.Event(), threading.Event()
    real_run = predict.run

    def slow_run(*args):
        started.set()
        release.wait(30)
        return real_run(*args)

    monkeypatch.setattr(predict, "run", slow_run)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_grpc_server(Repository([ModelConfig("deblur", model_base)]), port, workers=1, max_concurrent_rpcs=1)
    try:
        client = GrpcClient(f"127.0.0.1:{port}", "deblur", retries=0)
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.predict, frames(1))
            assert started.wait(30)
            with pytest.raises(ServingClientError) as error:
                client.predict(frames(1))
            assert error.value.status == "RESOURCE_EXHAUSTED"
            release.set()
            assert first.result(timeout=60).shape == (1, 12, 20, 3)
    finally:
        release.set()
        server.stop(0)
