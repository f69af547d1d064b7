"""Which files a split pattern takes, and reading them without ever blocking.

A split pattern is a glob relative to the input folder, as everywhere in ExampleGen (``*``,
``span-{SPAN}/*`` after the driver resolved the span). Every match that is a folder is taken
whole, recursively, so the default pattern ``*`` ingests a whole photo tree. Hidden entries
(names starting with ".", e.g. ``.DS_Store``, ``.git``, ``.provenance.jsonl``) are skipped silently.

Local disks are walked by ``schemas/photo_files.walk``, the rule ``colornet colorize`` follows too:
hidden entries skipped, FIFOs, sockets and devices refused unopened ("not_a_file"), symlinks
followed after the real tree unless they lead outside the input folder ("outside_root"), to a
folder that contains them ("symlink_loop") or to something already listed ("duplicate"),
unlisted folders and links to nothing reported ("unreadable"), any depth. The input folder is a
path, not a pattern: ``photos[1]/`` is globbed as it is named. A file whose path is not valid
UTF-8 is refused ("bad_name"): a photo's id is UTF-8 text in the examples and the summary.
``read_bytes`` reads a listed file without ever blocking (``photo_files.read_file``).

Remote file systems (``gs://`` and the like, through tf.io.gfile) have no symlinks, FIFOs or
devices: folders are walked as they are.
"""
import glob
from typing import Iterator, Union

import tensorflow as tf

from ...schemas import photo_files
from . import summary
from .summary import Outcome

_LISTING_ERRORS = (OSError, tf.errors.OpError)


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
    if is_remote(input_base):
        for match in sorted(tf.io.gfile.glob(f"{input_base}/{pattern}")):
            if not photo_files.hidden(match.rstrip("/")):
                yield from _walk_remote(input_base, match.rstrip("/"))
        return
    # Python's glob, not gfile's: it keeps names that are not valid UTF-8 (gfile's raises on them) and
    # escapes the folder's own glob characters.
    matches = sorted(glob.glob(f"{glob.escape(input_base)}/{pattern}"))
    for item in photo_files.walk(input_base, [match for match in matches if not photo_files.hidden(match)]):
        if isinstance(item, photo_files.Refused):
            yield Outcome(relative_id(input_base, item.path), item.reason, item.detail)
        elif not _utf8(relative_id(input_base, item)):
            yield Outcome(relative_id(input_base, item), summary.BAD_NAME,
                          "the file name is not valid UTF-8 (a photo's id is UTF-8 text): rename it")
        else:
            yield item


def read_bytes(path: str) -> bytes:
    """The bytes of a listed file; raises ``NotRegularFile`` for anything but a regular file (local files are
    checked on the open descriptor, never blocking: ``photo_files.read_file``)."""
    if is_remote(path):
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    return photo_files.read_file(path)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode keeps undecodable bytes as lone surrogates
        return False
    return True


def _walk_remote(input_base: str, path: str) -> Iterator[Union[str, Outcome]]:
    """Files under ``path`` depth first, sorted; walked with a stack (any depth)."""
    stack = [path]
    while stack:
        path = stack.pop()
        try:
            is_dir = tf.io.gfile.isdir(path)
            children = sorted(tf.io.gfile.listdir(path)) if is_dir else []
        except _LISTING_ERRORS as error:
            yield Outcome(relative_id(input_base, path), summary.UNREADABLE, f"cannot list: {error}")
            continue
        if not is_dir:
            yield path
            continue
        children = [child.rstrip("/") for child in children]  # gfile marks remote folders with a trailing slash
        stack += [f"{path}/{child}" for child in reversed(children) if not photo_files.hidden(child)]
