"""`colornet compile` for Vertex AI and for open-source Kubeflow Pipelines, and the resolver-free
"last blessed model" the open-source target runs on.

Each package is loaded the way its consumer loads it: the ``kfp`` YAML with kfp 2.5's own loader
(``kfp.client.client._extract_pipeline_yaml``, what ``create_run_from_pipeline_package`` and
``create_recurring_run`` call), the ``vertex`` JSON strictly as a ``PipelineJob``. With
``COLORNET_KFP_ARGO_COMPILER`` pointing at a build of the KFP backend's Argo compiler (a harness around
``backend/src/v2/compiler/argocompiler``; not part of this repository), a slow test also compiles them
to Argo workflows as the API server does. No cluster runs here: pods, the launcher and the object
store are not exercised.
"""
import json
import logging
import os
import pathlib
import subprocess

import pytest

import yaml
from google.protobuf import json_format
from kfp.client import client as kfp_client
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.orchestration import metadata
from tfx.types import standard_artifacts, standard_component_specs as specs

import local_training
from colornet.components.evaluation.component import without_unpublished_baseline
from colornet.components.pusher import last_blessed
from colornet.pipeline import cli, kubeflow_runner
from colornet.pipeline import pipeline as pipeline_lib
from colornet.schemas.config import PipelineConfig
from export_fixtures import run_pusher

EVERY_COMPONENT = {"PhotoExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
                   "Transform", "Trainer", "Evaluator", "Pusher"}
IMPORTER = "last_blessed_model_importer"
LAST_BLESSED_URI = "gs://bucket/root/tfx/last_blessed/colornet"
CPU_IMAGE, GPU_IMAGE = "example.org/colornet:cpu", "example.org/colornet:gpu"
ARGO_COMPILER = os.environ.get("COLORNET_KFP_ARGO_COMPILER", "")


def _compile(output, *flags):
    return cli.main(["compile", "--images", "gs://bucket/photos", "--workdir", "gs://bucket/root",
                     "--output", str(output), "--container-image", CPU_IMAGE, *flags])


@pytest.fixture(scope="module")
def kfp_package(tmp_path_factory):
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    assert _compile(path, "--target", "kfp", "--trainer-image", GPU_IMAGE, "--trainer-gpu", "nvidia.com/gpu",
                    "--trainer-gpu-count", "2",
                    "--trainer-node-selector", "cloud.google.com/gke-accelerator=nvidia-tesla-t4") == 0
    return path


@pytest.fixture(scope="module")
def kfp_spec(kfp_package):
    """The package as kfp's client loads it, as a dict."""
    return json_format.MessageToDict(kfp_client._extract_pipeline_yaml(str(kfp_package)).pipeline_spec)


@pytest.fixture(scope="module")
def vertex_job(tmp_path_factory):
    path = tmp_path_factory.mktemp("vertex") / "pipeline.json"
    assert _compile(path, "--trainer-image", GPU_IMAGE, "--trainer-gpu", "NVIDIA_TESLA_T4",
                    "--trainer-gpu-count", "2") == 0
    return json.loads(path.read_text())


def _executor(spec, task):
    label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]


def _executor_class(spec, task):
    args = _executor(spec, task)["container"]["args"]
    return args[args.index("--executor_class_path") + 1]


def _producer(spec, task, input_name):
    return spec["root"]["dag"]["tasks"][task]["inputs"]["artifacts"][input_name]["taskOutputArtifact"]["producerTask"]


# --- open-source KFP ---------------------------------------------------------------------------------------


def test_kfp_package_is_what_kfps_client_submits(kfp_package):
    document = kfp_client._extract_pipeline_yaml(str(kfp_package))
    assert document.pipeline_spec.schema_version == "2.1.0"
    assert document.pipeline_spec.pipeline_info.name == "colornet"
    request = document.to_dict()  # the pipeline part of the run / recurring run request
    assert set(request) == {"pipeline_spec", "platform_spec"}
    trainer = request["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["Trainer_executor"]
    assert trainer == {"nodeSelector": {"labels": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}}}


def test_kfp_dag_has_no_resolver_and_imports_the_last_blessed_model(kfp_spec):
    tasks = kfp_spec["root"]["dag"]["tasks"]
    assert set(tasks) == EVERY_COMPONENT | {IMPORTER}
    kinds = {label: sorted(executor) for label, executor in kfp_spec["deploymentSpec"]["executors"].items()}
    assert all(kind in (["container"], ["importer"]) for kind in kinds.values()), kinds
    importer = _executor(kfp_spec, IMPORTER)["importer"]
    assert importer["artifactUri"] == {"constant": LAST_BLESSED_URI}
    assert importer["reimport"] is True
    assert importer["metadata"] == {"tfx_version": tfx.__version__}
    assert _producer(kfp_spec, "Trainer", "base_model") == IMPORTER
    assert _producer(kfp_spec, "Evaluator", "baseline_model") == IMPORTER
    assert _producer(kfp_spec, "Pusher", "model") == "Trainer"
    assert _producer(kfp_spec, "Pusher", "model_blessing") == "Evaluator"
    assert {"Transform", "ImportSchemaGen", IMPORTER} <= set(tasks["Trainer"]["dependentTasks"])
    assert _executor_class(kfp_spec, "Evaluator") == (
        "colornet.components.evaluation.component.BaselineOptionalEvaluatorExecutor")
    assert _executor_class(kfp_spec, "Pusher") == "colornet.components.pusher.executor.AtomicPushExecutor"
    pusher_config = tasks["Pusher"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"]
    assert json.loads(pusher_config) == {"last_blessed_uri": LAST_BLESSED_URI}


def test_kfp_images_and_the_trainers_gpu(kfp_spec):
    for task in EVERY_COMPONENT:
        container = _executor(kfp_spec, task)["container"]
        assert container["image"] == (GPU_IMAGE if task == "Trainer" else CPU_IMAGE), task
        if task != "Trainer":
            assert "accelerator" not in container.get("resources", {}), task
    resources = _executor(kfp_spec, "Trainer")["container"]["resources"]
    assert resources["accelerator"] == {"type": "nvidia.com/gpu", "count": "2"}
    assert (resources["cpuLimit"], resources["memoryLimit"]) == (4.0, 16.0)


def test_kfp_never_caches_example_gen_and_names_its_root(kfp_spec):
    tasks = kfp_spec["root"]["dag"]["tasks"]
    assert tasks["PhotoExampleGen"]["cachingOptions"] == {}  # enableCache false: proto3 drops the default
    assert all(tasks[name]["cachingOptions"] == {"enableCache": True} for name in EVERY_COMPONENT - {"PhotoExampleGen"})
    assert kfp_spec["defaultPipelineRoot"] == "gs://bucket/root/tfx"


@pytest.mark.parametrize("flags, message", [
    (["--spans"], "never runs ExampleGen's driver"),
    (["--trainer-gpu", "NVIDIA_TESLA_T4"], "Kubernetes resource by name"),
    (["--trainer-gpu", "nvidia.com/gpu", "--trainer-gpu-count", "0"], "trainer_gpu_count must be >= 1"),
    (["--trainer-node-selector", "no-equals-sign"], "KEY=VALUE"),
])
def test_kfp_refusals_are_plain_and_write_nothing(tmp_path, capsys, flags, message):
    output = tmp_path / "pipeline.yaml"
    assert _compile(output, "--target", "kfp", *flags) == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_kfp_package_must_be_yaml(tmp_path, capsys):
    assert _compile(tmp_path / "pipeline.json", "--target", "kfp") == 2
    assert ".yaml/.yml packages only" in capsys.readouterr().err


# --- Vertex AI ---------------------------------------------------------------------------------------------


def test_vertex_job_keeps_the_resolver_and_the_accelerator_type(vertex_job):
    json_format.ParseDict(vertex_job, pipeline_spec_pb2.PipelineJob())  # strictly: Vertex's PipelineJob
    spec = vertex_job["pipelineSpec"]
    assert spec["schemaVersion"] == "2.1.0"
    tasks = spec["root"]["dag"]["tasks"]
    assert EVERY_COMPONENT <= set(tasks)
    assert any("resolver" in executor for executor in spec["deploymentSpec"]["executors"].values())
    assert {"Transform", "ImportSchemaGen"} <= set(tasks["Trainer"]["dependentTasks"])
    assert set(tasks["Pusher"]["dependentTasks"]) >= {"Evaluator", "Trainer"}
    trainer = _executor(spec, "Trainer")["container"]
    assert trainer["image"] == GPU_IMAGE
    assert trainer["resources"]["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "2"}
    assert _executor(spec, "Transform")["container"]["image"] == CPU_IMAGE
    assert "accelerator" not in _executor(spec, "Transform")["container"].get("resources", {})
    assert _executor_class(spec, "Evaluator") == (
        "colornet.components.evaluation.component.BaselineOptionalEvaluatorExecutor")


def test_vertex_without_gpu_requests_none(tmp_path):
    output = tmp_path / "pipeline.json"
    assert _compile(output) == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    assert "accelerator" not in _executor(spec, "Trainer")["container"]["resources"]


@pytest.mark.parametrize("flags, message", [
    (["--trainer-gpu", "nvidia.com/gpu"], "accelerator type such as NVIDIA_TESLA_T4"),
    (["--trainer-node-selector", "a=b"], "is for --target kfp"),
])
def test_vertex_refusals(tmp_path, capsys, flags, message):
    assert _compile(tmp_path / "pipeline.json", *flags) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("target", ["vertex", "kfp"])
def test_kubeflow_refuses_a_rolling_window(tmp_path, target):
    config = PipelineConfig(images_dir="gs://b/p", workdir="gs://b/r", spans=True, rolling_spans=3)
    with pytest.raises(ValueError, match="rolling span window"):
        kubeflow_runner.compile_pipeline(config, str(tmp_path / "p.yaml"), kubeflow_runner.KubeflowSettings(target))


# --- the backend's Argo compiler ---------------------------------------------------------------------------


def _argo_compile(package, tmp_path):
    result = subprocess.run([ARGO_COMPILER, str(package), "gs://bucket/root/tfx"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.access(ARGO_COMPILER or "/nonexistent", os.X_OK),
                    reason="COLORNET_KFP_ARGO_COMPILER does not name an executable build of the KFP backend's Argo "
                           "compiler (Go, kubeflow/pipelines backend/src/v2/compiler; not in this repository)")
def test_argo_compiler_accepts_the_kfp_package_and_rejects_resolvers(kfp_package, vertex_job, tmp_path):
    code, out, err = _argo_compile(kfp_package, tmp_path)
    assert code == 0, err
    workflow = yaml.safe_load(out)
    assert workflow["kind"] == "Workflow"
    annotations = workflow["metadata"]["annotations"]
    trainer = json.loads(annotations["pipelines.kubeflow.org/implementations-Trainer"])  # its container spec
    assert trainer["image"] == GPU_IMAGE
    assert trainer["resources"]["accelerator"] == {"type": "nvidia.com/gpu", "count": "2"}
    assert json.loads(annotations["pipelines.kubeflow.org/kubernetes-Trainer"])["nodeSelector"]
    importer = json.loads(annotations[f"pipelines.kubeflow.org/implementations-{IMPORTER}"])
    assert importer["artifactUri"] == {"constant": LAST_BLESSED_URI}

    vertex_spec = tmp_path / "vertex-spec.yaml"
    vertex_spec.write_text(yaml.safe_dump(vertex_job["pipelineSpec"]))
    code, _, err = _argo_compile(vertex_spec, tmp_path)
    assert code != 0 and "resolver" in err.lower()


# --- the last blessed model without resolvers --------------------------------------------------------------


def _model_dir(root, weights):
    """A Model artifact's layout: Format-Serving/ (the SavedModel) and keras_weights.h5."""
    (root / "Format-Serving" / "variables").mkdir(parents=True)
    (root / "Format-Serving" / "saved_model.pb").write_bytes(b"graph " + weights)
    (root / "Format-Serving" / "variables" / f"{weights.decode()}.index").write_bytes(weights)
    (root / "keras_weights.h5").write_bytes(weights)
    return root


def _files(root):
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_pusher_publishes_each_blessed_model_whole_and_nothing_else(tmp_path):
    destination, serving = tmp_path / "last_blessed", tmp_path / "serving"
    assert last_blessed.state(str(destination)) == last_blessed.ABSENT
    first = _model_dir(tmp_path / "first", b"one")
    run_pusher(first, serving, tmp_path / "push1", True, {"last_blessed_uri": str(destination)})
    assert last_blessed.state(str(destination)) == last_blessed.COMPLETE
    assert _files(destination) == _files(first)

    run_pusher(_model_dir(tmp_path / "rejected", b"bad"), serving, tmp_path / "push2", False,
               {"last_blessed_uri": str(destination)})
    assert _files(destination) == _files(first)

    second = _model_dir(tmp_path / "second", b"two")
    run_pusher(second, serving, tmp_path / "push3", True, {"last_blessed_uri": str(destination)})
    assert _files(destination) == _files(second)  # nothing of the first model is left
    assert len(list(serving.iterdir())) == 2  # the serving pushes happened as before


def _model(uri):
    model = standard_artifacts.Model()
    model.uri = str(uri)
    return model


def test_evaluator_drops_a_baseline_never_published_and_refuses_an_interrupted_one(tmp_path):
    inputs = {specs.MODEL_KEY: [_model(tmp_path / "candidate")]}

    absent = {**inputs, specs.BASELINE_MODEL_KEY: [_model(tmp_path / "nothing-yet")]}
    assert without_unpublished_baseline(absent) == inputs

    complete = {**inputs, specs.BASELINE_MODEL_KEY: [_model(_model_dir(tmp_path / "complete", b"w"))]}
    assert without_unpublished_baseline(complete) is complete

    interrupted = _model_dir(tmp_path / "interrupted", b"w")
    (interrupted / "Format-Serving" / "saved_model.pb").unlink()
    with pytest.raises(RuntimeError, match="incomplete .* interrupted"):
        without_unpublished_baseline({**inputs, specs.BASELINE_MODEL_KEY: [_model(interrupted)]})


def _blessings(store):
    blessings = store.store.get_artifacts_by_type(standard_artifacts.ModelBlessing.TYPE_NAME)
    return [{name: value.string_value or value.int_value for name, value in blessing.custom_properties.items()}
            for blessing in sorted(blessings, key=lambda artifact: artifact.id)]


@pytest.mark.slow
def test_importer_graph_first_run_then_warm_start_and_baseline(duotone_photos, tmp_path, caplog):
    """The ``kfp`` target's graph, run twice with the executors its pods would run (LocalDagRunner)."""
    config = PipelineConfig(
        images_dir=str(duotone_photos[0].parent), workdir=str(tmp_path), enable_cache=False,
        model={"variant": "alpha", "image_size": 32}, training={"batch_size": 4, "epochs": 1, "seed": 1},
        train_steps=10, eval_steps=1, beam_args=["--direct_running_mode=in_memory"],
        # Wiring under test, not quality: both runs must bless.
        blessing={**local_training.TINY_PHOTO_GATE, "max_ab_mse_vs_gray": 100.0, "regression_tolerance": 1e6})
    uri = kubeflow_runner.last_blessed_uri(config)
    connection = metadata.sqlite_metadata_connection_config(config.metadata_path)

    def run():
        tfx.orchestration.LocalDagRunner().run(pipeline_lib.create_pipeline(config, connection, last_blessed_uri=uri))

    with caplog.at_level(logging.INFO):
        run()
    assert "No model blessed yet" in caplog.text and "training from scratch" in caplog.text
    assert last_blessed.state(uri) == last_blessed.COMPLETE
    first_weights = (pathlib.Path(uri) / "keras_weights.h5").read_bytes()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        run()
    assert f"Warm start from {uri}/keras_weights.h5" in caplog.text
    with metadata.Metadata(connection) as store:
        first, second = _blessings(store)
    assert first["blessed"] == 1 and "baseline_model" not in first
    assert second["blessed"] == 1 and second["baseline_model"] == uri
    assert (pathlib.Path(uri) / "keras_weights.h5").read_bytes() != first_weights  # the second model replaced it
    assert len(list(pathlib.Path(config.serving_dir).iterdir())) == 2
