"""``PhotoExampleGen``: a FileBasedExampleGen for folders of photos, and its input/output configs.

    example_gen = PhotoExampleGen(input_base=images_dir)                   # whole folder, eval 33% by hash
    example_gen = PhotoExampleGen(input_base=images_dir, input_config=span_input_config(),
                                  custom_config={"max_side": 512})         # latest images/span-N/

Defaults:
  * input: one split whose pattern ``*`` takes every file under ``input_base``, nested folders
    included (folders a pattern matches are taken recursively; see ``listing``).
  * output: train/eval split by hash buckets over the ``sha256`` feature (``eval_percent`` of the
    ingestion config, 33 by default), i.e. decided by the photo's
    content: a photo keeps its split across runs, renames and moves.
  * spans: ``span_input_config()`` reads ``<input_base>/span-{SPAN}/``; ExampleGen's driver picks
    the latest span unless ``range_config`` asks for another.

Note on caching: ExampleGen's driver fingerprints only what the top-level glob matches (for ``*``:
the files and folder entries directly under ``input_base``, by size and mtime). A folder's mtime
changes when files are added to or removed from it, not when a file deeper down is edited in place.
"""
import math
from typing import Any, Mapping, Optional, Union

import tensorflow_data_validation as tfdv
from google.protobuf import any_pb2, struct_pb2
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2

from ...schemas.config import IngestionConfig
from ...schemas import RAW_SCHEMA_PATH, features
from .executor import PhotoExampleGenExecutor

WHOLE_FOLDER_PATTERN = "*"
SPAN_PATTERN = "span-{SPAN}/*"


def default_input_config(pattern: str = WHOLE_FOLDER_PATTERN) -> example_gen_pb2.Input:
    """One input split taking every photo under input_base (recursively) matching ``pattern``."""
    return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)])


def span_input_config() -> example_gen_pb2.Input:
    """Span folders: ``<input_base>/span-1/``, ``span-2/``, ...; the latest is ingested by default."""
    return default_input_config(SPAN_PATTERN)


def split_output_config(eval_percent: int = IngestionConfig().eval_percent) -> example_gen_pb2.Output:
    """train:eval = (100 - eval_percent):eval_percent by content hash, so a photo never changes split."""
    common = math.gcd(100 - eval_percent, eval_percent)
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=(100 - eval_percent) // common),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_percent // common)],
        partition_feature_name=features.SHA256))


def to_custom_config(values: Optional[Mapping[str, Any]]) -> Optional[example_gen_pb2.CustomConfig]:
    """A dict of ingestion options -> the ``CustomConfig`` proto ExampleGen carries (a Struct packed in an Any).

    The dict is validated here, when the pipeline is built, not only when the executor runs.
    """
    if values is None:
        return None
    IngestionConfig.from_dict(values)
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def stats_options(image_stats: bool = False, image_stats_sample_rate: float = 0.1) -> tfdv.StatsOptions:
    """StatisticsGen options for raw photo examples (serializable, as StatisticsGen requires).

    Without a schema, TFDV treats the ``image`` feature as a categorical string and runs its top-k /
    unique-value sketches over every photo's bytes (memory for nothing, and non-UTF-8 placeholders
    in the report; older TFDV also logged a warning per value, tensorflow/tfx#1622). Carrying the
    curated raw schema in the options marks ``image`` as ``image_domain``, which TFDV treats as raw
    bytes: only byte-size statistics are computed for it. ``stats_options.schema`` takes precedence
    over StatisticsGen's ``schema`` channel. ``image_stats=True`` adds TFDV's semantic-domain
    statistics (image formats and sizes), which decode a sample of the photos: off by default, as
    it costs a decode per photo.
    """
    options = tfdv.StatsOptions(schema=tfdv.load_schema_text(str(RAW_SCHEMA_PATH)))
    if image_stats:
        options.enable_semantic_domain_stats = True
        options.semantic_domain_stats_sample_rate = image_stats_sample_rate
    return options


class PhotoExampleGen(FileBasedExampleGen):
    """FileBasedExampleGen over photo files, with colornet's defaults and ``custom_config`` as a dict.

    ``custom_config`` keys (see ``schemas/config.py``, ``IngestionConfig``): min_side, max_pixels, max_side,
    grayscale_threshold. A ``CustomConfig`` proto carrying a Struct is accepted too.
    """

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(PhotoExampleGenExecutor)

    def __init__(self,
                 input_base: Optional[str] = None,
                 input_config: Optional[example_gen_pb2.Input] = None,
                 output_config: Optional[example_gen_pb2.Output] = None,
                 range_config: Optional[range_config_pb2.RangeConfig] = None,
                 custom_config: Optional[Union[Mapping[str, Any], example_gen_pb2.CustomConfig]] = None):
        eval_percent = IngestionConfig().eval_percent
        if custom_config is not None and not isinstance(custom_config, example_gen_pb2.CustomConfig):
            eval_percent = IngestionConfig.from_dict(custom_config).eval_percent
            custom_config = to_custom_config(custom_config)
        super().__init__(
            input_base=input_base,
            input_config=input_config or default_input_config(),
            output_config=output_config or split_output_config(eval_percent),
            custom_config=custom_config,
            range_config=range_config)
