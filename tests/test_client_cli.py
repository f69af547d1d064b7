"""``colornet colorize`` and ``colornet model-status``: no TensorFlow in the client process, and every bad case
ends in a message and an exit status, never a traceback.

Servers run in this process on 127.0.0.1: the embedded server with a stand-in model where the real
model path matters, ``client_fixtures.TFServingLike`` where TF Serving's own behaviour does (batch
limits, per-photo errors, version labels).
"""
import json
import os
import subprocess
import sys

import pytest

from colornet.pipeline import cli
from colornet.serving.server import start_server

from client_fixtures import TFServingLike, fake_png, png_header
from serving_fixtures import RED, free_port, is_red, jpeg_bytes, write_tint_model

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


def _colorize_in_a_process(*args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE):
    """``colornet colorize`` in its own process, with a timeout: a FIFO opened for reading would block it forever."""
    return subprocess.run([sys.executable, "-m", "colornet.pipeline.cli", "colorize", *map(str, args)],
                          stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)


def _image(path, fmt):
    from PIL import Image

    Image.new("RGB", (24, 16), (40, 90, 160)).save(path, fmt)


def test_images_that_share_a_stem_are_all_written_under_names_that_say_so(tf_serving, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "photo.jpg").write_bytes(jpeg_bytes(30, 20))
    for name, fmt in [("photo.png", "PNG"), ("image.bmp", "BMP"), ("image.tiff", "TIFF"), ("image.webp", "WEBP"),
                      ("clash.jpg", "JPEG"), ("clash.png", "PNG"), ("clash.jpg.png", "PNG"), ("alone.png", "PNG")]:
        _image(photos / name, fmt)
    out = tmp_path / "out"
    assert cli.main(["colorize", "--server", tf_serving.target, str(photos), "-o", str(out)]) == 1
    output = capsys.readouterr()
    assert sorted(path.name for path in out.iterdir()) == [
        "alone.png", "clash.png.png", "image.bmp.png", "image.tiff.png", "image.webp.png", "photo.jpg.png",
        "photo.png.png"]
    assert (out / "photo.jpg.png").read_bytes() == fake_png((photos / "photo.jpg").read_bytes())
    assert (out / "photo.png.png").read_bytes() == fake_png((photos / "photo.png").read_bytes())
    assert f"note: {photos / 'image.bmp'} -> {out / 'image.bmp.png'} (another image of its folder" in output.err
    # clash.jpg's <name>.png is clash.jpg.png's own output name: neither is written, both say why.
    assert f"skipped {photos / 'clash.jpg'}: its output clash.jpg.png is also the output of clash.jpg.png" in output.err
    assert f"skipped {photos / 'clash.jpg.png'}: its output clash.jpg.png is also the output of clash.jpg" in output.err
    assert output.out.strip() == (f"Colorized 7 images from {photos} into {out}; 2 refused; 6 named <name>.png "
                                  f"(listed above)")


def test_a_folder_walk_reports_every_entry_it_does_not_colorize(tf_serving, tmp_path):
    """The walk of ``colornet ingest``: FIFOs, sockets, links to nothing, to themselves, to their own folder or out
    of the folder are reported, not followed (/etc/passwd is never sent); a folder named dir.jpg is walked."""
    import socket

    photos = tmp_path / "photos"
    (photos / "dir.jpg").mkdir(parents=True)
    (photos / "a.jpg").write_bytes(jpeg_bytes(30, 20))
    (photos / "dir.jpg" / "inside.jpg").write_bytes(jpeg_bytes(31, 20))
    (photos / "notes.txt").write_text("not a photo")
    (photos / ".hidden.jpg").write_bytes(jpeg_bytes(32, 20))
    os.mkfifo(photos / "fifo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(photos / "s.jpg"))
    os.symlink("nowhere.jpg", photos / "gone.jpg")
    os.symlink("self.jpg", photos / "self.jpg")
    os.symlink(".", photos / "dir.jpg" / "again")
    os.symlink("/etc/passwd", photos / "passwd.jpg")
    try:
        result = _colorize_in_a_process("--server", tf_serving.target, photos, "-o", tmp_path / "out")
    finally:
        sock.close()
    assert result.returncode == 1, result.stderr
    assert sorted(path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*.png")) == [
        "a.png", "dir.jpg/inside.png"]
    skipped = {line.split(": ", 1)[0]: line.split(": ", 2)[1] for line in result.stderr.splitlines()
               if line.startswith("skipped ")}
    assert skipped == {f"skipped {photos / 'fifo.jpg'}": "not_a_file", f"skipped {photos / 's.jpg'}": "not_a_file",
                       f"skipped {photos / 'gone.jpg'}": "unreadable", f"skipped {photos / 'self.jpg'}": "unreadable",
                       f"skipped {photos / 'dir.jpg' / 'again'}": "symlink_loop",
                       f"skipped {photos / 'passwd.jpg'}": "outside_root"}
    assert result.stdout.strip() == (f"Colorized 2 images from {photos} into {tmp_path / 'out'}; 6 refused "
                                     f"(listed above); 1 other files left alone (no image suffix)")
    sent = [photo for request in tf_serving.requests for photo in request.inputs["images"].string_val]
    assert b"root:" not in b"".join(sent) and len(sent) == 2


def test_single_inputs_that_cannot_be_read_or_written_are_one_line_and_exit_2(tf_serving, tmp_path):
    server = ["--server", tf_serving.target]
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as f:
        f.truncate(65 * 2**20)  # sparse: over the 64 MiB a request may carry
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg_bytes())
    cases = {fifo: "a FIFO (named pipe), not a regular file: not read",
             "/dev/zero": "a character device, not a regular file: not read", "/proc/self/mem": "Input/output error",
             huge: f"{65 * 2**20} bytes, more than the {64 * 2**20} a request may carry: not read"}
    for source, message in cases.items():
        result = _colorize_in_a_process(*server, source, "-o", tmp_path / "out.png")
        assert (result.returncode, result.stderr.strip()) == (2, f"colornet colorize: cannot read {source}: {message}")
    with open("/dev/zero", "rb") as zeros:
        result = _colorize_in_a_process(*server, "-", "-o", tmp_path / "out.png", stdin=zeros)
    assert (result.returncode, result.stderr.strip()) == (
        2, "colornet colorize: cannot read <stdin>: more than the 67108864 bytes a request may carry")
    with open("/dev/full", "wb") as full:
        result = _colorize_in_a_process(*server, photo, "-o", "-", stdout=full)
    assert (result.returncode, result.stderr.strip()) == (
        2, "colornet colorize: cannot write to <stdout>: No space left on device")
    assert not (tmp_path / "out.png").exists()
    assert len(tf_serving.requests) == 1  # only the photo written to /dev/full was sent


def test_a_server_down_leaves_the_list_of_what_was_not_done(photos, tmp_path, capsys):
    server = f"127.0.0.1:{free_port()}"
    assert cli.main(["colorize", "--server", server, "--retry-seconds", "0", str(photos), "-o",
                     str(tmp_path / "out")]) == 1
    output = capsys.readouterr()
    lines = [line for line in output.err.splitlines() if line and not line.startswith("colorizing")]  # tqdm's bar
    assert lines[:3] == [f"not done {photos / name}" for name in ("a.jpg", "b.jpg", "nested/c.jpg")]
    assert lines[3].startswith(f"{server}: UNAVAILABLE: ")
    assert output.out.strip() == (f"Colorized 0 images from {photos} into {tmp_path / 'out'}; 3 not done "
                                  f"(run again with --skip-existing) (listed above)")


def test_control_characters_in_names_are_escaped(tf_serving, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "cr\rname.jpg").write_bytes(b"not a photo")
    (photos / "bad\udcff.jpg").write_bytes(jpeg_bytes())  # a name that is not UTF-8, written as its bytes
    assert cli.main(["colorize", "--server", tf_serving.target, str(photos), "-o", str(tmp_path / "out")]) == 1
    output = capsys.readouterr()
    assert "cr\rname" not in output.err + output.out  # (tqdm's progress bar has CRs of its own)
    assert f"skipped {photos}/cr\\rname.jpg: INVALID_ARGUMENT: Unknown image file format" in output.err
    assert (tmp_path / "out" / "bad\udcff.png").exists()
    assert cli.main(["colorize", "--server", tf_serving.target, str(photos / "bad\udcff.jpg")]) == 0
    assert capsys.readouterr().out == f"Colorized {photos}/bad\\xff.jpg -> {photos}/bad\\xff_colorized.png\n"
