"""The TFX Evaluator's side of colornet: which metrics TFMA computes, when a model is blessed, and
the one-line verdict a run prints.

TFMA computes every streaming metric of ``metrics.py`` on the ``evaluate_transformed`` signature
(labels: the stored ``ab``, from ``decode_transformed``), at the model's working size, over the eval
split of the examples Transform wrote: each photo's Transform graph (and classifier) ran once, in
Transform, not twice in the Evaluator. A candidate is blessed only if all of these hold
(``BlessingConfig`` sets the numbers):

* it beats gray: ab-MSE / gray's ab-MSE below ``max_ab_mse_vs_gray``;
* it beats the best constant color: ab-MSE / the constant's below ``max_ab_mse_vs_constant``. A
  model that paints every photo one warm tint beats gray but never this (the constant is the eval
  photos' own mean ab, the best any tint can do), so it is refused;
* it is vivid enough: colorfulness / the originals' at least ``min_colorfulness_ratio`` (0: off);
* it does not regress: ab-MSE not worse than the last blessed model's, re-measured on the same eval
  split, by more than ``regression_tolerance`` (TFX skips this when nothing was blessed yet, and
  ``component.without_incompatible_baseline`` when the last blessed model cannot read this run's
  transformed examples).

The constant's ab-MSE is exact in TFMA's single pass (``metrics._ChromaStatistics``); its PSNR and
SSIM need the constant before the pass, so they are in the offline report and TensorBoard only.
"""
import dataclasses
import pathlib
from typing import Optional

import numpy as np
import tensorflow_model_analysis as tfma

from ...schemas.config import BlessingConfig
from ...schemas import features, serving_contract as contract
from . import metrics

EVALUATOR_ID = "Evaluator"  # the pipeline's Evaluator node, whose outputs ``latest_verdict`` reads


def _below(bound):
    """TFMA's upper bounds are inclusive; ours are strict (a model that predicts gray is not better than gray)."""
    return tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        upper_bound={"value": float(np.nextafter(bound, -np.inf))}))


def eval_config(blessing=BlessingConfig()):
    """TFMA: every streaming metric, with the blessing thresholds on four of them."""
    thresholds = {
        "AbMseVsGray": _below(blessing.max_ab_mse_vs_gray),
        "AbMseVsConstant": _below(blessing.max_ab_mse_vs_constant),
        "AbMse": tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER, absolute={"value": blessing.regression_tolerance})),
    }
    if blessing.min_colorfulness_ratio > 0:
        thresholds["ColorfulnessRatio"] = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
            lower_bound={"value": blessing.min_colorfulness_ratio}))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=contract.EVALUATE_SIGNATURE,
            preprocessing_function_names=[contract.TRANSFORM_SIGNATURE],
            label_key=features.AB,
            prediction_key=contract.EVAL_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")] + [
            tfma.MetricConfig(class_name=metric.__name__, module=metrics.__name__,
                              threshold=thresholds.get(metric.__name__))
            for metric in metrics.STREAMING_METRICS])],
    )


@dataclasses.dataclass
class Verdict:
    """What the last Evaluator run decided, and the numbers it decided on."""

    blessed: bool
    values: dict  # metric name -> value (the candidate's, on the eval split)
    failures: list  # one line per failed threshold, as TFMA words it

    def line(self):
        """One line for the terminal: the decision, ab-MSE beside both baselines, vividness, PSNR."""
        v = self.values
        figures = (f"ab-MSE {v.get('ab_mse', float('nan')):.1f} (gray {v.get('gray_ab_mse', float('nan')):.1f}, "
                   f"best constant {v.get('constant_ab_mse', float('nan')):.1f}: "
                   f"{v.get('ab_mse_vs_constant', float('nan')):.2f}x), "
                   f"colorfulness {v.get('colorfulness_ratio', float('nan')):.2f}x the originals', "
                   f"PSNR {v.get('psnr', float('nan')):.2f} dB (gray {v.get('gray_psnr', float('nan')):.2f})")
        if self.blessed:
            return f"Evaluator: BLESSED, {figures}."
        return f"Evaluator: NOT BLESSED ({'; '.join(self.failures) or 'see the validation result'}), {figures}."

    def to_dict(self):
        return dataclasses.asdict(self)


def _latest_execution(pipeline_root, output):
    folders = [path for path in (pathlib.Path(pipeline_root) / EVALUATOR_ID / output).glob("*") if path.name.isdigit()]
    return max(folders, key=lambda path: int(path.name), default=None)


def latest_verdict(pipeline_root) -> Optional[Verdict]:
    """The verdict of the newest Evaluator execution under ``pipeline_root`` (None before the first)."""
    evaluation, blessing = _latest_execution(pipeline_root, "evaluation"), _latest_execution(pipeline_root, "blessing")
    if evaluation is None or blessing is None:
        return None
    values = {}
    for slice_metrics in tfma.load_metrics(str(evaluation)):
        for entry in slice_metrics.metric_keys_and_values:
            # The candidate's own values: not the baseline model's, not the candidate-minus-baseline diffs.
            if entry.key.model_name != "baseline" and not entry.key.is_diff and entry.value.HasField("double_value"):
                values[entry.key.name] = entry.value.double_value.value
    validation = tfma.load_validation_result(str(evaluation))
    failures = [_failure_line(failure)
                for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures]
    return Verdict(blessed=(blessing / "BLESSED").exists(), values=values, failures=failures)


def _failure_line(failure):
    """A failed threshold in words: ``ab_mse_vs_constant 1.013 is not below 1``."""
    name, threshold = failure.metric_key.name, failure.metric_threshold
    if threshold.HasField("change_threshold"):
        return (f"{name} is worse than the last blessed model's by more than "
                f"{threshold.change_threshold.absolute.value:g}")
    value = failure.metric_value.double_value.value
    bounds = threshold.value_threshold
    if bounds.HasField("upper_bound"):
        return f"{name} {value:.3f} is not below {np.nextafter(bounds.upper_bound.value, np.inf):g}"
    return f"{name} {value:.3f} is below {bounds.lower_bound.value:g}"

