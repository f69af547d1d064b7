"""The export step (warm-up requests, self-check) and how colornet's Pusher publishes versions."""
import io
import shutil
import time

import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import prediction_log_pb2

from colornet.components.model import export
from colornet.schemas import serving_contract as contract
from colornet.schemas.serving_contract import loadable_versions
from colornet.serving import warmup
from export_fixtures import exported_model, run_pusher


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory, shared_data):
    return exported_model(tmp_path_factory.getbasetemp() / "export", shared_data)


def test_warmup_file_holds_predict_logs_for_serving_default_with_jpeg_and_png(export_dir):
    path = export_dir / contract.WARMUP_FILE
    records = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
               for record in tf.data.TFRecordDataset(str(path))]
    assert records and all(record.WhichOneof("log_type") == "predict_log" for record in records)
    formats = set()
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.signature_name == contract.SERVING_SIGNATURE
        images = tf.make_ndarray(request.inputs[contract.IMAGES_INPUT])
        formats |= {Image.open(io.BytesIO(image)).format for image in images}
    assert formats == {"JPEG", "PNG"}
    assert max(len(record.predict_log.request.inputs[contract.IMAGES_INPUT].string_val)
               for record in records) == 2  # one request mixes both sizes


def test_warmup_requests_as_the_server_reads_them_run_through_the_loaded_saved_model(export_dir):
    requests = warmup.warmup_requests(export_dir)  # the embedded server's reader of the warm-up file
    outputs = export.run_requests(tf.saved_model.load(str(export_dir)), requests)
    assert [len(output[contract.COLORIZED_OUTPUT]) for output in outputs] == [1, 1, 2]


def test_export_has_every_signature(export_dir):
    loaded = tf.saved_model.load(str(export_dir))
    assert set(loaded.signatures) == {contract.SERVING_SIGNATURE, contract.COLORIZE_AB_SIGNATURE,
                                      contract.TRANSFORM_SIGNATURE, contract.EVALUATE_SIGNATURE}


def test_pushes_in_one_second_get_ordered_versions_that_appear_whole(export_dir, tmp_path, monkeypatch):
    serving_dir = tmp_path / "serving"
    seen_while_copying = []
    real_copytree = shutil.copytree

    def copy_and_look(source, target):
        seen_while_copying.append([path.name for path in serving_dir.glob("[0-9]*")])
        return shutil.copy2(source, target)

    def copytree_watching(src, dst, symlinks=False, ignore=None, _copy_function=None, *rest):
        return real_copytree(src, dst, symlinks, ignore, copy_and_look, *rest)

    monkeypatch.setattr(shutil, "copytree", copytree_watching)
    first = run_pusher(export_dir.parent, serving_dir, tmp_path / "push1", blessed=True)
    second = run_pusher(export_dir.parent, serving_dir, tmp_path / "push2", blessed=True)

    versions = [int(artifact.get_string_custom_property("pushed_version")) for artifact in (first, second)]
    assert versions[0] < versions[1]
    assert versions[0] >= int(time.time()) - 60  # UNIX-time versions, as TF Serving users expect
    assert loadable_versions(serving_dir) == versions  # integer folders, served newest = last pushed
    assert sorted(path.name for path in serving_dir.iterdir()) == [str(v) for v in versions]  # no staging left
    # While version N was being copied, no folder named N existed yet.
    assert seen_while_copying and all(str(versions[1]) not in names for names in seen_while_copying)
    assert (serving_dir / str(versions[1]) / "assets.extra" / "tf_serving_warmup_requests").is_file()


def test_pusher_does_not_push_an_unblessed_model(export_dir, tmp_path):
    pushed = run_pusher(export_dir.parent, tmp_path / "serving", tmp_path / "push", blessed=False)
    assert pushed.get_int_custom_property("pushed") == 0
    assert loadable_versions(tmp_path / "serving") == []
