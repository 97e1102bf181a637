"""Load test of the local TF-Serving-compatible server: N concurrent REST clients for a bounded time.

  python benchmarks/serving_load.py --model runs/spn [--clients 4] [--seconds 20] [--size 64x64]

Exports the model as a SavedModel, starts `python -m serving.server` in a
process of its own on 127.0.0.1, and lets --clients threads post one window
each (uint8 frames, row format) back to back. Reports requests/s, p50 / p99
latency and the error count (which must be 0), as JSON.
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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(base, port):
    env = dict(os.environ, PYTHONPATH=REPO)
    process = subprocess.Popen([sys.executable, "-m", "serving.server", "--model_base_path", base,
                                "--model_name", "deblur", "--rest_api_port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in process.stdout:
        if line.startswith("serving "):
            return process
    raise RuntimeError("the server did not start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/spn")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", default="64x64", help="frame size HxW of each window")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "serving_load.json"))
    args = parser.parse_args()

    from export import saved_model
    from serving.client import RestClient

    height, width = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as workdir:
        saved_model.export(args.model, workdir, "deblur", version=1, parity_windows=1, log=lambda *_: None)
        port = free_port()
        server = start_server(os.path.join(workdir, "deblur"), port)
        try:
            client = RestClient(f"http://127.0.0.1:{port}", "deblur", retries=0)
            window = np.random.default_rng(0).integers(0, 256, (1, 5, height, width, 3), dtype=np.uint8)
            client.predict(window)  # warm up
            latencies, errors, lock = [], [], threading.Lock()
            deadline = time.perf_counter() + args.seconds

            def worker():
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    try:
                        client.predict(window)
                        with lock:
                            latencies.append(time.perf_counter() - start)
                    except Exception as error:  # counted, the test goes on
                        with lock:
                            errors.append(repr(error))

            started = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "model": args.model, "clients": args.clients, "seconds": elapsed, "frame": [height, width],
        "requests": len(latencies), "errors": len(errors), "error_samples": errors[:3],
        "requests_per_s": len(latencies) / elapsed,
        "latency_p50_ms": float(np.percentile(latencies, 50) * 1000) if latencies else None,
        "latency_p99_ms": float(np.percentile(latencies, 99) * 1000) if latencies else None,
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=1))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
