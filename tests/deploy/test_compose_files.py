"""The compose files are valid Compose (the vendored Compose Specification schema), every file
they reference exists, and the images they run are the ones the code was written for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools.stack import compose, services

REPO = compose.REPO
SCHEMA = Path(__file__).with_name("compose-spec") / "compose-spec.json"
COMPOSE_FILES = (compose.COMPOSE_FILE, compose.DEMO_FILE)
DIGEST = re.compile(r"^[^@\s]+:[^@:\s]+@sha256:[0-9a-f]{64}$")
# Images whose digest could not be looked up where this was written (no registry reachable).
# docker/pin-images.sh resolves and writes them on a machine with Docker; then empty this set.
DIGEST_PENDING = {
    "otel/opentelemetry-collector-contrib:0.115.0",
    "jaegertracing/jaeger:2.13.0",
    "danielqsj/kafka-exporter:v1.8.0",
    "docker.elastic.co/elasticsearch/elasticsearch:8.17.0",
    "docker.elastic.co/kibana/kibana:8.17.0",
    "docker.elastic.co/beats/filebeat:8.17.0",
}
ELASTIC_IMAGES = ("elasticsearch", "kibana", "filebeat")
OFAC_EXPORTS = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    # The schema names draft-07 as "https://json-schema.org/draft-07/schema" (no "#"), which
    # jsonschema does not look up by itself.
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_is_valid_against_the_compose_specification(validator, path: Path) -> None:
    errors = sorted(validator.iter_errors(yaml.safe_load(path.read_text())), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_merged_demo_stack_is_valid_too(validator) -> None:
    merged = compose.load(compose.COMPOSE_FILE, compose.DEMO_FILE)
    errors = list(validator.iter_errors(merged))
    assert not errors, [e.message for e in errors]


def test_the_schema_validator_rejects_what_compose_rejects(validator) -> None:
    bad = {"services": {"web": {"image": "nginx", "depends_on": {"db": {"condition": "healthy"}}}}}
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({"services": {"web": {"imagee": "nginx"}}}))


def _dockerfile_copies(dockerfile: Path, args: dict[str, str]) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        for source in words[1:-1]:
            sources.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], source))
    return sources


def test_every_file_the_compose_files_reference_exists() -> None:
    merged = compose.load(compose.COMPOSE_FILE, compose.DEMO_FILE)
    for name, svc in merged["services"].items():
        build = svc.get("build")
        if build:
            context = REPO / build["context"]
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: no {dockerfile.relative_to(REPO)}"
            for source in _dockerfile_copies(dockerfile, build.get("args", {})):
                assert (context / source).exists(), f"{name}: the Dockerfile copies missing {source}"
        mounts = compose.bind_mounts(svc)
        for host, _ in mounts:
            # Relative sources are the repository's files; absolute ones are the host's own
            # (Filebeat reads the Docker daemon's log directory).
            assert host.startswith("/") or (REPO / host).exists(), f"{name} mounts missing {host}"
        # A path in the environment that points into a bind mount must exist on the host side.
        for key, value in compose.raw_environment(svc).items():
            for host, target in mounts:
                if value.startswith(target.rstrip("/") + "/"):
                    path = REPO / host / value[len(target.rstrip("/")) + 1 :]
                    assert path.is_file(), f"{name}: {key}={value} is not in the repository ({host})"


def test_elasticsearch_client_and_server_speak_the_same_major() -> None:
    constraints = (REPO / "requirements" / "constraints.txt").read_text()
    client = re.search(r"^elasticsearch==(\d+)\.(\d+)\.\d+$", constraints, flags=re.MULTILINE)
    assert client, "the elasticsearch client must be pinned in requirements/constraints.txt"
    model = compose.load()
    for name in ELASTIC_IMAGES:
        tag = model["services"][name]["image"].split("@")[0].rsplit(":", 1)[1]
        major, minor = (int(x) for x in tag.split(".")[:2])
        # The client sends compatible-with=<its major>; the server accepts only its own.
        assert major == int(client.group(1)), f"{name} {tag} vs client {client.group(0)}"
        assert int(client.group(2)) <= minor, f"client {client.group(0)} is newer than {name} {tag}"


def test_every_image_is_pinned_by_tag_and_digest() -> None:
    for path in COMPOSE_FILES:
        for name, svc in (yaml.safe_load(path.read_text()).get("services") or {}).items():
            if "image" in svc and "build" not in svc and svc["image"] not in DIGEST_PENDING:
                assert DIGEST.match(svc["image"]), f"{path.name}: {name} runs {svc['image']}"
    for dockerfile in (REPO / "docker").glob("*.Dockerfile"):
        for base in re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE):
            assert base in DIGEST_PENDING or DIGEST.match(base), f"{dockerfile.name}: FROM {base}"


def test_redis_drops_root_through_the_images_entrypoint() -> None:
    redis: dict[str, Any] = compose.load()["services"]["redis-cache"]
    command = " ".join(redis["command"]) if isinstance(redis["command"], list) else redis["command"]
    # The image's docker-entrypoint.sh switches to the redis user only for `redis-server ...`.
    assert (
        redis.get("user")
        or re.search(r"(^|exec )docker-entrypoint\.sh redis-server\b", command)
        or (command.startswith("redis-server"))
    ), f"redis-server would run as root: {command}"


def test_production_screens_against_the_official_list_fetched_at_start() -> None:
    env = compose.raw_environment(compose.load()["services"]["ofac-service"])
    assert env.get("OFAC_LIST_SOURCE") == OFAC_EXPORTS
    fields = services.env_names(services.settings_class("ofac"))
    assert "OFAC_LIST_SOURCE" in fields
