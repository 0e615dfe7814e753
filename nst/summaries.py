"""Reading TensorBoard event files back: loss curves as numbers and as a PNG."""
from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

from nst.errors import NstError


def read_scalars(logdir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from every event file under ``logdir``, sorted by step."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    files = sorted(Path(logdir).rglob("events.out.tfevents.*"))
    if not files:
        raise NstError(f"{logdir}: no TensorBoard event files found")
    series: dict[str, dict[int, float]] = defaultdict(dict)
    for path in files:
        prefix = str(path.parent.relative_to(logdir))
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars" and not value.HasField("simple_value"):
                    continue
                number = value.simple_value if value.HasField("simple_value") else float(tf.make_ndarray(value.tensor))
                tag = value.tag if prefix == "." else f"{prefix}/{value.tag}"
                series[tag][int(event.step)] = number
    return {tag: sorted(points.items()) for tag, points in sorted(series.items())}


def plot_loss_curves(logdir: str | Path, output: str | Path) -> Path:
    """Plot every loss scalar (log scale, one panel each) into a PNG, written atomically. A scalar that is
    0 at every step (a term whose weight is 0, such as TV with --tv-weight 0) gets no panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nst.images import write_atomic

    logdir = Path(logdir)
    if (logdir / "logs").is_dir():
        logdir = logdir / "logs"
    series = read_scalars(logdir)
    if not series:
        raise NstError(f"{logdir}: the event files hold no scalars")
    series = {tag: points for tag, points in series.items() if any(v != 0 for _, v in points)} or series
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3.2), squeeze=False)
    for ax, (tag, points) in zip(axes[0], series.items()):
        steps, values = zip(*points)
        ax.plot(steps, values)
        if min(values) > 0:
            ax.set_yscale("log")
        ax.set_title(tag)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return write_atomic(output, buf.getvalue())
