"""What happened to each file, and the JSON summary written beside the examples.

Every file a split pattern takes ends in exactly one ``Outcome``: ``accepted`` or one rejection
reason. Outcomes are collected by the Beam pipeline as JSON lines and merged (over splits) into
``ingestion_summary.json``: counts per reason, the accepted count, and every rejected file with
its reason and a detail a human can act on.
"""
import collections
import dataclasses
import json
from typing import Dict, Iterable, List, NamedTuple

import tensorflow as tf

SUMMARY_FILE_NAME = "ingestion_summary.json"

ACCEPTED = "accepted"
# Rejection reasons.
EMPTY = "empty"                  # zero-byte file
UNREADABLE = "unreadable"        # the file or folder could not be read (permissions, I/O error)
OUTSIDE_ROOT = "outside_root"    # a symlink leading outside the input folder: not followed
NOT_AN_IMAGE = "not_an_image"    # no image format recognizes the bytes
CORRUPT = "corrupt"              # recognized, but the pixels cannot be decoded (truncated, damaged)
TOO_SMALL = "too_small"          # shorter side < min_side
TOO_LARGE = "too_large"          # more than max_pixels (checked from the header, pixels never decoded)
GRAYSCALE = "grayscale"          # black-and-white: useless as a colorization target
DUPLICATE = "duplicate"          # same bytes as another file (the first by path is kept)
REASONS = (EMPTY, UNREADABLE, OUTSIDE_ROOT, NOT_AN_IMAGE, CORRUPT, TOO_SMALL, TOO_LARGE, GRAYSCALE, DUPLICATE)


class Outcome(NamedTuple):
    id: str          # path relative to the input folder
    reason: str      # ACCEPTED or one of REASONS
    detail: str = ""

    def to_json(self) -> str:
        return json.dumps(self._asdict(), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> "Outcome":
        return cls(**json.loads(line))


@dataclasses.dataclass
class IngestionSummary:
    accepted: int
    rejected_counts: Dict[str, int]
    rejected: List[Dict[str, str]]

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Outcome]) -> "IngestionSummary":
        outcomes = sorted(outcomes)
        rejected = [o for o in outcomes if o.reason != ACCEPTED]
        counts = collections.Counter(o.reason for o in rejected)
        return cls(
            accepted=len(outcomes) - len(rejected),
            rejected_counts={reason: counts[reason] for reason in REASONS if counts[reason]},
            rejected=[o._asdict() for o in rejected],
        )

    @property
    def total(self) -> int:
        return self.accepted + sum(self.rejected_counts.values())

    def to_dict(self):
        return {"total_files": self.total, **dataclasses.asdict(self)}

    def describe(self, max_listed: int = 20) -> str:
        """A few lines for logs and the terminal."""
        counts = ", ".join(f"{reason} {n}" for reason, n in self.rejected_counts.items()) or "none"
        lines = [f"Ingestion: {self.accepted} of {self.total} files accepted; rejected: {counts}."]
        lines += [f"  {r['reason']:>12}  {r['id']}  {r['detail']}" for r in self.rejected[:max_listed]]
        if len(self.rejected) > max_listed:
            lines.append(f"  ... and {len(self.rejected) - max_listed} more (see {SUMMARY_FILE_NAME})")
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


def read_outcome_lines(file_pattern: str) -> List[Outcome]:
    """Outcomes from the JSON-lines files the pipeline wrote (all files matching the glob)."""
    outcomes = []
    for path in tf.io.gfile.glob(file_pattern):
        with tf.io.gfile.GFile(path) as f:
            outcomes += [Outcome.from_json(line) for line in f if line.strip()]
    return outcomes
