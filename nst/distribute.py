"""Training on several machines: ``tf.distribute.MultiWorkerMirroredStrategy`` from ``TF_CONFIG``.

A cluster is W worker processes (one per machine, each using its local devices). Every worker
runs the same command with its own ``TF_CONFIG``::

    {"cluster": {"worker": ["host0:23456", "host1:23456"]}, "task": {"type": "worker", "index": 0}}

(or ``--workers host0:23456,host1:23456 --worker-index 0``, or a ``cluster: {workers: [...]}``
section in the YAML plus ``--worker-index``). Worker 0 (or a task of type ``chief``) is the chief.

The global batch B is split: worker w reads only its slice of every global batch (B/W
elements of the seeded stream), and its R local replicas each take B/(W R) of that slice. Each
replica's loss is the mean over its own images, scaled by 1/(W R) before the gradients are
summed over all replicas: the sum is the gradient of the mean over the global batch, as on one
device.

Writing: only the chief writes checkpoints, TensorBoard and the model. The other workers take
part in every save (saving may need collectives) but write into a scratch folder that is removed
at the end. Every worker restores from the chief's checkpoint when it starts, so the output
folder must be on a file system all machines share. A worker that dies stops the others at
their next collective; the launcher restarts all of them with the same command, and they resume
from the chief's last checkpoint (distributed.md of the docs).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from nst.errors import NstError


def cluster_config(workers, index: int | None) -> dict:
    """The ``TF_CONFIG`` mapping for worker ``index`` of ``workers`` (``"h:p,h:p"`` or a list of ``"h:p"``)."""
    if isinstance(workers, str):
        workers = [w.strip() for w in workers.split(",") if w.strip()]
    if not isinstance(workers, (list, tuple)) or not workers:
        raise NstError(f"workers must be a list of host:port addresses, got {workers!r}")
    for address in workers:
        host, _, port = str(address).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise NstError(f"worker address {address!r} is not host:port")
    if len(set(map(str, workers))) != len(workers):
        raise NstError(f"worker addresses repeat: {', '.join(map(str, workers))}")
    if index is None:
        raise NstError(f"{len(workers)} workers named: also give this worker's --worker-index (0..{len(workers) - 1})")
    if not 0 <= int(index) < len(workers):
        raise NstError(f"--worker-index {index} is not in 0..{len(workers) - 1}")
    return {"cluster": {"worker": [str(w) for w in workers]}, "task": {"type": "worker", "index": int(index)}}


def configure(workers=None, index: int | None = None, cluster: dict | None = None) -> None:
    """Set ``TF_CONFIG`` from ``--workers`` (wins) or a YAML ``cluster: {workers: [...]}``; else leave it."""
    if workers is None and cluster:
        if not isinstance(cluster, dict) or set(cluster) != {"workers"}:
            raise NstError(f"cluster: expected a mapping with one key, workers (a list of host:port), got {cluster!r}")
        workers = cluster["workers"]
    if workers is None:
        if index is not None:
            raise NstError("--worker-index needs --workers (or a cluster: section in the config)")
        return
    os.environ["TF_CONFIG"] = json.dumps(cluster_config(workers, index))


def tf_config() -> dict:
    """``TF_CONFIG`` parsed ({} when unset); a clear error when it is not JSON."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise NstError(f"TF_CONFIG is not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cluster", {}), dict):
        raise NstError("TF_CONFIG must be a mapping with cluster and task")
    return data


def num_workers() -> int:
    """Worker processes in the cluster (chief included): 1 without ``TF_CONFIG``."""
    cluster = tf_config().get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))


def worker_index() -> int:
    """This process's place 0..W-1 among the workers (the chief is 0)."""
    config = tf_config()
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = bool(config.get("cluster", {}).get("chief"))
    if kind == "chief":
        return 0
    if kind != "worker":
        raise NstError(f"TF_CONFIG task type {kind!r}: only chief and worker tasks train")
    return index + 1 if has_chief else index


def is_chief() -> bool:
    """True on the one process that writes checkpoints, TensorBoard and the model."""
    return worker_index() == 0


def multi_worker_strategy():
    """``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers, else None.

    Create it before any other TensorFlow work in the process (TensorFlow's rule).
    """
    if num_workers() < 2:
        return None
    worker_index()  # validates the task
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def local_replicas(strategy) -> int:
    """Replicas on this worker: the strategy's replicas over the number of workers."""
    workers = num_workers() if _is_multi_worker(strategy) else 1
    return max(1, strategy.num_replicas_in_sync // workers)


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def shard(strategy) -> tuple[int, int]:
    """(this worker's index, number of workers) under ``strategy``; (0, 1) on one machine."""
    return (worker_index(), num_workers()) if _is_multi_worker(strategy) else (0, 1)


def worker_batch(batch_size: int, workers: int) -> int:
    """B / W, the images of each global batch that one worker reads (an error unless W divides B)."""
    if batch_size % workers:
        raise NstError(f"batch_size {batch_size} must be a multiple of the {workers} workers")
    return batch_size // workers


@contextlib.contextmanager
def output_root(path: str | Path, strategy=None):
    """``path`` on the chief; on every other worker a scratch folder, removed when the block ends."""
    if strategy is None or not _is_multi_worker(strategy) or is_chief():
        yield Path(path)
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"nst-worker{worker_index()}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def all_max(strategy, value: int) -> int:
    """The largest of every worker's ``value`` (each worker passes its own)."""
    if strategy.num_replicas_in_sync == 1 or not _is_multi_worker(strategy):
        return int(value)
    import tensorflow as tf

    local = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant([int(value)], tf.int64))
    return int(tf.reduce_max(strategy.gather(local, axis=0)))


@contextlib.contextmanager
def lost_worker_errors():
    """A worker gone mid-run (TensorFlow aborts the collectives with ``UnavailableError``) becomes one
    ``NstError`` line saying what to do: restart every worker; they resume from the last checkpoint."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.UnavailableError as e:
        if num_workers() < 2:
            raise
        lines = [line.strip() for line in (e.message or str(e)).splitlines() if line.strip()] or ["unavailable"]
        why = next((line for line in lines if re.search(r"reset|down|refused|unavailable", line, re.I)), lines[0])
        raise NstError(f"a worker of the cluster is gone ({why[:160]}); start every worker again with the same "
                       "command: they resume from the chief's last checkpoint") from None
