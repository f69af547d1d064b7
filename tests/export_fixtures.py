"""A real Transform graph and a tiny real colornet model, without running the pipeline.

``write_transform_output`` runs colornet's ``preprocessing_fn`` with tf.Transform's Beam
implementation on in-memory raw examples that follow the curated raw schema
(``schemas/raw/schema.pbtxt``: every feature has shape [1], as in production) and writes
what the Transform component writes: ``transform_fn/``, ``transformed_metadata/`` and the raw
``metadata/``. ``encode`` and ``raw_example`` make photos and serialized raw tf.Examples.

``exported_model`` exports a tiny model through ``components.export`` once per test session
(tracing the Transform layer into four signatures takes ~20 s), for every test module; its
Transform graph is ``transform_graph_dir(base_dir)``, and ``transformed_examples`` makes the
transformed tf.Examples the Evaluator reads.
``run_pusher`` runs colornet's Pusher executor on a Model artifact folder.
"""
import functools
import hashlib
import io
import json
import pathlib
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from PIL import Image
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx.types import standard_artifacts

from colornet.components.ingestion import provenance
from colornet.components.model import export, network as model_lib, transform
from colornet.components.pusher.executor import AtomicPushExecutor
from colornet.schemas.config import ModelConfig
from colornet.schemas import features
from colornet.schemas import RAW_SCHEMA_DIR

SIZE = 32


def encode(rgb, fmt, **options):
    """uint8 array -> encoded bytes (PIL format name: "JPEG", "PNG", ...)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **options)
    return buffer.getvalue()


def raw_metadata():
    schema = text_format.Parse((RAW_SCHEMA_DIR / "schema.pbtxt").read_text(), schema_pb2.Schema())
    return dataset_metadata.DatasetMetadata(schema)


def raw_instance(encoded):
    """A raw example as ingestion writes it (every feature a one-element list)."""
    height, width = tf.io.decode_image(encoded, channels=3).shape[:2]
    return {features.IMAGE: [encoded], features.ID: [b"photo"],
            features.SHA256: [hashlib.sha256(encoded).hexdigest().encode()],
            features.HEIGHT: [height], features.WIDTH: [width],
            **{name: [value.encode()] for name, value in provenance.example_values(None).items()}}


def raw_example(encoded):
    """The serialized tf.Example of ``raw_instance(encoded)``."""
    instance = raw_instance(encoded)
    return tf.train.Example(features=tf.train.Features(
        feature={name: _feature(values) for name, values in instance.items()})).SerializeToString()


def _feature(values):
    values = list(values)
    if isinstance(values[0], bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def transformed_examples(transform_graph_dir, encoded_photos):
    """Serialized transformed tf.Examples of ``encoded_photos``, as the Transform component writes them
    (what the Evaluator reads): the Transform graph at ``transform_graph_dir`` run on their raw examples."""
    tft_output = tft.TFTransformOutput(str(transform_graph_dir))
    raw = tf.io.parse_example(tf.constant([raw_example(encoded) for encoded in encoded_photos]),
                              tft_output.raw_feature_spec())
    stored = {name: tensor.numpy() for name, tensor in tft_output.transform_features_layer()(raw).items()}
    return [tf.train.Example(features=tf.train.Features(feature={
        name: _feature(np.reshape(values[index], [-1]).tolist()) for name, values in stored.items()})).SerializeToString()
        for index in range(len(encoded_photos))]


def write_transform_output(out_dir, encoded_photos, model_settings=None):
    """Analyzes and transforms ``encoded_photos`` with colornet's preprocessing_fn; returns the TFTransformOutput.

    ``model_settings`` (``ModelConfig`` keys, Transform's custom_config) default to the alpha variant at ``SIZE``.
    """
    model_settings = model_settings or {"image_size": SIZE, "variant": "alpha"}
    metadata = raw_metadata()
    instances = [raw_instance(encoded) for encoded in encoded_photos]
    with tft_beam.Context(temp_dir=tempfile.mkdtemp(), force_tf_compat_v1=False):
        _, transform_fn = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: transform.preprocessing_fn(inputs, model_settings))
        _ = transform_fn | tft_beam.WriteTransformFn(str(out_dir))
    metadata_io.write_metadata(metadata, f"{out_dir}/metadata")
    return tft.TFTransformOutput(str(out_dir))


def tiny_model(size=SIZE, seed=0):
    """An untrained alpha model (builds in well under a second)."""
    tf.keras.utils.set_random_seed(seed)
    config = ModelConfig(variant="alpha", image_size=size)
    return model_lib.compile_model(model_lib.build_model(config), config)


def sample_photos(shared_data, sizes):
    """BSDS500 validation photos resized to each (width, height) in ``sizes``, as uint8 RGB arrays."""
    sources = sorted((shared_data / "bsds500" / "val").glob("*.jpg"))
    photos = []
    for source, size in zip(sources, sizes):
        with Image.open(source) as image:
            photos.append(np.asarray(image.convert("RGB").resize(size, Image.BILINEAR)))
    return photos


def training_photos(shared_data):
    """Encoded photos Transform analyzes (colornet's preprocessing_fn has no analyzers; any will do)."""
    return [encode(photo, "JPEG") for photo in sample_photos(shared_data, [(48, 40), (40, 56)])]


def transform_graph_dir(base_dir):
    """Where ``exported_model(base_dir, ...)`` writes the Transform graph it exports."""
    return pathlib.Path(base_dir) / "transform_graph"


@functools.lru_cache(maxsize=None)
def exported_model(base_dir, shared_data):
    """Exports ``tiny_model()`` with ``export.export_serving_model`` where a Trainer would (the Model
    artifact ``<base_dir>/model`` holds ``Format-Serving/``); returns the SavedModel's path."""
    tft_output = write_transform_output(transform_graph_dir(base_dir), training_photos(shared_data))
    export_dir = pathlib.Path(base_dir) / "model" / "Format-Serving"
    return pathlib.Path(export.export_serving_model(tiny_model(), tft_output, SIZE, str(export_dir)))


def run_pusher(model_uri, serving_dir, out_dir, blessed, custom_config=None):
    """Runs colornet's Pusher executor on the Model artifact at ``model_uri``; returns the PushedModel."""
    model = standard_artifacts.Model()
    model.uri = str(model_uri)
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(out_dir / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(out_dir / "pushed")
    exec_properties = {"push_destination": json.dumps({"filesystem": {"base_directory": str(serving_dir)}})}
    if custom_config is not None:
        exec_properties["custom_config"] = json.dumps(custom_config)
    AtomicPushExecutor().Do({"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
                            exec_properties)
    return pushed
