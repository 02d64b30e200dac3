"""Parse and format comm addresses: ``tcp://host:port``, ``inproc://name``.

An address is ``scheme://location``; the scheme picks the transport and the
location means something to that transport only.  An address without
``://`` gets the default scheme (``distributed.comm.default-scheme``, tcp).

>>> parse_address("tcp://127.0.0.1:8786")
('tcp', '127.0.0.1:8786')
>>> parse_host_port("[::1]:8786")
('::1', 8786)
>>> unparse_host_port("::1", 8786)
'[::1]:8786'
"""

from __future__ import annotations

from . import settings

__all__ = [
    "parse_address",
    "unparse_address",
    "parse_host_port",
    "unparse_host_port",
    "normalize_address",
]


def parse_address(address: str, *, strict: bool = False) -> tuple[str, str]:
    """``(scheme, location)`` of ``address``.

    With ``strict=True`` the scheme must be written out.

    >>> parse_address("inproc://a/1")
    ('inproc', 'a/1')
    >>> parse_address("127.0.0.1:8786")
    ('tcp', '127.0.0.1:8786')
    >>> parse_address("")
    Traceback (most recent call last):
    ...
    ValueError: Expected an address like 'tcp://127.0.0.1:8786', got ''.
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"Expected an address like 'tcp://127.0.0.1:8786', got {address!r}.")
    scheme, sep, location = address.rpartition("://")
    if not sep:
        if strict:
            raise ValueError(
                f"Address {address!r} has no scheme; write it as 'tcp://{address}' (or 'inproc://...')."
            )
        scheme = settings.default_scheme()
    if not scheme or not scheme.isidentifier():
        raise ValueError(f"Address {address!r} has an invalid scheme {scheme!r}; expected e.g. 'tcp://'.")
    return scheme, location


def unparse_address(scheme: str, location: str) -> str:
    """``scheme://location``.

    >>> unparse_address("tcp", "127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    """
    return f"{scheme}://{location}"


def parse_host_port(location: str, default_port: int | None = None) -> tuple[str, int]:
    """``(host, port)`` of ``host:port`` or ``[ipv6]:port``.

    Without a port, ``default_port`` is used; if that is None too, ValueError.

    >>> parse_host_port("localhost", default_port=0)
    ('localhost', 0)
    >>> parse_host_port("127.0.0.1:http")
    Traceback (most recent call last):
    ...
    ValueError: Port 'http' in '127.0.0.1:http' is not a number; write HOST:PORT, e.g. 127.0.0.1:8786.
    """
    host, port_text = _split_host_port(location)
    if port_text is None:
        if default_port is None:
            raise ValueError(
                f"Address {location!r} has no port; write HOST:PORT, e.g. 127.0.0.1:8786."
            )
        return host, default_port
    if not port_text.isdigit():
        raise ValueError(
            f"Port {port_text!r} in {location!r} is not a number; write HOST:PORT, e.g. 127.0.0.1:8786."
        )
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"Port {port} in {location!r} is outside 0..65535.")
    return host, port


def _split_host_port(location: str) -> tuple[str, str | None]:
    if location.startswith("["):
        end = location.find("]")
        if end == -1:
            raise ValueError(f"Address {location!r} opens '[' for an IPv6 host but never closes it.")
        host, rest = location[1:end], location[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"Unexpected {rest!r} after the IPv6 host in {location!r}.")
        return host, (rest[1:] if rest else None)
    if location.count(":") > 1:
        raise ValueError(
            f"Address {location!r} looks like a bare IPv6 address; put the host in brackets: [::1]:8786."
        )
    host, sep, port = location.partition(":")
    if "/" in host or " " in host:
        raise ValueError(f"Host {host!r} in {location!r} is not a valid host name or IP address.")
    return host, (port if sep else None)


def unparse_host_port(host: str, port: int | None = None) -> str:
    """``host:port``, bracketing IPv6 hosts.

    >>> unparse_host_port("127.0.0.1", 8786)
    '127.0.0.1:8786'
    """
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def normalize_address(address: str) -> str:
    """The address with its scheme written out.

    >>> normalize_address("127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    """
    return unparse_address(*parse_address(address))
