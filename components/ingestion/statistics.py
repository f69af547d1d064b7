"""StatisticsGen options for raw photo examples.

    StatisticsGen(examples=example_gen.outputs["examples"], stats_options=stats_options())

Why: without a schema, TFDV treats the ``image`` feature as a categorical string and runs its
top-k / unique-value sketches over every photo's bytes (memory for nothing, and non-UTF-8
placeholders in the report; older TFDV also logged a warning per value, tensorflow/tfx#1622).
Carrying the curated raw schema in the options marks ``image`` as ``image_domain``, which TFDV
treats as raw bytes: only byte-size statistics (avg/min/max bytes) are computed for it.
When ``stats_options.schema`` is set it takes precedence over StatisticsGen's ``schema`` channel.

``image_stats=True`` adds TFDV's semantic-domain statistics (image formats and sizes), which decode
a sample of the photos (``image_stats_sample_rate``): off by default, as it costs a decode per photo.
"""
import tensorflow_data_validation as tfdv

from colornet.schemas import RAW_SCHEMA_PATH


def stats_options(image_stats: bool = False, image_stats_sample_rate: float = 0.1) -> tfdv.StatsOptions:
    """Options for StatisticsGen over raw photo examples (serializable, as StatisticsGen requires)."""
    options = tfdv.StatsOptions(schema=tfdv.load_schema_text(str(RAW_SCHEMA_PATH)))
    if image_stats:
        options.enable_semantic_domain_stats = True
        options.semantic_domain_stats_sample_rate = image_stats_sample_rate
    return options
