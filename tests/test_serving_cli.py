"""`serve` in a subprocess, driven by `colorize`, `model-status` and `serving-config`.

Subprocesses run the serving commands alone (``python -m colornet.serving.commands``, which
skips importing TFX); in-process calls go through the full ``colornet`` parser.
"""
import io
import signal
import subprocess
import sys

import pytest

from colornet.pipeline import cli

from hostile_fixtures import start_server_process
from serving_fixtures import BLUE, free_port, is_red, jpeg_bytes, write_tint_model

SERVING_COMMANDS = [sys.executable, "-m", "colornet.serving.commands"]


def _start_serve(models):
    """``colornet serve`` on ``models`` in a subprocess; returns its gRPC target, REST port and process."""
    server = start_server_process(models)
    return {"target": server.target, "rest_port": server.rest_port, "process": server.process}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A one-version model dir."""
    models = tmp_path_factory.mktemp("push")
    write_tint_model(models, 3, BLUE)
    return models


@pytest.fixture(scope="module")
def served(models):
    """``colornet serve`` on ``models``, shared by the tests of this module that only call it."""
    server = _start_serve(models)
    yield server
    if server["process"].poll() is None:
        server["process"].kill()
        server["process"].wait()


def test_colorize_a_folder_and_a_file(served, tmp_path, capsys):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    for index, path in enumerate(["a.jpg", "b.jpg", "nested/c.jpg"]):
        (photos / path).write_bytes(jpeg_bytes(30 + index, 20))
    (photos / "notes.txt").write_text("not an image")  # not an image suffix: not sent
    (photos / "broken.jpg").write_bytes(b"truncated download")  # sent, refused, the rest still colorized

    assert cli.main(["colorize", "--server", served["target"], str(photos), "-o", str(tmp_path / "out"),
                     "--batch-size", "2"]) == 1
    written = sorted(path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*.png"))
    assert written == ["a.png", "b.png", "nested/c.png"]
    assert not is_red((tmp_path / "out" / "a.png").read_bytes())
    output = capsys.readouterr()
    assert "Colorized 3 images" in output.out and "1 refused" in output.out
    assert "broken.jpg: unsupported or empty image" in output.err  # the signature's per-photo reason

    assert cli.main(["colorize", "--server", served["target"], str(photos / "a.jpg")]) == 0
    assert (photos / "a_colorized.png").read_bytes().startswith(b"\x89PNG")

    assert cli.main(["model-status", "--server", served["target"]]) == 0
    assert "version 3  AVAILABLE" in capsys.readouterr().out


def test_colorize_stdin_to_stdout(served, monkeypatch, capsysbinary):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jpeg_bytes())))
    assert cli.main(["colorize", "--server", served["target"], "-"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG")


def test_unreachable_server_is_reported_without_traceback(tmp_path, capsys):
    closed = f"127.0.0.1:{free_port()}"
    assert cli.main(["model-status", "--server", closed, "--timeout", "2", "--retry-seconds", "1"]) == 1
    assert f"{closed}: UNAVAILABLE" in capsys.readouterr().err


def test_serving_config_command(tmp_path, capsys):
    assert cli.main(["serving-config", "--model-dir", str(tmp_path / "push"), "--output", str(tmp_path / "cfg")]) == 0
    assert (tmp_path / "cfg" / "models.config").is_file()
    assert "docker compose" in capsys.readouterr().out


def test_sigterm_stops_the_server_gracefully(models):
    process = _start_serve(models)["process"]  # its own server: the shared one stays up for the others
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "Server stopped." in process.stdout.read()


def test_serve_help_documents_every_limit_and_what_bad_input_gets(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--max-request-bytes", "--max-inflight-bytes", "--max-batch-size", "--max-execution-batch-size",
                 "--max-concurrent-batches", "--max-image-pixels", "--max-request-pixels", "--max-inflight-pixels",
                 "--queue-timeout-seconds", "--workers", "--max-concurrent-rpcs", "--rest-max-connections",
                 "--read-timeout-seconds", "--rest-idle-timeout-seconds", "--listen-backlog",
                 "--version-label", "--release-memory"):
        assert flag in text
    for answer in ("INVALID_ARGUMENT / 400", "RESOURCE_EXHAUSTED / 429", "UNAVAILABLE / 503", "NOT_FOUND / 404",
                   "DEADLINE_EXCEEDED / 408",
                   "Task size N is larger than maximum input batch size M", "(default: 32)"):
        assert answer in text


def test_serve_refuses_a_label_for_a_version_it_cannot_serve(models):
    """TF Serving's code and wording for a label on a version that is not available."""
    command = [*SERVING_COMMANDS, "serve", "--model-dir", str(models), "--port", "0", "--version-label", "stable=99"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Request to assign label to version 99 of model colornet, which is not currently available for " \
           "inference" in result.stderr
