"""Builds the colornet TFX pipeline from a ``PipelineConfig``; nothing here is runner-specific.

ExampleGen (photos; the newest span) -> StatisticsGen -> ImportSchemaGen (schemas/raw) -> ExampleValidator
-> Transform (RGB -> Lab; the last N spans ingested, see ``span_window``) -> Trainer (warm start from the last blessed model) -> Evaluator
(beats gray and the best constant color, vivid enough, no regression against the last blessed model)
-> Pusher (blessed only).

The last blessed model comes from one of two places:

* ML Metadata, through a ``LatestBlessedModel`` resolver (the default: local runs and Vertex AI).
  A resolver reads the store atomically, needs no copy of the model, and the local rolling span
  window needs resolvers anyway.
* A fixed URI (``last_blessed_uri``) that the Pusher publishes each blessed model to and an Importer
  reads (``components/pusher/last_blessed.py``): for open-source Kubeflow Pipelines, whose Argo
  compiler runs no resolver. The Evaluator then tolerates the first run's empty location.
"""
from tfx import v1 as tfx

from ..components.evaluation.component import BaselineOptionalEvaluator
from ..components.evaluation.evaluator import EVALUATOR_ID, eval_config
from ..components.ingestion.component import PhotoExampleGen, span_input_config, stats_options
from ..components.pusher.component import AtomicPusher
from .beam_options import component_beam_args
from .span_window import LastSpansStrategy

EXAMPLE_GEN_ID = "PhotoExampleGen"
PUSHER_ID = "Pusher"
TRANSFORM_ID = "Transform"
TRAINER_ID = "Trainer"


def _last_blessed_model(last_blessed_uri):
    """(node, its Model channel): a resolver over ML Metadata, or an Importer of ``last_blessed_uri``."""
    if last_blessed_uri is None:
        resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        return resolver, resolver.outputs["model"]
    importer = tfx.dsl.Importer(
        source_uri=last_blessed_uri,
        artifact_type=tfx.types.standard_artifacts.Model,
        # The content behind the URI changes with every push: a new artifact each run, never a cached one.
        reimport=True,
        # Without it, an imported Model counts as pre-1.0 TFX and its SavedModel is looked for in the old
        # layout (serving_model_dir/) under ML Metadata; Kubeflow would use the new one (Format-Serving/).
        custom_properties={"tfx_version": tfx.__version__},
    ).with_id("last_blessed_model_importer")
    return importer, importer.outputs["result"]


def _ingestion_nodes(config, span=None):
    """ExampleGen (the newest span, or span ``span``), StatisticsGen, ImportSchemaGen, ExampleValidator."""
    example_gen = PhotoExampleGen(
        input_base=config.images_dir,
        input_config=span_input_config() if config.spans else None,
        range_config=None if span is None else tfx.proto.RangeConfig(
            static_range=tfx.proto.StaticRange(start_span_number=span, end_span_number=span)),
        custom_config=config.ingestion.to_dict(),
    ).with_id(EXAMPLE_GEN_ID)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], stats_options=stats_options())
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    return example_gen, statistics_gen, schema_gen, example_validator


def create_span_ingestion_pipeline(config, span, metadata_connection_config=None):
    """The pipeline's ingestion and validation nodes alone, on span ``span``: ExampleGen ingests one
    span per execution, so each span a retrain finds not ingested yet, other than the newest, gets
    a run of this first (``span_window``). Same pipeline name and node ids as ``create_pipeline``:
    its Examples are the pipeline's, for the rolling window to find."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=list(_ingestion_nodes(config, span)),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=component_beam_args(config.beam_args),
    )


def create_pipeline(config, metadata_connection_config=None, last_blessed_uri=None):
    """The pipeline graph. Runners add metadata and orchestration.

    ``last_blessed_uri``: None finds the last blessed model with a resolver; a URI keeps it there
    instead (see the module docstring). ``config.beam_args`` go to the components' Beam jobs only.
    """
    example_gen, statistics_gen, schema_gen, example_validator = _ingestion_nodes(config)
    components = [example_gen, statistics_gen, schema_gen, example_validator]

    training_examples = example_gen.outputs["examples"]
    if config.rolling_spans > 1:
        window = tfx.dsl.Resolver(
            strategy_class=LastSpansStrategy,
            config={"num_spans": config.rolling_spans},
            examples=tfx.dsl.Channel(
                type=tfx.types.standard_artifacts.Examples, producer_component_id=example_gen.id),
        ).with_id("rolling_span_resolver")
        window.add_upstream_node(example_gen)  # resolve after this run's span is ingested
        training_examples = window.outputs["examples"]
        components.append(window)

    transform = tfx.components.Transform(
        examples=training_examples,
        schema=schema_gen.outputs["schema"],
        preprocessing_fn="colornet.components.model.transform.preprocessing_fn",
        custom_config=config.model.transform_settings(),
    ).with_id(TRANSFORM_ID)
    components.append(transform)

    # The last blessed model is both the Trainer's warm start and the Evaluator's baseline.
    blessed_node, blessed_model = _last_blessed_model(last_blessed_uri)
    components.append(blessed_node)

    trainer = tfx.components.Trainer(
        run_fn="colornet.components.model.trainer.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=blessed_model if config.warm_start else None,
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.eval_steps),
        custom_config=config.trainer_custom_config,
    ).with_id(TRAINER_ID)
    # The Evaluator reads the examples Transform wrote (their eval split), so each photo's Transform graph ran
    # once, in Transform: the model's decode signature gives the label, its evaluate signature the prediction.
    evaluator = BaselineOptionalEvaluator(
        examples=transform.outputs["transformed_examples"],
        model=trainer.outputs["model"],
        baseline_model=blessed_model,
        eval_config=eval_config(config.blessing),
    ).with_id(EVALUATOR_ID)
    pusher = AtomicPusher(trainer.outputs["model"], evaluator.outputs["blessing"], config.serving_dir,
                          last_blessed_uri=last_blessed_uri).with_id(PUSHER_ID)
    components += [trainer, evaluator, pusher]

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=component_beam_args(config.beam_args),
    )
