"""A local server speaking TF Serving's REST API, for development and for testing clients
without Docker (flag names as `tensorflow_model_server`'s):

  python -m serving.server --model_base_path models/deblur --model_name deblur --rest_api_port 8501
  python -m serving.server --model_config_file models.config --rest_api_port 8501

  GET  /v1/models/NAME[/versions/N | /labels/L]            model_version_status
  GET  /v1/models/NAME[/versions/N | /labels/L]/metadata   signature_def
  POST /v1/models/NAME[/versions/N | /labels/L]:predict     instances -> predictions, inputs -> outputs

It loads every served version at start-up (version policy and labels from a
models.config, else the newest version, as TF Serving's default), bounds request
bodies, and reports errors as {"error": "..."} with TF Serving's HTTP status codes.
It is not TF Serving: no batching, no model reloading, no gRPC unless --port.

Load limits (memory is bounded by them, whatever the clients do):
  --rest_api_num_threads   predictions computed at once (default 2)
  --max_queued_requests    predict requests admitted beyond those, waiting (default 6);
                           a request beyond both is answered 429 RESOURCE_EXHAUSTED at
                           once, before its body is parsed
  --rest_api_timeout_in_ms how long an admitted request may wait for a worker: then
                           503 UNAVAILABLE (clients retry both with backoff)
  --max_body_bytes         largest body (413-like 429 RESOURCE_EXHAUSTED beyond)
A predict request peaks at about 2.3x its body (bodies are parsed with NumPy,
serving/json_tensor.py; measured for uint8 pixels), so the REST memory bound is about
(threads + queued) x 2.3 x body size, beside the model.
"""

import contextlib
import http.server
import json
import re
import sys
import threading
import traceback

from keras_spgan import cli
from serving import predict
from serving.repository import ModelConfig, Repository, ServingError, read_model_config_file

MAX_BODY_BYTES = 256 * 1024 * 1024
PREDICT_THREADS = 2
MAX_QUEUED_REQUESTS = 6
QUEUE_TIMEOUT_MS = 30_000
_PATH = re.compile(
    r"/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<action>/metadata|:predict|:classify|:regress)?/?"
)


def _route(path):
    match = _PATH.fullmatch(path.split("?", 1)[0])
    if not match:
        raise ServingError("INVALID_ARGUMENT", f"Malformed request: {path}")
    version = match["version"]
    if version is not None and not (version.isdigit() and len(version) <= 18):  # an int64, as TF Serving's
        raise ServingError("INVALID_ARGUMENT", f"Failed to convert version: {version} to numeric.")
    return match["name"], int(version) if version else None, match["label"], match["action"] or ""


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "keras-spgan-serving"
    protocol_version = "HTTP/1.1"
    # Seconds a connection may sit idle or half-sent before it is dropped (socket timeout):
    # a slow or silent client must not hold a worker thread for ever.
    timeout = 30

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        if self.server.verbose:
            super().log_message(format, *args)

    def _reply(self, status, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client left; nothing to tell it
            self.close_connection = True

    def _handle(self, method):
        self._body_read = method != "POST"
        try:
            name, version, label, action = _route(self.path)
            repository = self.server.repository
            if method == "GET" and action == "":
                return self._reply(200, repository.status(name, version, label))
            if method == "GET" and action == "/metadata":
                return self._reply(200, repository.metadata(name, version, label))
            if method == "POST" and action == ":predict":
                return self._reply(200, self._predict(name, version, label))
            if method == "POST" and action in (":classify", ":regress"):
                raise ServingError("UNIMPLEMENTED",
                                   f"{action[1:]} is not offered: these models have predict signatures")
            raise ServingError("INVALID_ARGUMENT", f"Malformed request: {method} {self.path}")
        except ServingError as error:
            self._reply(error.http_status, {"error": error.message})
        except _ClientGone:
            self.close_connection = True
        except Exception:  # a bug of ours: INTERNAL, as TF Serving answers; the details go to our log only
            traceback.print_exc(file=sys.stderr)
            self._reply(500, {"error": "Internal error"})
        finally:
            if not self._body_read:
                # What follows in the stream is an unread (or refused, or chunked) body, not a next
                # request: reading on would let a client smuggle one.
                self.close_connection = True

    def _content_length(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ServingError("INVALID_ARGUMENT", "Missing or invalid Content-Length")
        return int(length)

    def _drop_body(self, length):
        """Read and drop the body (in chunks, never held), so that the client, still sending,
        gets our answer instead of a reset connection."""
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                raise _ClientGone()
            remaining -= len(chunk)

    def _body(self):
        length = self._content_length()
        if length > self.server.max_body_bytes:
            self._drop_body(length)
            raise ServingError("RESOURCE_EXHAUSTED",
                               f"Request body of {length} bytes exceeds the limit of {self.server.max_body_bytes}")
        if self.headers.get("Transfer-Encoding"):
            raise ServingError("INVALID_ARGUMENT", "Transfer-Encoding is not supported: send a Content-Length")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _ClientGone()
        self._body_read = True
        return body

    def _predict(self, name, version, label):
        version, loaded = self.server.repository.resolve(name, version, label)
        admission = self.server.admission
        if not admission.enter():
            if self.headers.get("Transfer-Encoding") is None and self._content_length() <= self.server.max_body_bytes:
                self._drop_body(self._content_length())
            raise ServingError("RESOURCE_EXHAUSTED", f"The server is busy: {admission.describe()}; retry later")
        try:
            request = predict.parse_body(self._body())
            signature, tensors, row_format = predict.request_tensors(request, loaded.signature_defs)
            del request
            with admission.worker():
                outputs = predict.run(loaded, signature, tensors)
            del tensors
            return predict.response_body(outputs, row_format)
        finally:
            admission.leave()

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._handle("GET")

    def do_POST(self):  # noqa: N802
        self._handle("POST")


class _ClientGone(Exception):
    """The client disconnected before sending its whole request."""


class Admission:
    """Bounds the predict requests a server holds: `threads` computing, `queued` more waiting
    (their bodies read and parsed). Beyond both a request is refused at once; an admitted one
    that waits longer than `timeout_s` for a worker is refused then. Connections themselves
    cost a thread each and almost no memory."""

    def __init__(self, threads=PREDICT_THREADS, queued=MAX_QUEUED_REQUESTS, timeout_s=QUEUE_TIMEOUT_MS / 1000):
        if threads < 1 or queued < 0 or timeout_s <= 0:
            raise ValueError("need threads >= 1, queued >= 0 and a positive timeout")
        self.threads, self.queued, self.timeout_s = threads, queued, timeout_s
        self._places = threading.BoundedSemaphore(threads + queued)
        self._workers = threading.BoundedSemaphore(threads)

    def describe(self):
        return f"{self.threads} predictions running and {self.queued} waiting"

    def enter(self):
        """A place for one more request; False when all are taken."""
        return self._places.acquire(blocking=False)

    def leave(self):
        self._places.release()

    @contextlib.contextmanager
    def worker(self):
        if not self._workers.acquire(timeout=self.timeout_s):
            raise ServingError("UNAVAILABLE", f"No worker became free within {self.timeout_s * 1000:.0f} ms "
                                              f"({self.describe()}); retry later")
        try:
            yield
        finally:
            self._workers.release()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog (socketserver's default is 5)

    def __init__(self, address, repository, max_body_bytes=MAX_BODY_BYTES, verbose=False, admission=None):
        super().__init__(address, Handler)
        self.repository = repository
        self.max_body_bytes = max_body_bytes
        self.verbose = verbose
        self.admission = admission or Admission()


def model_configs(args):
    if args.model_config_file:
        return read_model_config_file(args.model_config_file)
    if not (args.model_base_path and args.model_name):
        raise SystemExit("error: give --model_base_path and --model_name, or --model_config_file")
    return [ModelConfig(name=args.model_name, base_path=args.model_base_path)]


def add_arguments(p):
    p.add_argument("--model_base_path", help="folder of numeric version folders (SavedModels)")
    p.add_argument("--model_name", help="model name in request URLs")
    p.add_argument("--model_config_file", help="TF Serving models.config (several models, labels, policies)")
    p.add_argument("--rest_api_port", type=int, default=8501)
    p.add_argument("--rest_api_host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    p.add_argument("--port", type=int, default=0, help="gRPC port (0: no gRPC)")
    p.add_argument("--max_body_bytes", type=int, default=MAX_BODY_BYTES,
                   help="largest REST body, gRPC message and tensor a gRPC request may declare")
    p.add_argument("--rest_api_num_threads", type=int, default=PREDICT_THREADS,
                   help="REST predictions computed at once (also the gRPC server's worker threads)")
    p.add_argument("--max_queued_requests", type=int, default=MAX_QUEUED_REQUESTS,
                   help="predict requests admitted beyond those, waiting; more are refused (429 / "
                        "RESOURCE_EXHAUSTED) before their body is parsed")
    p.add_argument("--rest_api_timeout_in_ms", type=int, default=QUEUE_TIMEOUT_MS,
                   help="longest wait of an admitted request for a worker (then 503 UNAVAILABLE)")
    p.add_argument("--log_requests", action="store_true", help="log every request")


def run(args):
    try:
        admission = Admission(args.rest_api_num_threads, args.max_queued_requests, args.rest_api_timeout_in_ms / 1000)
    except ValueError as error:
        print(f"error: --rest_api_num_threads / --max_queued_requests / --rest_api_timeout_in_ms: {error}",
              file=sys.stderr)
        return 2
    try:
        repository = Repository(model_configs(args))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    grpc_server = None
    if args.port:
        from serving.grpc_server import start_grpc_server

        grpc_server = start_grpc_server(repository, args.port, host=args.rest_api_host,
                                        max_bytes=args.max_body_bytes, workers=args.rest_api_num_threads,
                                        max_concurrent_rpcs=args.rest_api_num_threads + args.max_queued_requests)
    server = Server((args.rest_api_host, args.rest_api_port), repository, args.max_body_bytes, args.log_requests,
                    admission)
    served = ", ".join(f"{n} {sorted(v)}" for n, v in repository.versions.items())
    print(f"serving {served} at http://{args.rest_api_host}:{server.server_address[1]}"
          + (f" and gRPC port {args.port}" if grpc_server else ""), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if grpc_server:
            grpc_server.stop(0)
    return 0


def main(argv=None):
    """`keras-spgan serve ...` (argv without the command name)."""
    return cli.main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    cli.alias("serve")
