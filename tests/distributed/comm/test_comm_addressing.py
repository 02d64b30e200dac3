"""Address parsing and formatting, and dispatch on the scheme."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.distributed.comm import connect, get_backend, listen
from shoal.distributed.comm.addressing import (
    normalize_address,
    parse_address,
    parse_host_port,
    unparse_address,
    unparse_host_port,
)


@pytest.mark.parametrize(
    "address, expected",
    [
        ("tcp://127.0.0.1:8786", ("tcp", "127.0.0.1:8786")),
        ("tcp://[::1]:8786", ("tcp", "[::1]:8786")),
        ("inproc://123/4", ("inproc", "123/4")),
        ("inproc://", ("inproc", "")),
        ("localhost:8786", ("tcp", "localhost:8786")),
    ],
)
def test_parse_address(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize(
    "address, message",
    [
        ("", "Expected an address"),
        ("   ", "Expected an address"),
        (None, "Expected an address"),
        ("://127.0.0.1:1", "invalid scheme"),
        ("t cp://127.0.0.1:1", "invalid scheme"),
    ],
)
def test_malformed_addresses_raise_clear_value_errors(address, message):
    with pytest.raises(ValueError, match=message):
        parse_address(address)


def test_strict_parse_requires_a_scheme():
    with pytest.raises(ValueError, match="tcp://127.0.0.1:1"):
        parse_address("127.0.0.1:1", strict=True)


@pytest.mark.parametrize(
    "location, expected",
    [
        ("127.0.0.1:8786", ("127.0.0.1", 8786)),
        ("[::1]:0", ("::1", 0)),
        ("example.org:65535", ("example.org", 65535)),
    ],
)
def test_parse_host_port(location, expected):
    assert parse_host_port(location) == expected


@pytest.mark.parametrize(
    "location, message",
    [
        ("127.0.0.1", "has no port"),
        ("127.0.0.1:http", "not a number"),
        ("127.0.0.1:-1", "not a number"),
        ("127.0.0.1:65536", "outside 0..65535"),
        ("::1:8786", "brackets"),
        ("[::1:8786", "never closes"),
        ("[::1]x8786", "Unexpected"),
        ("host/path:1", "not a valid host"),
    ],
)
def test_malformed_host_port(location, message):
    with pytest.raises(ValueError, match=message):
        parse_host_port(location)


def test_missing_port_uses_default_when_given():
    assert parse_host_port("127.0.0.1", default_port=0) == ("127.0.0.1", 0)


def test_unknown_scheme_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'udp'.*inproc://.*tcp://"):
        get_backend("udp")
    with pytest.raises(ValueError, match="udp"):
        listen("udp://127.0.0.1:0", lambda comm: None)


def test_connect_with_malformed_address_raises_value_error(run):
    async def scenario():
        with pytest.raises(ValueError, match="has no port"):
            await connect("tcp://127.0.0.1", timeout=1)

    run(scenario)


@settings(max_examples=200, deadline=None)
@given(
    host=st.one_of(
        st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,30}\Z"),
        st.ip_addresses().map(str),
    ),
    port=st.integers(0, 65535),
)
def test_format_then_parse_round_trips(host, port):
    address = unparse_address("tcp", unparse_host_port(host, port))
    scheme, location = parse_address(address)
    assert scheme == "tcp"
    assert parse_host_port(location) == (host, port)
    assert normalize_address(address) == address
