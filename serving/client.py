"""Clients for a model served by TF Serving (or `python -m serving.server`), over REST or gRPC.

    client = RestClient("http://localhost:8501", "deblur")        # version=N or label="stable"
    sharp = client.predict(windows)      # uint8 (B, T, H, W, 3) -> uint8 (B, H, W, 3)
    client.status(); client.metadata()

    python -m serving.client deblur IN OUT --server http://localhost:8501 --model deblur
    python -m serving.client deblur IN OUT --grpc localhost:8500 --model deblur

Requests time out (--timeout); a busy server (429 / 503, RESOURCE_EXHAUSTED /
UNAVAILABLE) and refused connections are retried with exponential backoff; any other error raises ServingClientError
carrying the server's own error text.
"""

import json
import sys
import time
import urllib.error
import urllib.request

import numpy as np

from keras_spgan.align import ALIGNMENTS
from keras_spgan.data.frames import to_uint8
from keras_spgan.errors import ConfigError, KerasSpganError

from serving import json_tensor


class ServingClientError(KerasSpganError, RuntimeError):
    """A request the server refused or could not answer; `status` is the HTTP status or gRPC code."""

    exit_code = 1  # it ran and failed (keras_spgan.errors)

    def __init__(self, status, message):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _with_retries(call, retryable, retries, backoff):
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as error:
            if attempt == retries or not retryable(error):
                raise
            time.sleep(backoff * 2**attempt)


def _check_version_or_label(version, label):
    """TF Serving addresses a model by version number or by label, never both."""
    if version is not None and label is not None:
        raise ValueError("give a version or a label, not both")


class RestClient:
    def __init__(self, url, model, version=None, label=None, timeout=120.0, retries=3, backoff=0.5):
        _check_version_or_label(version, label)
        self.base = f"{url.rstrip('/')}/v1/models/{model}"
        if version is not None:
            self.base += f"/versions/{int(version)}"
        elif label is not None:
            self.base += f"/labels/{label}"
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def _request(self, path, body=None, parse=json.loads):
        # json_tensor writes and reads the arrays without a Python object per number.
        data = None if body is None else json_tensor.dumps(body)
        request = urllib.request.Request(self.base + path, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})

        def call():
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return parse(response.read())
            except urllib.error.HTTPError as error:
                text = error.read().decode("utf-8", "replace")
                try:
                    text = json.loads(text).get("error", text)
                except ValueError:
                    pass
                raise ServingClientError(error.code, text) from None

        def retryable(error):
            if isinstance(error, ServingClientError):
                return error.status in (429, 503)  # busy: the server's queue is full
            return isinstance(error, (urllib.error.URLError, ConnectionError))

        return _with_retries(call, retryable, self.retries, self.backoff)

    def status(self):
        return self._request("")

    def metadata(self):
        return self._request("/metadata")

    def predict(self, frames, signature="serving_default", columnar=False):
        """Frames (B, T, H, W, 3), uint8 for serving_default, float in [0, 1] for "float"."""
        frames = np.asarray(frames)
        body = {"signature_name": signature}
        body["inputs" if columnar else "instances"] = frames
        result = self._request(":predict", body, parse=json_tensor.loads)
        values = json_tensor.to_numpy(result["outputs"] if columnar else result["predictions"])
        return np.asarray(values, dtype=np.uint8 if frames.dtype == np.uint8 else np.float32)


class GrpcClient:
    """The same calls over gRPC (tensorflow-serving-api): binary tensors, no JSON."""

    def __init__(self, target, model, version=None, label=None, timeout=120.0, retries=3, backoff=0.5):
        _check_version_or_label(version, label)
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self.grpc = grpc
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 256 << 20),
                                                              ("grpc.max_send_message_length", 256 << 20)])
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        self.model, self.version, self.label = model, version, label
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def _spec(self, spec, signature=None):
        spec.name = self.model
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.label is not None:
            spec.version_label = self.label
        if signature:
            spec.signature_name = signature

    def _call(self, method, request):
        def call():
            try:
                return method(request, timeout=self.timeout)
            except self.grpc.RpcError as error:
                raise ServingClientError(error.code().name, error.details()) from None

        return _with_retries(call, lambda e: isinstance(e, ServingClientError) and e.status in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"),
                             self.retries, self.backoff)

    def predict(self, frames, signature="serving_default"):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, signature)
        request.inputs["frames"].CopyFrom(tf.make_tensor_proto(np.asarray(frames)))
        return tf.make_ndarray(self._call(self.predictions.Predict, request).outputs["sharp"])

    def status(self):
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        return json_format.MessageToDict(self._call(self.models.GetModelStatus, request),
                                         preserving_proto_field_name=True)

    def metadata(self):
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec)
        request.metadata_field.append("signature_def")
        response = self._call(self.predictions.GetModelMetadata, request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return signatures


def _runner_base():
    from keras_spgan.inference.runners import Runner

    return Runner


class ServedRunner(_runner_base()):
    """The `Runner` interface over a served model, so `deblur_pairs` streams through a server."""

    kind = "served"
    frame_size = None

    def __init__(self, client, num_frames=None):
        self.client = client
        self.source = getattr(client, "base", None) or getattr(client, "model", "server")
        if num_frames is None:
            num_frames = self._num_frames()
        self.num_frames = num_frames

    def _num_frames(self):
        metadata = self.client.metadata()
        if isinstance(metadata, dict):
            dims = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["frames"]
            return int(dims["tensor_shape"]["dim"][1]["size"])
        return int(metadata.signature_def["serving_default"].inputs["frames"].tensor_shape.dim[1].size)

    def _run(self, windows):
        # Windows come from uint8 frames: rounding recovers them exactly for the uint8 signature.
        uint8 = to_uint8(windows)
        try:
            return self.client.predict(uint8).astype(np.float32) / 255.0
        except urllib.error.URLError as error:  # the server went away after the first request
            raise ServingClientError("unreachable", str(error.reason)) from None


def deblur_command(args):
    from keras_spgan.deblur import check_paths, deblur_video

    check_paths(args.input, args.output, args.overwrite)  # before asking the server anything
    if args.version is not None and args.label is not None:
        raise ConfigError("label", "give --version or --label, not both")
    flag, address, kind = ("grpc", args.grpc, GrpcClient) if args.grpc else ("server", args.server, RestClient)
    client = kind(address, args.model, args.version, args.label, args.timeout, args.retries)
    try:  # the first request (the model's metadata): a server that is not there is a flag to fix
        runner = ServedRunner(client)
    except urllib.error.URLError as error:
        raise ConfigError(flag, f"{address}: cannot reach it ({error.reason})") from None
    except ServingClientError as error:
        raise ConfigError(flag, f"{address}: {error}") from None
    summary = deblur_video(args.input, args.output, runner, batch=args.batch, overwrite=args.overwrite,
                           progress=not args.quiet, in_flight=args.in_flight, alignment=args.alignment)
    print(f"wrote {summary['output']}: {summary['frames']} frames ({summary['frames_per_second']:.2f} frames/s)")
    return 0


def add_arguments(p):
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deblur", help="deblur a video or frame folder through a server")
    d.add_argument("input", metavar="IN")
    d.add_argument("output", metavar="OUT")
    d.add_argument("--server", default="http://localhost:8501", help="REST base URL")
    d.add_argument("--grpc", default=None, help="HOST:PORT: use gRPC instead of REST")
    d.add_argument("--model", default="deblur")
    d.add_argument("--version", type=int, default=None)
    d.add_argument("--label", default=None)
    d.add_argument("--batch", type=int, default=2, help="windows per request")
    d.add_argument("--in_flight", type=int, default=2, help="requests sent concurrently")
    d.add_argument("--alignment", choices=ALIGNMENTS, default="none",
                   help="flow: warp each window's frames onto its centre frame before sending it, as models of "
                        "presets trained on aligned windows need (their export's report says \"alignment\": "
                        "\"flow\"; a server cannot tell)")
    d.add_argument("--timeout", type=float, default=120.0)
    d.add_argument("--retries", type=int, default=3)
    d.add_argument("--overwrite", action="store_true")
    d.add_argument("--quiet", action="store_true")


def run(args):
    return deblur_command(args)  # errors: keras_spgan.cli prints them and maps the exit status


def main(argv=None):
    """`keras-spgan client ...` (argv without the command name)."""
    from keras_spgan import cli

    return cli.main(["client", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    from keras_spgan import cli

    cli.alias("client")
