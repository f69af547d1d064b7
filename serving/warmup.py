"""Model warm-up at load time, TF Serving's way (``--enable_model_warmup``).

A version may ship ``assets.extra/tf_serving_warmup_requests``: a TFRecord of PredictionLogs.
Each PredictRequest in it is replayed before the version turns AVAILABLE, so the first real
requests do not pay for graph optimization and memory allocation. A version that fails its
own warm-up requests fails to load, as in TF Serving. The requests go through the same checks
and budget as clients' requests (``admission.py``).
"""
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from ..schemas import serving_contract as contract
from .admission import Admission
from .limits import ServingLimits
from .predict import run_signature
from .service import request_arrays


def warmup_requests(version_dir):
    """The PredictRequests of a version's warm-up file ([] when it has none)."""
    path = f"{version_dir}/{contract.WARMUP_FILE}"
    if not tf.io.gfile.exists(path):
        return []
    logs = (prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path))
    return [log.predict_log.request for log in logs if log.HasField("predict_log")]


def replay_warmup_requests(loaded, admission=None):
    """Runs each warm-up request against ``loaded``; returns how many ran. Raises on failure."""
    admission = admission or Admission(ServingLimits())
    requests = warmup_requests(loaded.path)
    for request in requests:
        signature_name, inputs = request_arrays(loaded, request, admission.limits)
        run_signature(loaded, signature_name, inputs, admission, request.output_filter)
    return len(requests)
