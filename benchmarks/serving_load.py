"""Load and abuse test of the local TF-Serving-compatible server (`python -m serving.server`),
with its default limits, REST and gRPC ports, on 127.0.0.1.

  python benchmarks/serving_load.py [--model spn] [--clients 4] [--seconds 15] [--sizes 64x64,288x288]

1. Load: for each frame size and protocol, --clients threads post one 5-frame uint8 window
   each, back to back, for --seconds: requests/s, p50 / p99 latency, errors (must be 0) and the
   server's peak resident memory (sampled every 20 ms).
2. Burst (issue 16): 24 concurrent REST bodies of 5 x 288 x 288 x 3 uint8 as JSON (~6.5 MB
   each): the status codes (only 200 / 429 / 503 allowed) and the server's peak memory.
3. A 40-byte gRPC request declaring a huge tensor: time to refusal, memory growth.
4. 64 half-open connections held while a status request is made: its latency.
Results as JSON (benchmarks/results/serving_load.json).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base, rest_port, grpc_port):
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen([sys.executable, "-m", "serving.server", "--model_base_path", base,
                                "--model_name", "deblur", "--rest_api_port", str(rest_port), "--port", str(grpc_port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in process.stdout:
        if line.startswith("serving "):
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()  # drain its log
            return process
    raise RuntimeError("the server did not start")


def rss_mb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """The largest resident size of a process while the block runs, sampled every 20 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.before = rss_mb(self.pid)
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def load(client, window, clients, seconds, pid):
    latencies, errors, lock = [], [], threading.Lock()
    client.predict(window)  # warm up this size
    deadline = time.perf_counter() + seconds

    def worker():
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                client.predict(window)
                with lock:
                    latencies.append(time.perf_counter() - start)
            except Exception as error:  # counted, the test goes on
                with lock:
                    errors.append(repr(error)[:200])

    with PeakMemory(pid) as memory:
        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:3],
            "requests_per_s": len(latencies) / elapsed,
            "latency_p50_ms": float(np.percentile(latencies, 50) * 1000) if latencies else None,
            "latency_p99_ms": float(np.percentile(latencies, 99) * 1000) if latencies else None,
            "server_peak_rss_mb": memory.peak}


def burst(url, pid, count=24, shape=(1, 5, 288, 288, 3)):
    window = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    body = json.dumps({"instances": window.tolist()}).encode()
    statuses, lock = [], threading.Lock()

    def post():
        request = urllib.request.Request(f"{url}/v1/models/deblur:predict", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError as error:
            status = repr(error)[:80]
        with lock:
            statuses.append(status)

    with PeakMemory(pid) as memory:
        started = time.perf_counter()
        threads = [threading.Thread(target=post) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    counts = {str(s): statuses.count(s) for s in sorted(set(statuses), key=str)}
    return {"requests": count, "body_mb": len(body) / 1e6, "statuses": counts,
            "only_200_429_503": all(s in (200, 429, 503) for s in statuses),
            "seconds": time.perf_counter() - started,
            "server_rss_before_mb": memory.before, "server_peak_rss_mb": memory.peak}


def huge_declared_grpc(target, pid):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = "deblur"
    tensor = request.inputs["frames"]
    tensor.dtype = 4  # DT_UINT8
    for size in (1_000, 5, 4_000, 4_000, 3):
        tensor.tensor_shape.dim.add().size = size
    tensor.int_val.append(7)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
    with PeakMemory(pid) as memory:
        start = time.perf_counter()
        try:
            stub.Predict(request, timeout=60)
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        seconds = time.perf_counter() - start
    return {"request_bytes": request.ByteSize(), "declared_bytes": 1_000 * 5 * 4_000 * 4_000 * 3, "code": code,
            "seconds": seconds, "server_rss_growth_mb": memory.peak - memory.before}


def idle_connections(url, count=64):
    host, port = url[len("http://"):].split(":")
    idle = []
    try:
        for _ in range(count):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"POST /v1/models/deblur:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
            idle.append(s)
        start = time.perf_counter()
        with urllib.request.urlopen(f"{url}/v1/models/deblur", timeout=60) as response:
            status = response.status
        return {"half_open_connections": count, "status": status, "status_seconds": time.perf_counter() - start}
    finally:
        for s in idle:
            s.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="spn", help="a preset name, .keras file or training model dir")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sizes", default="64x64,288x288", help="frame sizes HxW of each window")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "serving_load.json"))
    args = parser.parse_args()

    from export import saved_model
    from serving.client import GrpcClient, RestClient
    from serving.server import MAX_QUEUED_REQUESTS, PREDICT_THREADS

    result = {"model": args.model, "clients": args.clients, "seconds_per_run": args.seconds,
              "limits": {"rest_api_num_threads": PREDICT_THREADS, "max_queued_requests": MAX_QUEUED_REQUESTS},
              "cpu_count": os.cpu_count(), "load": []}
    with tempfile.TemporaryDirectory() as workdir:
        saved_model.export(args.model, workdir, "deblur", version=1, parity_windows=1, log=lambda *_: None)
        rest_port, grpc_port = free_port(), free_port()
        server = start_server(os.path.join(workdir, "deblur"), rest_port, grpc_port)
        url, target = f"http://127.0.0.1:{rest_port}", f"127.0.0.1:{grpc_port}"
        try:
            result["server_idle_rss_mb"] = rss_mb(server.pid)
            for size in args.sizes.split(","):
                height, width = (int(v) for v in size.split("x"))
                window = np.random.default_rng(0).integers(0, 256, (1, 5, height, width, 3), dtype=np.uint8)
                for protocol, client in (("rest", RestClient(url, "deblur", retries=0)),
                                         ("grpc", GrpcClient(target, "deblur", retries=0))):
                    run = {"protocol": protocol, "frame": [height, width],
                           **load(client, window, args.clients, args.seconds, server.pid)}
                    print(json.dumps(run), flush=True)
                    result["load"].append(run)
            result["burst"] = burst(url, server.pid)
            print(json.dumps(result["burst"]), flush=True)
            result["huge_declared_grpc_tensor"] = huge_declared_grpc(target, server.pid)
            result["idle_connections"] = idle_connections(url)
            result["server_peak_rss_mb"] = rss_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(json.dumps(result, indent=1))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    errors = sum(run["errors"] for run in result["load"])
    return 0 if not errors and result["burst"]["only_200_429_503"] else 1


if __name__ == "__main__":
    sys.exit(main())
