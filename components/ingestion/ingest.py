"""The Beam PTransform every entry point shares: photo folder -> raw tf.Examples + per-file outcomes.

Stages (each a Beam step, so DirectRunner workers or Dataflow spread the work):
  List       the split pattern -> file paths (``listing``); refused entries become outcomes.
  Hash       read each file, SHA-256 of its bytes; empty and unreadable files become outcomes.
  Dedup      group by hash, keep the first path (sorted): exact duplicates are ingested once and
             reported as "duplicate" (detail: the path kept). Photos are decoded after this, once.
  Normalize  ``photo.normalize`` -> tf.Example with the raw features of ``components/features.py``.

Per-photo problems never raise: every file ends as exactly one ``summary.Outcome``.
"""
import hashlib
import logging
import time
from typing import Iterable, NamedTuple, Tuple

import apache_beam as beam
import tensorflow as tf

from colornet.components import features
from colornet.components.ingestion import listing, photo, summary
from colornet.components.ingestion.config import IngestionConfig
from colornet.components.ingestion.summary import Outcome

_LOG = logging.getLogger(__name__)
_OUTCOMES = "outcomes"
_METRICS_NAMESPACE = "colornet.ingestion"
_LOG_EVERY_SECONDS = 10.0


class IngestedPhotos(NamedTuple):
    examples: beam.PCollection   # tf.train.Example
    outcomes: beam.PCollection   # summary.Outcome, one per file


def _tag_outcomes(items: Iterable):
    for item in items:
        yield beam.pvalue.TaggedOutput(_OUTCOMES, item) if isinstance(item, Outcome) else item


def _list(pattern: str, input_base: str):
    return _tag_outcomes(listing.list_files(input_base, pattern))


def _hash(path: str, input_base: str):
    """path -> (sha256, id), or an outcome for files that cannot be ingested whatever their bytes."""
    photo_id = listing.relative_id(input_base, path)
    try:
        data = _read(path)
    except (OSError, tf.errors.OpError) as error:
        yield beam.pvalue.TaggedOutput(_OUTCOMES, Outcome(photo_id, summary.UNREADABLE, str(error)))
        return
    if not data:
        yield beam.pvalue.TaggedOutput(_OUTCOMES, Outcome(photo_id, summary.EMPTY, "zero-byte file"))
        return
    yield hashlib.sha256(data).hexdigest(), photo_id


def _keep_first(sha_and_ids: Tuple[str, Iterable[str]]):
    _, ids = sha_and_ids
    kept, *duplicates = sorted(ids)
    yield kept
    for duplicate in duplicates:
        yield beam.pvalue.TaggedOutput(_OUTCOMES, Outcome(duplicate, summary.DUPLICATE, f"same bytes as {kept}"))


def _read(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def to_example(photo_id: str, normalized: photo.NormalizedPhoto) -> tf.train.Example:
    def bytes_feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def int_feature(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE: bytes_feature(normalized.encoded),
        # surrogateescape: file names that are not valid UTF-8 keep their original bytes.
        features.ID: bytes_feature(photo_id.encode("utf-8", "surrogateescape")),
        features.SHA256: bytes_feature(normalized.sha256.encode("ascii")),
        features.HEIGHT: int_feature(normalized.height),
        features.WIDTH: int_feature(normalized.width),
    }))


class _Normalize(beam.DoFn):
    """id -> tf.Example (main output) and an outcome for every photo; logs progress per worker."""

    def __init__(self, input_base: str, config: IngestionConfig):
        self._input_base = input_base.rstrip("/")
        self._config = config

    def setup(self):
        self._counters = {}
        self._done = 0
        self._last_log = time.monotonic()

    def _count(self, reason: str):
        if reason not in self._counters:
            self._counters[reason] = beam.metrics.Metrics.counter(_METRICS_NAMESPACE, reason)
        self._counters[reason].inc()
        self._done += 1
        if time.monotonic() - self._last_log > _LOG_EVERY_SECONDS:
            _LOG.info("Ingestion worker: %d photos processed so far", self._done)
            self._last_log = time.monotonic()

    def process(self, photo_id: str):
        try:
            normalized = photo.normalize(_read(f"{self._input_base}/{photo_id}"), self._config)
        except photo.Rejected as rejection:
            outcome = Outcome(photo_id, rejection.reason, rejection.detail)
        except (OSError, tf.errors.OpError) as error:
            outcome = Outcome(photo_id, summary.UNREADABLE, str(error))
        except Exception as error:  # pylint: disable=broad-except
            # A decoder bug on one odd file must not fail the whole ingestion: report it, with the traceback logged.
            _LOG.warning("Unexpected error on %s", photo_id, exc_info=True)
            outcome = Outcome(photo_id, summary.CORRUPT, f"unexpected {type(error).__name__}: {error}")
        else:
            outcome = Outcome(photo_id, summary.ACCEPTED)
            yield to_example(photo_id, normalized)
        self._count(outcome.reason)
        yield beam.pvalue.TaggedOutput(_OUTCOMES, outcome)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def IngestPhotos(pipeline, input_base: str, pattern: str, config: IngestionConfig) -> IngestedPhotos:  # pylint: disable=invalid-name
    """Photos under ``input_base`` matching ``pattern`` (folders taken recursively) -> ``IngestedPhotos``."""
    listed = (pipeline
              | "Pattern" >> beam.Create([pattern])
              | "List" >> beam.FlatMap(_list, input_base).with_outputs(_OUTCOMES, main="files"))
    hashed = (listed.files
              | "Spread" >> beam.Reshuffle()
              | "Hash" >> beam.FlatMap(_hash, input_base).with_outputs(_OUTCOMES, main="hashes"))
    unique = (hashed.hashes
              | "GroupByHash" >> beam.GroupByKey()
              | "KeepFirst" >> beam.FlatMap(_keep_first).with_outputs(_OUTCOMES, main="ids"))
    normalized = (unique.ids
                  | "Normalize" >> beam.ParDo(_Normalize(input_base, config)).with_outputs(_OUTCOMES, main="examples"))
    outcomes = ((listed[_OUTCOMES], hashed[_OUTCOMES], unique[_OUTCOMES], normalized[_OUTCOMES])
                | "AllOutcomes" >> beam.Flatten())
    return IngestedPhotos(normalized.examples, outcomes)


@beam.ptransform_fn
def WriteOutcomes(outcomes, file_prefix: str):  # pylint: disable=invalid-name
    """Outcomes -> JSON-lines files ``<file_prefix>-*.jsonl`` (merged later by ``summary.read_outcome_lines``)."""
    return (outcomes
            | "ToJson" >> beam.Map(Outcome.to_json)
            | "Write" >> beam.io.WriteToText(file_prefix, file_name_suffix=".jsonl"))
