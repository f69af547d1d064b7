"""A full disk (issue 11): one line naming the full file system and what is free there, exit status 1.

In-process: ``colornet run`` whose orchestrator fails the ways a full disk reaches it (Python's
OSError, TensorFlow's error text, Beam's worker traceback text, a quota). Real: TensorFlow and
Python writing to /dev/full (always ENOSPC), and, where this process may mount one (root), a
``colornet ingest`` into a 512 KiB tmpfs.
"""
import errno
import logging
import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from colornet.pipeline import cli, disk_space

from ingestion_fixtures import DATA_DIR, SEED_DIR, copy_photos

_TFX_TEXT = "{path}; No space left on device"
_BEAM_TEXT = ("Traceback (most recent call last):\n  File \"apache_beam/runners/common.py\", line 1435\n"
              "OSError: [Errno 28] No space left on device: '{path}' [while running 'WriteSplit[train]']")


@pytest.fixture
def run_args(tmp_path):
    copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(tmp_path / "images"), limit=1)
    workdir = tmp_path / "work"
    return workdir, ["run", "--images", str(tmp_path / "images"), "--workdir", str(workdir), "--profile", "demo"]


def _failing_runner(monkeypatch, error):
    def run(self, pipeline):  # pylint: disable=unused-argument
        raise error
    monkeypatch.setattr(tfx.orchestration.LocalDagRunner, "run", run)


@pytest.mark.parametrize("make_error, names_the_file, what", [
    (lambda path: OSError(errno.ENOSPC, "No space left on device", path), True, "No space left"),
    (lambda path: tf.errors.ResourceExhaustedError(None, None, _TFX_TEXT.format(path=path)), True, "No space left"),
    (lambda path: RuntimeError(_BEAM_TEXT.format(path=path)), True, "No space left"),
    (lambda path: _chained(OSError(errno.EDQUOT, "Disk quota exceeded")), False, "Disk quota exceeded"),
], ids=["oserror", "tensorflow", "beam-worker-text", "quota-in-the-chain"])
def test_a_full_disk_during_a_run_is_one_line_and_status_1(run_args, monkeypatch, capsys, make_error,
                                                           names_the_file, what):
    workdir, args = run_args
    failed_file = str(workdir / "tfx" / "Transform" / "transformed_examples" / "7" / "data.gz")
    _failing_runner(monkeypatch, make_error(failed_file))

    assert cli.main(args) == 1

    error_lines = capsys.readouterr().err.strip().splitlines()
    assert len(error_lines) == 1, error_lines
    blamed = failed_file if names_the_file else str(workdir)
    usage = shutil.disk_usage(workdir)
    assert error_lines[0].startswith(f"colornet run: {what} on the file system of {blamed} (mounted at ")
    assert f"free of {usage.total / 1024 ** 3:.1f} GiB" in error_lines[0]


def _chained(cause):
    """An error raised while handling ``cause``, as TFX's launcher re-raises a component's failure."""
    try:
        raise cause
    except OSError:
        try:
            raise RuntimeError("Component Transform failed")
        except RuntimeError as error:
            return error


def test_other_errors_keep_their_traceback(run_args, monkeypatch):
    _, args = run_args
    _failing_runner(monkeypatch, OSError(errno.EACCES, "Permission denied", "/somewhere"))
    with pytest.raises(PermissionError):
        cli.main(args)


def test_low_free_space_is_a_warning_before_the_run_starts(run_args, monkeypatch, caplog):
    workdir, args = run_args
    ran = []
    monkeypatch.setattr(tfx.orchestration.LocalDagRunner, "run", lambda self, pipeline: ran.append(pipeline))
    monkeypatch.setattr(disk_space, "MIN_FREE_BYTES", 1 << 60)  # more than any disk has
    with caplog.at_level(logging.WARNING, logger=disk_space.__name__):
        assert cli.main(args) == 0
    assert ran, "the run must go on after the warning"
    [warning] = [record.getMessage() for record in caplog.records if record.name == disk_space.__name__]
    assert warning.startswith("Only ") and f"free on the file system of {workdir}" in warning

    monkeypatch.setattr(disk_space, "MIN_FREE_BYTES", 1)
    assert not disk_space.warn_if_low(str(workdir / "not" / "made" / "yet"))


def test_real_writes_to_a_full_device_are_recognised():
    with pytest.raises(tf.errors.ResourceExhaustedError) as tensorflow_error:
        with tf.io.gfile.GFile("/dev/full", "w") as f:
            f.write("x" * 100_000)
    assert disk_space.disk_full(tensorflow_error.value) == (errno.ENOSPC, "/dev/full")
    with pytest.raises(OSError) as python_error:
        with open("/dev/full", "w") as f:
            f.write("x" * 100_000)
    assert disk_space.disk_full(python_error.value) == (errno.ENOSPC, None)
    memory_error = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[1000000000]")
    assert disk_space.disk_full(memory_error) is None  # the same class, not a disk


@pytest.fixture
def tiny_file_system(tmp_path):
    """A 512 KiB tmpfs, where this process may mount one (root in a permissive container); skipped elsewhere."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False) if shutil.which("mount") else None
    if mounted is None or mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() if mounted else 'no mount command'}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_ingesting_into_a_full_file_system_says_so(tiny_file_system, tmp_path):
    images = tmp_path / "images"
    copy_photos(os.path.join(DATA_DIR, "bsds500", "val", "*.jpg"), str(images), limit=12)  # ~1 MB of JPEGs
    finished = subprocess.run(
        [sys.executable, "-m", "colornet.pipeline.cli", "ingest", "--images", str(images),
         "--output", str(tiny_file_system / "examples")], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 1, finished.stderr[-3000:]
    last_line = finished.stderr.strip().splitlines()[-1]
    # Beam logs the worker's error itself; what ends the run is this one line, not colornet's traceback.
    assert last_line.startswith(f"colornet ingest: No space left on the file system of {tiny_file_system}/examples "
                                f"(mounted at {tiny_file_system}; "), finished.stderr[-3000:]
    assert "free of 512.0 KiB" in last_line and "pipeline/cli.py" not in finished.stderr
