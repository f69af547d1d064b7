"""Which files a split pattern takes.

A split pattern is a glob relative to the input folder, as everywhere in ExampleGen (``*``,
``span-{SPAN}/*`` after the driver resolved the span). Every match that is a folder is taken
whole, recursively, so the default pattern ``*`` ingests a whole photo tree. Hidden entries
(names starting with ".", e.g. ``.DS_Store``, ``.git``) are skipped silently.

Safety: on local disks every entry is resolved (``os.path.realpath``); anything whose real
location is outside the input folder (a symlink, or a path through a symlinked folder) is
reported ("outside_root") and not followed, and symlink loops inside the folder are visited once.
Folders that cannot be listed are reported ("unreadable"), never fatal. Remote file systems
(``gs://`` and the like, through tf.io.gfile) have no symlinks; the same walk applies.
"""
import os
from typing import Iterator, Union

import tensorflow as tf

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
    """Yields the absolute path of every file the pattern takes, or an ``Outcome`` for entries
    refused while listing. Sorted, so runs over the same folder list files in the same order."""
    input_base = input_base.rstrip("/")
    root = None if is_remote(input_base) else os.path.realpath(input_base)
    visited_dirs = set()

    def walk(path: str) -> Iterator[Union[str, Outcome]]:
        if root is not None:
            real = os.path.realpath(path)
            if real != root and not real.startswith(root + os.sep):
                yield Outcome(relative_id(input_base, path), summary.OUTSIDE_ROOT, f"resolves to {real}")
                return
        else:
            real = path
        try:
            is_dir = tf.io.gfile.isdir(path)
            children = sorted(tf.io.gfile.listdir(path)) if is_dir else []
        except _LISTING_ERRORS as error:
            yield Outcome(relative_id(input_base, path), summary.UNREADABLE, f"cannot list: {error}")
            return
        if not is_dir:
            yield path
            return
        if real in visited_dirs:
            return
        visited_dirs.add(real)
        for child in children:
            child = child.rstrip("/")  # gfile marks remote folders with a trailing slash
            if not child.startswith("."):
                yield from walk(f"{path}/{child}")

    for match in sorted(tf.io.gfile.glob(f"{input_base}/{pattern}")):
        if not os.path.basename(match.rstrip("/")).startswith("."):
            yield from walk(match.rstrip("/"))
