"""``BaselineOptionalEvaluator``: TFX's Evaluator, for a baseline that may not exist yet.

On the open-source Kubeflow target the baseline is imported from the fixed "last blessed" URI
(``components/pusher/last_blessed.py``) instead of being resolved from ML Metadata, so the first run
imports a location with nothing behind it, and TFX's Evaluator would fail loading that model.
This executor hands TFX's an input without the baseline in that case, which is exactly what the
resolver gives a first run: TFX then drops the baseline and its change thresholds
(``has_baseline=False``), so the model is judged on its absolute thresholds alone.

A location with files but no complete SavedModel (a publish that was interrupted) is an error, not
a first run: blessing without a baseline there could push a model worse than the one served.
"""
import logging

from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs

from ..pusher import last_blessed

_BASELINE = standard_component_specs.BASELINE_MODEL_KEY


def without_unpublished_baseline(input_dict):
    """``input_dict`` without its baseline models when none has been published yet.

    Raises ``RuntimeError`` for a baseline whose publish was interrupted, naming how to recover.
    """
    baselines = input_dict.get(_BASELINE) or []
    states = {model.uri: last_blessed.state(model.uri) for model in baselines}
    broken = [uri for uri, found in states.items() if found == last_blessed.INCOMPLETE]
    if broken:
        raise RuntimeError(
            f"The last blessed model at {broken} is incomplete (a push was interrupted): refusing to bless "
            "without a baseline. Re-run once it is restored, or delete that folder to start over without one.")
    if baselines and all(found == last_blessed.ABSENT for found in states.values()):
        logging.info("No model blessed yet at %s: evaluating without a baseline", sorted(states))
        return {key: value for key, value in input_dict.items() if key != _BASELINE}
    return input_dict


class BaselineOptionalEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator executor, without a baseline that was never published."""

    def Do(self, input_dict, output_dict, exec_properties):
        return super().Do(without_unpublished_baseline(input_dict), output_dict, exec_properties)


class BaselineOptionalEvaluator(tfx.components.Evaluator):
    """TFX's Evaluator component running ``BaselineOptionalEvaluatorExecutor``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineOptionalEvaluatorExecutor)
