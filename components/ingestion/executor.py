"""The TFX executor of ``PhotoExampleGen`` and the Beam PTransform every entry point shares.

``IngestPhotos``: photo folder -> raw tf.Examples + one ``summary.Outcome`` per file. Stages (each
a Beam step, so DirectRunner workers or Dataflow spread the work):

  List       the split pattern -> file paths (``listing``); refused entries become outcomes.
  Provenance each path gets its entry in the ``.provenance.jsonl`` of its folder (``provenance``),
             or none; a sidecar's malformed lines become notes.
  Normalize  each file is read once: empty files become outcomes; the SHA-256 of its bytes is taken
             and ``photo.normalize`` checks and converts it -> (sha256, candidate example or outcome).
  Dedup      group by hash, keep the first path (sorted): exact duplicates are ingested once and
             reported as "duplicate" (detail: the path kept).

Per-photo problems never raise: every file ends as exactly one outcome.

``PhotoExampleGenExecutor`` hands ExampleGen ``IngestPhotos`` for each input split pattern;
ExampleGen itself does the splitting, span handling and TFRecord writing. ``Do`` adds the
summary: outcomes and notes are written as JSON lines under the Examples artifact while the Beam
pipeline runs, then merged over splits into ``<examples uri>/ingestion_summary.json`` and logged. A
run with zero usable photos fails here, with the summary in the message.
"""
import hashlib
import logging
import os
import time
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx import types
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from ...schemas.config import IngestionConfig
from ...schemas import features
from ...schemas.photo_files import NotRegularFile, printable
from . import listing, photo, provenance, summary
from .summary import SUMMARY_FILE_NAME, IngestionSummary, Note, Outcome, read_json_lines, to_json_line

_LOG = logging.getLogger(__name__)
# Per-worker progress lines ("N photos processed so far"); ``colornet ingest`` shows them.
PROGRESS_LOGGER = f"{__name__}.progress"
_OUTCOMES = "outcomes"
_NOTES = "notes"
_METRICS_NAMESPACE = "colornet.ingestion"
_LOG_EVERY_SECONDS = 10.0

# Scratch folder (inside the Examples artifact) for the outcome files of one run; removed after merging.
_OUTCOMES_DIR_NAME = ".ingestion_outcomes"
# exec_properties key through which Do tells the per-split PTransforms where to write outcomes.
_OUTCOMES_DIR_KEY = "_colornet_outcomes_dir"


class NoUsablePhotosError(ValueError):
    """The input folder produced zero training examples."""


class IngestedPhotos(NamedTuple):
    examples: beam.PCollection   # tf.train.Example
    outcomes: beam.PCollection   # summary.Outcome, one per file
    notes: beam.PCollection      # summary.Note: problems not about one photo (possibly repeated by workers)


class _Candidate(NamedTuple):
    """One file after normalization, before deduplication: its example (serialized) or why not."""
    photo_id: str
    example: Optional[bytes]
    outcome: Outcome


def config_from_exec_properties(custom_config_json: Optional[str]) -> IngestionConfig:
    """The executor's view: exec_properties['custom_config'] is the CustomConfig proto as JSON (or absent)."""
    if not custom_config_json:
        return IngestionConfig()
    custom_config = example_gen_pb2.CustomConfig()
    json_format.Parse(custom_config_json, custom_config)
    if not custom_config.HasField("custom_config"):
        return IngestionConfig()
    struct = struct_pb2.Struct()
    if not custom_config.custom_config.Unpack(struct):
        raise ValueError(f"custom_config must pack a google.protobuf.Struct, got {custom_config.custom_config.type_url}")
    return IngestionConfig.from_dict(json_format.MessageToDict(struct))


def to_example(photo_id: str, sha256: str, normalized: photo.NormalizedPhoto,
               provenance_entry: Optional[Dict[str, str]] = None) -> tf.train.Example:
    """The raw example of an accepted photo: every feature of the raw schema, provenance included
    (empty strings when the photo has no ``provenance_entry``)."""
    def bytes_feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def int_feature(value: int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        features.IMAGE: bytes_feature(normalized.encoded),
        features.ID: bytes_feature(photo_id.encode("utf-8")),  # names that are not UTF-8 were refused (bad_name)
        features.SHA256: bytes_feature(sha256.encode("ascii")),
        features.HEIGHT: int_feature(normalized.height),
        features.WIDTH: int_feature(normalized.width),
        **{name: bytes_feature(value.encode("utf-8"))
           for name, value in provenance.example_values(provenance_entry).items()},
    }))


def _tagged(outcome: Outcome):
    return beam.pvalue.TaggedOutput(_OUTCOMES, outcome)


def _list(pattern: str, input_base: str):
    for item in listing.list_files(input_base, pattern):
        yield _tagged(item) if isinstance(item, Outcome) else item


class _AttachProvenance(beam.DoFn):
    """path -> (path, its entry in the ``.provenance.jsonl`` of its folder, or None).

    The listing yields a folder's files one after another and this step is fused with it, so
    keeping the last folder's sidecar reads each sidecar once; files in any other order would
    only read a sidecar again, never get a wrong entry. A sidecar's problems (malformed lines, or
    not a readable regular file) are logged and become notes of the summary.
    """

    def __init__(self, input_base: str):
        self._input_base = input_base.rstrip("/")

    def setup(self):
        self._folder = self._sidecar = None

    def process(self, path: str):
        folder, file_name = path.rsplit("/", 1)
        if folder != self._folder:
            self._folder, self._sidecar = folder, provenance.Sidecar({}, [])
            yield from self._read_sidecar(f"{folder}/{provenance.SIDECAR_NAME}")
        yield path, self._sidecar.entries.get(file_name)

    def _read_sidecar(self, sidecar_path: str):
        where = listing.relative_id(self._input_base, sidecar_path)
        try:
            if not tf.io.gfile.exists(sidecar_path):
                return
            self._sidecar = provenance.parse(listing.read_bytes(sidecar_path))
        except (OSError, tf.errors.OpError) as error:
            problems = [(where, f"not read: {error}")]
        else:
            problems = [(f"{where}:{number}", detail) for number, detail in self._sidecar.problems]
        for note_where, detail in problems:
            _LOG.warning("Provenance sidecar %s: %s", printable(note_where), printable(detail))
            yield beam.pvalue.TaggedOutput(_NOTES, Note(note_where, detail))


class _Normalize(beam.DoFn):
    """path -> (sha256, _Candidate), or an outcome for files that cannot be ingested whatever their bytes.

    Each file is read once; its bytes are hashed and normalized here, so deduplication groups
    small candidates, never the original files. Logs progress per worker.
    """

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
            logging.getLogger(PROGRESS_LOGGER).info("Ingestion worker: %d photos processed so far", self._done)
            self._last_log = time.monotonic()

    def process(self, path_and_provenance: Tuple[str, Optional[Dict[str, str]]]):
        path, provenance_entry = path_and_provenance
        photo_id = listing.relative_id(self._input_base, path)
        try:
            data = listing.read_bytes(path)
        except NotRegularFile as error:  # swapped for a FIFO or the like since it was listed
            yield _tagged(Outcome(photo_id, summary.NOT_A_FILE, str(error)))
            return
        except (OSError, tf.errors.OpError) as error:
            yield _tagged(Outcome(photo_id, summary.UNREADABLE, str(error)))
            return
        if not data:
            yield _tagged(Outcome(photo_id, summary.EMPTY, "zero-byte file"))
            return
        sha256 = hashlib.sha256(data).hexdigest()
        example = None
        try:
            normalized = photo.normalize(data, self._config)
        except photo.Rejected as rejection:
            outcome = Outcome(photo_id, rejection.reason, rejection.detail)
        except Exception as error:  # pylint: disable=broad-except
            # A decoder bug on one odd file must not fail the whole ingestion: report it, with the traceback logged.
            _LOG.warning("Unexpected error on %s", printable(photo_id), exc_info=True)
            outcome = Outcome(photo_id, summary.CORRUPT, f"unexpected {type(error).__name__}: {error}")
        else:
            outcome = Outcome(photo_id, summary.ACCEPTED, source=(provenance_entry or {}).get("source", ""))
            example = to_example(photo_id, sha256, normalized, provenance_entry).SerializeToString()
        self._count(outcome.reason)
        yield sha256, _Candidate(photo_id, example, outcome)


def _keep_first(sha_and_candidates: Tuple[str, Iterable[_Candidate]]):
    _, candidates = sha_and_candidates
    kept, *duplicates = sorted(candidates, key=lambda candidate: candidate.photo_id)
    if kept.example is not None:
        yield tf.train.Example.FromString(kept.example)
    yield _tagged(kept.outcome)
    for duplicate in duplicates:
        yield _tagged(Outcome(duplicate.photo_id, summary.DUPLICATE, f"same bytes as {kept.photo_id}"))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def IngestPhotos(pipeline, input_base: str, pattern: str, config: IngestionConfig) -> IngestedPhotos:  # pylint: disable=invalid-name
    """Photos under ``input_base`` matching ``pattern`` (folders taken recursively) -> ``IngestedPhotos``."""
    listed = (pipeline
              | "Pattern" >> beam.Create([pattern])
              | "List" >> beam.FlatMap(_list, input_base).with_outputs(_OUTCOMES, main="files"))
    attributed = (listed.files
                  | "Provenance" >> beam.ParDo(_AttachProvenance(input_base)).with_outputs(_NOTES, main="files"))
    normalized = (attributed.files
                  | "Spread" >> beam.Reshuffle()
                  | "Normalize" >> beam.ParDo(_Normalize(input_base, config)).with_outputs(_OUTCOMES, main="keyed"))
    unique = (normalized.keyed
              | "GroupByHash" >> beam.GroupByKey()
              | "KeepFirst" >> beam.FlatMap(_keep_first).with_outputs(_OUTCOMES, main="examples"))
    outcomes = ((listed[_OUTCOMES], normalized[_OUTCOMES], unique[_OUTCOMES])
                | "AllOutcomes" >> beam.Flatten())
    return IngestedPhotos(unique.examples, outcomes, attributed[_NOTES])


@beam.ptransform_fn
def WriteJsonLines(records, file_prefix: str):  # pylint: disable=invalid-name
    """Outcomes or notes -> JSON-lines files ``<file_prefix>-*.jsonl`` (merged later by ``summary.read_json_lines``)."""
    return (records
            | "ToJson" >> beam.Map(to_json_line)
            | "Write" >> beam.io.WriteToText(file_prefix, file_name_suffix=".jsonl"))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _PhotosToExample(pipeline, exec_properties: Dict[str, Any], split_pattern: str):  # pylint: disable=invalid-name
    config = config_from_exec_properties(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))
    ingested = pipeline | "IngestPhotos" >> IngestPhotos(
        exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern, config)
    pattern_key = hashlib.sha256(split_pattern.encode()).hexdigest()[:12]
    outcomes_dir = exec_properties[_OUTCOMES_DIR_KEY]
    _ = ingested.outcomes | "WriteOutcomes" >> WriteJsonLines(os.path.join(outcomes_dir, f"{_OUTCOMES}-{pattern_key}"))
    _ = ingested.notes | "WriteNotes" >> WriteJsonLines(os.path.join(outcomes_dir, f"{_NOTES}-{pattern_key}"))
    return ingested.examples


class PhotoExampleGenExecutor(BaseExampleGenExecutor):
    """ExampleGen executor for folders of photos (see ``IngestPhotos`` for what happens to each file)."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _PhotosToExample

    def Do(self, input_dict: Dict[str, List[types.Artifact]], output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        if not tf.io.gfile.isdir(input_base):
            raise NoUsablePhotosError(f"Photo folder {printable(input_base)} does not exist or is not a folder.")
        examples_uri = artifact_utils.get_single_uri(output_dict[standard_component_specs.EXAMPLES_KEY])
        outcomes_dir = os.path.join(examples_uri, _OUTCOMES_DIR_NAME)
        if tf.io.gfile.exists(outcomes_dir):  # left by an interrupted attempt: its shards must not be merged
            tf.io.gfile.rmtree(outcomes_dir)
        super().Do(input_dict, output_dict, {**exec_properties, _OUTCOMES_DIR_KEY: outcomes_dir})

        ingestion_summary = IngestionSummary.from_outcomes(
            read_json_lines(os.path.join(outcomes_dir, f"{_OUTCOMES}-*"), Outcome),
            read_json_lines(os.path.join(outcomes_dir, f"{_NOTES}-*"), Note))
        summary_path = os.path.join(examples_uri, SUMMARY_FILE_NAME)
        ingestion_summary.write(summary_path)
        tf.io.gfile.rmtree(outcomes_dir)
        _LOG.info("%s\nSummary: %s", ingestion_summary.describe(), summary_path)
        if not ingestion_summary.accepted:
            raise NoUsablePhotosError(
                f"No usable photos in {printable(input_base)}: "
                f"{ingestion_summary.describe()}\nSee {summary_path}.")
