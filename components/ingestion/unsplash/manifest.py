"""The photos of an Unsplash dataset manifest, read row by row.

The dataset (github.com/unsplash/datasets, DOCS.md) is a zip of tab-separated files; the
``photos`` table is split into parts, each with its own header row. Releases name the parts
``photos.tsv000``, ``photos.tsv001``, ... or, in some releases, ``photos.csv000``: both are taken,
read straight from the zip (never extracted; members may sit in a sub-folder), or given as files.

The format is CSV with a tab delimiter, as the dataset's own PostgreSQL loader reads it
(``COPY ... WITH (FORMAT csv, DELIMITER E'\\t')``): a field may be quoted, and a quoted field may
hold tabs, newlines and doubled quotes (photo descriptions do). ``csv`` with ``UnsplashDialect``
reads exactly that; splitting lines on tabs would not.

Only ``photo_id`` and ``photo_image_url`` columns are required; every other column may be absent
(a hand-made or older manifest) and then reads as empty. A row that cannot be used is counted and
skipped, never fatal: broken quoting or a NUL byte (the ``csv`` error), a field count that differs
from the header's (a stray tab shifted the columns), no id or image URL, an id that is not an
Unsplash id (ids become file names, so nothing like ``../x`` gets through), a width or height that is
not a number. A photo id seen before (in any part) is counted as a duplicate and skipped.

What is wrong with a manifest as a whole (a missing file, a bad zip, no photos part, no
``photo_id``/``photo_image_url`` header) raises ``ManifestError`` before anything is downloaded.
"""
import contextlib
import csv
import dataclasses
import io
import pathlib
import re
import zipfile
from typing import Iterator, List, Optional

REQUIRED_COLUMNS = ("photo_id", "photo_image_url")
_PHOTOS_PART = re.compile(r"^photos\.(tsv|csv)\d*$")
_ZIP_MAGIC = b"PK\x03\x04"
_PHOTO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class UnsplashDialect(csv.Dialect):
    delimiter = "\t"
    quotechar = '"'
    doublequote = True
    escapechar = None
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL
    skipinitialspace = False
    strict = True  # a quote in the wrong place is a malformed row, not silently glued text


class ManifestError(Exception):
    """The manifest as a whole is unusable (a usage error: nothing is downloaded)."""


@dataclasses.dataclass(frozen=True)
class Photo:
    photo_id: str
    image_url: str          # photo_image_url: the image service's URL (resizable with w=, fm=, q=)
    page_url: str           # photo_url: the photo's page on unsplash.com ("" when the column is absent)
    width: Optional[int]    # of the original photo, None when unknown
    height: Optional[int]
    author: str             # photographer_first_name + photographer_last_name
    author_username: str


@dataclasses.dataclass(frozen=True)
class BadRow:
    where: str              # "<manifest>[:<member>]:<line>"
    reason: str


@dataclasses.dataclass(frozen=True)
class _Part:
    path: pathlib.Path
    member: Optional[str]   # the zip member, None for a plain file

    @property
    def name(self):
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextlib.contextmanager
    def open(self):
        # utf-8-sig drops a byte-order mark; a bad byte spoils one field, not the whole file.
        text = dict(encoding="utf-8-sig", errors="replace", newline="")
        if self.member is None:
            with open(self.path, **text) as stream:
                yield stream
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as raw:
                yield io.TextIOWrapper(raw, **text)


class Manifest:
    """The photos of one or more manifests, in order; iterating reads the rows lazily and counts
    ``rows``, ``bad_rows`` and ``duplicates`` so far."""

    def __init__(self, paths):
        self.paths = [pathlib.Path(path) for path in paths]
        self.parts = [part for path in self.paths for part in _parts(path)]
        for part in self.parts:
            with part.open() as stream:
                _header(part, csv.reader(stream, UnsplashDialect))
        self.rows = 0
        self.bad_rows: List[BadRow] = []
        self.duplicates = 0

    @property
    def dataset_name(self) -> str:
        """The dataset's name as its files give it: a zip's file name without ``.zip`` (releases are
        named e.g. ``unsplash-research-dataset-lite-latest.zip``), or the folder holding photos.tsv00N
        files (where the zip was extracted); different names are joined with "+"."""
        names = [part.path.name.removesuffix(".zip") if part.member else part.path.resolve().parent.name
                 for part in self.parts]
        return "+".join(dict.fromkeys(names))

    def __iter__(self) -> Iterator[Photo]:
        seen = set()
        for part in self.parts:
            for photo in self._read(part):
                if photo.photo_id in seen:
                    self.duplicates += 1
                else:
                    seen.add(photo.photo_id)
                    yield photo

    def _read(self, part) -> Iterator[Photo]:
        with part.open() as stream:
            reader = csv.reader(stream, UnsplashDialect)
            header = _header(part, reader)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except zipfile.BadZipFile as error:  # e.g. a CRC mismatch in a damaged zip
                    raise ManifestError(f"{part.name}: damaged zip member: {error}") from error
                except csv.Error as error:
                    self.rows += 1
                    self.bad_rows.append(BadRow(f"{part.name}:{reader.line_num}", str(error)))
                    continue
                if not any(field.strip() for field in row):
                    continue  # a blank line, e.g. at the end of a part
                self.rows += 1
                try:
                    yield _photo(header, row)
                except ValueError as error:
                    self.bad_rows.append(BadRow(f"{part.name}:{reader.line_num}", str(error)))


def _parts(path: pathlib.Path) -> List[_Part]:
    if not path.is_file():
        raise ManifestError(f"Manifest not found: {path}")
    with open(path, "rb") as stream:
        if stream.read(4) != _ZIP_MAGIC:
            return [_Part(path, None)]
    try:  # a zip by its first bytes: a truncated download must say so, not pass for a TSV file
        with zipfile.ZipFile(path) as archive:
            members = sorted(name for name in archive.namelist() if _PHOTOS_PART.match(name.rsplit("/", 1)[-1]))
    except (zipfile.BadZipFile, OSError) as error:
        raise ManifestError(f"{path}: not a readable zip: {error}") from error
    if not members:
        raise ManifestError(f"{path}: no photos.tsv000 (or photos.csv000) in the zip: not an Unsplash dataset")
    return [_Part(path, member) for member in members]


def _header(part: _Part, reader) -> List[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ManifestError(f"{part.name}: empty file") from None
    except (csv.Error, zipfile.BadZipFile) as error:
        raise ManifestError(f"{part.name}: unreadable header: {error}") from error
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ManifestError(f"{part.name}: no {', '.join(missing)} column: not a photos.tsv file "
                            f"(its header starts {header[:3]})")
    return header


def _photo(header: List[str], row: List[str]) -> Photo:
    """One row -> a Photo; raises ValueError saying what makes the row unusable."""
    if len(row) != len(header):
        raise ValueError(f"{len(row)} fields, the header has {len(header)}")
    values = {name: value.strip() for name, value in zip(header, row)}
    photo_id, image_url = values["photo_id"], values["photo_image_url"]
    if not _PHOTO_ID.match(photo_id):
        raise ValueError(f"photo_id {photo_id!r} is not an Unsplash photo id")
    if not image_url:
        raise ValueError(f"photo {photo_id} has no photo_image_url")
    first, last = values.get("photographer_first_name", ""), values.get("photographer_last_name", "")
    return Photo(photo_id=photo_id, image_url=image_url, page_url=values.get("photo_url", ""),
                 width=_dimension(values, "photo_width"), height=_dimension(values, "photo_height"),
                 author=f"{first} {last}".strip(), author_username=values.get("photographer_username", ""))


def _dimension(values, name) -> Optional[int]:
    value = values.get(name, "")
    if not value:
        return None
    if not value.isdigit() or int(value) == 0:
        raise ValueError(f"{name} {value!r} is not a positive whole number")
    return int(value)
