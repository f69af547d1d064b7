"""Where each photo came from: the hidden sidecar ``.provenance.jsonl`` of the folder it sits in.

``colornet fetch-unsplash`` writes one into each span it publishes (``unsplash/fetch.py``); the
ingestion reads it and gives each photo's tf.Example the provenance features
(``schemas/features.py``), so a model version can be traced back to the photos it saw and their
photographers credited. The file is hidden (leading dot) so the listing, which skips hidden
entries, does not take it for a photo. It belongs to its folder: a photo's entry is the one whose
``file`` is the photo's file name, in the sidecar of the photo's own folder.

Format: UTF-8 JSON Lines, one flat object per photo, sorted by ``file``::

  {"file": "Ab3_xYz-012.jpg",                 the photo's file name within the folder
   "source": "unsplash",                       where it came from
   "source_id": "Ab3_xYz-012",                 its id there (Unsplash's photo_id)
   "author": "Jane Doe",                       the photographer (photographer_first_name + _last_name)
   "author_username": "janedoe",               the photographer's user name there
   "url": "https://unsplash.com/photos/Ab3_xYz-012",   the photo's page (photo_url; photo_image_url when absent)
   "image_url": "https://images.unsplash.com/photo-...",  the image URL it was downloaded from (before resizing)
   "license": "Unsplash Dataset Terms",        the terms it was obtained under
   "dataset": "unsplash-research-dataset-lite-latest"}   the dataset it came in (Lite and Full have different terms)

Writers put every key in every line (empty strings for what is unknown). Reading is lenient, as
sidecars may be edited by hand: a missing key reads as empty, unknown keys are ignored, and a line
that is not a JSON object with a string ``file`` and string values is a problem (returned with its
line number, for the caller to report) and skipped; so is a second entry for the same file (the
first one counts).
"""
import json
import pathlib
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from ...schemas import features

SIDECAR_NAME = ".provenance.jsonl"
KEYS = ("file", "source", "source_id", "author", "author_username", "url", "image_url", "license", "dataset")
# The sidecar key each provenance feature of a tf.Example is taken from.
FEATURE_KEYS = {features.SOURCE: "source", features.SOURCE_ID: "source_id", features.SOURCE_URL: "url",
                features.AUTHOR: "author", features.AUTHOR_USERNAME: "author_username",
                features.LICENSE: "license", features.DATASET: "dataset"}


class Sidecar(NamedTuple):
    entries: Dict[str, Dict[str, str]]   # file name -> its record (every key of KEYS)
    problems: List[Tuple[int, str]]      # (line number, what is wrong with it)


def write(folder, records: Iterable[Dict[str, str]]) -> None:
    lines = [json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
             for entry in sorted(records, key=lambda entry: entry["file"])]
    (pathlib.Path(folder) / SIDECAR_NAME).write_text("".join(lines), encoding="utf-8")


def read(folder) -> Sidecar:
    """The sidecar of a local folder; empty when it has none (photos added by hand)."""
    path = pathlib.Path(folder) / SIDECAR_NAME
    return parse(path.read_bytes()) if path.is_file() else Sidecar({}, [])


def parse(data: bytes) -> Sidecar:
    """A sidecar's bytes -> its entries and the problems of the lines that were skipped."""
    entries, problems = {}, []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = _entry(line)
        except ValueError as error:
            problems.append((number, str(error)))
            continue
        if entry["file"] in entries:
            problems.append((number, f"a second entry for {entry['file']!r}: the first one counts"))
        else:
            entries[entry["file"]] = entry
    return Sidecar(entries, problems)


def example_values(entry: Optional[Dict[str, str]]) -> Dict[str, str]:
    """{provenance feature: value} of a photo's entry; every feature, empty without an entry."""
    return {feature: (entry or {}).get(key, "") for feature, key in FEATURE_KEYS.items()}


def _entry(line: bytes) -> Dict[str, str]:
    """One line -> its record with every key; raises ValueError saying what is wrong."""
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    if not isinstance(value.get("file"), str) or not value["file"]:
        raise ValueError('no "file" (the photo\'s file name)')
    wrong = sorted(key for key in KEYS if not isinstance(value.get(key, ""), str))
    if wrong:
        raise ValueError(f"not a string: {', '.join(wrong)}")
    return {key: value.get(key, "") for key in KEYS}
