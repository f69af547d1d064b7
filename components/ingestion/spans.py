"""Span folders for continuous retraining: ``<root>/span-1/``, ``<root>/span-2/``, ...

New photos become the next span as a whole: they are gathered in a hidden folder under the
root and renamed into place (``publish_span``), so a pipeline run never sees half of a span.
"""
import pathlib
import re
import shutil

_SPAN_DIR = re.compile(r"^span-(\d+)$")


def span_numbers(root):
    """The span numbers present under ``root``, ascending."""
    root = pathlib.Path(root)
    if not root.is_dir():
        return []
    return sorted(int(match.group(1)) for match in map(_SPAN_DIR.match, (p.name for p in root.iterdir()))
                  if match)


def next_span(root):
    """The number the next span gets: one more than the newest (1 under an empty root)."""
    return (span_numbers(root) or [0])[-1] + 1


def publish_span(folder, root):
    """Renames a complete folder into place as the next span; returns its number.

    ``folder`` must be on ``root``'s file system (a hidden folder under ``root``), so the rename
    is one atomic step: the span appears whole or not at all.
    """
    span = next_span(root)
    pathlib.Path(folder).rename(pathlib.Path(root) / f"span-{span}")
    return span


def add_images(source, root):
    """Copies every file under ``source`` (nested folders kept) into the next span; returns (span, count).

    Ingestion decides later which files are usable photos; nothing is filtered here.
    """
    source, root = pathlib.Path(source), pathlib.Path(root)
    files = sorted(path for path in source.rglob("*") if path.is_file())
    if not files:
        raise ValueError(f"no files under {source}")
    staging = root / f".span-{next_span(root)}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    for path in files:
        target = staging / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return publish_span(staging, root), len(files)
