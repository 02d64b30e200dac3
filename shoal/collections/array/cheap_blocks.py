"""Cheap blocks at graph emission: blocks made from nothing (creation, random) or views (transpose).

Such a block costs less to make again inside each task that reads it than
to keep in memory until its last reader runs. ``inline_cheap_blocks``
inlines transposes always and cheap blocks with few readers; tasks that
share cheap blocks are run together in one task per group
(``run_sharing_readers_together``), followed down their chains of sole
dependents so a group hands over small partial results instead of blocks.
``Array.__shoal_graph__`` applies it to every culled array graph.
"""

from __future__ import annotations

import operator

from ...taskgraph.core import Fused, Ref, Task
from ...taskgraph.inline import inline
from ...taskgraph.toposort import sort_key
from .expr import ArrayExpr

__all__ = ["inline_cheap_blocks", "count_readers", "run_sharing_readers_together"]


#: a block made from nothing (or a view) is cheaper to make again in each task that needs it than to
#: keep in memory until its last reader runs; beyond this many readers, keep it.
INLINE_MAX_READERS = 4

#: at most this many reading tasks are run together around the cheap blocks they share
GROUP_MAX_MEMBERS = 4

#: how far a grouped task is followed down its chain of sole dependents (e.g. into a reduction's
#: first step), so the group hands over small partial results instead of whole blocks
GROUP_MAX_CHAIN = 8


def inline_cheap_blocks(graph: dict, plan: ArrayExpr, outputs: list) -> dict:
    """``graph`` with blocks of creation and transpose nodes made inside the tasks that read them.

    A transpose is always inlined into its readers (it is a view). Cheap
    blocks (creation, random) with a few readers are then handled in two ways:

    - readers that share cheap blocks are run *together* in one task that
      makes each shared block once, runs every reader and follows each one
      down its chain of sole dependents (say, a reduction's first step),
      handing over only the ends of those chains. ``(x + x.T)`` on a random
      ``x`` then makes blocks ``(i, j)`` and ``(j, i)`` once, in one task,
      instead of holding half of ``x`` in memory until the mirrored block is
      reached, or drawing every block twice;
    - otherwise (readers that are outputs, groups too large) the block is
      made again inside each reader.
    """
    from .creation import BlockMaker
    from .random import RandomBlocks
    from .shape import Transpose

    cheap = {node._name for node in plan.find_operations(BlockMaker, RandomBlocks, Transpose)}
    if not cheap:
        return graph
    keep = set(outputs)

    def is_cheap(key) -> bool:
        return type(key) is tuple and bool(key) and key[0] in cheap and key not in keep

    transposes = [k for k in graph if is_cheap(k) and k[0].startswith("transpose")]
    if transposes:
        graph = inline(graph, transposes)
    graph = run_sharing_readers_together(graph, is_cheap, keep, plan._name)
    readers = count_readers(graph)
    targets = [k for k in graph if is_cheap(k) and 1 < readers.get(k, 0) <= INLINE_MAX_READERS]
    return inline(graph, targets) if targets else graph


def count_readers(graph: dict) -> dict:
    readers: dict = {}
    for node in graph.values():
        for dep in node.dependencies:
            readers[dep] = readers.get(dep, 0) + 1
    return readers


def run_sharing_readers_together(graph: dict, is_cheap, keep: set, token: str) -> dict:
    """Tasks that share cheap blocks, fused into one task per group (see ``inline_cheap_blocks``)."""
    dependents: dict = {}
    for key, node in graph.items():
        for dep in node.dependencies:
            dependents.setdefault(dep, []).append(key)
    shared = [
        k for k, users in dependents.items()
        if k in graph and is_cheap(k) and 1 < len(users) <= INLINE_MAX_READERS and not graph[k].dependencies
    ]
    if not shared:
        return graph
    # union the readers of every shared cheap block
    parent: dict = {}

    def find(k):
        while parent.get(k, k) != k:
            parent[k] = parent.get(parent[k], parent[k])
            k = parent[k]
        return k

    for block in shared:
        first, *rest = dependents[block]
        for other in rest:
            a, b = find(first), find(other)
            if a != b:
                parent[b] = a
    members_of: dict = {}
    for block in shared:
        for reader in dependents[block]:
            members_of.setdefault(find(reader), set()).add(reader)
    blocks_of: dict = {}
    for block in shared:
        blocks_of.setdefault(find(dependents[block][0]), []).append(block)

    result = dict(graph)
    for number, (root, members) in enumerate(members_of.items()):
        if len(members) > GROUP_MAX_MEMBERS or members & keep or any(is_cheap(m) for m in members):
            continue
        members = sorted(members, key=sort_key)
        taken = set(members)
        chains = [_sole_dependent_chain(m, graph, dependents, keep, taken) for m in members]
        if any(graph[m].dependencies & taken for m in members):
            continue  # a member reading another's result: keep it simple, leave this group alone
        blocks = sorted(set(blocks_of[root]), key=sort_key)
        inside = set(blocks).union(*chains)
        outside = set().union(*(graph[k].dependencies for k in inside)) - inside
        if _reaches(result, outside, inside):
            continue  # a member reads (through other tasks) what another member makes: one task would wait on itself
        group_key = (f"together-{token.rsplit('-', 1)[-1]}", number)
        ends = [chain[-1] for chain in chains]
        nodes = [graph[b] for b in blocks] + [graph[k] for chain in chains for k in chain]
        nodes.append(Task(group_key, _collect, [Ref(e) for e in ends]))
        for b in blocks:
            del result[b]
        for chain in chains:
            for k in chain:
                del result[k]
        result[group_key] = Fused(group_key, nodes)
        for position, end in enumerate(ends):
            result[end] = Task(end, operator.getitem, Ref(group_key), position)
    return result


#: how many tasks ``_reaches`` looks through before it gives up (and the group is left alone, to be safe)
REACH_SEARCH_LIMIT = 20_000


def _reaches(graph: dict, starts: set, targets: set) -> bool:
    """Whether any of ``starts`` depends, directly or through other tasks of ``graph``, on one of ``targets``;
    True also when the search grows past ``REACH_SEARCH_LIMIT`` tasks."""
    seen: set = set()
    stack = [k for k in starts if k in graph]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > REACH_SEARCH_LIMIT:
            return True
        for dep in graph[key].dependencies:
            if dep in targets:
                return True
            if dep in graph and dep not in seen:
                stack.append(dep)
    return False


def _sole_dependent_chain(start, graph: dict, dependents: dict, keep: set, taken: set) -> list:
    """``start`` and the tasks after it that each read only the previous one, which only they read."""
    chain = [start]
    while len(chain) < GROUP_MAX_CHAIN and chain[-1] not in keep:
        users = dependents.get(chain[-1], [])
        if len(users) != 1:
            break
        (user,) = users
        if user in taken or graph[user].dependencies != {chain[-1]}:
            break
        taken.add(user)
        chain.append(user)
    return chain


def _collect(values: list) -> tuple:
    return tuple(values)
