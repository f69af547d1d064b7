"""Which spans a retrain ingests and which it trains on (``colornet retrain``, local runner).

TFX's ExampleGen ingests one span per execution (its driver refuses a range of spans), by default
the newest. Two spans that arrive between runs would leave the older one never ingested, so the
local runner first ingests every span folder that ML Metadata does not hold yet, oldest first, one
ingestion-only run each (``pipeline.create_span_ingestion_pipeline``: the same ExampleGen node, so
its artifacts count as the pipeline's), and then runs the pipeline, whose ExampleGen takes the
newest span.

The training window is the last ``rolling_spans`` spans ingested, picked by ``LastSpansStrategy``.
TFX's ``SpanRangeStrategy`` is not used: its rolling range is a range of span numbers (a missing
number shrinks the window), and it passes on every artifact of a span, so a span ingested twice
(``--no-cache`` re-ingests the newest) would be trained on twice.
"""
import dataclasses
import os
from typing import Dict, List

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common import resolver

_SPAN = example_gen_utils.SPAN_PROPERTY_NAME
_NODE_CONTEXT = "node"  # TFX's context type per pipeline node, named "<pipeline>.<node id>"
_DONE = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def training_window(spans, num_spans):
    """The last ``num_spans`` distinct spans of ``spans``, ascending."""
    return sorted(set(spans))[-num_spans:]


@dataclasses.dataclass(frozen=True)
class SpanPlan:
    """What a retrain does with the span folders: ingests ``new`` (the folders not ingested yet,
    oldest first; all but ``newest`` in runs of their own before the pipeline run, which ingests
    ``newest``), then trains on ``trains_on``."""

    new: List[int]
    newest: int
    trains_on: List[int]

    @property
    def before_run(self):
        """The spans ingested by ingestion-only runs ahead of the pipeline run."""
        return [span for span in self.new if span != self.newest]

    def line(self):
        left_out = [span for span in self.new if span not in self.trains_on]
        note = f"; new spans {left_out} are older than the window and not trained on" if left_out else ""
        return (f"Retrain: ingests spans {self.new or 'none'} (not ingested yet), trains on spans {self.trains_on} "
                f"(the last {len(self.trains_on)} ingested){note}")


def plan(on_disk, ingested, num_spans):
    """The ``SpanPlan`` for span folders ``on_disk`` (ascending, not empty) when ML Metadata already
    holds the spans ``ingested``: every span folder not ingested yet is ingested, in order."""
    if not on_disk:
        raise ValueError("no span folders")
    return SpanPlan(new=[span for span in on_disk if span not in ingested], newest=on_disk[-1],
                    trains_on=training_window(set(ingested) | set(on_disk), num_spans))


class LastSpansStrategy(resolver.ResolverStrategy):
    """Resolves Examples to the newest artifact of each of the last ``num_spans`` spans ingested."""

    def __init__(self, num_spans: int):
        if num_spans < 1:
            raise ValueError(f"num_spans must be >= 1, got {num_spans}")
        self._num_spans = num_spans

    def resolve_artifacts(self, store, input_dict):
        """Per input: one artifact per span (the latest ingestion of it), the last ``num_spans`` spans,
        ascending; None while an input has none (TFX then does not run what depends on it)."""
        del store  # everything needed is in the artifacts' span properties
        resolved = {}
        for key, artifacts in input_dict.items():
            newest = {}
            for artifact in artifacts:
                span = artifact.get_int_custom_property(_SPAN)
                if span not in newest or artifact.id > newest[span].id:
                    newest[span] = artifact
            resolved[key] = [newest[span] for span in training_window(newest, self._num_spans)]
        return resolved if all(resolved.values()) else None


def _store(connection_config):
    """The ML Metadata store, or None when its SQLite file does not exist yet (nothing was ever run)."""
    if not os.path.exists(connection_config.sqlite.filename_uri):
        return None
    return metadata_store.MetadataStore(connection_config)


def _node_context(store, pipeline_name, node_id):
    return store.get_context_by_type_and_name(_NODE_CONTEXT, f"{pipeline_name}.{node_id}") if store else None


def ingested_spans(connection_config, pipeline_name, example_gen_id) -> Dict[int, int]:
    """{span: id of its newest Examples artifact} for every span the pipeline's ExampleGen ingested."""
    store = _store(connection_config)
    context = _node_context(store, pipeline_name, example_gen_id)
    if context is None:
        return {}
    newest = {}
    for artifact in store.get_artifacts_by_context(context.id):
        if artifact.state == metadata_store_pb2.Artifact.LIVE and _SPAN in artifact.custom_properties:
            span = artifact.custom_properties[_SPAN].int_value
            newest[span] = max(newest.get(span, 0), artifact.id)
    return newest


def trained_spans(connection_config, pipeline_name, transform_id) -> List[int]:
    """The spans of the Examples that the newest completed (or cached) Transform execution read:
    the spans the newest model was trained on."""
    store = _store(connection_config)
    context = _node_context(store, pipeline_name, transform_id)
    executions = [execution for execution in (store.get_executions_by_context(context.id) if context else [])
                  if execution.last_known_state in _DONE]
    if not executions:
        return []
    latest = max(executions, key=lambda execution: execution.id)
    inputs = [event.artifact_id for event in store.get_events_by_execution_ids([latest.id])
              if event.type == metadata_store_pb2.Event.INPUT
              and any(step.key == "examples" for step in event.path.steps)]
    return sorted(artifact.custom_properties[_SPAN].int_value for artifact in store.get_artifacts_by_id(inputs))
