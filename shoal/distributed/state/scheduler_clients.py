"""Clients and their graphs: what ``SchedulerState`` does when a client asks.

``SchedulerClientsMixin`` registers clients, turns a submitted graph into
``TaskState`` records (``update_graph``) and scattered data into tasks in
memory (``update_data``), and handles a client releasing, cancelling or
retrying keys. It records who wants what and makes recommendations; the
state changes themselves are the transitions of ``scheduler_state.py``.

What it needs from the host class (``SchedulerState``): the attributes
``tasks``, ``clients``, ``workers``, ``prefixes``, ``generation`` and
``plugins``; the methods ``transitions``, ``_release_if_unneeded``,
``_add_replica``, ``log_event`` and ``_notify``, and ``_worker`` (from
``SchedulerWorkersMixin``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from shoal.taskgraph.core import DataNode, key_prefix
from shoal.taskgraph.errors import MissingKeyError
from shoal.taskgraph.order import order

from .errors import UnknownKeyError
from .messages import Key, Messages
from .scheduler_records import NO_ITEMS, ClientInfo, TaskPrefix, TaskState


class SchedulerClientsMixin:
    """Clients connecting and leaving, the graphs and data they submit, the keys they drop."""

    # ------------------------------------------------------------------ clients and graphs
    def add_client(self, client: str) -> Messages:
        """Register ``client`` (done implicitly by ``update_graph``)."""
        if client not in self.clients:
            if client in self.workers:
                raise ValueError(f"Client id {client!r} is already a worker's address; use another id.")
            self.clients[client] = ClientInfo(client)
            self.log_event("add-client", client=client)
            self._notify("add_client", client)
        return []

    def remove_client(self, client: str) -> Messages:
        """``client`` disconnected: release every key it held."""
        cs = self.clients.get(client)
        if cs is None:
            return []
        msgs = self.client_releases_keys(client, [ts.key for ts in cs.wants_what])
        del self.clients[client]
        self.log_event("remove-client", client=client)
        self._notify("remove_client", client)
        return msgs

    def update_graph(
        self,
        client: str,
        graph: Mapping[Key, Any],
        keys: Iterable[Key],
        *,
        priority: int | Mapping = 0,
        workers: Iterable[str] | Mapping | None = None,
        allow_other_workers: bool = False,
        resources: Mapping | None = None,
        retries: int | Mapping = 0,
    ) -> Messages:
        """``client`` submits ``graph`` (``{key: GraphNode}``) and wants ``keys``.

        Keys the scheduler already holds keep their task (a key names a
        result). ``priority``, ``retries``, ``workers`` and ``resources`` apply
        to every new task, or per key when given as a mapping (``resources``
        is per key when its values are mappings). Larger ``priority`` runs
        first; ties go to earlier submissions, then to ``taskgraph.order``.
        """
        self.add_client(client)
        cs = self.clients[client]
        keys = list(keys)
        tasks = self.tasks
        missing = [k for k in keys if k not in graph and k not in tasks]
        if missing:
            raise MissingKeyError(missing, graph)
        new = {k: node for k, node in graph.items() if k not in tasks}
        external: dict = {}
        for k, node in new.items():
            for dep in node.dependencies:
                if dep not in new:
                    if dep not in tasks:
                        raise UnknownKeyError(dep, k)
                    external[dep] = DataNode(dep, None)
        ranks = order({**external, **new} if external else new)

        self.generation += 1
        generation = self.generation
        prefixes = self.prefixes
        priority_of = priority.get if isinstance(priority, Mapping) else None
        retries_of = retries.get if isinstance(retries, Mapping) else None
        restricted = workers is not None or bool(resources)
        for k, node in new.items():
            name = key_prefix(k)
            prefix = prefixes.get(name)
            if prefix is None:
                prefix = prefixes[name] = TaskPrefix(name)
            ts = TaskState(k, node, prefix, empty=NO_ITEMS)
            ts.priority = (-(priority_of(k, 0) if priority_of else priority), generation, ranks[k])
            ts.retries = retries_of(k, 0) if retries_of else retries
            if restricted:
                self._set_restrictions(ts, workers, allow_other_workers, resources)
            tasks[k] = ts
            prefix.state_counts["released"] = prefix.state_counts.get("released", 0) + 1
        for k, node in new.items():
            ts = tasks[k]
            deps = node.dependencies
            if deps:
                ts.dependencies = {tasks[dep] for dep in deps}
                for dts in ts.dependencies:
                    if dts.dependents is NO_ITEMS:
                        dts.dependents = set()
                    dts.dependents.add(ts)

        msgs: list = []
        recs: dict = {}
        wanted = [tasks[k] for k in dict.fromkeys(keys)]
        wanted.sort(key=lambda t: t.priority, reverse=True)  # popitem() takes the last first
        for ts in wanted:
            if ts not in cs.wants_what:
                cs.wants_what.add(ts)
                if ts.who_wants is NO_ITEMS:
                    ts.who_wants = set()
                ts.who_wants.add(cs)
            if ts.state == "released":
                recs[ts.key] = "waiting"
            elif ts.state == "memory":
                msgs.append((client, {"op": "key-in-memory", "key": ts.key, "nbytes": ts.nbytes, "type": ts.type}))
            elif ts.state == "erred":
                self._report_erred_to(ts, client, msgs)
        msgs += self.transitions(recs)
        # Submitted tasks that no wanted key needs are dropped, dependents first.
        unneeded = {
            k: "forgotten" for k in new
            if tasks.get(k) is not None and tasks[k].state == "released"
            and not (tasks[k].who_wants or tasks[k].waiters)
        }
        if unneeded:
            msgs += self.transitions(dict(reversed(list(unneeded.items()))))
        self.log_event("update-graph", client=client, keys=len(keys), new_tasks=len(new))
        if self.plugins:
            self._notify("update_graph", client, keys, list(new))
        return msgs

    def _report_erred_to(self, ts: TaskState, client: str, msgs: list) -> None:
        msgs.append((client, {
            "op": "task-erred", "key": ts.key, "blamed_key": ts.exception_blame,
            "exception": ts.exception, "traceback": ts.traceback,
            "exception_text": ts.exception_text,
        }))

    @staticmethod
    def _set_restrictions(ts, workers, allow_other_workers, resources) -> None:
        if workers is not None:
            chosen = workers.get(ts.key) if isinstance(workers, Mapping) else workers
            if chosen is not None:
                ts.worker_restrictions = {chosen} if isinstance(chosen, str) else set(chosen)
                ts.loose_restrictions = bool(allow_other_workers)
        if resources:
            first = next(iter(resources.values()))
            chosen = resources.get(ts.key) if isinstance(first, Mapping) else resources
            if chosen:
                ts.resource_restrictions = dict(chosen)

    def client_releases_keys(self, client: str, keys: Iterable[Key]) -> Messages:
        """``client`` dropped its futures on ``keys``: free what nobody needs now."""
        cs = self.clients.get(client)
        if cs is None:
            return []
        recs: dict = {}
        for key in keys:
            ts = self.tasks.get(key)
            if ts is None or ts not in cs.wants_what:
                continue
            cs.wants_what.discard(ts)
            ts.who_wants.discard(cs)
            self._release_if_unneeded(ts, recs)
        return self.transitions(recs)

    def cancel_keys(self, client: str, keys: Iterable[Key], *, force: bool = False) -> Messages:
        """Cancel ``keys`` for ``client`` (for every client with ``force``).

        Each affected client gets ``cancelled-keys``; the tasks stop and their
        data is freed unless another client or a dependent still needs them.
        """
        msgs: list = []
        affected: dict = {}
        for key in keys:
            ts = self.tasks.get(key)
            if ts is None:
                continue
            for cs in list(ts.who_wants):
                if force or cs.id == client:
                    affected.setdefault(cs.id, []).append(key)
        for cid, cancelled in affected.items():
            msgs.append((cid, {"op": "cancelled-keys", "keys": cancelled}))
            msgs += self.client_releases_keys(cid, cancelled)
        return msgs

    def retry_keys(self, client: str, keys: Iterable[Key]) -> Messages:
        """Run erred ``keys`` again, with the erred tasks they depend on."""
        retry: dict = {}
        stack = [self.tasks[k] for k in keys if k in self.tasks and self.tasks[k].state == "erred"]
        while stack:
            ts = stack.pop()
            if ts in retry:
                continue
            retry[ts] = None
            stack.extend(d for d in ts.dependencies if d.state == "erred")
        # Inputs (smaller priority) must be retried before their dependents see them
        # erred, and popitem() takes the last entry first.
        ordered = sorted(retry, key=lambda t: t.priority, reverse=True)
        self.log_event("retry", client=client, keys=[ts.key for ts in ordered])
        return self.transitions({ts.key: "waiting" for ts in ordered})

    def update_data(self, client: str, who_has: Mapping, nbytes: Mapping | None = None,
                    types: Mapping | None = None) -> Messages:
        """``client`` scattered data: ``who_has`` is ``{key: [worker addresses holding it]}``.

        The keys are wanted by ``client`` and in memory. They have no task
        to rerun, so if every copy is lost they err with ``LostDataError``.
        """
        self.add_client(client)
        cs = self.clients[client]
        nbytes = nbytes or {}
        types = types or {}
        recs: dict = {}
        msgs: list = []
        for key, addresses in who_has.items():
            holders = [self._worker(a) for a in addresses]
            ts = self.tasks.get(key)
            if ts is None:
                name = key_prefix(key)
                prefix = self.prefixes.get(name) or self.prefixes.setdefault(name, TaskPrefix(name))
                ts = self.tasks[key] = TaskState(key, None, prefix)
                prefix.state_counts["released"] = prefix.state_counts.get("released", 0) + 1
                self.generation += 1
                ts.priority = (0, self.generation, 0)
            if ts not in cs.wants_what:
                cs.wants_what.add(ts)
                if ts.who_wants is NO_ITEMS:
                    ts.who_wants = set()
                ts.who_wants.add(cs)
            if ts.state == "memory":
                for ws in holders:
                    self._add_replica(ts, ws)
                msgs.append((client, {"op": "key-in-memory", "key": key, "nbytes": ts.nbytes, "type": ts.type}))
            elif ts.state == "released" and holders:
                ts.nbytes = nbytes.get(key, -1)
                ts.type = types.get(key, "")
                if ts.who_has is NO_ITEMS:
                    ts.who_has = set()
                ts.who_has.update(holders)
                recs[key] = "memory"
        self.log_event("update-data", client=client, keys=len(who_has))
        return msgs + self.transitions(recs)
