"""``BaselineOptionalEvaluator``: TFX's Evaluator, for a baseline that may not exist yet or may not
read this run's transformed examples (``without_incompatible_baseline``; every target).

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
import os

from tensorflow.core.protobuf import saved_model_pb2
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs
from tfx.utils import path_utils

from ...schemas import serving_contract as contract
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


def _transformed_input_outputs(model):
    """The outputs (name -> dtype and shape) of the model's ``TRANSFORM_SIGNATURE``, which decodes the
    transformed examples the Evaluator reads; None for a model without the pair of signatures that
    read them (exported before the Evaluator read transformed examples). Read from the saved_model.pb
    TFX's Evaluator loads, without loading the model."""
    path = os.path.join(path_utils.eval_model_path(model.uri, path_utils.is_old_model_artifact(model)),
                        "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with fileio.open(path, "rb") as saved_model_file:
        saved_model.ParseFromString(saved_model_file.read())
    signatures = saved_model.meta_graphs[0].signature_def
    if not {contract.TRANSFORM_SIGNATURE, contract.EVALUATE_SIGNATURE} <= set(signatures):
        return None
    return {name: (info.dtype, [dim.size for dim in info.tensor_shape.dim])
            for name, info in signatures[contract.TRANSFORM_SIGNATURE].outputs.items()}


def without_incompatible_baseline(input_dict):
    """``input_dict`` without baseline models that cannot read the candidate's transformed examples.

    The Evaluator feeds both models this run's transformed examples (Transform's output, at the
    candidate's size, with or without its classifier's embedding). A last blessed model exported
    before the Evaluator read transformed examples, or one working at another size or with another
    classifier, cannot decode them: it is dropped with a warning, and the run is judged on the
    absolute thresholds alone, as a first run is (its ab-MSE, at another size, would not be
    comparable anyway).
    """
    baselines = input_dict.get(_BASELINE) or []
    if not baselines:
        return input_dict
    (candidate,) = input_dict[standard_component_specs.MODEL_KEY]
    expected = _transformed_input_outputs(candidate)
    incompatible = [model.uri for model in baselines if _transformed_input_outputs(model) != expected]
    if not incompatible:
        return input_dict
    logging.warning("The last blessed model %s cannot read this run's transformed examples (exported before the "
                    "Evaluator read them, or at another size or with another classifier): evaluating without a "
                    "baseline, so the regression check is skipped this run", incompatible)
    return {key: value for key, value in input_dict.items() if key != _BASELINE}


class BaselineOptionalEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator executor, without a baseline that was never published or that cannot read
    the transformed examples."""

    def Do(self, input_dict, output_dict, exec_properties):
        input_dict = without_incompatible_baseline(without_unpublished_baseline(input_dict))
        return super().Do(input_dict, output_dict, exec_properties)


class BaselineOptionalEvaluator(tfx.components.Evaluator):
    """TFX's Evaluator component running ``BaselineOptionalEvaluatorExecutor``."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineOptionalEvaluatorExecutor)
