"""The Trainer's run_fn on tiny real photos: real ingestion, TFX's Transform executor, real FnArgs
over gzipped TFRecords. Variants, per-epoch checkpoints, resuming (also after a kill), warm
start, and the TensorBoard grid of eval colorizations."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

import local_training
from colornet.components.model import callbacks, example_codec, network as model_lib, preprocessing, signatures, trainer
from colornet.schemas.config import VARIANTS, ModelConfig, TrainingConfig
from colornet.schemas import features
from colornet.schemas import serving_contract as contract

SIZE = 32
TINY = {"image_size": SIZE, "backbone": "mobilenet_v2", "backbone_size": 32}


@pytest.fixture(scope="module")
def tiny_raw(duotone_photos, tmp_path_factory):
    """Raw Examples (ingestion's output) of twelve 64 px photos."""
    return local_training.ingest(duotone_photos[0].parent, tmp_path_factory.mktemp("trainer_raw"))


@pytest.fixture(scope="module")
def tiny_data(tiny_raw, tmp_path_factory):
    """(transform graph dir, transformed Examples artifacts) of ``tiny_raw`` at 32 px."""
    root = tmp_path_factory.mktemp("trainer_data")
    # Fusion settings, so the examples carry the classifier embedding too (alpha and beta skip it).
    return local_training.transform([tiny_raw], root / "transform", {**TINY, "variant": "fusion"})


def _trainer_config(model, epochs=1):
    """The Trainer's custom_config: ``TINY`` with ``model`` settings, batches of 4."""
    return {"model": {**TINY, **model}, "training": {"batch_size": 4, "epochs": epochs}}


def _fn_args(tiny_data, output_dir, custom_config, train_steps, base_model=None):
    graph, examples = tiny_data
    return local_training.fn_args(
        graph, local_training.split_files(examples, ["train"]), local_training.split_files(examples, ["eval"]),
        examples, output_dir, custom_config, train_steps, base_model=base_model)


def _epochs_logged(fn_args):
    with open(os.path.join(fn_args.model_run_dir, "training_log.csv")) as log:
        return [int(row["epoch"]) for row in csv.DictReader(log)]


def _checkpoint_value(fn_args, key):
    reader = tf.train.load_checkpoint(os.path.join(fn_args.model_run_dir, "checkpoints"))
    return int(reader.get_tensor(key))


EPOCHS_DONE = "epochs_done/.ATTRIBUTES/VARIABLE_VALUE"
OPTIMIZER_STEPS = "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_trains_on_the_trainers_dataset(tiny_data, variant):
    graph, examples = tiny_data
    config = ModelConfig.from_dict({**TINY, "variant": variant})
    model = model_lib.compile_model(model_lib.build_model(config), config)
    dataset = trainer.make_dataset(
        local_training.split_files(examples), local_training.data_accessor(examples), tft.TFTransformOutput(graph),
        SIZE, True, TrainingConfig(batch_size=4), model.input_names)
    before = [weight.numpy().copy() for weight in model.trainable_weights]
    history = model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(old, new.numpy()) for old, new in zip(before, model.trainable_weights))


def test_the_trainer_feeds_the_model_what_serving_computes_from_the_same_photos(tiny_raw, tiny_data):
    graph, examples = tiny_data
    tft_output = tft.TFTransformOutput(graph)
    config = ModelConfig.from_dict({**TINY, "variant": "fusion"})
    model = model_lib.build_model(config)
    # What the Trainer feeds: eval batches (no shuffle, no augmentation) of the stored examples.
    dataset = trainer.make_dataset(local_training.split_files(examples, ["eval"]), local_training.data_accessor(examples),
                                   tft_output, SIZE, False, TrainingConfig(batch_size=1), model.input_names)
    raw_files = [path for pattern in local_training.split_files([tiny_raw], ["eval"]) for path in tf.io.gfile.glob(pattern)]
    raw = [record.numpy() for record in tf.data.TFRecordDataset(raw_files, "GZIP")]
    trained = [(inputs, ab) for inputs, ab in dataset.take(len(raw))]
    # What the network receives in serving from each photo: signatures.py's one decode, then its inputs.
    parsed = tf.io.parse_example(tf.constant(raw), tft_output.raw_feature_spec())
    signatures.attach_classifier(model, tft_output)  # as build_signatures does: Transform's own classifier
    # Traced, as in the signatures (its TensorArray state needs a graph).
    errors, photos = tf.function(signatures.decode_photos)(tf.reshape(parsed[features.IMAGE], [-1]))
    assert not any(errors.numpy())
    served = signatures.served_inputs(model, photos, SIZE)
    served_ab = signatures.map_photos(lambda rgb8: example_codec.served_lab(rgb8, SIZE)[1][..., 1:], photos, tf.float32)
    # Unquantized reference: Transform's float32 L of each photo, before it is stored.
    photos = [preprocessing.decode_rgb(image) for image in parsed[features.IMAGE].numpy().reshape(-1)]
    reference = np.stack([preprocessing.model_lab(photo, SIZE)[0].numpy() for photo in photos])
    assert len(trained) == len(raw) >= 2
    for index, lightness in enumerate(served[features.L].numpy()):
        # The stored example of this photo, whatever order the Trainer reads them in.
        inputs, ab = min(trained, key=lambda pair: np.abs(pair[0][features.L][0].numpy() - lightness).max())
        # The same stored levels, dequantized by the same multiply-add: equal within one float32 rounding
        # (2^-23, a 30,000th of a level), as XLA (the Trainer) fuses it into one FMA rounding once where
        # TensorFlow's kernels (serving) round twice.
        np.testing.assert_allclose(inputs[features.L][0].numpy(), lightness, rtol=0, atol=2.0 ** -23)
        np.testing.assert_allclose(ab[0].numpy(), served_ab[index].numpy(), rtol=0, atol=2.0 ** -23)
        np.testing.assert_array_equal(inputs[features.EMBEDDING][0].numpy(), served[features.EMBEDDING][index])
        # Both differ from the float32 L only by the stored precision: half a level of 100/255 L units.
        assert np.abs(lightness - reference[index]).max() <= 1.0 / 255.0 + 1e-6


PHOTO_DECODE_OPS = {"DecodeImage", "DecodeJpeg", "DecodePng", "DecodeBmp", "DecodeGif"}


def test_a_fusion_models_serving_graph_decodes_each_photo_once(tiny_data):
    graph, _ = tiny_data
    config = ModelConfig.from_dict({**TINY, "variant": "fusion"})
    model = model_lib.build_model(config)
    serve = signatures.build_signatures(model, tft.TFTransformOutput(graph), SIZE)[contract.SERVING_SIGNATURE]
    graph_def = serve.get_concrete_function().graph.as_graph_def()
    nodes = [*graph_def.node, *(node for function in graph_def.library.function for node in function.node_def)]
    # decode_photos' one decode (the Transform graph, which decoded each photo again for the classifier, is gone)
    assert [node.op for node in nodes if node.op in PHOTO_DECODE_OPS] == ["DecodeImage"]


def test_run_fn_checkpoints_each_epoch_writes_samples_and_resumes(tiny_data, tmp_path):
    first = _fn_args(tiny_data, tmp_path, _trainer_config({"variant": "alpha"}, epochs=1), train_steps=3)
    trainer.run_fn(first)
    assert os.path.exists(os.path.join(first.serving_model_dir, "saved_model.pb"))
    assert _epochs_logged(first) == [0]
    assert _checkpoint_value(first, EPOCHS_DONE) == 1

    # The same run directory with more epochs: continues after epoch 1 instead of starting over, and makes
    # exactly the steps asked although 3 epochs do not divide them (4 + 4 + a last epoch cut at step 10).
    resumed = _fn_args(tiny_data, tmp_path, _trainer_config({"variant": "alpha"}, epochs=3), train_steps=10)
    trainer.run_fn(resumed)
    assert _epochs_logged(resumed) == [0, 1, 2]
    assert _checkpoint_value(resumed, EPOCHS_DONE) == 3
    assert _checkpoint_value(resumed, OPTIMIZER_STEPS) == 10  # the optimizer state came back too

    steps_with_images = []
    samples_dir = os.path.join(first.model_run_dir, "samples")
    for event_file in tf.io.gfile.glob(os.path.join(samples_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                if value.tag == callbacks.SAMPLES_SUMMARY:
                    assert value.metadata.plugin_data.plugin_name == "images"
                    width, height = (int(x) for x in tf.make_ndarray(value.tensor)[:2])
                    assert width > 3 * SIZE and height > 4 * SIZE  # three columns, four photos
                    steps_with_images.append(event.step)
    assert sorted(steps_with_images) == [1, 2, 3]

    # Each epoch, the model's quality beside gray and the best constant color, as TensorBoard scalars.
    quality_steps = {}
    for event_file in tf.io.gfile.glob(os.path.join(first.model_run_dir, "quality", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                quality_steps.setdefault(value.tag, []).append(event.step)
    for tag in ("quality/ab_mse/model", "quality/ab_mse/gray", "quality/ab_mse/constant", "quality/ab_mse_vs_constant",
                "quality/psnr/constant", "quality/colorfulness/original", "quality/ab_spread/model"):
        assert sorted(quality_steps[tag]) == [1, 2, 3], tag
    with open(os.path.join(resumed.model_run_dir, trainer.TRAINING_SUMMARY_FILE)) as summary_file:
        summary = json.load(summary_file)
    assert summary["optimizer_steps"] == 10 and summary["photos_seen"] == 40 and summary["cpu_minutes"] > 0
    assert summary["model"]["variant"] == "alpha" and "seed" in summary  # what was trained, beside what it cost
    with open(os.path.join(resumed.model_run_dir, "training_log.csv")) as log:
        assert {"ab_mse_vs_constant", "val_ab_mse_vs_constant", "val_ab_mse_vs_gray"} <= set(next(csv.reader(log)))


@pytest.mark.parametrize("train_steps, epochs, plan", [
    (175, 10, (10, 18)), (350, 10, (10, 35)), (5, 4, (3, 2)), (3, 10, (3, 1)), (1, 1, (1, 1))])
def test_epoch_plan_reaches_the_steps_asked_within_the_epochs_asked(train_steps, epochs, plan):
    planned_epochs, steps_per_epoch = trainer.epoch_plan(train_steps, epochs)
    assert (planned_epochs, steps_per_epoch) == plan
    assert planned_epochs <= epochs and (planned_epochs - 1) * steps_per_epoch < train_steps <= planned_epochs * steps_per_epoch


@pytest.mark.slow  # two full run_fn calls (~1.5 min)
def test_warm_start_loads_the_previous_models_weights(tiny_data, tmp_path):
    previous = _fn_args(tiny_data, tmp_path / "previous", _trainer_config({"variant": "alpha"}), train_steps=2)
    trainer.run_fn(previous)
    # learning_rate 0: whatever the second run starts from is what it saves.
    warm = _fn_args(tiny_data, tmp_path / "warm", _trainer_config({"variant": "alpha", "learning_rate": 0.0}),
                    train_steps=2, base_model=previous.serving_model_dir)
    trainer.run_fn(warm)

    def saved_weights(fn_args):
        model = model_lib.build_model(ModelConfig.from_dict(fn_args.custom_config["model"]))
        model.load_weights(os.path.join(os.path.dirname(fn_args.serving_model_dir), trainer.KERAS_WEIGHTS_FILE))
        return model.get_weights()

    fresh = model_lib.build_model(ModelConfig.from_dict(warm.custom_config["model"])).get_weights()
    for before, after, random in zip(saved_weights(previous), saved_weights(warm), fresh):
        np.testing.assert_array_equal(before, after)
        assert before.shape == random.shape


@pytest.mark.slow  # builds every variant in float16 (~30 s); on a CPU the policy check alone says little
def test_mixed_precision_only_with_a_gpu_and_output_stays_float32():
    assert trainer.set_precision_policy() == ("mixed_float16" if tf.config.list_logical_devices("GPU") else "float32")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        for variant in VARIANTS:
            model = model_lib.build_model(ModelConfig.from_dict({**TINY, "variant": variant}))
            assert model.output.dtype == tf.float32
            first_conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
            assert first_conv.compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


_KILLED_RUN = """
import json, sys
import local_training
from colornet.components.model import trainer
spec = json.loads(sys.argv[1])
examples = [local_training.examples_artifact(uri) for uri in spec["examples"]]
trainer.run_fn(local_training.fn_args(spec["graph"], spec["train"], spec["eval"], examples, spec["output"],
                                      spec["config"], spec["steps"]))
"""


@pytest.mark.slow
def test_resumes_after_being_killed(tiny_data, tmp_path):
    graph, examples = tiny_data
    config = _trainer_config({"variant": "beta"}, epochs=6)
    spec = {"graph": graph, "examples": [example.uri for example in examples], "output": str(tmp_path),
            "train": local_training.split_files(examples, ["train"]),
            "eval": local_training.split_files(examples, ["eval"]), "config": config, "steps": 6 * 40}
    process = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, json.dumps(spec)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": os.path.dirname(local_training.__file__)})
    first_checkpoint = tmp_path / "model_run" / "checkpoints" / "ckpt-1.index"
    deadline = time.time() + 300
    while not first_checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    fn_args = _fn_args(tiny_data, tmp_path, config, 6 * 40)
    done_when_killed = _checkpoint_value(fn_args, EPOCHS_DONE)
    assert 1 <= done_when_killed < 6

    trainer.run_fn(fn_args)
    logged = _epochs_logged(fn_args)
    assert logged[-(6 - done_when_killed):] == list(range(done_when_killed, 6))
    assert _checkpoint_value(fn_args, EPOCHS_DONE) == 6
    assert os.path.exists(os.path.join(fn_args.serving_model_dir, "saved_model.pb"))


@pytest.mark.slow
@pytest.mark.parametrize("model", [{"variant": variant} for variant in VARIANTS] +
                         [{"variant": "lite0_unet", "semantic_weight": 0.1}], ids=list(VARIANTS) + ["semantic"])
def test_run_fn_trains_and_exports_each_variant(tiny_data, tmp_path, model):
    fn_args = _fn_args(tiny_data, tmp_path, _trainer_config(model, epochs=2), train_steps=4)
    trainer.run_fn(fn_args)
    assert os.path.exists(os.path.join(fn_args.serving_model_dir, "saved_model.pb"))
    assert _epochs_logged(fn_args) == [0, 1]


def test_the_classification_loss_is_rebalanced_by_the_training_photos_colors():
    """``_bin_weights`` counts the colors of the first training batches: a color they rarely show weighs more
    than the near-gray most pixels have; other losses, and rebalance_mix 1, get no weights."""
    bins = model_lib.losses.ab_bins()
    blue = int(np.argmin(np.sum(np.square(bins - [10.0, -60.0]), axis=-1)))
    gray = int(np.argmin(np.sum(np.square(bins), axis=-1)))
    labels = np.zeros([8, 16, 16, 2], np.float32)
    labels[:, :4, :4] = np.array([10.0, -60.0]) / 128.0  # a blue corner in every photo
    batches = tf.data.Dataset.from_tensor_slices(({"L": np.zeros([8, 16, 16, 1], np.float32)}, labels)).batch(2).repeat()
    config = ModelConfig(variant="lite0_unet", image_size=16, loss="classification")
    weights = trainer._bin_weights(config, batches)
    assert weights.shape == (len(bins),) and weights[blue] > 3 * weights[gray]
    assert trainer._bin_weights(ModelConfig(variant="lite0_unet", image_size=16), batches) is None
    assert trainer._bin_weights(ModelConfig(variant="lite0_unet", image_size=16, loss="classification",
                                            rebalance_mix=1.0), batches) is None
