"""Hostile photo folders (issue 11): FIFOs, sockets and devices among the photos, symlinks that loop.

``colornet ingest`` runs in a subprocess with a timeout: opening a FIFO for reading blocks until a
writer comes, so a regression would hang the run forever; here it fails the test instead.
"""
import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from colornet.components.ingestion import listing, summary
from colornet.schemas import features, photo_files

from ingestion_fixtures import SEED_DIR, copy_photos, feature_value, read_examples

INGEST_TIMEOUT_SECONDS = 300  # a run over these few files takes ~30 s on a loaded 2-core machine


def _bind_socket(path):
    """A Unix socket file at ``path`` (bound from its folder: socket paths are limited to ~107 bytes)."""
    here = os.getcwd()
    os.chdir(os.path.dirname(path))
    try:
        server = socket.socket(socket.AF_UNIX)
        server.bind(os.path.basename(path))
    finally:
        os.chdir(here)
    return server


def _try_character_device(path):
    """A character device (/dev/null's numbers) at ``path`` when this process may make one (root, CAP_MKNOD)."""
    try:
        os.mknod(path, 0o666 | 0o020000, os.makedev(1, 3))
    except PermissionError:
        return False
    return True


def test_special_files_and_symlink_loops_in_a_photo_folder(tmp_path):
    images = tmp_path / "images"
    photos = copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images / "a"), limit=3)
    os.rename(photos[1], images / "b.jpg")
    os.makedirs(images / "c")
    os.rename(photos[2], images / "c" / "three.jpg")
    os.symlink("..", images / "a" / "up")           # sorts before a/<photo>: the whole tree again, once
    os.symlink(".", images / "a" / "self")
    os.symlink("../a", images / "c" / "alias")      # a second name for a folder listed under its own
    os.mkfifo(images / "x.jpg")
    os.mkfifo(images / "c" / ".provenance.jsonl")   # the sidecar is read too: it must not block either
    server = _bind_socket(str(images / "s.jpg"))
    device = _try_character_device(str(images / "null.jpg"))
    out = tmp_path / "out"
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "colornet.pipeline.cli", "ingest", "--images", str(images), "--output", str(out)],
            capture_output=True, text=True, timeout=INGEST_TIMEOUT_SECONDS)
    finally:
        server.close()
    assert finished.returncode == 0, finished.stdout + finished.stderr

    result = json.loads((out / summary.SUMMARY_FILE_NAME).read_text())
    rejected = {r["id"]: (r["reason"], r["detail"]) for r in result["rejected"]}
    expected = {"x.jpg": summary.NOT_A_FILE, "s.jpg": summary.NOT_A_FILE, "a/up": summary.SYMLINK_LOOP,
                "a/self": summary.SYMLINK_LOOP, "c/alias": summary.DUPLICATE}
    if device:
        expected["null.jpg"] = summary.NOT_A_FILE
    assert {photo_id: reason for photo_id, (reason, _) in rejected.items()} == expected
    assert rejected["x.jpg"][1].startswith("a FIFO (named pipe)")
    assert rejected["s.jpg"][1].startswith("a socket")
    assert rejected["a/up"][1].startswith(f"points to .. ({os.path.realpath(images)})")
    assert rejected["c/alias"][1] == "a link to a, listed under that path"
    assert [note["where"] for note in result["notes"]] == ["c/.provenance.jsonl"]
    assert "a FIFO" in result["notes"][0]["detail"]

    examples = read_examples(str(out / "Split-train")) + read_examples(str(out / "Split-eval"))
    ids = sorted(feature_value(example, features.ID).decode() for example in examples)
    assert ids == sorted([f"a/{os.path.basename(photos[0])}", "b.jpg", "c/three.jpg"])
    assert result["accepted"] == 3


def test_reading_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = str(tmp_path / "x.jpg")
    os.mkfifo(fifo)
    raised = []
    reader = threading.Thread(target=lambda: raised.append(_error_of(listing.read_bytes, fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # blocked in open(): a writer releases it, so the test process does not hang
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(raised[0], photo_files.NotRegularFile) and "FIFO" in str(raised[0])


def _error_of(function, *args):
    try:
        function(*args)
    except Exception as error:  # pylint: disable=broad-except
        return error
    return None


def test_links_out_of_the_pattern_are_followed_once_and_their_loops_reported(tmp_path):
    images = tmp_path / "images"
    for span in ("span-1", "span-2"):
        os.makedirs(images / span)
        (images / span / f"{span}.jpg").write_bytes(b"photo")
    os.symlink("..", images / "span-1" / "up")
    os.symlink("../span-1", images / "span-2" / "old")    # span-1 is outside the pattern: followed
    os.symlink("old", images / "span-2" / "older")        # a chain of links to the same folder
    os.symlink("old/span-1.jpg", images / "span-2" / "z.jpg")

    listed = list(listing.list_files(str(images), "span-2/*"))

    paths = sorted(item for item in listed if isinstance(item, str))
    assert paths == [f"{images}/span-2/old/span-1.jpg", f"{images}/span-2/span-2.jpg"]
    outcomes = {item.id: (item.reason, item.detail) for item in listed if not isinstance(item, str)}
    assert outcomes == {
        "span-2/older": (summary.DUPLICATE, "a link to span-2/old, listed under that path"),
        "span-2/z.jpg": (summary.DUPLICATE, "a link to span-2/old/span-1.jpg, listed under that path"),
        "span-2/old/up": (summary.SYMLINK_LOOP,
                          f"points to .. ({os.path.realpath(images)}), a folder that contains the link: not followed"),
    }


def test_a_tree_600_folders_deep_is_listed(tmp_path):
    deep = str(tmp_path / "images") + "/d" * 600
    os.makedirs(deep)
    with open(f"{deep}/photo.jpg", "wb") as f:
        f.write(b"photo")
    assert list(listing.list_files(str(tmp_path / "images"), "*")) == [f"{deep}/photo.jpg"]


def test_odd_names_are_ingested_or_refused_by_name_and_printed_escaped(tmp_path):
    """A folder named like a glob (``photos[1]``), a file name that is not UTF-8, a CR and an escape sequence
    in names, and a photo 600 folders deep: one run, every file accounted for, one summary line per file."""
    images = tmp_path / "photos[1]"
    good, deep, other = copy_photos(os.path.join(SEED_DIR, "train", "*.jpg"), str(images), limit=3)
    deep_folder = str(images) + "/d" * 600
    os.makedirs(deep_folder)
    os.rename(deep, f"{deep_folder}/deep.jpg")
    os.rename(other, os.fsencode(images) + b"/bad\xff.jpg")           # not UTF-8: refused by name
    (images / "cr\rname.jpg").write_bytes(b"no photo")               # refused as not_an_image, printed escaped
    (images / "esc\x1b[2J.jpg").write_bytes(b"")                     # refused as empty
    out = tmp_path / "out"
    finished = subprocess.run(
        [sys.executable, "-m", "colornet.pipeline.cli", "ingest", "--images", str(images), "--output", str(out)],
        capture_output=True, text=True, timeout=INGEST_TIMEOUT_SECONDS)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Traceback" not in finished.stderr

    result = json.loads((out / summary.SUMMARY_FILE_NAME).read_text())
    assert {r["id"]: r["reason"] for r in result["rejected"]} == {
        "bad\udcff.jpg": summary.BAD_NAME, "cr\rname.jpg": summary.NOT_AN_IMAGE, "esc\x1b[2J.jpg": summary.EMPTY}
    assert result["accepted"] == 2
    examples = read_examples(str(out / "Split-train")) + read_examples(str(out / "Split-eval"))
    ids = sorted(feature_value(example, features.ID).decode() for example in examples)
    assert ids == sorted([os.path.basename(good), "d/" * 600 + "deep.jpg"])
    assert "Ingestion: 2 of 5 files accepted" in finished.stdout
    assert "\r" not in finished.stdout and "\x1b" not in finished.stdout
    lines = finished.stdout.splitlines()
    assert any(line.split() == ["bad_name", "bad\\xff.jpg", *summary_detail(result, summary.BAD_NAME)]
               for line in lines)
    assert any("cr\\rname.jpg" in line for line in lines) and any("esc\\x1b[2J.jpg" in line for line in lines)


def summary_detail(result, reason):
    return next(r["detail"] for r in result["rejected"] if r["reason"] == reason).split()
