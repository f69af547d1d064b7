"""``ColorizeClient`` against servers that behave as TF Serving does: restarts, batch limits, per-photo errors,
version labels, hostile photos. The server is ``client_fixtures.TFServingLike`` on 127.0.0.1 (built on
``tensorflow_serving.apis``' own classes), or the embedded server where the real model path matters."""
import logging
import threading
import time

import grpc
import pytest

from colornet.schemas.serving_contract import COLORIZED_OUTPUT
from colornet.serving.client import ColorizeClient, PhotosRefused, UnexpectedResponse, colorize_folder

from client_fixtures import TFServingLike, fake_png, png_header
from serving_fixtures import free_port, jpeg_bytes


@pytest.fixture
def tf_serving():
    with TFServingLike() as server:
        yield server


def test_a_call_waits_through_a_server_restart():
    server = TFServingLike().start()
    photo = jpeg_bytes()
    restarted = threading.Timer(3.0, server.start)
    try:
        with ColorizeClient(server.target, retry_seconds=30) as client:
            assert client.colorize([photo]) == [fake_png(photo)]
            server.stop()  # a restart takes ~12 s in production; 3 s here
            restarted.start()
            started = time.monotonic()
            assert client.colorize([photo]) == [fake_png(photo)]
            assert time.monotonic() - started >= 2.5  # it did wait for the server to come back
    finally:
        restarted.cancel()
        restarted.join()
        server.stop()


def test_retries_stop_at_the_retry_window():
    with ColorizeClient(f"127.0.0.1:{free_port()}", retry_seconds=1.0, timeout=5) as client:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            client.status()
        waited = time.monotonic() - started
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert 0.3 < waited < 10


def test_only_unavailable_is_retried(tf_serving):
    with ColorizeClient(tf_serving.target, model_name="other", retry_seconds=30) as client, \
            pytest.raises(grpc.RpcError) as raised:
        client.colorize([jpeg_bytes()])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(tf_serving.requests) == 1


def test_a_batch_over_the_servers_limit_is_split_to_it(caplog):
    photos = [jpeg_bytes(20 + index, 10) for index in range(7)]
    with TFServingLike(max_batch_size=3) as server, ColorizeClient(server.target) as client:
        with caplog.at_level(logging.WARNING, logger="colornet.serving.client"):
            assert client.colorize(photos) == [fake_png(photo) for photo in photos]
            assert client.colorize(photos[:4]) == [fake_png(photo) for photo in photos[:4]]
        assert client.max_batch_size == 3
        assert server.predict_batch_sizes() == [7, 3, 3, 1, 3, 1]  # the refused 7, then never more than 3
    notices = [record.getMessage() for record in caplog.records]
    assert len(notices) == 1 and "at most 3 photos per request" in notices[0]
    assert "Task size 7 is larger than maximum input batch size 3" in notices[0]


def test_the_errors_output_names_the_refused_photos():
    good, bad = jpeg_bytes(), b"GIF-like but not an image"
    with TFServingLike(errors_output=True) as server, ColorizeClient(server.target) as client:
        assert client.colorize_each([good, bad, good]) == [
            (fake_png(good), None), (None, "Unknown image file format"), (fake_png(good), None)]
        with pytest.raises(PhotosRefused) as raised:
            client.colorize([good, bad])
        assert raised.value.reasons == {1: "Unknown image file format"}
        assert server.predict_batch_sizes() == [3, 2]  # one request each: no need to isolate the bad photo


def test_a_response_without_the_contracts_output_is_a_clear_error():
    with TFServingLike(colorized_output="colorized_by_another_release") as server, \
            ColorizeClient(server.target) as client, pytest.raises(UnexpectedResponse) as raised:
        client.colorize([jpeg_bytes()])
    assert f"without a {COLORIZED_OUTPUT!r} output" in str(raised.value)
    assert "colorized_by_another_release" in str(raised.value)


def test_a_refused_request_is_split_until_the_bad_photo_is_alone(tf_serving):
    photos = [jpeg_bytes(20 + index, 10) for index in range(5)]
    photos[3] = b"truncated download"
    with ColorizeClient(tf_serving.target) as client:
        outcomes = client.colorize_each(photos)
    assert [png for png, _ in outcomes] == [fake_png(photo) for photo in photos[:3]] + [None, fake_png(photos[4])]
    assert outcomes[3][1].startswith("INVALID_ARGUMENT: Unknown image file format")
    assert len(tf_serving.requests) < 2 * len(photos)


def test_version_labels_go_in_the_model_spec(tf_serving):
    with ColorizeClient(tf_serving.target, version_label="stable") as client:
        client.colorize([jpeg_bytes()])
        assert client.metadata()[0] == 1
        assert client.status() == [{"version": 1, "state": "AVAILABLE", "error": ""}]
    predict, metadata, resolve, status = tf_serving.requests
    for request in (predict, metadata, resolve):
        assert request.model_spec.WhichOneof("version_choice") == "version_label"
        assert request.model_spec.version_label == "stable"
    # TF Serving's GetModelStatus ignores labels: the client asks for the version the label resolved to.
    assert status.model_spec.version.value == 1
    with ColorizeClient(tf_serving.target, version_label="nightly") as client, pytest.raises(grpc.RpcError) as raised:
        client.colorize([jpeg_bytes()])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_version_and_a_label_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        ColorizeClient("127.0.0.1:1", version=1, version_label="stable")


def test_decompression_bombs_are_refused_before_sending(tf_serving):
    bombs = [png_header(30000, 30000), png_header(10000, 10000)]  # over twice Pillow's limit, and just over it
    with ColorizeClient(tf_serving.target) as client:
        outcomes = client.colorize_each([bombs[0], jpeg_bytes(), bombs[1]])
        with pytest.raises(PhotosRefused, match="10000x10000"):
            client.colorize([bombs[1]])
    assert outcomes[1] == (fake_png(jpeg_bytes()), None)
    assert "decompression bomb" in outcomes[0][1] and "10000x10000 image" in outcomes[2][1]
    assert tf_serving.predict_batch_sizes() == [1]  # only the real photo was sent


def test_a_folder_keeps_going_past_vanished_and_refused_files(tf_serving, tmp_path):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "nested/c.jpg"):
        (photos / name).write_bytes(jpeg_bytes())
    (photos / "bomb.png").write_bytes(png_header(30000, 30000))

    class VanishingFile(ColorizeClient):
        """Deletes b.jpg while the run is under way, as another program might."""

        def colorize_each(self, images):
            (photos / "b.jpg").unlink(missing_ok=True)
            return super().colorize_each(images)

    with VanishingFile(tf_serving.target) as client:
        run = colorize_folder(client, photos, tmp_path / "out", batch_size=1, progress=False)
    written, failed = run.written.values(), run.refused
    assert sorted(path.relative_to(tmp_path / "out").as_posix() for path in written) == ["a.png", "nested/c.png"]
    assert sorted(path.name for path in failed) == ["b.jpg", "bomb.png"]
    assert failed[photos / "b.jpg"] == "cannot read: No such file or directory"
    assert "decompression bomb" in failed[photos / "bomb.png"]
    # Nothing else, no partial files:
    assert sorted(path.name for path in (tmp_path / "out").rglob("*")) == ["a.png", "c.png", "nested"]


def test_a_servers_concurrency_limit_is_retried_not_blamed_on_the_photo():
    """gRPC refuses a call over ``maximum_concurrent_rpcs`` with RESOURCE_EXHAUSTED, the code a server also uses for
    a request too large: the client tells them apart by gRPC's words and waits for the busy server."""
    photo = jpeg_bytes()
    with TFServingLike(max_concurrent_rpcs=1, predict_seconds=1.5) as server:
        def hold_the_slot():
            with ColorizeClient(server.target) as other:
                other.colorize([photo])

        holder = threading.Thread(target=hold_the_slot)
        holder.start()
        while not server.requests:  # the holder is inside Predict
            time.sleep(0.01)
        with ColorizeClient(server.target, retry_seconds=0) as impatient, pytest.raises(grpc.RpcError) as raised:
            impatient.colorize_each([photo, photo])  # not split in halves and reported per photo: raised
        with ColorizeClient(server.target, retry_seconds=30) as client:
            assert client.colorize_each([photo]) == [(fake_png(photo), None)]
        holder.join()
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "Concurrent RPC limit exceeded" in raised.value.details()
    assert len(server.requests) == 2  # the holder's and the patient client's: the refused ones never got in


def test_a_server_that_dies_mid_folder_leaves_a_list_of_what_was_not_done(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(7):
        (photos / f"{index}.jpg").write_bytes(jpeg_bytes(20 + index, 12))
    server = TFServingLike().start()

    class DyingServer(ColorizeClient):
        """The server goes away for good after two requests."""

        def colorize_each(self, images):
            if len(server.requests) == 2:
                server.stop()
            return super().colorize_each(images)

    try:
        with DyingServer(server.target, retry_seconds=1.0) as client:
            run = colorize_folder(client, photos, tmp_path / "out", batch_size=2, progress=False)
        assert run.stopped.code() == grpc.StatusCode.UNAVAILABLE
        assert sorted(path.name for path in run.written) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
        assert [path.name for path in run.not_done] == ["4.jpg", "5.jpg", "6.jpg"] and not run.refused
        assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png", "3.png"]

        server.start()  # back on the same port: the run resumes where it stopped
        with ColorizeClient(server.target) as client:
            resumed = colorize_folder(client, photos, tmp_path / "out", batch_size=2, progress=False,
                                      skip_existing=True)
        assert not resumed.stopped and not resumed.not_done and len(resumed.written) == 7
        assert server.predict_batch_sizes()[-2:] == [2, 1]  # only 4.jpg, 5.jpg and 6.jpg were sent again
        for index in range(7):
            assert (tmp_path / "out" / f"{index}.png").read_bytes() == fake_png((photos / f"{index}.jpg").read_bytes())
    finally:
        server.stop()
