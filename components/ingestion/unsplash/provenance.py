"""Where each photo of a span came from: the hidden sidecar ``<span folder>/.provenance.jsonl``.

A model version can be traced back to the photos it saw, and their photographers credited as
the Unsplash License asks. The file is hidden (leading dot) so the ingestion's listing, which
skips hidden entries, does not take it for a photo.

Format: UTF-8 JSON Lines, one flat object per photo of the span, sorted by ``file``::

  {"file": "Ab3_xYz-012.jpg",                 the photo's file name within the span folder
   "source": "unsplash",                       where it came from
   "source_id": "Ab3_xYz-012",                 Unsplash's photo_id
   "author": "Jane Doe",                       photographer_first_name + photographer_last_name
   "author_username": "janedoe",               photographer_username
   "url": "https://unsplash.com/photos/Ab3_xYz-012",   the photo's page (photo_url; photo_image_url when absent)
   "image_url": "https://images.unsplash.com/photo-...",  photo_image_url as in the manifest
   "license": "Unsplash"}

Fields absent from the manifest are empty strings; the keys are always all present.
"""
import json
import pathlib
from typing import Dict, Iterable, List, Set

from ....pipeline import spans
from .manifest import Photo

SIDECAR_NAME = ".provenance.jsonl"
SOURCE = "unsplash"
LICENSE = "Unsplash"


def record(photo: Photo, file_name: str) -> Dict[str, str]:
    return {"file": file_name, "source": SOURCE, "source_id": photo.photo_id, "author": photo.author,
            "author_username": photo.author_username, "url": photo.page_url or photo.image_url,
            "image_url": photo.image_url, "license": LICENSE}


def write(folder, records: Iterable[Dict[str, str]]) -> None:
    lines = [json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
             for entry in sorted(records, key=lambda entry: entry["file"])]
    (pathlib.Path(folder) / SIDECAR_NAME).write_text("".join(lines), encoding="utf-8")


def read(folder) -> List[Dict[str, str]]:
    """The records of a span folder; none when it has no sidecar (photos added by hand)."""
    path = pathlib.Path(folder) / SIDECAR_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def published_ids(root) -> Set[str]:
    """The Unsplash photo ids already in a span under ``root``: a later fetch skips them."""
    root = pathlib.Path(root)
    return {entry["source_id"] for number in spans.span_numbers(root)
            for entry in read(root / f"span-{number}") if entry.get("source") == SOURCE}
