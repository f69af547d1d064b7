"""Serving latency and throughput: the in-process gRPC server against a direct SavedModel call.

For 256x256 and 1024x768 JPEGs and 1, 4 and 16 concurrent clients it measures p50/p95/p99
latency and throughput through gRPC, next to the same signature called in-process (the
gRPC overhead at p50 is their difference at one client). Then it pushes a new version
while clients keep sending and counts failed requests (must be zero).

    .venv/bin/python benchmarks/serve.py                          # a stand-in model
    .venv/bin/python benchmarks/serve.py --model-dir runs/demo/serving_model   # a pushed colornet model

Request counts are bounded (``--requests`` per configuration); results go to ``--json``.
"""
import argparse
import concurrent.futures
import io
import json
import pathlib
import sys
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf
from PIL import Image

import common  # noqa: F401 - puts the tests' harness on the path
from colornet.components.pusher.executor import publish_version
from colornet.schemas.serving_contract import loadable_versions
from colornet.serving.client import ColorizeClient
from colornet.serving.server import start_server
from stand_in_model import BLUE, RED, write_tint_model

SIZES = {"256x256": (256, 256), "1024x768": (1024, 768)}
CONCURRENCY = (1, 4, 16)


def photo_jpeg(width, height, seed=0):
    """A smooth, photo-like JPEG (gradients plus noise), so encoded sizes are realistic."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    rgb = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], axis=-1) * 90 + 128
    rgb += rng.normal(0, 12, rgb.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def percentiles(latencies):
    milliseconds = np.asarray(latencies) * 1000
    return {f"p{q}_ms": round(float(np.percentile(milliseconds, q)), 2) for q in (50, 95, 99)}


def one_client_paired(signature, target, image, requests):
    """One caller alternating a direct signature call and a gRPC call on the same image.

    Alternating keeps both figures under the same machine load, so their difference at
    p50 is the gRPC overhead (serialization, transport, request checks), not noise.
    """
    batch = tf.constant([image])
    direct, remote = [], []
    with ColorizeClient(target, timeout=300) as client:
        for _ in range(3):  # warm-up: the first calls of a loaded function are slower
            signature(images=batch)
            client.colorize([image])
        for _ in range(requests):
            started = time.perf_counter()
            signature(images=batch)
            direct.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.colorize([image])
            remote.append(time.perf_counter() - started)
    return ({"requests": requests, **percentiles(direct)},
            {"requests": requests, "concurrency": 1, "failed": 0,
             "throughput_rps": round(len(remote) / sum(remote), 2), **percentiles(remote)})


def through_grpc(target, image, requests, concurrency):
    """``requests`` colorize calls spread over ``concurrency`` clients; latency percentiles and throughput."""
    latencies, failures = [], []
    per_client = [requests // concurrency + (index < requests % concurrency) for index in range(concurrency)]

    def client_loop(count):
        with ColorizeClient(target, timeout=300) as client:
            for _ in range(count):
                started = time.perf_counter()
                try:
                    client.colorize([image])
                    latencies.append(time.perf_counter() - started)
                except Exception as error:  # noqa: BLE001 - counted and reported, the run goes on
                    failures.append(repr(error))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client_loop, per_client))
    wall = time.perf_counter() - started
    return {"requests": requests, "concurrency": concurrency, "failed": len(failures),
            "throughput_rps": round(len(latencies) / wall, 2), **percentiles(latencies or [0])}


def hot_swap(server, target, image, new_version_source, requests, concurrency=4):
    """Pushes a new version after a quarter of the requests; counts failed requests."""
    base_dir = server.store.base_dir
    new_version = max(loadable_versions(base_dir)) + 1
    sent = threading.Semaphore(0)

    def push_when_started():
        for _ in range(max(1, requests // 4)):
            sent.acquire()
        publish_version(new_version_source, base_dir, new_version)

    pusher = threading.Thread(target=push_when_started)
    pusher.start()
    failures = []

    def client_loop(count):
        with ColorizeClient(target, timeout=300) as client:
            for _ in range(count):
                try:
                    client.colorize([image])
                except Exception as error:  # noqa: BLE001 - the figure this benchmark reports
                    failures.append(repr(error))
                sent.release()

    per_client = [requests // concurrency + (index < requests % concurrency) for index in range(concurrency)]
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client_loop, per_client))
    pusher.join()
    deadline = time.monotonic() + 300
    while server.store.get().version != new_version and time.monotonic() < deadline:
        time.sleep(0.2)
    return {"requests": requests, "concurrency": concurrency, "failed": len(failures), "failures": failures[:5],
            "pushed_version": new_version, "served_after": server.store.get().version}


def prepare_model_dir(model_dir, workspace):
    """A private push dir with one version (a copy of the newest pushed one, or a stand-in),
    and the source of the version to push mid-run."""
    push_dir = workspace / "push"
    if model_dir is None:
        write_tint_model(push_dir, 1, RED)
        return push_dir, "stand-in tint model", write_tint_model(workspace / "next", 2, BLUE)
    versions = loadable_versions(model_dir)
    if not versions:
        sys.exit(f"no pushed version (<version>/saved_model.pb) under {model_dir}")
    source = pathlib.Path(model_dir) / str(versions[-1])
    publish_version(source, push_dir, 1)
    return push_dir, f"{source}", source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="a Pusher base dir with a real colornet model (default: a stand-in)")
    parser.add_argument("--requests", type=int, default=32, help="requests per configuration (default: %(default)s)")
    parser.add_argument("--json", default="benchmarks/results/serve.json", help="where to write the results")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="serve-bench-") as workspace:
        push_dir, model_label, next_version = prepare_model_dir(args.model_dir, pathlib.Path(workspace))
        results = {"model": model_label, "requests_per_config": args.requests, "sizes": {}}
        with start_server(push_dir, port=0, poll_seconds=0.5) as server:
            target = f"127.0.0.1:{server.port}"
            signature = tf.saved_model.load(str(push_dir / "1")).signatures["serving_default"]
            for label, (width, height) in SIZES.items():
                image = photo_jpeg(width, height)
                direct, single = one_client_paired(signature, target, image, args.requests)
                grpc_runs = [single] + [through_grpc(target, image, max(args.requests, concurrency), concurrency)
                                        for concurrency in CONCURRENCY[1:]]
                print(f"{label:>9} in-process  p50 {direct['p50_ms']:8.1f} ms  p95 {direct['p95_ms']:8.1f}  "
                      f"p99 {direct['p99_ms']:8.1f}", flush=True)
                for run in grpc_runs:
                    print(f"{label:>9} gRPC x{run['concurrency']:<2}     p50 {run['p50_ms']:8.1f} ms  "
                          f"p95 {run['p95_ms']:8.1f}  p99 {run['p99_ms']:8.1f}  {run['throughput_rps']:7.1f} req/s  "
                          f"failed {run['failed']}", flush=True)
                overhead = round(single["p50_ms"] - direct["p50_ms"], 2)
                print(f"{label:>9} gRPC overhead at p50 (1 client): {overhead} ms", flush=True)
                results["sizes"][label] = {"jpeg_bytes": len(image), "in_process": direct, "grpc": grpc_runs,
                                           "grpc_overhead_p50_ms": overhead}
            swap = hot_swap(server, target, photo_jpeg(*SIZES["256x256"]), next_version, args.requests)
            print(f"hot swap: pushed version {swap['pushed_version']} during {swap['requests']} requests, "
                  f"now serving {swap['served_after']}, failed requests: {swap['failed']}", flush=True)
            results["hot_swap"] = swap
    output = pathlib.Path(args.json)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(f"wrote {output}")
    failed = swap["failed"] + sum(run["failed"] for size in results["sizes"].values() for run in size["grpc"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
