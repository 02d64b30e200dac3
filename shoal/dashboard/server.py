"""Serve the dashboard from the scheduler's own event loop.

``start_dashboard(scheduler, "127.0.0.1:8787")`` binds an HTTP server on
the running loop (no second process or thread), serving the Bokeh pages,
BokehJS itself (no CDN: the pages work offline) and plain endpoints.
Websocket connections are accepted only from the bound host:port.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import warnings

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import BaseServer
from bokeh.server.tornado import BokehTornado
from bokeh.server.util import bind_sockets
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.web import RedirectHandler

from shoal import config

from .aggregates import DashboardPlugin
from .graph_page import graph_document
from .http_handlers import (JSON_ENDPOINTS, CountsHandler, HealthHandler, JsonIndexHandler, MetricsHandler,
                            NotFoundHandler)
from .pages import status_document, workers_document
from .stages_page import stages_document

logger = logging.getLogger("shoal.dashboard")


#: Where the dashboard is served when asked for with ``dashboard_address=True``.
DEFAULT_ADDRESS = "127.0.0.1:8787"


def parse_address(address: str) -> tuple[str, int]:
    """``"host:port"`` (or ``":port"``, or a bare port) as ``(host, port)``.

    >>> parse_address("127.0.0.1:8787")
    ('127.0.0.1', 8787)
    >>> parse_address(":0")
    ('127.0.0.1', 0)
    >>> parse_address("[::1]:8787")  # an IPv6 address in brackets, as in a URL
    ('::1', 8787)
    >>> parse_address(True)  # "a dashboard, where it usually is"
    ('127.0.0.1', 8787)
    """
    if address is True:
        address = DEFAULT_ADDRESS
    text = str(address)
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"dashboard_address={address!r} is not 'host:port' (e.g. '127.0.0.1:8787')") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"dashboard_address={address!r}: port {number} is outside 0-65535 "
                         "(0 picks a free port).")
    return host or "127.0.0.1", number


#: Hosts that mean "every interface": no browser can open a page there.
WILDCARD_HOSTS = ("0.0.0.0", "::")


def url_host(host: str) -> str:
    """``host`` as a browser can reach it in a URL: a concrete name for a wildcard
    bind (as the scheduler's own contact address does), IPv6 in brackets.

    >>> url_host("127.0.0.1"), url_host("::1")
    ('127.0.0.1', '[::1]')
    """
    if host == "::":
        host = "::1"  # an IPv6 wildcard socket takes no IPv4 connections
    elif host in WILDCARD_HOSTS:
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _flag(value) -> bool:
    """A yes/no setting; the words an environment variable carries count too
    (``SHOAL_DASHBOARD__PORT_FALLBACK=false`` reaches the config as the string 'false').

    >>> _flag("false"), _flag("Off"), _flag("0"), _flag("yes"), _flag(False)
    (False, False, False, True, False)
    """
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("false", "no", "off", "0", ""):
            return False
        if word in ("true", "yes", "on", "1"):
            return True
        raise ValueError(f"dashboard.port-fallback={value!r} is not a yes/no setting; use true or false.")
    return bool(value)


def _seconds(value) -> float:
    """The ``dashboard.interval`` setting as seconds, or an error that names it."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"dashboard.interval={value!r} is not a number of seconds (e.g. 0.5).") from None


class DashboardPortBusy(OSError):
    """The dashboard's port is taken and ``dashboard.port-fallback`` is off: no dashboard."""


def _port_taken(host: str, port: int) -> bool:
    """Whether another socket listens on ``host:port``, probed with sockets closed at
    once: tornado's ``bind_sockets`` leaves the socket of a failed bind to the garbage
    collector (a ResourceWarning). A port taken between the probe and the bind still
    fails there and is handled the same way."""
    try:
        addresses = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # the bind itself names the unknown host
    for family, kind, proto, _, sockaddr in addresses:
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:
            continue  # e.g. no IPv6 here: the bind skips it as well
        with probe:
            if os.name != "nt":  # as tornado binds: a port left in TIME_WAIT is free
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(sockaddr)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return True
    return False


def _bind(host: str, port: int, fallback: bool = True) -> tuple[list, int]:
    """Bind ``host:port``; if that port is taken, warn and take a free one, or with
    ``fallback=False`` raise ``DashboardPortBusy`` (a busy port must never stop
    the scheduler from starting: the caller serves no dashboard then)."""
    try:
        if port and _port_taken(host, port):
            raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
        return bind_sockets(host, port)
    except socket.gaierror as error:
        raise OSError(f"Cannot serve the dashboard on dashboard_address='{host}:{port}': the host {host!r} "
                      f"is not known ({error}); use a name or address of this machine, e.g. '127.0.0.1:{port}' "
                      f"(this machine only) or '0.0.0.0:{port}' (every interface).") from None
    except OSError as error:
        if error.errno == errno.EADDRNOTAVAIL:
            raise OSError(f"Cannot serve the dashboard on dashboard_address='{host}:{port}': {host!r} is not an "
                          f"address of this machine ({error}); use one of its addresses, e.g. '127.0.0.1:{port}' "
                          f"or '0.0.0.0:{port}' (every interface).") from None
        if port == 0 or error.errno != errno.EADDRINUSE:
            raise
        if not fallback:
            warnings.warn(f"Dashboard port {port} on {host} is already in use ({error}); serving no dashboard "
                          "(dashboard.port-fallback is off: turn it on, or choose another dashboard_address).",
                          RuntimeWarning, stacklevel=3)
            raise DashboardPortBusy(str(error)) from None
        warnings.warn(f"Dashboard port {port} on {host} is already in use ({error}); "
                      "serving the dashboard on a free port instead (see dashboard_link).",
                      RuntimeWarning, stacklevel=3)
        return bind_sockets(host, 0)


class Dashboard:
    """The running dashboard of one scheduler; ``link`` is its ``/status`` URL."""

    def __init__(self, scheduler, address: str = "127.0.0.1:8787", *, interval: float | None = None):
        self.scheduler = scheduler
        self.host, port = parse_address(address)
        seconds = config.get("dashboard.interval", 0.5) if interval is None else interval
        interval_ms = max(int(_seconds(seconds) * 1000), 10)
        self.plugin = DashboardPlugin(scheduler.state)
        sockets, self.port = _bind(self.host, port, _flag(config.get("dashboard.port-fallback", True)))
        origin = f"{url_host(self.host)}:{self.port}"
        applications = {
            "/status": Application(FunctionHandler(status_document(self.plugin, interval_ms))),
            "/workers": Application(FunctionHandler(workers_document(self.plugin, interval_ms))),
            "/graph": Application(FunctionHandler(graph_document(self.plugin, max(interval_ms, 500)))),
            "/stages": Application(FunctionHandler(stages_document(self.plugin, max(interval_ms, 500)))),
        }
        extra = [
            # "/" opens the main page, as Dask's dashboard does (Bokeh's own index lists apps).
            (r"/", RedirectHandler, {"url": "/status"}),
            (r"/health/?", HealthHandler),
            (r"/metrics/?", MetricsHandler, {"plugin": self.plugin}),
            (r"/json/?", JsonIndexHandler),
            (r"/json/counts(?:\.json)?/?", CountsHandler, {"plugin": self.plugin}),
        ]
        try:
            known = sorted(applications) + ["/health", "/metrics", "/json/"] + sorted(JSON_ENDPOINTS)
            app = BokehTornado(applications, extra_patterns=extra, extra_websocket_origins=[origin],
                               absolute_url=f"http://{origin}", index=None,
                               default_handler_class=NotFoundHandler, default_handler_args={"known": known})
            http = HTTPServer(app)
            http.add_sockets(sockets)
        except Exception:
            for sock in sockets:
                sock.close()
            raise
        self._server = BaseServer(IOLoop.current(), app, http)
        self._server.start()
        scheduler.add_plugin(self.plugin)

    @property
    def link(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}/status"

    def stop(self) -> None:
        self.scheduler.remove_plugin(self.plugin)
        app = self._server._tornado
        # Bokeh's own stop() leaves the open pages' sessions alive: their periodic
        # updates would go on reading a detached plugin for as long as the loop
        # runs, and browsers would keep showing a stale page on an open websocket.
        for connection in list(getattr(app, "_clients", ())):
            connection._socket.close()
        self._server.stop(wait=False)
        for path in app.app_paths:
            for session in app.get_sessions(path):
                # Not session.destroy(): the websockets closing above still read the
                # session's document when their close completes.
                if not session.destroyed:
                    for callback in list(session.document.session_callbacks):
                        session.document.remove_periodic_callback(callback)
        self._server.io_loop.add_callback(self._server._http.close_all_connections)


def start_dashboard(scheduler, address: str = "127.0.0.1:8787", **options) -> Dashboard | None:
    """The hook the scheduler calls (inside its running loop) to serve its dashboard;
    None when its port is busy and ``dashboard.port-fallback`` is off (after a warning)."""
    try:
        dashboard = Dashboard(scheduler, address, **options)
    except DashboardPortBusy:
        return None
    logger.info("Dashboard at %s", dashboard.link)
    return dashboard
