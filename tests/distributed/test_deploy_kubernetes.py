"""The Kubernetes manifests in deploy/kubernetes/ and the image in deploy/Dockerfile, checked statically.

No cluster is needed: the YAML is parsed with PyYAML, container commands are
parsed by the real ``shoal-scheduler``/``shoal-worker`` argument parsers
(``cli.scheduler_parser``/``cli.worker_parser``), and Services are matched against
the Deployments' pod labels and ports the way Kubernetes would match them.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import shlex
import tomllib

import pytest
import yaml

from shoal.distributed import cli

REPO = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
API_VERSIONS = {"Deployment": "apps/v1", "Service": "v1"}
PROGRAMS = {"shoal-scheduler": cli.scheduler_main, "shoal-worker": cli.worker_main}
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")  # names of Services and Deployments


def cli_parser(main) -> argparse.ArgumentParser:
    """The real parser of ``main`` (``cli.worker_main``...), strict about abbreviations."""
    parser = {cli.scheduler_main: cli.scheduler_parser, cli.worker_main: cli.worker_parser}[main]()
    parser.allow_abbrev = False  # a misspelt "--nthread" must not pass for "--nthreads"
    return parser


def parse_command(command: list) -> tuple:
    """(program, argparse namespace) of a container command, with the program's real parser."""
    program, *args = command
    assert program in PROGRAMS, f"{program!r} is not a shoal entry point ({sorted(PROGRAMS)})"
    parser = cli_parser(PROGRAMS[program])
    try:
        return program, parser.parse_args(args)
    except SystemExit:
        pytest.fail(f"{shlex.join(command)} does not parse with {program}'s own options")


def load_manifests() -> list:
    documents = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        with open(path) as f:
            documents += [(path.name, doc) for doc in yaml.safe_load_all(f) if doc is not None]
    return documents


@pytest.fixture(scope="module")
def manifests() -> dict:
    """``{(kind, name): manifest}``."""
    by_key = {}
    for filename, doc in load_manifests():
        key = (doc.get("kind"), doc.get("metadata", {}).get("name"))
        assert key not in by_key, f"{key} defined twice (again in {filename})"
        by_key[key] = doc
    return by_key


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def container_ports(deployment: dict) -> dict:
    """``{name: number}`` of every container port of a Deployment's pods."""
    return {p["name"]: p["containerPort"] for c in pod_spec(deployment)["containers"] for p in c.get("ports", [])}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def test_the_manifests_are_the_four_documented_objects_with_their_api_versions(manifests):
    assert set(manifests) == {("Deployment", "shoal-scheduler"), ("Deployment", "shoal-worker"),
                              ("Service", "shoal-scheduler"), ("Service", "shoal-dashboard")}
    for (kind, name), doc in manifests.items():
        assert doc["apiVersion"] == API_VERSIONS[kind], (kind, name)
        assert DNS_LABEL.match(name), f"{name!r} is not a valid Kubernetes name"


def test_kustomization_lists_every_manifest():
    with open(MANIFESTS / "kustomization.yaml") as f:
        kustomization = yaml.safe_load(f)
    assert kustomization["kind"] == "Kustomization"
    listed = sorted(kustomization["resources"])
    assert listed == sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")


def test_deployments_select_their_own_pods(manifests):
    deployments = {name: doc for (kind, name), doc in manifests.items() if kind == "Deployment"}
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(selector, labels), f"Deployment {name}: selector {selector} does not match its pods {labels}"
        others = [other for other, d in deployments.items()
                  if other != name and selects(selector, d["spec"]["template"]["metadata"]["labels"])]
        assert not others, f"Deployment {name}'s selector also matches the pods of {others}"
    assert manifests[("Deployment", "shoal-scheduler")]["spec"]["replicas"] == 1


def test_container_commands_are_real_cli_options_and_agree_with_the_ports(manifests):
    scheduler = manifests[("Deployment", "shoal-scheduler")]
    (container,) = pod_spec(scheduler)["containers"]
    program, args = parse_command(container["command"])
    assert program == "shoal-scheduler"
    assert args.host == "0.0.0.0"  # a Service forwards to the pod IP, not to its loopback
    ports = container_ports(scheduler)
    assert ports["comm"] == args.port
    assert ports["dashboard"] == int(args.dashboard_address.rsplit(":", 1)[1])

    worker = manifests[("Deployment", "shoal-worker")]
    (container,) = pod_spec(worker)["containers"]
    program, args = parse_command(container["command"])
    assert program == "shoal-worker"
    assert args.host == "0.0.0.0"
    match = re.fullmatch(r"tcp://([a-z0-9-]+):(\d+)", args.address)
    assert match, f"the worker's scheduler address {args.address!r} is not tcp://SERVICE:PORT"
    service = manifests[("Service", match.group(1))]
    assert int(match.group(2)) in [p["port"] for p in service["spec"]["ports"]]
    assert selects(service["spec"]["selector"], scheduler["spec"]["template"]["metadata"]["labels"])
    # threads match the CPU request, and the announced memory fits under the pod's limit
    resources = container["resources"]
    assert args.nthreads == int(resources["requests"]["cpu"])
    assert int(args.memory_limit) < 4 * 2**30 and resources["limits"]["memory"] == "4Gi"


@pytest.mark.parametrize("service_name, target", [("shoal-scheduler", "comm"), ("shoal-dashboard", "dashboard")])
def test_services_select_the_scheduler_pods_on_ports_they_expose(manifests, service_name, target):
    service = manifests[("Service", service_name)]
    selector = service["spec"]["selector"]
    selected = [name for (kind, name), d in manifests.items()
                if kind == "Deployment" and selects(selector, d["spec"]["template"]["metadata"]["labels"])]
    assert selected == ["shoal-scheduler"]
    ports = container_ports(manifests[("Deployment", "shoal-scheduler")])
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == target and port["targetPort"] in ports
    assert port["port"] == ports[target]  # the same number inside and outside: fewer surprises


def test_probes_use_ports_the_scheduler_exposes(manifests):
    (container,) = pod_spec(manifests[("Deployment", "shoal-scheduler")])["containers"]
    ports = container_ports(manifests[("Deployment", "shoal-scheduler")])
    assert container["readinessProbe"]["tcpSocket"]["port"] in ports
    assert container["livenessProbe"]["httpGet"]["port"] in ports
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"  # served by shoal.dashboard


def dockerfile_instructions() -> list:
    """``[(INSTRUCTION, arguments)]`` with comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_installs_the_project_and_exposes_the_manifests_ports(manifests):
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    with open(REPO / "pyproject.toml", "rb") as f:
        pyproject = tomllib.load(f)
    python = re.search(r"python:(\d+\.\d+)", instructions[0][1]).group(1)
    minimum = pyproject["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("."))) >= tuple(map(int, minimum.split(".")))
    for instruction, arguments in instructions:
        if instruction == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
    runs = " && ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert "pip install ." in runs
    scripts = pyproject["project"]["scripts"]
    assert {"shoal-scheduler", "shoal-worker"} <= set(scripts)
    exposed = {int(p) for instruction, arguments in instructions if instruction == "EXPOSE" for p in arguments.split()}
    assert exposed == set(container_ports(manifests[("Deployment", "shoal-scheduler")]).values())
    (cmd,) = [arguments for instruction, arguments in instructions if instruction == "CMD"]
    program, args = parse_command(yaml.safe_load(cmd))  # the JSON form is YAML too
    assert program == "shoal-scheduler" and args.port in exposed
    images = {c["image"] for (kind, _), d in manifests.items() if kind == "Deployment"
              for c in pod_spec(d)["containers"]}
    assert images == {"shoal:latest"}  # the tag the Dockerfile's build line gives
    assert "-t shoal:latest" in DOCKERFILE.read_text()
