"""Builds the colornet TFX pipeline from a ``PipelineConfig``; nothing here is runner-specific.

ExampleGen (photos; the newest span) -> StatisticsGen -> ImportSchemaGen (schemas/raw) -> ExampleValidator
-> Transform (RGB -> Lab; the last N spans) -> Trainer (warm start from the last blessed model) -> Evaluator
(beats gray, no regression against the last blessed model) -> Pusher (blessed only).
"""
from tfx import v1 as tfx

from ..components.evaluation.evaluator import eval_config
from ..components.ingestion.component import PhotoExampleGen, span_input_config, stats_options
from ..components.pusher.component import AtomicPusher


def create_pipeline(config, metadata_connection_config=None):
    """The pipeline graph. Runners add metadata, Beam args and orchestration."""
    example_gen = PhotoExampleGen(
        input_base=config.images_dir,
        input_config=span_input_config() if config.spans else None,
        custom_config=config.ingestion.to_dict(),
    )
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], stats_options=stats_options())
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    components = [example_gen, statistics_gen, schema_gen, example_validator]

    training_examples = example_gen.outputs["examples"]
    if config.rolling_spans > 1:
        window = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.SpanRangeStrategy,
            config={"range_config": tfx.proto.RangeConfig(
                rolling_range=tfx.proto.RollingRange(num_spans=config.rolling_spans))},
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
        custom_config=config.model.to_dict(),
    )
    components.append(transform)

    # The last blessed model is both the Trainer's warm start and the Evaluator's baseline.
    blessed_model = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    components.append(blessed_model)

    trainer = tfx.components.Trainer(
        run_fn="colornet.components.model.trainer.run_fn",
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=blessed_model.outputs["model"] if config.warm_start else None,
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.eval_steps),
        custom_config=config.trainer_custom_config,
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=blessed_model.outputs["model"],
        eval_config=eval_config(config.blessing),
    )
    pusher = AtomicPusher(trainer.outputs["model"], evaluator.outputs["blessing"], config.serving_dir).with_id("Pusher")
    components += [trainer, evaluator, pusher]

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=config.beam_args,
    )
