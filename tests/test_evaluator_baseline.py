"""The Evaluator's baseline must read the transformed examples the candidate is evaluated on: a last
blessed model exported before the Evaluator read them, or one that stores photos at another size, is
dropped (the run is judged as a first run), a compatible one is kept. Real SavedModels."""
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_artifacts, standard_component_specs as specs

from colornet.components.evaluation.component import without_incompatible_baseline
from colornet.schemas import features, serving_contract as contract
from export_fixtures import SIZE, exported_model

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
