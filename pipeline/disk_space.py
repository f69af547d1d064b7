"""Disk space: a warning before a run on a nearly full disk, and one plain line when a disk fills up.

A full disk surfaces deep inside TensorFlow, Beam or TFX, minutes into a run, as a long traceback
in which "No space left on device" is easy to miss. ``colornet`` (``cli.main``) turns it into one
line naming the file system that is full and what is free there, and exits with status 1.

It arrives in several shapes, all recognised by ``disk_full``: an ``OSError`` with errno ENOSPC
(or EDQUOT, a quota) from Python code; TensorFlow's file system errors, whose message is
``<path>; No space left on device`` (a ``ResourceExhaustedError``, the same class as an
out-of-memory error, so only the message tells); and Beam's multi-process runner, which passes on
a worker's error as the text of its traceback. The exception chain (``raise ... from``, errors
raised while handling another) is searched too.
"""
import errno
import logging
import os
import re
import shutil
from typing import NamedTuple, Optional

# A pipeline run writes examples, transformed examples (about size x size x 12 bytes a photo), checkpoints
# and models (hundreds of MB for fusion): below this much free space a run is likely to fail half-way.
MIN_FREE_BYTES = 2 * 1024 ** 3

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_LOG = logging.getLogger(__name__)


class DiskFull(NamedTuple):
    errno: int              # ENOSPC or EDQUOT
    path: Optional[str]     # the file being written, when the error says


def disk_full(error: BaseException) -> Optional[DiskFull]:
    """The full disk behind ``error`` (or the errors it was raised from or while handling), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return DiskFull(error.errno, error.filename)
        for code in _FULL_ERRNOS:
            message = os.strerror(code)  # "No space left on device", "Disk quota exceeded"
            if message in str(error):
                # TensorFlow writes "<path>; <message>", Python "<message>: '<path>'" (in a traceback's text).
                path = (re.search(rf"(/[^\s;'\"]*); {message}", str(error))
                        or re.search(rf"{message}: '(/[^']*)'", str(error)))
                return DiskFull(code, path.group(1) if path else None)
        error = error.__cause__ or error.__context__
    return None


def describe(full: DiskFull, default_path: str) -> str:
    """One line: which file system is full (the one of ``full.path``, else of ``default_path``),
    how much is free there, and what to do."""
    path = full.path or default_path
    existing = _existing(path)
    usage = shutil.disk_usage(existing)
    what = "No space left" if full.errno == errno.ENOSPC else "Disk quota exceeded"
    return (f"{what} on the file system of {path} (mounted at {_mount_point(existing)}; "
            f"{_size(usage.free)} free of {_size(usage.total)}). Free some space there, or use a folder "
            f"on a larger disk, and run the command again.")


def warn_if_low(path: str, minimum: int = None) -> bool:
    """Logs a warning when the file system of ``path`` has less than ``minimum`` bytes free (default
    ``MIN_FREE_BYTES``); returns whether it did."""
    minimum = MIN_FREE_BYTES if minimum is None else minimum
    existing = _existing(path)
    free = shutil.disk_usage(existing).free
    if free >= minimum:
        return False
    _LOG.warning("Only %s free on the file system of %s (mounted at %s); a run needs about %s or more and may "
                 "fail half-way with a full disk.", _size(free), path, _mount_point(existing), _size(minimum))
    return True


def _existing(path: str) -> str:
    """``path``, or its nearest folder that exists (a run's folders may not be made yet)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def _size(size: float) -> str:
    if size < 1024:
        return f"{size} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024:
            break
    return f"{size:.1f} {unit}"
