"""What a stranger sends `colornet serve` (gRPC and REST), against the server in a subprocess.

One test per case of issues 11 and 19 (and per case handled before them), each asserting the
answer's status, and, after every test, that the server process is still up and its peak resident
memory (VmHWM, /proc/<pid>/status) stayed within the documented bound
(``ServingLimits.memory_bound_bytes`` for the limits it runs with). Issue 19's cases also check
that a normal photo is colorized right after, and its memory cases run 40 times and check that
RSS comes back near where it was. The server runs a stand-in model (tests/stand_in_model.py) with
the default limits except smaller pixel budgets and short REST timeouts, so that the suite stays
within about three minutes.
"""
import base64
import collections
import concurrent.futures
import json
import shutil
import socket
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc, predict_pb2

from colornet.schemas import serving_contract as contract
from colornet.serving.admission import tensor_to_array
from colornet.serving.errors import ServingError
from colornet.serving.limits import BYTES_PER_PIXEL, MiB, ServingLimits

from hostile_fixtures import (classification_bytes, empty_string_entries, floats_declaring, gif, gif_comment_blocks,
                              http, jpeg_hiding_its_sof, limit_flags, png, png_header_only, post, post_chunked,
                              predict, predict_bytes, predict_raw, shape, start_server_process, strings, trickle)
from serving_fixtures import RED, jpeg_bytes, write_tint_model

LIMITS = ServingLimits(max_image_pixels=12_000_000, max_request_pixels=16_000_000, max_inflight_pixels=16_000_000,
                       queue_timeout_seconds=20.0, read_timeout_seconds=3.0, rest_idle_timeout_seconds=5.0)
STAND_IN_PER_PHOTO_BYTES = 16 * MiB  # the stand-in model's working memory per photo, generously
CALL_TIMEOUT = 60


def _bound(server):
    return LIMITS.memory_bound_bytes(server.start_rss, STAND_IN_PER_PHOTO_BYTES)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A push dir with one version of the stand-in model."""
    return write_tint_model(tmp_path_factory.mktemp("push"), 1, RED).parent


@pytest.fixture(scope="module")
def server(models):
    served = start_server_process(models, *limit_flags(LIMITS))
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def stays_up_and_bounded(request):
    """After each test: the server still runs and its peak memory never passed the documented bound."""
    yield
    if "server" not in request.fixturenames:
        return
    served = request.getfixturevalue("server")
    assert served.process.poll() is None, "the server died"
    peak = served.status()["peak"]
    assert peak <= _bound(served), f"peak RSS {peak / MiB:.0f} MiB over the bound {_bound(served) / MiB:.0f} MiB"


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.target, options=[("grpc.max_send_message_length", 64 * MiB),
                                                       ("grpc.max_receive_message_length", 64 * MiB)]) as channel:
        yield channel


def _predict(channel, tensor):
    return predict(channel, tensor, CALL_TIMEOUT)


def _http(server, raw):
    return http(server.rest_port, raw)


# -- gRPC: tensors are checked before they are expanded -------------------------------------------------

def test_string_tensor_declaring_20000_elements_with_one_value(channel):
    tensor = strings([b"x" * 250], dims=[20000])
    assert tensor.ByteSize() < 320  # the stranger's 307-byte request
    code, details = _predict(channel, tensor)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "Task size 20000 is larger than maximum input batch size 32" \
        in details
    code, details = _predict(channel, strings([b"x"], dims=[30]))  # within the batch limit: still not expanded
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "declares shape [30] (30 elements) but carries 1" in details


def test_float_tensor_declaring_a_billion_elements(channel):
    tensor = floats_declaring([10 ** 9])
    assert tensor.ByteSize() <= 42
    code, details = _predict(channel, tensor)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "is DT_FLOAT; the signature takes DT_STRING" in details
    code, details = _predict(channel, strings([], dims=[1, 10 ** 9]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "has shape [1,1000000000]" in details


@pytest.mark.parametrize("count", [1000, 20000])
def test_thousands_of_tiny_photos_are_over_the_batch_limit(channel, count):
    code, details = _predict(channel, strings([png(8, 8)] * count))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details == f"Task size {count} is larger than maximum input batch size {LIMITS.max_batch_size}"


def test_two_7000x7000_photos_of_zeros(channel):
    code, details = _predict(channel, strings([png(7000, 7000)] * 2))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "a 7000x7000 PNG image (49000000 pixels), over the server's limit of 12000000 pixels per photo" in details


def test_photos_over_the_request_pixel_budget(channel):
    code, details = _predict(channel, strings([png(3000, 3000)] * 2))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "18000000 pixels" in details


def test_a_30000x30000_header_is_reported_with_its_size(channel):
    code, details = _predict(channel, strings([png_header_only(30000, 30000)]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "30000x30000" in details and "89478485" not in details


def test_a_gif_of_many_frames_is_priced_by_every_frame(channel):
    code, details = _predict(channel, strings([gif(2000, 2000, 100)]))  # 390 KB, 400 million pixels decoded
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "2000x2000 x 100 frames GIF" in details


# -- the price is of what the decoder produces (issue 19 items 2 and 3) -------------------------------------

@pytest.mark.parametrize("photo, priced", [
    # 9 KB: a 1x1 screen and first frame, then a 4000x4000 frame (was priced at 2 pixels)
    (gif(0, 0, [(1, 1), (4000, 4000)], screen=(1, 1)), "4000x4000 x 2 frames GIF image (32000000 pixels)"),
    # its markers behind an FF00 that a naive parser reads as a segment covering them, then a fake
    # 10x10 SOF (was priced at 100 pixels; libjpeg reads the real one)
    (jpeg_hiding_its_sof(4000, 4000), "4000x4000 JPEG image (16000000 pixels)"),
], ids=["gif_large_second_frame", "jpeg_fake_sof"])
def test_photos_are_priced_as_the_decoder_decodes_them(server, channel, photo, priced):
    assert len(photo) < 64 * 1024
    code, details = _predict(channel, strings([photo]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and f"a {priced}, over" in details
    assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK


def test_a_gif_of_millions_of_comment_blocks_is_refused_before_decoding(server, channel):
    """32 MiB of one-byte comment sub-blocks before a 64x48 frame took 61-109 s of server time."""
    blocks = (LIMITS.max_request_bytes - 4096) // 2
    photo = gif(64, 48, 1, before_frames=gif_comment_blocks(blocks))
    started = time.monotonic()
    code, details = _predict(channel, strings([photo]))
    assert time.monotonic() - started < 10
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "blocks in" in details and "not image data" in details
    assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK


def test_request_over_the_byte_limit(channel):
    code, details = _predict(channel, strings([b"x" * (LIMITS.max_request_bytes + 1)]))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the server's limit" in details


def test_undecodable_photo_alone_is_invalid_argument(channel):
    code, details = _predict(channel, strings([b"this is not an image"]))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "photos [0]: unsupported or empty image" in details


def _peak_rss_while(server, work):
    """(result of ``work()``, the highest RSS sampled every 10 ms while it ran)."""
    samples, done = [server.status()["rss"]], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(server.status()["rss"])
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
    finally:
        done.set()
        sampler.join()
    return result, max(samples)


def test_concurrent_large_photos_wait_for_the_pixel_budget(server, channel):
    """Eight clients send a 12-megapixel photo each at once. With 16 megapixels in flight at most, the
    server decodes one at a time: the eight cost no more memory than one alone (TensorFlow's pool,
    grown by the first, serves the others), and every client is answered."""
    photo = strings([png(4000, 3000)])
    before = server.status()["rss"]
    code, one_peak = _peak_rss_while(server, lambda: _predict(channel, photo)[0])
    assert code == grpc.StatusCode.OK
    one = one_peak - before
    assert one > 100 * MiB  # decoding it costs memory
    after_one = server.status()["rss"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes, burst_peak = _peak_rss_while(server, lambda: [
            code for code, _ in pool.map(lambda _: _predict(channel, photo), range(8))])
    assert codes == [grpc.StatusCode.OK] * 8
    assert burst_peak - after_one < one / 2, (f"eight concurrent photos grew RSS by {(burst_peak - after_one) / MiB:.0f}"
                                              f" MiB more, one alone by {one / MiB:.0f} MiB")
    assert burst_peak - before <= LIMITS.max_inflight_pixels * BYTES_PER_PIXEL


def _stalled_calls(channel, count, release):
    """``count`` Predict calls whose request message is not sent until ``release`` is set (futures)."""
    stalled_predict = channel.stream_unary("/tensorflow.serving.PredictionService/Predict",
                                           request_serializer=predict_pb2.PredictRequest.SerializeToString,
                                           response_deserializer=predict_pb2.PredictResponse.FromString)

    def never_sent():
        release.wait(CALL_TIMEOUT)
        yield predict_pb2.PredictRequest()

    return [stalled_predict.future(never_sent(), timeout=CALL_TIMEOUT) for _ in range(count)]


def test_concurrent_rpcs_are_limited_exactly(server, channel):
    """40 stalled calls against --max-concurrent-rpcs 32: 32 are held (then DEADLINE_EXCEEDED), 8 are
    refused at once (gRPC's own limit let 36-49 in)."""
    release = threading.Event()
    stalled = _stalled_calls(channel, LIMITS.max_concurrent_rpcs + 8, release)
    try:
        codes = collections.Counter(future.exception(timeout=30).code() for future in stalled)
    finally:
        release.set()
    assert codes == {grpc.StatusCode.DEADLINE_EXCEEDED: LIMITS.max_concurrent_rpcs,
                     grpc.StatusCode.RESOURCE_EXHAUSTED: 8}
    assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK


def test_senders_that_never_finish_hold_no_worker(server, channel):
    """Calls whose request never arrives cost the server no thread: other calls are answered at once,
    and the stalled calls end with DEADLINE_EXCEEDED after the read timeout."""
    release = threading.Event()
    stalled = _stalled_calls(channel, 2 * LIMITS.workers, release)
    try:
        time.sleep(1)
        started = time.monotonic()
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = contract.MODEL_NAME
        model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=10)
        assert time.monotonic() - started < 5
        codes = {future.exception(timeout=30).code() for future in stalled}
        assert codes == {grpc.StatusCode.DEADLINE_EXCEEDED}
    finally:
        release.set()


# -- REST: client errors, timeouts, connections ----------------------------------------------------------

PREDICT = "/v1/models/colornet:predict"


@pytest.mark.parametrize("path, body, status, message", [
    (PREDICT, b'{"instances":5}', 400, "Expecting 'instances' to be an list/array"),
    (PREDICT, b'{"instances":[{"b64":"abc"}]}', 400, "Unable to base64 decode"),
    (PREDICT, b'{"instances":[{"b64":12}]}', 400, "keys must be equal to: images"),
    (PREDICT, b'{"inputs":[{"b64":12}]}', 400, "not formatted correctly for base64 data"),
    (PREDICT, b"[" * 100000, 400, "JSON Parse error"),
    (PREDICT, b'{"instances":[' + b"[" * 500 + b"]" * 500 + b"]}", 400, "deeper than the input's rank"),
    (PREDICT, b'{"instances":[1' + b"0" * 5000 + b"]}", 400, "JSON Parse error"),
    (PREDICT, b"\xff\xfe not utf-8", 400, "JSON Parse error"),
    ("/v1/models/colornet/versions/99999999999999999999999:predict", b"{}", 400, "Failed to convert version"),
    ("/v1/models/colornet/versions/7:predict", b'{"instances":["x"]}', 404, "Specific(colornet, 7)"),
    ("/v1/models/other:predict", b'{"instances":["x"]}', 404, "Servable not found for request: Latest(other)"),
    ("/v1/models/colornet/labels/nope:predict", b'{"instances":["x"]}', 400, "Unrecognized servable version label"),
    ("/elsewhere", b"", 404, "no such resource"),
])
def test_rest_client_errors_answer_tf_servings_status_and_json(server, path, body, status, message):
    assert _http(server, post(path, body))[0] == status
    assert message in _http(server, post(path, body))[1]["error"]


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1e3", b"5, 6"])
def test_rest_malformed_content_length_is_400(server, length):
    status, body = _http(server, b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                         + b"\r\n\r\n{}")
    assert status == 400 and "Content-Length" in body["error"]


def test_rest_body_shorter_than_its_length_times_out(server):
    started = time.monotonic()
    status, body = _http(server, b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}")
    assert status == 408 and "did not arrive within 3 s" in body["error"]
    assert time.monotonic() - started < LIMITS.read_timeout_seconds + 5


def test_rest_request_trickled_byte_by_byte_times_out(server):
    """A per-read timeout lets a byte every second hold a connection forever; the deadline is per request."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=15) as sock:
        try:
            for byte in b"GET /v1/models/colornet HTTP/1.1\r\nHost: x\r\n\r\n":
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
        except OSError:
            pass  # the server closed the connection
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - started < LIMITS.read_timeout_seconds + 5


def test_rest_body_over_the_limit_is_refused_before_it_is_read(server):
    status, body = _http(server, b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         + str(LIMITS.max_request_bytes + 1).encode() + b"\r\n\r\n")
    assert status == 413 and "over the server's limit" in body["error"]


def test_rest_half_open_connections_hold_no_threads(server):
    """300 connections that send half a request: no thread each, at most the connection limit held,
    the rest refused with 503; all closed by the read timeout, after which the server answers."""
    threads_before = server.status()["threads"]
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)
            sock.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-")
            sockets.append(sock)
        time.sleep(0.5)
        assert server.status()["threads"] <= threads_before + 2
        started = time.monotonic()
        status, _ = _http(server, b"GET /v1/models/colornet HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status in (200, 503) and time.monotonic() - started < 3  # answered, not left waiting
        time.sleep(LIMITS.read_timeout_seconds + 1)
        assert _http(server, b"GET /v1/models/colornet HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200
        replies = [sock.recv(64) for sock in sockets]
        assert sum(reply.startswith(b"HTTP/1.1 408") for reply in replies) == LIMITS.rest_max_connections
        assert sum(reply.startswith(b"HTTP/1.1 503") for reply in replies) == 300 - LIMITS.rest_max_connections
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the listen backlog")
def test_rest_listen_backlog_is_normal(server):
    out = subprocess.run(["ss", "-ltnH", f"sport = :{server.rest_port}"], capture_output=True, text=True).stdout
    assert int(out.split()[2]) == LIMITS.listen_backlog  # Send-Q of a listening socket is its backlog


@pytest.mark.parametrize("header_bytes, status", [(60 * 1024, 200), (64 * 1024 + 1, 431), (127 * 1024, 431)])
def test_rest_headers_over_64_kib_are_431(server, header_bytes, status):
    line = b"GET /v1/models/colornet HTTP/1.1\r\n"
    fixed = line + b"Host: x\r\nConnection: close\r\nX-Filler: \r\n\r\n"
    raw = fixed[:-4] + b"a" * (header_bytes - len(fixed)) + b"\r\n\r\n"
    assert len(raw) == header_bytes
    reply_status, body = _http(server, raw)
    assert reply_status == status, body
    assert _http(server, b"GET /v1/models/colornet HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200


def _rest_colorize_body(size):
    """A predict body of one small photo, padded with spaces to ``size`` bytes."""
    body = json.dumps({"instances": [{"b64": base64.b64encode(jpeg_bytes()).decode()}]}).encode()
    return body + b" " * (size - len(body))


def test_slow_uploads_promising_32_mib_lock_nobody_out(server, channel):
    """Four uploads declare Content-Length 32 MiB (4 x 32 MiB: the whole in-flight budget) and send a
    byte every 0.5 s: they hold the bytes they sent, not those promised, so gRPC and REST requests
    are answered meanwhile; the uploads end with 408 after the read timeout."""
    stop = threading.Event()
    head = (b"POST " + PREDICT.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + str(LIMITS.max_request_bytes).encode() + b"\r\n\r\n")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        uploads = [pool.submit(trickle, server.rest_port, head, 0.5, stop) for _ in range(4)]
        try:
            time.sleep(0.5)
            body = _rest_colorize_body(1000)
            for _ in range(5):
                assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK
                assert _http(server, post(PREDICT, body))[0] == 200
        finally:
            stop.set()
        assert [upload.result() for upload in uploads] == [408] * 4


def test_honest_chunked_uploads_at_once_are_all_answered(server):
    """Eight 16 KB chunked bodies at once: each holds its 16 KB (a chunked body held 32 MiB, the most it
    may grow to, so four filled the budget and the others got 503)."""
    raw = post_chunked(PREDICT, _rest_colorize_body(16 * 1024))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: _http(server, raw)[0], range(8)))
    assert statuses == [200] * 8


def test_rest_predict_with_one_bad_photo_answers_the_others(server):
    photos = [{"b64": base64.b64encode(jpeg_bytes()).decode()}, {"b64": base64.b64encode(b"junk").decode()}]
    status, body = _http(server, post(PREDICT, json.dumps({"instances": photos}).encode()))
    assert status == 200 and body["predictions"][0]["errors"] == "" and body["predictions"][1]["errors"]


# -- memory given back ----------------------------------------------------------------------------------

def test_release_memory_gives_a_large_requests_memory_back(models):
    """With --release-memory, RSS comes back near where it was after a 12-megapixel request (TensorFlow's
    default oneDNN allocator keeps its pool instead, bounded by the pixel budget, for the next request)."""
    served = start_server_process(models, "--release-memory")
    try:
        with grpc.insecure_channel(served.target) as channel:
            assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK  # first-call costs
            before = served.status()["rss"]
            assert _predict(channel, strings([png(4000, 3000)]))[0] == grpc.StatusCode.OK
            assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK  # idle again after it
            status = served.status()
        grown, kept = status["peak"] - before, status["rss"] - before
        assert grown > 150 * MiB  # the request did cost memory ...
        assert kept < grown / 3, f"{kept / MiB:.0f} of {grown / MiB:.0f} MiB kept"  # ... and most came back
    finally:
        served.stop()


# -- refusals give their memory back (issue 19 item 1) -----------------------------------------------------

REPEATS = 40
RSS_KEPT = 64 * MiB  # what a case may leave resident after REPEATS runs (glibc's arenas keep some pages)


def _repeated(server, channel, send, expected):
    """Runs ``send()`` once, then REPEATS times more; returns the RSS growth over the REPEATS runs.

    Each answer must have the ``expected`` code, and a normal photo is colorized right after.
    """
    assert send()[0] == expected
    baseline = server.status()["rss"]
    for _ in range(REPEATS):
        code, details = send()
        assert code == expected, details
    grown = server.status()["rss"] - baseline
    assert _predict(channel, strings([jpeg_bytes()]))[0] == grpc.StatusCode.OK
    return grown


@pytest.mark.parametrize("method, body, expected, message", [
    # 2 MB: a million empty strings declaring one element (each kept +76 MB for good before)
    ("Predict", predict_bytes(strings([], dims=[1]), empty_string_entries(1_000_000)),
     grpc.StatusCode.RESOURCE_EXHAUSTED, "bytes parsed, over the server's limit of"),
    # 32 MiB of empty strings (1.3 GB parsed, kept, and 3.5 s of the event loop before)
    ("Predict", predict_bytes(strings([], dims=[1]), empty_string_entries(LIMITS.max_request_bytes // 2 - 64)),
     grpc.StatusCode.RESOURCE_EXHAUSTED, "bytes parsed, over the server's limit of"),
    # 1 MiB for a model that is not served
    ("Predict", predict_bytes(strings([b"x" * MiB]), model="other"), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Latest(other)"),
    # a tensor that declares fewer elements than it carries
    ("Predict", predict_bytes(strings([b""] * 20000, dims=[1])), grpc.StatusCode.INVALID_ARGUMENT,
     "but carries 20000"),
    # 4 MiB for a method the model has no signature for (refused as TF Serving refuses it)
    ("Classify", classification_bytes(b"x" * 4 * MiB), grpc.StatusCode.INVALID_ARGUMENT,
     "Expected classification signature method_name"),
], ids=["million_empty_strings", "32_mib_of_empty_strings", "unknown_model", "more_elements_than_declared",
        "classify_4_mib"])
def test_refused_grpc_requests_give_their_memory_back(server, channel, method, body, expected, message):
    def send():
        return predict_raw(channel, body, CALL_TIMEOUT, method)

    assert message in send()[1]
    grown = _repeated(server, channel, send, expected)
    assert grown < RSS_KEPT, f"{REPEATS} refusals kept {grown / MiB:.0f} MiB"


def test_a_32_mib_rest_body_of_empty_rows_is_refused_while_parsing(server, channel):
    """32 MiB of "" rows took 2.9 GB and 57 CPU-seconds before the batch size was refused."""
    rows = (LIMITS.max_request_bytes - 64) // 3
    raw = post(PREDICT, b'{"instances": [' + b'"",' * (rows - 1) + b'""]}')
    started = time.monotonic()
    status, body = _http(server, raw)
    assert status == 400 and "JSON body holds more than 2048 values" in body["error"]
    assert time.monotonic() - started < 5
    grown = _repeated(server, channel, lambda: _http(server, raw), 400)
    assert grown < RSS_KEPT, f"{REPEATS} refusals kept {grown / MiB:.0f} MiB"


# -- stopping (issue 19 item 6) ---------------------------------------------------------------------------

@pytest.mark.slow
def test_sigterm_while_busy_exits_within_the_grace(models):
    """SIGTERM while eight 12-megapixel photos wait for the pixel budget (about 12 s of work, one at a
    time): the server stops within its 5 s grace and the end of the graph run in progress."""
    served = start_server_process(models, *limit_flags(LIMITS))
    try:
        with grpc.insecure_channel(served.target) as channel, concurrent.futures.ThreadPoolExecutor(8) as pool:
            photo = strings([png(4000, 3000)])
            calls = [pool.submit(_predict, channel, photo) for _ in range(8)]
            time.sleep(2)
            started = time.monotonic()
            served.process.terminate()
            assert served.process.wait(timeout=30) == 0
            assert time.monotonic() - started < 5 + 3
            codes = {call.result()[0] for call in calls}
        assert codes <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}
    finally:
        served.stop()


# -- unit checks of the tensor admission, for dtypes the served signatures do not take --------------------

def test_tensor_content_shorter_than_declared_is_refused_before_conversion():
    info = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_FLOAT, tensor_shape=shape([-1, 4]))
    good = tf.make_tensor_proto(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(tensor_to_array("x", good, info, LIMITS), np.ones((3, 4)))
    short = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape([3, 4]),
                                   tensor_content=np.ones(5, np.float32).tobytes())
    broadcast = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape([3, 4]), float_val=[1.0])
    for proto, message in [(short, "carries 5"), (broadcast, "carries 1")]:
        with pytest.raises(ServingError, match=message):
            tensor_to_array("x", proto, info, LIMITS)
