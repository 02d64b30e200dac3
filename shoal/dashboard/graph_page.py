"""The ``/graph`` page: the current computation's task graph, coloured by task state.

Tasks are laid out in layers by dependency depth (roots at the top), in
submission order within a layer. Above ``dashboard.graph-limit`` tasks the
page shows a message instead of the plot, so a huge graph never reaches the
browser. Each update reads at most ``graph-limit`` task states.
"""

from __future__ import annotations

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, HoverTool
from bokeh.plotting import figure

from .pages import STATE_COLOURS

#: Colours of the states a task can be in after its computation (not counted on /status).
OTHER_STATE_COLOURS = {"released": "#eeeeee", "forgotten": "#ffffff"}


def graph_layout(computation) -> tuple[dict, dict]:
    """Node and edge columns for ``computation`` (a ``Computation``): x is the
    position in the task's depth layer, y minus its depth.

    >>> from shoal.dashboard.computation import Computation
    >>> from types import SimpleNamespace as Rec
    >>> a, b = Rec(key="a", dependencies=[]), Rec(key="b", dependencies=[])
    >>> c = Rec(key="c", dependencies=[a, b])
    >>> comp = Computation(); comp.add_tasks([a, b, c])
    >>> nodes, edges = graph_layout(comp)
    >>> list(zip(nodes["key"], nodes["x"], nodes["y"]))
    [('a', -0.5, 0), ('b', 0.5, 0), ('c', 0.0, -1)]
    >>> edges["xs"]
    [[-0.5, 0.0], [0.5, 0.0]]
    """
    layers: dict = {}
    for key, depth in computation.depth.items():
        layers.setdefault(depth, []).append(key)
    position: dict = {}
    for depth, keys in layers.items():
        middle = (len(keys) - 1) / 2  # centre each layer on x = 0
        for i, key in enumerate(keys):
            position[key] = (i - middle, -depth)
    keys = list(computation.depth)
    nodes = {"key": [str(k) for k in keys], "prefix": [computation.prefix[k] for k in keys],
             "x": [position[k][0] for k in keys], "y": [position[k][1] for k in keys]}
    edges = {"xs": [], "ys": []}
    for source, target in computation.edges:
        if source in position and target in position:
            edges["xs"].append([position[source][0], position[target][0]])
            edges["ys"].append([position[source][1], position[target][1]])
    return nodes, edges


def task_colours(state, keys) -> tuple[list, list]:
    """The state of each key on the scheduler and its colour."""
    tasks = state.tasks
    names = [getattr(tasks.get(k), "state", "forgotten") for k in keys]
    colours = [STATE_COLOURS.get(n) or OTHER_STATE_COLOURS.get(n, "#ffffff") for n in names]
    return names, colours


def too_large_message(n_tasks: int, limit: int) -> str:
    return (f"<p><b>The current computation has {n_tasks} tasks, more than the graph limit of {limit}</b>, "
            "so its graph is not drawn (it would freeze the browser). Raise the limit with "
            f"<code>shoal.config.set({{'dashboard.graph-limit': {n_tasks}}})</code> before the scheduler "
            "starts, or look at <a href='/stages'>/stages</a> for a summary per stage.</p>")


def state_legend() -> str:
    """A one-line HTML legend of the state colours."""
    colours = {**STATE_COLOURS, **OTHER_STATE_COLOURS}
    return " ".join(f"<span style='display:inline-block;width:12px;height:12px;border:1px solid #333;"
                    f"background:{colour}'></span>&nbsp;{state}&nbsp;&nbsp;" for state, colour in colours.items())


def graph_document(plugin, interval_ms: int):
    """Return a function filling a Bokeh document with the ``/graph`` page."""
    def make(doc):
        nodes = ColumnDataSource({"key": [], "prefix": [], "x": [], "y": [], "state": [], "colour": []})
        edges = ColumnDataSource({"xs": [], "ys": []})
        plot = figure(title="Task graph of the current computation (colour: task state)", height=600,
                      sizing_mode="stretch_width", tools="pan,wheel_zoom,box_zoom,reset", name="graph-figure")
        plot.multi_line(xs="xs", ys="ys", source=edges, line_color="#bbbbbb", line_alpha=0.6)
        circles = plot.scatter(x="x", y="y", size=10, fill_color="colour", line_color="#333333", source=nodes)
        plot.add_tools(HoverTool(renderers=[circles], tooltips=[("key", "@key"), ("state", "@state")]))
        plot.axis.visible = False
        plot.grid.visible = False
        message = Div(text="", name="graph-message", visible=False, sizing_mode="stretch_width")
        shown = [None]  # the Computation whose layout is on the page
        legend = Div(text=state_legend(), name="graph-legend")

        def update():
            computation = plugin.computation
            if computation.graph_too_large:
                if shown[0] is not computation:
                    shown[0] = computation
                    nodes.data = {name: [] for name in nodes.data}
                    edges.data = {"xs": [], "ys": []}
                message.text = too_large_message(computation.n_tasks, computation.graph_limit)
                message.visible, plot.visible, legend.visible = True, False, False
                return
            message.visible, plot.visible, legend.visible = False, True, True
            if shown[0] is not computation or len(nodes.data["key"]) != len(computation.depth):
                shown[0] = computation
                node_data, edge_data = graph_layout(computation)
                node_data["state"], node_data["colour"] = task_colours(plugin.state, computation.depth)
                nodes.data = node_data
                edges.data = edge_data
                return
            states, colours = task_colours(plugin.state, computation.depth)
            if states != nodes.data["state"]:
                nodes.data.update(state=states, colour=colours)

        update()
        doc.title = "shoal: graph"
        doc.add_root(column(message, legend, plot, sizing_mode="stretch_width"))
        doc.add_periodic_callback(update, interval_ms)

    return make
