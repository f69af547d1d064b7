"""The TFX Evaluator's side of colornet: which metrics TFMA computes, when a model is blessed, and
the one-line verdict a run prints.

TFMA computes every streaming metric of ``metrics.py`` on the ``evaluate_transformed`` signature
(labels: the stored ``ab``, from ``decode_transformed``), at the model's working size, over the eval
split of the examples Transform wrote: each photo's Transform graph (and classifier) ran once, in
Transform, not twice in the Evaluator. With confidence intervals (TFMA's jackknife: 20 buckets of
photos, so the figures are computed once per bucket merge, not per resample of the photos; cheap). A
candidate is blessed only if all of these hold (``BlessingConfig`` sets the numbers):

* the eval split is big enough to mean something: at least ``min_eval_photos`` photos;
* it beats gray: ab-MSE / gray's ab-MSE below ``max_ab_mse_vs_gray``;
* it beats the best constant color: ab-MSE / the constant's below ``max_ab_mse_vs_constant``. A
  model that paints every photo one warm tint beats gray but never this (the constant is the eval
  photos' own mean ab, the best any tint can do), so it is refused;
* it is vivid enough: colorfulness / the originals' at least ``min_colorfulness_ratio`` (0: off);
* its color does not mislead: the classifier's top-1 agreement with the originals, minus gray's, not
  shown to be below ``min_top1_gain_over_gray`` (-1: off): the upper end of the gain's 95 % interval over
  the photos is at least that. The gain itself swings by ~0.1 from one 100-photo split to another (a
  model 0.02 below gray on 100 unseen photos was 0.009 below on the pipeline's split and was refused);
  what the gate refuses is color that misleads the classifier beyond chance;
* it paints no rainbow streaks: false color / the originals' at most ``max_false_color_vs_original``;
* it does not regress: ab-MSE not worse than the last blessed model's, re-measured on the same eval
  split, by more than the fraction ``regression_tolerance`` of it (TFX skips this when nothing was blessed yet, and
  ``component.without_incompatible_baseline`` when the last blessed model cannot read this run's
  transformed examples).

The constant's ab-MSE is exact in TFMA's single pass (``metrics._ChromaStatistics``); its PSNR and
SSIM need the constant before the pass, so they are in the offline report and TensorBoard only.
"""
import dataclasses
import json
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma

from ...schemas.config import BlessingConfig
from ...schemas import features, serving_contract as contract
from . import metrics

EVALUATOR_ID = "Evaluator"  # the pipeline's Evaluator node, whose outputs ``latest_verdict`` reads


def _below(bound):
    """TFMA's upper bounds are inclusive; ours are strict (a model that predicts gray is not better than gray)."""
    return tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
        upper_bound={"value": float(np.nextafter(bound, -np.inf))}))


_STRICT_UPPER_BOUNDS = ("ab_mse_vs_gray", "ab_mse_vs_constant")  # the metrics bounded through ``_below``


def _at_least(bound):
    return tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": float(bound)}))


def eval_config(blessing=BlessingConfig()):
    """TFMA: the photo count and every streaming metric, with confidence intervals and the blessing thresholds."""
    thresholds = {
        "ExampleCount": _at_least(blessing.min_eval_photos),
        "AbMseVsGray": _below(blessing.max_ab_mse_vs_gray),
        "AbMseVsConstant": _below(blessing.max_ab_mse_vs_constant),
        "FalseColorVsOriginal": tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
            upper_bound={"value": blessing.max_false_color_vs_original})),
        "AbMse": tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.LOWER_IS_BETTER, relative={"value": blessing.regression_tolerance})),
    }
    if blessing.min_colorfulness_ratio > 0:
        thresholds["ColorfulnessRatio"] = _at_least(blessing.min_colorfulness_ratio)
    if blessing.min_top1_gain_over_gray > -1:
        thresholds["Top1GainUpperBound"] = _at_least(blessing.min_top1_gain_over_gray)
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=contract.EVALUATE_SIGNATURE,
            preprocessing_function_names=[contract.TRANSFORM_SIGNATURE],
            label_key=features.AB,
            prediction_key=contract.EVAL_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount", threshold=thresholds["ExampleCount"])] + [
            tfma.MetricConfig(class_name=metric.__name__, module=metrics.__name__,
                              config=json.dumps({"name": metric.metric_name}), threshold=thresholds.get(metric.__name__))
            for metric in metrics.STREAMING_METRICS])],
        options=tfma.Options(compute_confidence_intervals={"value": True}),
    )


def _nan(values, name):
    return values.get(name, float("nan"))


@dataclasses.dataclass
class Verdict:
    """What the last Evaluator run decided, and the numbers it decided on."""

    blessed: bool
    values: dict  # metric name -> value (the candidate's, on the eval split)
    failures: list  # one line per failed threshold, as TFMA words it
    intervals: dict = dataclasses.field(default_factory=dict)  # metric name -> [low, high] (95 %, TFMA's)
    refuses_tints: bool = True  # the gate's ``BlessingConfig.refuses_tints``: False for a demo's gate

    def line(self):
        """One line for the terminal: the decision (and, for a gate that lets tints through, that it is a
        demo's), the photo count, ab-MSE beside both baselines with its interval, vividness, the classifier
        test, false color and PSNR."""
        v = self.values
        ratio = _nan(v, "ab_mse_vs_constant")
        interval = self.intervals.get("ab_mse_vs_constant")
        spread = f", 95 % interval {interval[0]:.2f}-{interval[1]:.2f}" if interval else ""
        figures = (f"{_nan(v, 'example_count'):.0f} eval photos, "
                   f"ab-MSE {_nan(v, 'ab_mse'):.1f} (gray {_nan(v, 'gray_ab_mse'):.1f}, "
                   f"best constant {_nan(v, 'constant_ab_mse'):.1f}: {ratio:.2f}x{spread}), "
                   f"colorfulness {_nan(v, 'colorfulness_ratio'):.2f}x the originals', "
                   f"classifier top-1 agreement {_nan(v, 'top1_agreement'):.2f} (gray {_nan(v, 'gray_top1_agreement'):.2f}), "
                   f"false color {_nan(v, 'false_color_vs_original'):.2f}x the originals', "
                   f"PSNR {_nan(v, 'psnr'):.2f} dB (gray {_nan(v, 'gray_psnr'):.2f})")
        if not self.blessed:
            return f"Evaluator: NOT BLESSED ({'; '.join(self.failures) or 'see the validation result'}), {figures}."
        if self.refuses_tints:
            return f"Evaluator: BLESSED, {figures}."
        tint = ": a tint" if not ratio < 1.0 else ""
        return (f"Evaluator: BLESSED by a demo's gate (it asks only to beat gray; {ratio:.2f}x the best constant "
                f"color's ab-MSE{tint}), {figures}.")

    def to_dict(self):
        return dataclasses.asdict(self)


def _latest_execution(pipeline_root, output):
    """The folder of the Evaluator's newest execution (TFX numbers them) that wrote ``output``, or None.

    Through ``tf.io.gfile``, so that a remote pipeline root (``gs://...``) reads as a local one does."""
    folder = f"{str(pipeline_root).rstrip('/')}/{EVALUATOR_ID}/{output}"
    if not tf.io.gfile.isdir(folder):
        return None
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(folder))  # remote file systems end folders with "/"
    executions = [name for name in names if name.isdigit()]
    return f"{folder}/{max(executions, key=int)}" if executions else None


def latest_verdict(pipeline_root, blessing=BlessingConfig()) -> Optional[Verdict]:
    """The verdict of the newest Evaluator execution under ``pipeline_root`` (None before the first),
    worded for the gate ``blessing`` it was judged by."""
    evaluation, blessed = _latest_execution(pipeline_root, "evaluation"), _latest_execution(pipeline_root, "blessing")
    if evaluation is None or blessed is None:
        return None
    values, intervals = {}, {}
    for slice_metrics in tfma.load_metrics(evaluation):
        for entry in slice_metrics.metric_keys_and_values:
            # The candidate's own values: not the baseline model's, not the candidate-minus-baseline diffs.
            if entry.key.model_name != "baseline" and not entry.key.is_diff and entry.value.HasField("double_value"):
                values[entry.key.name] = entry.value.double_value.value
                if entry.HasField("confidence_interval"):
                    bounds = entry.confidence_interval
                    intervals[entry.key.name] = [bounds.lower_bound.double_value.value,
                                                 bounds.upper_bound.double_value.value]
    validation = tfma.load_validation_result(evaluation)
    failures = [_failure_line(failure)
                for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures]
    return Verdict(blessed=tf.io.gfile.exists(f"{blessed}/BLESSED"), values=values, failures=failures,
                   intervals=intervals, refuses_tints=blessing.refuses_tints)


def _failure_line(failure):
    """A failed threshold in words: ``ab_mse_vs_constant 1.013 is not below 1``."""
    name, threshold = failure.metric_key.name, failure.metric_threshold
    if threshold.HasField("change_threshold"):
        return (f"{name} is worse than the last blessed model's by more than "
                f"{100 * threshold.change_threshold.relative.value:g} %")
    value = failure.metric_value.double_value.value
    bounds = threshold.value_threshold
    if name == "top1_gain_upper_bound":
        return (f"{name} {value:+.3f} is below {bounds.lower_bound.value:g}: the classifier recognises fewer "
                f"colorized photos than gray ones, beyond chance (the top-1 gain's 95 % interval ends there)")
    if name == "example_count":
        return (f"only {value:.0f} eval photos, at least {bounds.lower_bound.value:g} needed: on fewer the ratios "
                f"are noise (more photos, or a larger --eval-percent)")
    if bounds.HasField("upper_bound") and name in _STRICT_UPPER_BOUNDS:
        return f"{name} {value:.3f} is not below {np.nextafter(bounds.upper_bound.value, np.inf):g}"
    if bounds.HasField("upper_bound"):
        return f"{name} {value:.3f} is above {bounds.upper_bound.value:g}"
    return f"{name} {value:.3f} is below {bounds.lower_bound.value:g}"

