"""A picture of one optimisation step's TensorFlow graph, grouped by the handout's steps.

``nst stylize`` records the graph of its first step in the run's TensorBoard log
(:func:`nst.gatys.optimize.traced`: the GRAPHS tab). Its operations sit in top-level name scopes that
match the handout: ``input`` (the one input variable), ``vgg`` (the network), ``losses`` (content,
style, TV, total), ``gradient_tape`` (the backward pass TensorFlow adds) and ``optimizer`` (the Adam
update). :func:`render_graph` draws one box per scope with its operation count and an arrow for
every pair of scopes that tensors flow between (with how many): a picture that reads at any zoom,
which ``nst course submit --part 1`` packs as ``runs/<run>/graph.png``.
"""
from __future__ import annotations

import io
from pathlib import Path

STEPS = ("input", "vgg", "losses", "gradient_tape", "optimizer")
PLUGIN = "graph_run_metadata_graph"  # what tf.summary.trace_export writes


def read_step_graph(logdir: str | Path):
    """The GraphDef of the first traced step in ``logdir``'s event files (its largest function graph), or None
    if none was traced."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorflow.core.protobuf import config_pb2

    for path in sorted(Path(logdir).rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == PLUGIN and value.tensor.string_val:
                    meta = config_pb2.RunMetadata.FromString(value.tensor.string_val[0])
                    graphs = [g.pre_optimization_graph for g in meta.function_graphs]
                    if graphs:  # the step itself: the largest (small helper functions may be traced beside it)
                        return max(graphs, key=lambda g: len(g.node))
    return None


def scope_of(name: str) -> str:
    """The handout step of an operation: its top-level name scope (a captured tensor's placeholder is named
    ``vgg_conv2d_filter``: its prefix), else ``other``."""
    first = name.split("/", 1)[0]
    return next((s for s in STEPS if first == s or first.startswith(s + "_")), "other")


def scope_summary(graph) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """({scope: operations}, {(from scope, to scope): tensors flowing between them})."""
    counts: dict[str, int] = {}
    scope = {node.name: scope_of(node.name) for node in graph.node}
    edges: dict[tuple[str, str], int] = {}
    for node in graph.node:
        counts[scope[node.name]] = counts.get(scope[node.name], 0) + 1
        for source in node.input:
            origin = scope.get(source.lstrip("^").split(":")[0])
            if origin is not None and origin != scope[node.name]:
                edges[(origin, scope[node.name])] = edges.get((origin, scope[node.name]), 0) + 1
    return counts, edges


def render_graph(logdir: str | Path, output: str | Path) -> Path | None:
    """Draw the scope picture of ``logdir``'s traced step into ``output`` (PNG, atomically); None if no step
    was traced there."""
    graph = read_step_graph(logdir)
    if graph is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nst.images import write_atomic

    counts, edges = scope_summary(graph)
    order = [s for s in (*STEPS, "other") if s in counts]
    x = {s: i * 2.2 for i, s in enumerate(order)}
    fig, ax = plt.subplots(figsize=(2.2 * len(order) + 0.5, 3.2))
    for s in order:
        ax.add_patch(plt.Rectangle((x[s] - 0.8, -0.4), 1.6, 0.8, fill=True, alpha=0.15, edgecolor="black"))
        ax.text(x[s], 0, f"{s}\n{counts[s]} ops", ha="center", va="center", fontsize=10)
    for (a, b), n in sorted(edges.items()):
        forward = x[a] < x[b]
        bend = 0.25 if forward else -0.25
        ax.annotate("", xy=(x[b] - 0.8 if forward else x[b] + 0.8, bend), xytext=(x[a] + 0.8 if forward else x[a] - 0.8, bend),
                    arrowprops={"arrowstyle": "->", "connectionstyle": f"arc3,rad={-0.3 if forward else -0.3}",
                                "alpha": 0.6})
        ax.text((x[a] + x[b]) / 2, 0.95 * (1 if forward else -1), str(n), ha="center", fontsize=7, alpha=0.7)
    ax.set_xlim(-1.1, x[order[-1]] + 1.1)
    ax.set_ylim(-1.4, 1.4)
    ax.axis("off")
    ax.set_title("one optimisation step, by name scope (arrows: tensors between scopes)", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return write_atomic(output, buf.getvalue())
