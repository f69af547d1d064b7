"""Soak: N clients send a mix of good and hostile requests to `colornet serve` for a set time (127.0.0.1 only).

Starts the serving command in a subprocess (a stand-in model by default, ``--model-dir`` for a
pushed one) with its default limits (``--serve-arg`` adds flags), then runs ``--clients`` threads
until ``--seconds`` have passed or ``--max-requests`` were sent. Each request is drawn from
``KINDS``: good ones (gRPC and REST colorizations, status, metadata) and hostile ones (issue 11:
declared shapes that do not match their payload, batches over the limit, 30000x30000 headers, GIF
frame bombs, photos over the pixel limits, bad JSON and base64, malformed Content-Length, bodies
that never arrive, half-open connections; issue 19: messages of a million empty strings and for
unknown models (memory refusals), GIF frames and JPEG SOFs that hid the decoded size (pricing
bypasses), GIFs of millions of comment blocks (CPU), 32 MiB JSON bodies of "" rows, and uploads
that promise 32 MiB and send a byte every 5 s, beside honest chunked uploads). A good request that
fails even after the retries a client makes on UNAVAILABLE counts as a failure; a hostile one must
get its expected status.
RSS is sampled from /proc every 0.2 s. Prints the figures and writes benchmarks/results/soak.json
(with nproc and the load average: the machine is shared).

    .venv/bin/python benchmarks/soak.py --seconds 90 --clients 8
"""
import argparse
import base64
import collections
import json
import os
import pathlib
import random
import socket
import tempfile
import threading
import time

import common  # noqa: F401 - puts tests/ on sys.path (stand-in model, hostile fixtures)

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

from colornet.schemas import serving_contract as contract
from colornet.serving.limits import MiB, ServingLimits

from hostile_fixtures import (empty_string_entries, floats_declaring, gif, gif_comment_blocks, http,
                              jpeg_hiding_its_sof, png, png_header_only, post, post_chunked, predict, predict_bytes,
                              predict_raw, start_server_process, strings, trickle)
from serving_fixtures import RED, jpeg_bytes, write_tint_model

LIMITS = ServingLimits()
STAND_IN_PER_PHOTO_BYTES = 16 * MiB
CALL_TIMEOUT = 60
RETRIES = 3  # on UNAVAILABLE, as a client does
PREDICT = "/v1/models/colornet:predict"
PREDICT_HEAD = b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\n"
INVALID, EXHAUSTED = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED


def _b64(data):
    return {"b64": base64.b64encode(data).decode()}


def _grpc(tensor):
    return lambda run: predict(run.channel, tensor, CALL_TIMEOUT)[0].name


def _rest(raw):
    return lambda run: str(http(run.rest_port, raw, timeout=CALL_TIMEOUT)[0])


def _status(run):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = contract.MODEL_NAME
    try:
        model_service_pb2_grpc.ModelServiceStub(run.channel).GetModelStatus(request, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        return error.code().name
    return "OK"


def _half_open(run):
    """Opens a connection, sends half a request and leaves; the server must drop it by itself."""
    sock = socket.create_connection(("127.0.0.1", run.rest_port), timeout=CALL_TIMEOUT)
    sock.sendall(PREDICT_HEAD + b"Content-")
    run.abandoned.append(sock)
    if len(run.abandoned) > 64:
        run.abandoned.pop(0).close()
    return "sent"


def _grpc_raw(body):
    return lambda run: predict_raw(run.channel, body, CALL_TIMEOUT)[0].name


def _slow_upload(run):
    """Declares Content-Length 32 MiB and sends a byte every 5 s in the background until the server answers
    (408 after its read timeout); at most 4 at once, as in issue 19."""
    with run.lock:
        if run.slow_uploads >= 4:
            return "sent"
        run.slow_uploads += 1

    def upload():
        try:
            status = trickle(run.rest_port, PREDICT_HEAD + f"Content-Length: {LIMITS.max_request_bytes}\r\n\r\n"
                             .encode(), 5, run.stopping)
        except OSError:
            status = None
        with run.lock:
            run.slow_uploads -= 1
            run.slow_upload_answers[str(status)] += 1

    threading.Thread(target=upload, daemon=True).start()
    return "sent"


def _short_body(run):
    """A body shorter than its Content-Length: the server answers 408 after its read timeout."""
    return str(http(run.rest_port, PREDICT_HEAD + b"Content-Length: 100\r\n\r\n{}", timeout=CALL_TIMEOUT)[0])


def kinds():
    """name -> (weight, good?, the answers that count as right, request function)."""
    small = [jpeg_bytes(64, 48), jpeg_bytes(120, 90, (30, 160, 90))]
    rest_good = post(PREDICT, json.dumps({"instances": [_b64(photo) for photo in small]}).encode())
    rest_chunked = post_chunked(PREDICT, json.dumps({"instances": [_b64(photo) for photo in small]}).encode()
                                .ljust(16 * 1024))
    one_declared = strings([], dims=[1])
    empty_rows = (LIMITS.max_request_bytes - 64) // 3
    return {
        "grpc_colorize": (30, True, {"OK"}, _grpc(strings(small))),
        "grpc_colorize_batch_of_8": (8, True, {"OK"}, _grpc(strings(small * 4))),
        "grpc_colorize_6_megapixels": (2, True, {"OK"}, _grpc(strings([png(3000, 2000)]))),
        "grpc_status": (5, True, {"OK"}, _status),
        "rest_colorize": (15, True, {"200"}, _rest(rest_good)),
        "rest_metadata": (3, True, {"200"}, _rest(b"GET /v1/models/colornet/metadata HTTP/1.1\r\nHost: x\r\n"
                                                  b"Connection: close\r\n\r\n")),
        "declared_20000_strings": (3, False, {INVALID.name}, _grpc(strings([b"x" * 250], dims=[20000]))),
        "declared_30_strings_carrying_1": (3, False, {INVALID.name}, _grpc(strings([b"x"], dims=[30]))),
        "float_declaring_1e9": (3, False, {INVALID.name}, _grpc(floats_declaring([10 ** 9]))),
        "1000_tiny_photos": (2, False, {INVALID.name}, _grpc(strings([png(8, 8)] * 1000))),
        "two_7000x7000_zeros": (1, False, {INVALID.name}, _grpc(strings([png(7000, 7000)] * 2))),
        "header_30000x30000": (3, False, {INVALID.name}, _grpc(strings([png_header_only(30000, 30000)]))),
        "gif_4000x4000_x_100_frames": (3, False, {INVALID.name}, _grpc(strings([gif(4000, 4000, 100)]))),
        "two_photos_over_request_pixels": (1, False, {EXHAUSTED.name}, _grpc(strings([png(4500, 4000)] * 2))),
        "undecodable_photo": (3, False, {INVALID.name}, _grpc(strings([b"not an image"]))),
        "rest_instances_5": (2, False, {"400"}, _rest(post(PREDICT, b'{"instances":5}'))),
        "rest_bad_base64": (2, False, {"400"}, _rest(post(PREDICT, b'{"instances":[{"b64":"abc"}]}'))),
        "rest_b64_number": (2, False, {"400"}, _rest(post(PREDICT, b'{"instances":[{"b64":12}]}'))),
        "rest_nested_json": (2, False, {"400"}, _rest(post(PREDICT, b"[" * 100000))),
        "rest_huge_version": (2, False, {"400"}, _rest(post("/v1/models/colornet/versions/" + "9" * 30 + ":predict",
                                                            b"{}"))),
        "rest_content_length_abc": (2, False, {"400"}, _rest(PREDICT_HEAD + b"Content-Length: abc\r\n\r\n")),
        "rest_content_length_minus_1": (2, False, {"400"}, _rest(PREDICT_HEAD + b"Content-Length: -1\r\n\r\n")),
        "rest_body_never_arrives": (1, False, {"408"}, _short_body),
        "rest_half_open_connection": (3, False, {"sent"}, _half_open),
        # issue 19: refusals that kept their memory, photos priced below what was decoded, GIF CPU, slow bodies
        "rest_chunked_16_kb": (4, True, {"200"}, _rest(rest_chunked)),
        "million_empty_strings_2_mb": (3, False, {EXHAUSTED.name},
                                       _grpc_raw(predict_bytes(one_declared, empty_string_entries(1_000_000)))),
        "empty_strings_32_mib": (1, False, {EXHAUSTED.name}, _grpc_raw(predict_bytes(
            one_declared, empty_string_entries(LIMITS.max_request_bytes // 2 - 64)))),
        "unknown_model_1_mib": (3, False, {grpc.StatusCode.NOT_FOUND.name},
                                _grpc_raw(predict_bytes(strings([b"x" * MiB]), model="other"))),
        "gif_1x1_then_6000x6000_frame": (2, False, {INVALID.name},
                                         _grpc(strings([gif(0, 0, [(1, 1), (6000, 6000)], screen=(1, 1))]))),
        "three_4000x4000_jpegs_behind_fake_sofs": (2, False, {EXHAUSTED.name},
                                                   _grpc(strings([jpeg_hiding_its_sof(4000, 4000)] * 3))),
        "gif_32_mib_of_comment_blocks": (1, False, {INVALID.name}, _grpc(strings([gif(
            64, 48, 1, before_frames=gif_comment_blocks((LIMITS.max_request_bytes - 4096) // 2))]))),
        "rest_32_mib_of_empty_rows": (1, False, {"400"}, _rest(post(
            PREDICT, b'{"instances": [' + b'"",' * (empty_rows - 1) + b'""]}'))),
        "rest_slow_upload_32_mib_declared": (1, False, {"sent"}, _slow_upload),
    }


class Run:
    def __init__(self, server, seconds, max_requests):
        self.channel = grpc.insecure_channel(server.target, options=[("grpc.max_send_message_length", 64 * MiB),
                                                                     ("grpc.max_receive_message_length", 64 * MiB)])
        self.rest_port = server.rest_port
        self.deadline = time.monotonic() + seconds
        self.budget = max_requests
        self.lock = threading.Lock()
        self.answers = collections.defaultdict(collections.Counter)  # kind -> answer -> count
        self.good_failures = collections.Counter()
        self.bad_unexpected = collections.Counter()
        self.retries = 0
        self.abandoned = []
        self.slow_uploads = 0  # in progress
        self.slow_upload_answers = collections.Counter()
        self.stopping = threading.Event()

    def take(self):
        with self.lock:
            if self.budget <= 0 or time.monotonic() >= self.deadline:
                return False
            self.budget -= 1
            return True


def _client(run, table, seed):
    rng = random.Random(seed)
    names = list(table)
    weights = [table[name][0] for name in names]
    while run.take():
        name = rng.choices(names, weights)[0]
        _, good, expected, send = table[name]
        for attempt in range(RETRIES + 1):
            try:
                answer = send(run)
            except OSError as error:  # a reset or timeout: the server did not answer
                answer = f"{type(error).__name__}"
            if not (good and answer in ("UNAVAILABLE", "503")) or attempt == RETRIES:
                break
            with run.lock:
                run.retries += 1
            time.sleep(0.2 * 2 ** attempt)
        with run.lock:
            run.answers[name][answer] += 1
            if answer not in expected:
                (run.good_failures if good else run.bad_unexpected)[f"{name}: {answer}"] += 1


def _sample_rss(server, samples, stop):
    while not stop.is_set():
        try:
            samples.append(server.status())
        except FileNotFoundError:
            return  # the process is gone; the run reports it
        stop.wait(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--model-dir", help="a pushed model dir (default: a stand-in model in a temp dir)")
    parser.add_argument("--serve-arg", action="append", default=[], help="an extra flag for `serve` (repeatable)")
    parser.add_argument("--output", default=str(common.RESULTS_DIR / "soak.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        models = args.model_dir
        if models is None:
            models = pathlib.Path(scratch) / "push"
            write_tint_model(models, 1, RED)
        server = start_server_process(models, *args.serve_arg)
        load_before = os.getloadavg()
        samples, stop = [], threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(server, samples, stop), daemon=True)
        sampler.start()
        run = Run(server, args.seconds, args.max_requests)
        table = kinds()
        started = time.monotonic()
        clients = [threading.Thread(target=_client, args=(run, table, seed)) for seed in range(args.clients)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - started
        run.stopping.set()
        alive = server.process.poll() is None
        stop.set()
        sampler.join()
        final = server.status() if alive else None
        for sock in run.abandoned:
            sock.close()
        run.channel.close()
        exit_code = server.stop()

    rss = [sample["rss"] for sample in samples]
    bound = LIMITS.memory_bound_bytes(server.start_rss, STAND_IN_PER_PHOTO_BYTES)
    requests = sum(sum(counter.values()) for counter in run.answers.values())
    good = sum(sum(run.answers[name].values()) for name in run.answers if table[name][1])
    result = {
        "nproc": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "seconds": round(elapsed, 1), "clients": args.clients, "model": "stand-in" if args.model_dir is None else
        str(args.model_dir), "serve_args": args.serve_arg, "requests": requests, "good_requests": good,
        "hostile_requests": requests - good, "requests_per_second": round(requests / elapsed, 1),
        "good_failures": dict(run.good_failures), "hostile_unexpected_answers": dict(run.bad_unexpected),
        "retries_on_unavailable": run.retries, "slow_upload_answers": dict(run.slow_upload_answers),
        "answers": {name: dict(counter) for name, counter in sorted(run.answers.items())},
        "crashes": 0 if alive else 1, "exit_code_after_sigterm": exit_code,
        "rss_mib": {"start": round(server.start_rss / MiB), "min": round(min(rss) / MiB),
                    "max": round(max(rss) / MiB), "peak_vmhwm": round(final["peak"] / MiB) if final else None,
                    "documented_bound": round(bound / MiB)},
        "max_threads": max(sample["threads"] for sample in samples),
    }
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{requests} requests in {elapsed:.0f} s by {args.clients} clients ({good} good, {requests - good} hostile); "
          f"nproc {result['nproc']}, load {load_before[0]:.1f} -> {result['loadavg_after'][0]:.1f}")
    print(f"failed good requests: {sum(run.good_failures.values())} {dict(run.good_failures) or ''}")
    print(f"hostile requests with an unexpected answer: {sum(run.bad_unexpected.values())} "
          f"{dict(run.bad_unexpected) or ''}")
    for name, counter in sorted(run.answers.items()):
        print(f"  {name:34s} {dict(counter)}")
    print(f"crashes: {result['crashes']}; exit code after SIGTERM: {exit_code}")
    memory = result["rss_mib"]
    print(f"RSS MiB: start {memory['start']}, min {memory['min']}, max {memory['max']}, peak {memory['peak_vmhwm']}; "
          f"documented bound {memory['documented_bound']}; threads max {result['max_threads']}")
    print(f"wrote {path}")
    return 0 if alive and not run.good_failures and not run.bad_unexpected and max(rss) <= bound else 1


if __name__ == "__main__":
    raise SystemExit(main())
