"""Walking a local photo folder and reading its files: the one rule of ``colornet ingest`` (the pipeline's
ExampleGen) and ``colornet colorize``. TensorFlow-free, so the client can use it.

The rule (``walk``):
  * hidden entries (names starting with ".", e.g. ``.DS_Store``, ``.git``, ``.provenance.jsonl``, the
    client's ``.partial`` files) are skipped silently;
  * every entry is looked at with ``stat`` before anything opens it: only regular files and folders
    are taken; a FIFO, a socket or a device is refused (``NOT_A_FILE``) and never opened (opening a
    FIFO for reading blocks until a writer comes);
  * the real tree is listed first and symlinks are followed afterwards, so a file keeps its real
    path however a link sorts. A link is refused when it leads outside the root (``OUTSIDE_ROOT``,
    e.g. a link to ``/etc/passwd``), to a folder that contains it (``SYMLINK_LOOP``, e.g.
    ``d/up -> ..`` or ``d/self -> .``), or to a file or folder already listed (``DUPLICATE``);
    otherwise it is followed like a folder of its own. Each real folder is thus listed once;
  * a folder that cannot be listed, or a link to nothing, is refused (``UNREADABLE``), never fatal;
  * folders are walked with a stack, not recursion: any depth works.

``read_file`` reads one file the same way: opened non-blocking and checked on the open descriptor
(a file swapped for a FIFO after the walk, or a FIFO or ``/dev/zero`` given by name, is refused
without blocking), with an optional size limit checked before a byte is read.

``printable`` is how file names appear in messages: control characters (a CR would garble a
line) and the bytes of a name that is not valid UTF-8 are escaped.
"""
import collections
import os
import stat
import unicodedata
from typing import Iterable, Iterator, NamedTuple, Optional, Union

# Why an entry was refused (``Refused.reason``; ingestion's summary uses the same words).
UNREADABLE = "unreadable"        # a file or folder that cannot be read or listed, a link to nothing
NOT_A_FILE = "not_a_file"        # a FIFO, socket or device: never opened
OUTSIDE_ROOT = "outside_root"    # a symlink leading outside the root: not followed
SYMLINK_LOOP = "symlink_loop"    # a symlink to a folder that contains it: not followed
DUPLICATE = "duplicate"          # a symlink to a file or folder listed under its real path


class Refused(NamedTuple):
    path: str
    reason: str
    detail: str


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, socket, device...): refused before it is read."""


class FileTooLarge(OSError):
    """A file larger than the reader's limit: refused before it is read."""


def hidden(path: str) -> bool:
    return os.path.basename(path).startswith(".")


def file_kind(mode: int) -> str:
    """What a non-regular file is, for a human."""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def printable(text) -> str:
    """``text`` (a str or path) for a message: control characters as ``\\r``, ``\\x1b``...; the bytes of a name
    that is not valid UTF-8 (kept by Python as lone surrogates) as ``\\xff``."""
    def escaped(char):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape of byte code - 0xDC00
            return f"\\x{code - 0xDC00:02x}"
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            return char.encode("unicode_escape").decode("ascii")
        return char

    return "".join(map(escaped, str(text)))


def read_file(path: str, max_bytes: Optional[int] = None) -> bytes:
    """The bytes of a regular file; raises ``NotRegularFile`` for anything else, ``FileTooLarge`` over
    ``max_bytes``, ``OSError`` when it cannot be read. Never blocks on a FIFO."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as f:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile(f"{file_kind(status.st_mode)}, not a regular file: not read")
        if max_bytes is not None and status.st_size > max_bytes:
            raise FileTooLarge(f"{status.st_size} bytes, more than the {max_bytes} a request may carry: not read")
        return f.read()


def walk(root: str, starts: Iterable[str]) -> Iterator[Union[str, Refused]]:
    """Every regular file under ``starts`` (entries under ``root``: the root itself, or a glob's matches), or a
    ``Refused`` for each entry refused, in a stable order: real paths first (depth first, sorted), then links."""
    return _Walk(root).run(starts)


class _Walk:
    """One walk of a local folder: the real tree first, then the symlinks met on the way."""

    def __init__(self, root: str):
        self.base = root.rstrip("/")
        self.root = os.path.realpath(root)
        self.listed = {}                      # real path -> where it was listed, relative to the root
        self.links = collections.deque()      # symlinks met, followed once the real tree is listed

    def run(self, starts) -> Iterator[Union[str, Refused]]:
        for start in starts:
            yield from self._tree(start, None)
        while self.links:  # following a link may meet further links: they queue behind
            link = self.links.popleft()
            refusal = self._refuse_link(link)
            yield from [refusal] if refusal else self._tree(link, os.path.realpath(link), followed=True)

    def _tree(self, path: str, real: Optional[str], followed=False) -> Iterator[Union[str, Refused]]:
        """``path`` and everything under it, depth first; ``real`` is its real path when known."""
        stack = [(path, real)]
        while stack:
            path, real = stack.pop()
            if os.path.islink(path) and not followed:
                self.links.append(path)
                continue
            followed = False
            # An entry that is not a link lies in its parent's real folder; a start may lie under a link.
            real = real or os.path.realpath(path)
            if not self._contains(self.root, real):  # a start under a symlinked folder
                yield Refused(path, OUTSIDE_ROOT, f"resolves to {real}")
                continue
            try:
                mode = os.stat(path).st_mode
                children = sorted(os.listdir(path)) if stat.S_ISDIR(mode) else []
            except OSError as error:  # a link to nothing, a folder without read permission, I/O errors
                yield Refused(path, UNREADABLE, f"cannot list: {error.strerror or error}")
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                yield Refused(path, NOT_A_FILE, f"{file_kind(mode)}, not a regular file: not read")
                continue
            self.listed[real] = path[len(self.base) + 1:] if path.startswith(self.base + "/") else path
            if stat.S_ISREG(mode):
                yield path
                continue
            stack += [(f"{path}/{child}", f"{real}/{child}") for child in reversed(children) if not hidden(child)]

    def _refuse_link(self, link: str) -> Optional[Refused]:
        real = os.path.realpath(link)
        if not self._contains(self.root, real):
            return Refused(link, OUTSIDE_ROOT, f"resolves to {real}")
        if os.path.isdir(real) and self._contains(real, os.path.realpath(os.path.dirname(link))):
            return Refused(link, SYMLINK_LOOP, f"points to {os.readlink(link)} ({real}), a folder that contains "
                                               f"the link: not followed")
        if real in self.listed:
            return Refused(link, DUPLICATE, f"a link to {self.listed[real]}, listed under that path")
        return None

    @staticmethod
    def _contains(folder: str, real: str) -> bool:
        return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)
