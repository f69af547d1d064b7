"""Span folders for continuous retraining: ``<root>/span-1/``, ``<root>/span-2/``, ...

New photos become the next span as a whole: they are copied into a hidden staging folder
and renamed into place, so a pipeline run never sees half of a span.
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


def add_images(source, root):
    """Copies every file under ``source`` (nested folders kept) into the next span; returns (span, count).

    Ingestion decides later which files are usable photos; nothing is filtered here.
    """
    source, root = pathlib.Path(source), pathlib.Path(root)
    files = sorted(path for path in source.rglob("*") if path.is_file())
    if not files:
        raise ValueError(f"no files under {source}")
    span = (span_numbers(root) or [0])[-1] + 1
    staging = root / f".span-{span}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    for path in files:
        target = staging / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    staging.rename(root / f"span-{span}")
    return span, len(files)
