"""What happened to each file, and the JSON summary written beside the examples.

Every file a split pattern takes ends in exactly one ``Outcome``: ``accepted`` or one rejection
reason. Outcomes are collected by the Beam pipeline as JSON lines and merged (over splits) into
``ingestion_summary.json``: counts per reason, the accepted count, every rejected file with its
reason and a detail a human can act on, how many accepted photos carry provenance (by source: see
``provenance``), and ``notes``: problems that are not about one photo (a malformed line of a
``.provenance.jsonl``), each once.
"""
import collections
import dataclasses
import json
from typing import Dict, Iterable, List, NamedTuple

import tensorflow as tf

# The walk's refusals (``schemas/photo_files``: the rule the client follows too).
from ...schemas.photo_files import DUPLICATE, NOT_A_FILE, OUTSIDE_ROOT, SYMLINK_LOOP, UNREADABLE, printable

SUMMARY_FILE_NAME = "ingestion_summary.json"

ACCEPTED = "accepted"
# Rejection reasons.
EMPTY = "empty"                  # zero-byte file
BAD_NAME = "bad_name"            # a path (below the input folder) that is not valid UTF-8: ids are UTF-8 text
NOT_AN_IMAGE = "not_an_image"    # no image format recognizes the bytes
CORRUPT = "corrupt"              # recognized, but the pixels cannot be decoded (truncated, damaged)
TOO_SMALL = "too_small"          # shorter side < min_side
TOO_LARGE = "too_large"          # more than max_pixels (checked from the header, pixels never decoded)
GRAYSCALE = "grayscale"          # black-and-white: useless as a colorization target
# DUPLICATE also means: same bytes as another file (the first by path is kept).
REASONS = (EMPTY, UNREADABLE, BAD_NAME, NOT_A_FILE, OUTSIDE_ROOT, SYMLINK_LOOP, NOT_AN_IMAGE, CORRUPT, TOO_SMALL,
           TOO_LARGE, GRAYSCALE, DUPLICATE)


class Outcome(NamedTuple):
    id: str          # path relative to the input folder
    reason: str      # ACCEPTED or one of REASONS
    detail: str = ""
    source: str = ""  # accepted photos: the provenance ``source`` ("" when the photo has none)


class Note(NamedTuple):
    where: str       # e.g. "span-1/.provenance.jsonl:3"
    detail: str


@dataclasses.dataclass
class IngestionSummary:
    accepted: int
    rejected_counts: Dict[str, int]
    rejected: List[Dict[str, str]]
    provenance: Dict[str, int] = dataclasses.field(default_factory=dict)  # accepted photos by provenance source
    notes: List[Dict[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Outcome], notes: Iterable[Note] = ()) -> "IngestionSummary":
        outcomes = sorted(outcomes)
        rejected = [o for o in outcomes if o.reason != ACCEPTED]
        counts = collections.Counter(o.reason for o in rejected)
        sources = collections.Counter(o.source for o in outcomes if o.reason == ACCEPTED and o.source)
        return cls(
            accepted=len(outcomes) - len(rejected),
            rejected_counts={reason: counts[reason] for reason in REASONS if counts[reason]},
            rejected=[{"id": o.id, "reason": o.reason, "detail": o.detail} for o in rejected],
            provenance=dict(sorted(sources.items())),
            notes=[note._asdict() for note in sorted(set(notes))],  # workers that read the same sidecar repeat its notes
        )

    @property
    def total(self) -> int:
        return self.accepted + sum(self.rejected_counts.values())

    def to_dict(self):
        return {"total_files": self.total, **dataclasses.asdict(self)}

    def describe(self, max_listed: int = 20) -> str:
        """A few lines for logs and the terminal (names and details ``printable``: a CR in a name stays one line)."""
        counts = ", ".join(f"{reason} {n}" for reason, n in self.rejected_counts.items()) or "none"
        lines = [f"Ingestion: {self.accepted} of {self.total} files accepted; rejected: {counts}."]
        lines += [f"  {r['reason']:>12}  {printable(r['id'])}  {printable(r['detail'])}"
                  for r in self.rejected[:max_listed]]
        if len(self.rejected) > max_listed:
            lines.append(f"  ... and {len(self.rejected) - max_listed} more (see {SUMMARY_FILE_NAME})")
        if self.provenance:
            by_source = ", ".join(f"{source} {n}" for source, n in self.provenance.items())
            lines.append(f"Provenance: {sum(self.provenance.values())} of {self.accepted} accepted photos "
                         f"({by_source}).")
        lines += [f"  Note: {printable(note['where'])}: {printable(note['detail'])}" for note in self.notes[:max_listed]]
        if len(self.notes) > max_listed:
            lines.append(f"  ... and {len(self.notes) - max_listed} more notes (see {SUMMARY_FILE_NAME})")
        return "\n".join(lines)

    def write(self, path: str) -> None:
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(self.to_dict(), f, indent=2)

    @classmethod
    def read(cls, path: str) -> "IngestionSummary":
        with tf.io.gfile.GFile(path) as f:
            values = json.load(f)
        values.pop("total_files")
        return cls(**values)


def to_json_line(record) -> str:
    """An ``Outcome`` or a ``Note`` as the JSON line the Beam pipeline writes."""
    return json.dumps(record._asdict(), sort_keys=True)


def read_json_lines(file_pattern: str, record_type) -> list:
    """``Outcome``s or ``Note``s (``record_type``) from the JSON-lines files the pipeline wrote
    (all files matching the glob)."""
    records = []
    for path in tf.io.gfile.glob(file_pattern):
        with tf.io.gfile.GFile(path) as f:
            records += [record_type(**json.loads(line)) for line in f if line.strip()]
    return records
