"""Which files a split pattern takes, and reading them without ever blocking.

A split pattern is a glob relative to the input folder, as everywhere in ExampleGen (``*``,
``span-{SPAN}/*`` after the driver resolved the span). Every match that is a folder is taken
whole, recursively, so the default pattern ``*`` ingests a whole photo tree. Hidden entries
(names starting with ".", e.g. ``.DS_Store``, ``.git``, ``.provenance.jsonl``) are skipped silently.

Local disks. Every entry is looked at with ``stat`` before anything opens it:
  * only regular files and folders are taken; a FIFO, a socket or a device is reported
    ("not_a_file") and never opened: opening a FIFO for reading blocks until a writer comes,
    which would hang the ingestion forever.
  * the real tree is listed first and symlinks are followed afterwards, so a photo keeps its real
    path as its id however a link sorts. A link is then reported and not followed when it leads
    outside the input folder ("outside_root"), to a folder that contains it ("symlink_loop", e.g.
    ``d/up -> ..``), or to a file or folder already listed ("duplicate", detail: the path listed);
    otherwise (e.g. a link in ``span-2/`` to a folder outside the pattern) it is followed like a
    folder of its own, its own links after it. Each real folder is thus listed once.
  * a folder that cannot be listed, or a link to nothing, is reported ("unreadable"), never fatal.
``read_bytes`` reads a listed file, checking again on the open file (``fstat``) that it is a
regular one: a file swapped for a FIFO after listing cannot hang a worker either.

Remote file systems (``gs://`` and the like, through tf.io.gfile) have no symlinks, FIFOs or
devices: folders are walked as they are.
"""
import collections
import os
import stat
from typing import Iterator, Union

import tensorflow as tf

from . import summary
from .summary import Outcome

_LISTING_ERRORS = (OSError, tf.errors.OpError)


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, socket, device...): refused before it is read."""


def is_remote(path: str) -> bool:
    return "://" in path


def relative_id(input_base: str, path: str) -> str:
    """The photo's id: its path relative to the input folder, with '/' separators."""
    base = input_base.rstrip("/")
    if not path.startswith(base + "/"):
        raise ValueError(f"{path} is not under {input_base}")
    return path[len(base) + 1:]


def list_files(input_base: str, pattern: str) -> Iterator[Union[str, Outcome]]:
    """Yields the path of every file the pattern takes, or an ``Outcome`` for entries refused while
    listing. In sorted order (real paths first, then links), so runs over the same folder list the
    same files in the same order."""
    input_base = input_base.rstrip("/")
    matches = [match.rstrip("/") for match in sorted(tf.io.gfile.glob(f"{input_base}/{pattern}"))
               if not _hidden(match.rstrip("/"))]
    if is_remote(input_base):
        for match in matches:
            yield from _walk_remote(input_base, match)
    else:
        yield from _LocalWalk(input_base).run(matches)


def read_bytes(path: str) -> bytes:
    """The bytes of a listed file; raises ``NotRegularFile`` for anything but a regular file.

    Local files are opened non-blocking (a FIFO's open returns at once instead of waiting for a
    writer) and checked on the open descriptor before a byte is read.
    """
    if is_remote(path):
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as f:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{file_kind(mode)}, not a regular file: not read")
        return f.read()


def file_kind(mode: int) -> str:
    """What a non-regular file is, for a human."""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _hidden(path: str) -> bool:
    return os.path.basename(path).startswith(".")


def _walk_remote(input_base: str, path: str) -> Iterator[Union[str, Outcome]]:
    try:
        is_dir = tf.io.gfile.isdir(path)
        children = sorted(tf.io.gfile.listdir(path)) if is_dir else []
    except _LISTING_ERRORS as error:
        yield Outcome(relative_id(input_base, path), summary.UNREADABLE, f"cannot list: {error}")
        return
    if not is_dir:
        yield path
        return
    for child in children:
        child = child.rstrip("/")  # gfile marks remote folders with a trailing slash
        if not child.startswith("."):
            yield from _walk_remote(input_base, f"{path}/{child}")


class _LocalWalk:
    """One listing of a local folder: the real tree first, then the symlinks met on the way."""

    def __init__(self, input_base: str):
        self.input_base = input_base
        self.root = os.path.realpath(input_base)
        self.listed = {}                      # real path -> the id it was listed under (files and folders)
        self.links = collections.deque()      # symlinks met, followed once the real tree is listed

    def run(self, matches) -> Iterator[Union[str, Outcome]]:
        for match in matches:
            yield from self._visit(match, None)
        while self.links:  # following a link may meet further links: they queue behind
            yield from self._follow(self.links.popleft())

    def _visit(self, path: str, real_parent) -> Iterator[Union[str, Outcome]]:
        if os.path.islink(path):
            self.links.append(path)
            return
        # An entry that is not a link lies in its parent's real folder; a glob match may lie under a link.
        real = os.path.realpath(path) if real_parent is None else f"{real_parent}/{os.path.basename(path)}"
        yield from self._take(path, real)

    def _follow(self, link: str) -> Iterator[Union[str, Outcome]]:
        photo_id = relative_id(self.input_base, link)
        real = os.path.realpath(link)
        points_to = f"points to {os.readlink(link)} ({real})"
        if not self._inside_root(real):
            yield Outcome(photo_id, summary.OUTSIDE_ROOT, f"resolves to {real}")
        elif os.path.isdir(real) and self._contains(real, os.path.realpath(os.path.dirname(link))):
            yield Outcome(photo_id, summary.SYMLINK_LOOP, f"{points_to}, a folder that contains the link: not followed")
        elif real in self.listed:
            yield Outcome(photo_id, summary.DUPLICATE, f"a link to {self.listed[real]}, listed under that path")
        else:
            yield from self._take(link, real)

    def _take(self, path: str, real: str) -> Iterator[Union[str, Outcome]]:
        photo_id = relative_id(self.input_base, path)
        if not self._inside_root(real):  # a glob match under a symlinked folder
            yield Outcome(photo_id, summary.OUTSIDE_ROOT, f"resolves to {real}")
            return
        try:
            mode = os.stat(path).st_mode
            children = sorted(os.listdir(path)) if stat.S_ISDIR(mode) else []
        except OSError as error:  # a link to nothing, a folder without read permission, I/O errors
            yield Outcome(photo_id, summary.UNREADABLE, f"cannot list: {error}")
            return
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            yield Outcome(photo_id, summary.NOT_A_FILE, f"{file_kind(mode)}, not a regular file: not read")
            return
        self.listed[real] = photo_id
        if stat.S_ISREG(mode):
            yield path
            return
        for child in children:
            if not child.startswith("."):
                yield from self._visit(f"{path}/{child}", real)

    def _inside_root(self, real: str) -> bool:
        return self._contains(self.root, real)

    @staticmethod
    def _contains(folder: str, real: str) -> bool:
        return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
