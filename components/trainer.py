"""Trainer module: ``run_fn`` trains a colorization model on Transform's (L, ab) examples.

Configuration comes from the Trainer's ``custom_config`` (see ``ModelConfig`` and
``TrainingConfig``); steps from ``TrainArgs``/``EvalArgs``. Runs on every visible GPU
(MirroredStrategy) or on the CPU.
"""
import dataclasses
import logging
import os

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

from colornet.components import features, model as model_lib, signatures
from colornet.components.augmentation import augment

KERAS_WEIGHTS_FILE = "keras_weights.h5"


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How to train (the model's own settings are in ``ModelConfig``)."""

    batch_size: int = 8
    epochs: int = 1
    augment: bool = True
    shuffle_buffer: int = 64

    @classmethod
    def from_dict(cls, values):
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in (values or {}).items() if key in names})


def distribution_strategy():
    """MirroredStrategy over the visible GPUs, else the default (CPU) strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        logging.info("Training on %d GPU(s) with MirroredStrategy", len(gpus))
        return tf.distribute.MirroredStrategy()
    logging.info("No GPU visible: training on the CPU")
    return tf.distribute.get_strategy()


def make_dataset(file_pattern, data_accessor, tft_output, size, training, config):
    """Batches of (L [size, size, 1], ab [size, size, 2]) from transformed examples; repeats forever."""
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=config.batch_size, label_key=features.AB, shuffle=training),
        tft_output.transformed_metadata.schema,
    )

    def reshape(transformed, ab):
        return model_lib.model_inputs(transformed, size), tf.reshape(ab, [-1, size, size, 2])

    dataset = dataset.map(reshape, num_parallel_calls=tf.data.AUTOTUNE)
    if training and config.augment:
        dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def warm_start(model, base_model_dir):
    """Loads the weights a previous Trainer run saved beside its serving model, when they fit."""
    weights = os.path.join(os.path.dirname(base_model_dir.rstrip("/")), KERAS_WEIGHTS_FILE)
    if not tf.io.gfile.exists(weights):
        logging.warning("Base model %s has no %s: training from scratch", base_model_dir, KERAS_WEIGHTS_FILE)
        return False
    try:
        model.load_weights(weights)
    except ValueError as error:  # a different variant or size: its weights cannot be reused
        logging.warning("Cannot warm start from %s (%s): training from scratch", weights, error)
        return False
    logging.info("Warm start from %s", weights)
    return True


def run_fn(fn_args):
    """TFX Trainer entry point."""
    model_config = model_lib.ModelConfig.from_dict(fn_args.custom_config)
    training = TrainingConfig.from_dict(fn_args.custom_config)
    size = model_config.image_size
    tft_output = tft.TFTransformOutput(fn_args.transform_output)

    train_ds = make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, size, True, training)
    eval_ds = make_dataset(fn_args.eval_files, fn_args.data_accessor, tft_output, size, False, training)

    with distribution_strategy().scope():
        model = model_lib.compile_model(model_lib.build_model(model_config), model_config)
    if fn_args.base_model:
        warm_start(model, fn_args.base_model)

    epochs = max(1, training.epochs)
    model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=max(1, fn_args.train_steps // epochs),
        validation_data=eval_ds,
        validation_steps=max(1, fn_args.eval_steps or 1),
        callbacks=[keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch")],
        verbose=2,
    )
    model.save_weights(os.path.join(os.path.dirname(fn_args.serving_model_dir.rstrip("/")), KERAS_WEIGHTS_FILE))
    model.save(fn_args.serving_model_dir, save_format="tf",
               signatures=signatures.build_signatures(model, tft_output, size))
