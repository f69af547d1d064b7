"""The export step (warm-up requests, self-check) and how TFX's filesystem Pusher publishes versions."""
import io
import json
import time

import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import prediction_log_pb2
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from colornet.components import export, features, signatures
from colornet.serving.model_store import loadable_versions
from export_fixtures import exported_model


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, shared_data):
    return exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)


def test_warmup_file_holds_predict_logs_for_serving_default_with_jpeg_and_png(export_dir):
    path = export_dir / "assets.extra" / "tf_serving_warmup_requests"
    records = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
               for record in tf.data.TFRecordDataset(str(path))]
    assert records and all(record.WhichOneof("log_type") == "predict_log" for record in records)
    formats = set()
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.signature_name == signatures.SERVING_SIGNATURE
        images = tf.make_ndarray(request.inputs[features.SERVING_INPUT])
        formats |= {Image.open(io.BytesIO(image)).format for image in images}
    assert formats == {"JPEG", "PNG"}
    assert max(len(record.predict_log.request.inputs[features.SERVING_INPUT].string_val)
               for record in records) == 2  # one request mixes both sizes


def test_warmup_requests_replay_through_the_loaded_saved_model(export_dir):
    outputs = export.replay_warmup_requests(tf.saved_model.load(str(export_dir)), str(export_dir))
    assert [len(output[features.SERVING_OUTPUT]) for output in outputs] == [1, 1, 2]


def test_export_has_every_signature(export_dir):
    loaded = tf.saved_model.load(str(export_dir))
    assert set(loaded.signatures) == {"serving_default", "colorize_ab", "transform_features", "evaluate"}


def _push(model_uri, serving_dir, out_dir, blessed):
    """Runs TFX's own Pusher executor on the Model artifact at ``model_uri``; returns the PushedModel."""
    model = standard_artifacts.Model()
    model.uri = str(model_uri)
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(out_dir / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(out_dir / "pushed")
    destination = {"filesystem": {"base_directory": str(serving_dir)}}
    pusher_executor.Executor().Do(
        {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]},
        {"push_destination": json.dumps(destination)})
    return pushed


def test_pusher_versions_sort_in_push_order_and_saved_model_pb_is_copied_last(
        export_dir, tmp_path, monkeypatch):
    copied = []
    real_copy = fileio.copy

    def recording_copy(source, target, *args, **kwargs):
        copied.append(str(target))
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(fileio, "copy", recording_copy)
    serving_dir = tmp_path / "serving"
    first = _push(export_dir.parent, serving_dir, tmp_path / "push1", blessed=True)
    time.sleep(1.1)  # versions are whole seconds; a push in the same second would be skipped
    second = _push(export_dir.parent, serving_dir, tmp_path / "push2", blessed=True)

    versions = [int(artifact.get_string_custom_property("pushed_version")) for artifact in (first, second)]
    assert versions[0] < versions[1]
    assert loadable_versions(serving_dir) == versions  # integer folders, served newest = last pushed
    assert all(len(str(version)) == len(str(versions[0])) for version in versions)  # same digits: text order too

    first_push = [path for path in copied if f"/{versions[0]}/" in path]
    assert first_push[-1].endswith(f"/{versions[0]}/saved_model.pb")
    assert sum(path.endswith("saved_model.pb") for path in first_push) == 1
    assert (serving_dir / str(versions[1]) / "assets.extra" / "tf_serving_warmup_requests").is_file()


def test_pusher_does_not_push_an_unblessed_model(export_dir, tmp_path):
    pushed = _push(export_dir.parent, tmp_path / "serving", tmp_path / "push", blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert loadable_versions(tmp_path / "serving") == []
