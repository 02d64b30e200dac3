"""The graph model: keys, tasks and the algorithms over graphs.

Imports nothing from the rest of shoal.
"""

from .convert import convert_legacy_graph, ensure_graph
from .core import Alias, DataNode, Fused, GraphNode, Ref, Task, is_valid_key, key_prefix
from .cull import cull
from .errors import CycleError, GraphError, MissingDependencyError, MissingKeyError
from .fuse import fuse
from .inline import inline
from .order import order
from .protocol import is_collection
from .toposort import toposort

__all__ = [
    "Alias", "DataNode", "Fused", "GraphNode", "Ref", "Task", "is_valid_key", "key_prefix",
    "convert_legacy_graph", "ensure_graph", "cull", "fuse", "inline", "order", "toposort",
    "is_collection", "CycleError", "GraphError", "MissingDependencyError", "MissingKeyError",
]
