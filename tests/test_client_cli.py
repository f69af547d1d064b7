"""``colornet colorize`` and ``colornet model-status``: no TensorFlow in the client process, and every bad case
ends in a message and an exit status, never a traceback.

Servers run in this process on 127.0.0.1: the embedded server with a stand-in model where the real
model path matters, ``client_fixtures.TFServingLike`` where TF Serving's own behaviour does (batch
limits, per-photo errors, version labels).
"""
import json
import subprocess
import sys

import pytest

from colornet.pipeline import cli
from colornet.serving.server import start_server

from client_fixtures import TFServingLike, fake_png, png_header
from serving_fixtures import RED, is_red, jpeg_bytes, write_tint_model

HEAVY_MODULES = ("tensorflow", "tensorflow_serving", "tfx", "apache_beam", "keras", "tf_keras")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The embedded server on a red stand-in model."""
    models = tmp_path_factory.mktemp("push")
    write_tint_model(models, 1, RED)
    server = start_server(models, host="127.0.0.1", port=0)
    yield f"127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def tf_serving():
    with TFServingLike() as server:
        yield server


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for index, name in enumerate(["a.jpg", "b.jpg", "nested/c.jpg"]):
        (folder / name).write_bytes(jpeg_bytes(30 + index, 20))
    return folder


def test_client_commands_load_no_tensorflow(embedded, photos, tmp_path):
    """The CLI verbs, run as the ``colornet`` script runs them, in a fresh process: every output is written and
    neither TensorFlow nor the training stack is imported (they cost 10-30 s of start-up)."""
    script = f"""
import json, sys
from colornet.pipeline import cli
server = ["--server", {embedded!r}]
codes = [cli.main(["colorize", *server, {str(photos / "a.jpg")!r}, "-o", {str(tmp_path / "one.png")!r}]),
         cli.main(["colorize", *server, {str(photos)!r}, "-o", {str(tmp_path / "many")!r}]),
         cli.main(["model-status", *server])]
print(json.dumps({{"codes": codes, "loaded": sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 0], "loaded": []}
    assert is_red((tmp_path / "one.png").read_bytes())
    assert sorted(path.name for path in (tmp_path / "many").rglob("*.png")) == ["a.png", "b.png", "c.png"]
    assert "cuFFT" not in result.stderr and "cuda" not in result.stderr.lower()


def test_a_decompression_bomb_in_a_folder_is_one_refused_file(embedded, photos, tmp_path, capsys):
    (photos / "bomb.png").write_bytes(png_header(30000, 30000))
    assert cli.main(["colorize", "--server", embedded, str(photos), "-o", str(tmp_path / "out")]) == 1
    assert sorted(path.name for path in (tmp_path / "out").rglob("*.png")) == ["a.png", "b.png", "c.png"]
    output = capsys.readouterr()
    assert "Colorized 3 images" in output.out and "1 refused" in output.out
    assert f"skipped {photos / 'bomb.png'}: " in output.err and "decompression bomb" in output.err


def test_a_decompression_bomb_alone_is_a_message(tf_serving, tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(10000, 10000))
    assert cli.main(["colorize", "--server", tf_serving.target, str(bomb)]) == 1
    assert f"{bomb}: a 10000x10000 image" in capsys.readouterr().err
    assert not tf_serving.requests and not (tmp_path / "bomb_colorized.png").exists()


def test_unwritable_outputs_are_messages(tf_serving, photos, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    photo, server = str(photos / "a.jpg"), ["--server", tf_serving.target]
    assert cli.main(["colorize", *server, photo, "-o", str(blocker / "out.png")]) == 2
    assert f"cannot create the output folder {blocker}: a file of that name is in the way" in capsys.readouterr().err
    assert cli.main(["colorize", *server, photo, "-o", str(tmp_path)]) == 2
    assert f"cannot write {tmp_path}: it is a folder" in capsys.readouterr().err
    assert cli.main(["colorize", *server, str(photos), "-o", str(blocker)]) == 2
    assert f"cannot create the output folder {blocker}: a file of that name is in the way" in capsys.readouterr().err
    assert cli.main(["colorize", *server, photo, "-o", str(blocker / "deeper" / "out.png")]) == 2
    assert f"cannot create the output folder {blocker / 'deeper'}: Not a directory" in capsys.readouterr().err
    assert cli.main(["colorize", *server, str(photos), "-o", "-"]) == 2
    assert "give -o FOLDER" in capsys.readouterr().err
    assert not tf_serving.requests  # each was refused before a photo was sent


def test_a_folder_is_split_to_the_servers_batch_limit_and_says_so_once(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(8):
        (folder / f"{index}.jpg").write_bytes(jpeg_bytes(20 + index, 12))
    with TFServingLike(max_batch_size=3) as server:
        result = subprocess.run([sys.executable, "-m", "colornet.pipeline.cli", "colorize", "--server", server.target,
                                 str(folder), "-o", str(tmp_path / "out"), "--batch-size", "8"],
                                capture_output=True, text=True, timeout=300)
        sizes = server.predict_batch_sizes()
    assert result.returncode == 0, result.stderr
    assert sizes == [8, 3, 3, 2]
    assert result.stderr.count("accepts at most 3 photos per request") == 1
    for index in range(8):
        assert (tmp_path / "out" / f"{index}.png").read_bytes() == fake_png((folder / f"{index}.jpg").read_bytes())


def test_per_photo_errors_from_the_signature_are_reported_per_file(photos, tmp_path, capsys):
    (photos / "bad.gif").write_bytes(b"not a gif")
    with TFServingLike(errors_output=True) as server:
        assert cli.main(["colorize", "--server", server.target, str(photos), "-o", str(tmp_path / "out")]) == 1
        output = capsys.readouterr()
        assert cli.main(["colorize", "--server", server.target, str(photos / "bad.gif")]) == 1
        single = capsys.readouterr()
    assert sorted(path.name for path in (tmp_path / "out").rglob("*.png")) == ["a.png", "b.png", "c.png"]
    assert f"skipped {photos / 'bad.gif'}: Unknown image file format" in output.err
    assert f"{photos / 'bad.gif'}: Unknown image file format" in single.err
    assert not (photos / "bad_colorized.png").exists()


def test_version_labels_on_the_command_line(tf_serving, photos, tmp_path, capsys):
    server = ["--server", tf_serving.target]
    assert cli.main(["colorize", *server, "--version-label", "stable", str(photos / "a.jpg"),
                     "-o", str(tmp_path / "a.png")]) == 0
    assert tf_serving.requests[-1].model_spec.version_label == "stable"
    assert cli.main(["model-status", *server, "--version-label", "canary"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "colornet  version 2  AVAILABLE"
    assert cli.main(["model-status", *server, "--version", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["colornet  version 1  AVAILABLE"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["colorize", *server, "--version", "1", "--version-label", "stable", str(photos / "a.jpg")])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
