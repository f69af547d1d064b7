"""Which spans a retrain ingests and trains on: every span folder not ingested yet, in order; the
window is the last N spans ingested, one artifact each. (The pipeline run itself:
tests/test_retraining.py.)"""
import pytest
from tfx.types import standard_artifacts

from colornet.pipeline.span_window import LastSpansStrategy, plan


def test_two_new_spans_are_both_ingested_in_order_and_trained_on():
    span_plan = plan(on_disk=[1, 2, 3, 4], ingested={1: 10, 2: 20}, num_spans=3)
    assert span_plan.new == [3, 4]
    assert span_plan.before_run == [3]  # the pipeline run ingests the newest, 4
    assert span_plan.trains_on == [2, 3, 4]
    assert "not trained on" not in span_plan.line()


def test_a_span_left_behind_by_an_earlier_run_is_ingested_too():
    span_plan = plan(on_disk=[1, 2, 3], ingested={1: 10, 3: 30}, num_spans=3)
    assert span_plan.new == [2] and span_plan.before_run == [2] and span_plan.trains_on == [1, 2, 3]


def test_new_spans_beyond_the_window_are_ingested_and_said_not_trained_on():
    span_plan = plan(on_disk=[1, 2, 3], ingested={}, num_spans=1)
    assert span_plan.before_run == [1, 2] and span_plan.trains_on == [3]
    assert "new spans [1, 2] are older than the window and not trained on" in span_plan.line()


def test_nothing_new_still_trains_on_the_window():
    span_plan = plan(on_disk=[1, 2], ingested={1: 10, 2: 20}, num_spans=3)
    assert span_plan.new == [] and span_plan.before_run == [] and span_plan.trains_on == [1, 2]


def _examples(artifact_id, span):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.set_int_custom_property("span", span)
    return artifact


def _resolve(num_spans, artifacts):
    resolved = LastSpansStrategy(num_spans).resolve_artifacts(None, {"examples": artifacts})
    return None if resolved is None else [(artifact.id, artifact.get_int_custom_property("span"))
                                          for artifact in resolved["examples"]]


def test_window_takes_the_last_spans_ingested_once_each_newest_ingestion_first():
    artifacts = [_examples(1, 1), _examples(2, 2), _examples(3, 4), _examples(4, 4), _examples(5, 5)]
    # span 4 was ingested twice (--no-cache): only its newest artifact; span 3 never was: the window skips it
    assert _resolve(3, artifacts) == [(2, 2), (4, 4), (5, 5)]
    assert _resolve(1, artifacts) == [(5, 5)]
    assert _resolve(9, artifacts) == [(1, 1), (2, 2), (4, 4), (5, 5)]


def test_window_over_nothing_resolves_nothing():
    assert _resolve(3, []) is None
    with pytest.raises(ValueError, match="num_spans"):
        LastSpansStrategy(0)
