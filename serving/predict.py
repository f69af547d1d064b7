"""Running one signature of a loaded version on a request's arrays, within the server's budget.

Transport-neutral: the gRPC servicer turns TensorProtos into arrays with
``admission.tensor_to_array``, the REST handler turns JSON into arrays (``json_tensor.py``); both
call ``run_signature`` and map ``ServingError.code`` (a ``grpc.StatusCode``) to their own replies.

A request runs in slices of ``max_execution_batch_size`` photos; each slice waits for its
pixels and a graph-run slot (``Admission.running``). Photos are judged one by one: a photo over
the per-photo pixel limit, or with an unreadable header, is blanked before the graph sees it and
reported in the signature's ``errors`` output beside the graph's own per-photo errors. A request
whose photos all failed answers INVALID_ARGUMENT naming each one; so does a request with some
failed photos that did not ask for ``errors`` (its ``output_filter`` leaves it out), so that no
client takes an empty PNG for a result.
"""
import collections
import re

import grpc
import numpy as np
import tensorflow as tf

from ..schemas import serving_contract as contract
from .admission import check_request_pixels, check_shape, price_photos
from .errors import ServingError, clipped

_NODE_NOISE = re.compile(r"\{\{function_node [^}]*\}\}|\[\[\{\{node [^]]*\]\]|\[Op:[^]]*\]")


def _tf_message(error):
    """The human part of a TF op error (without function/node names)."""
    return " ".join(_NODE_NOISE.sub(" ", error.message).split())


def signature_def(loaded, signature_name):
    """The SignatureDef of a signature the request may run; ServingError when there is no such signature."""
    try:
        definition = loaded.signature_defs[signature_name]
    except KeyError:
        # TF Serving's gRPC code (predict_util.cc) and REST wording (http_rest_api_handler.cc).
        raise ServingError(grpc.StatusCode.FAILED_PRECONDITION,
                           f'Serving signature name: "{clipped(signature_name)}" not found in signature def '
                           f"(available: {sorted(loaded.signature_defs)})") from None
    if loaded.signature(signature_name) is None:
        # TF2's __saved_model_init_op: listed in the metadata, but no inputs and nothing to call.
        # TF Serving's REST API refuses a signature without inputs with this wording.
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"Failed to get input map for signature: {signature_name}")
    return definition


def _names(names):
    return sorted(clipped(name) for name in names)


def check_names(definition, signature_name, input_names, output_filter=()):
    """Raises INVALID_ARGUMENT unless the inputs are exactly the signature's and the filter names its outputs,
    each once (TF Serving's "duplicate output tensor alias")."""
    expected, given = set(definition.inputs), set(input_names)
    if expected != given:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} takes inputs {sorted(expected)}, got {_names(given)}")
    unknown_outputs = set(output_filter) - set(definition.outputs)
    if unknown_outputs:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"output_filter names {_names(unknown_outputs)} are not outputs of signature "
                           f"{signature_name!r} (outputs: {sorted(definition.outputs)})")
    repeated = collections.Counter(output_filter) - collections.Counter(set(output_filter))
    if repeated:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"duplicate output tensor alias: {min(repeated)}")


def _describe_failures(reasons, count):
    """'2 of 3 photos could not be colorized: photos [0, 2]: <reason>' (indices grouped by reason)."""
    by_reason = collections.defaultdict(list)
    for index, reason in sorted(reasons.items()):
        by_reason[reason].append(index)
    parts = [f"photos {indices}: {reason}" for reason, indices in by_reason.items()]
    return f"{len(reasons)} of {count} photos could not be colorized: " + "; ".join(parts)


def _batch_size(definition, arrays):
    """The common dimension 0 of the inputs when the request may run in slices along it, else None."""
    sizes = {array.shape[0] if array.ndim else None for array in arrays.values()}
    outputs_batched = all(not info.tensor_shape.unknown_rank and info.tensor_shape.dim
                          and info.tensor_shape.dim[0].size == -1 for info in definition.outputs.values())
    return sizes.pop() if len(sizes) == 1 and None not in sizes and outputs_batched else None


def _call(function, signature_name, arrays, definition):
    tensors = {}
    for name, array in arrays.items():
        dtype = tf.as_dtype(definition.inputs[name].dtype)
        try:
            tensors[name] = tf.convert_to_tensor(array, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"input {name!r} cannot be converted to {dtype.name}: {error}") from None
    try:
        outputs = function(**tensors)
    except tf.errors.InvalidArgumentError as error:
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} rejected the input: {_tf_message(error)}") from None
    except (TypeError, ValueError) as error:  # shapes the signature does not accept
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"signature {signature_name!r} does not accept these inputs: {error}") from None
    except tf.errors.ResourceExhaustedError as error:
        raise ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, _tf_message(error)) from None
    except tf.errors.OpError as error:
        raise ServingError(grpc.StatusCode.INTERNAL, _tf_message(error)) from None
    return {name: np.asarray(tensor.numpy()) for name, tensor in outputs.items()}


def run_signature(loaded, signature_name, arrays, admission, output_filter=()):
    """Runs ``signature_name`` of ``loaded`` on ``arrays`` (name -> numpy array, already shape-checked).

    Returns name -> numpy array, only the names in ``output_filter`` when it is given. Raises
    ServingError for anything the caller got wrong or the server cannot afford now.
    """
    definition = signature_def(loaded, signature_name)
    check_names(definition, signature_name, arrays, output_filter)
    limits = admission.limits
    per_photo_errors = contract.ERRORS_OUTPUT in definition.outputs
    arrays = dict(arrays)
    refused, pixels = {}, None
    for name, array in arrays.items():
        check_shape(name, list(array.shape), definition.inputs[name], limits)
        if array.dtype != object:
            continue
        prices = price_photos(name, array, limits)
        if prices.refused and not (per_photo_errors and array.ndim == 1):
            index, reason = next(iter(prices.refused.items()))
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r}[{index}] is {reason}")
        if prices.refused:
            array = array.copy()
            array[list(prices.refused)] = b""  # the graph reports it without decoding anything
            arrays[name] = array
            refused.update(prices.refused)
        pixels = prices.pixels if pixels is None else [a + b for a, b in zip(pixels, prices.pixels)]
    pixels = pixels or [0]
    check_request_pixels(sum(pixels), limits)

    function = loaded.signature(signature_name)
    batch = _batch_size(definition, arrays)
    step = limits.max_execution_batch_size
    if batch is None or batch <= step:
        with admission.running(sum(pixels)):
            outputs = _call(function, signature_name, arrays, definition)
    else:
        parts = []
        for start in range(0, batch, step):
            part = {name: array[start:start + step] for name, array in arrays.items()}
            with admission.running(sum(pixels[start:start + step])):
                parts.append(_call(function, signature_name, part, definition))
        outputs = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    if per_photo_errors and contract.ERRORS_OUTPUT in outputs:
        errors = outputs[contract.ERRORS_OUTPUT]
        for index, reason in refused.items():
            errors[index] = reason.encode()
        failed = {index: error.decode(errors="replace") for index, error in enumerate(errors) if error}
        if failed and (len(failed) == len(errors) or
                       (output_filter and contract.ERRORS_OUTPUT not in output_filter)):
            hint = "" if len(failed) == len(errors) else (
                f" (ask for the {contract.ERRORS_OUTPUT!r} output to get the other photos' results)")
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, _describe_failures(failed, len(errors)) + hint)
    wanted = set(output_filter) or set(outputs)
    return {name: array for name, array in outputs.items() if name in wanted}
