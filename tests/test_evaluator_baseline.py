"""The Evaluator reads Transform's examples, and its baseline must read them too: a last blessed model
exported before the Evaluator read them, or one that stores photos at another size, is dropped (the
run is judged as a first run), a compatible one is kept and measured. Real SavedModels."""
import json

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs as specs
from tfx.utils import proto_utils

from colornet.components.evaluation.component import BaselineOptionalEvaluatorExecutor, without_incompatible_baseline
from colornet.components.evaluation.evaluator import eval_config
from colornet.schemas import features, serving_contract as contract
from colornet.schemas.config import BlessingConfig
from export_fixtures import SIZE, encode, exported_model, sample_photos, transform_graph_dir, transformed_examples

_EXAMPLES = tf.TensorSpec([None], tf.string, name=contract.EXAMPLES_INPUT)


def _model(uri):
    model = standard_artifacts.Model()
    model.uri = str(uri)
    model.set_string_custom_property("tfx_version", tfx.__version__)  # the Format-Serving/ layout
    return model


def _other_model(uri, signature_names, size):
    """A SavedModel with ``signature_names``, each mapping examples to ``L`` and ``ab`` of a ``size`` photo."""
    module = tf.Module()

    @tf.function(input_signature=[_EXAMPLES])
    def decoded(examples):
        count = tf.size(examples)
        return {features.L: tf.zeros([count, size * size]), features.AB: tf.zeros([count, size * size * 2])}

    tf.saved_model.save(module, str(uri / "Format-Serving"), signatures={name: decoded for name in signature_names})
    return _model(uri)


def test_only_a_baseline_that_reads_the_transformed_examples_is_kept(tmp_path_factory, shared_data, tmp_path):
    export_dir = exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)
    candidate = _model(export_dir.parent)
    inputs = {specs.MODEL_KEY: [candidate]}

    same_format = {**inputs, specs.BASELINE_MODEL_KEY: [_model(export_dir.parent)]}
    assert without_incompatible_baseline(same_format) is same_format
    assert without_incompatible_baseline(inputs) is inputs  # nothing blessed yet

    before = _other_model(tmp_path / "before", ["transform_features", "evaluate"], SIZE)  # the former pair
    assert without_incompatible_baseline({**inputs, specs.BASELINE_MODEL_KEY: [before]}) == inputs

    larger = _other_model(tmp_path / "larger", [contract.TRANSFORM_SIGNATURE, contract.EVALUATE_SIGNATURE], 2 * SIZE)
    assert without_incompatible_baseline({**inputs, specs.BASELINE_MODEL_KEY: [larger]}) == inputs


@pytest.mark.slow  # ~25 s: TFMA's Beam job over two models
def test_the_evaluator_measures_candidate_and_baseline_on_transformed_examples(tmp_path_factory, shared_data,
                                                                              tmp_path):
    """TFX's Evaluator, through colornet's executor, on transformed examples with a compatible last
    blessed model (here the candidate itself): both are measured and the regression check passes."""
    base = tmp_path_factory.getbasetemp() / "export"
    export_dir = exported_model(base, shared_data)
    encoded = [encode(photo, "PNG") for photo in sample_photos(shared_data, [(40, 48), (64, 40), (50, 50)])]
    split = tmp_path / "examples" / "Split-eval"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(split / "data.gz"), options="GZIP") as writer:
        for example in transformed_examples(transform_graph_dir(base), encoded):
            writer.write(example)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.split_names = artifact_utils.encode_split_names(["eval"])
    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri, blessing.uri = str(tmp_path / "evaluation"), str(tmp_path / "blessing")
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=["--direct_running_mode=in_memory"])
    BaselineOptionalEvaluatorExecutor(context).Do(
        {specs.EXAMPLES_KEY: [examples], specs.MODEL_KEY: [_model(export_dir.parent)],
         specs.BASELINE_MODEL_KEY: [_model(export_dir.parent)]},
        {specs.EVALUATION_KEY: [evaluation], specs.BLESSING_KEY: [blessing]},
        {specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(eval_config(BlessingConfig(
            max_ab_mse_vs_gray=1e9, max_ab_mse_vs_constant=1e9, min_colorfulness_ratio=0.0, min_eval_photos=1,
            min_top1_gain_over_gray=-1.0))),
         specs.EXAMPLE_SPLITS_KEY: json.dumps(["eval"])})

    models = {key.model_name for metrics in tfma.load_metrics(str(tmp_path / "evaluation"))
              for key in (entry.key for entry in metrics.metric_keys_and_values)}
    assert models == {"candidate", "baseline"}
    assert (tmp_path / "blessing" / "BLESSED").exists()
