"""The committed schemas are the published contract: they match the models, and a published
version only ever changes compatibly (new optional fields)."""

import json
import subprocess
from pathlib import Path

import pytest

from contracts import ALL_EVENTS, STREAMS
from contracts.schemas import AGREED_WIDENINGS, ASYNCAPI_PATH, breaking_changes, generated_files, schema_of, schema_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted(generated_files()), ids=lambda p: p.name)
def test_committed_schema_matches_the_model(path: Path) -> None:
    expected = generated_files()[path]
    assert path.exists(), f"{path.name} missing: run python -m contracts.schemas"
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.name} differs from the model: run python -m contracts.schemas and review the diff"
    )


def first_published(path: Path) -> dict | None:
    """The schema as it was first committed: the version consumers were built against."""
    relative = path.relative_to(ROOT).as_posix()
    try:
        commits = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", relative],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not commits:
            return None
        text = subprocess.run(
            ["git", "show", f"{commits[-1]}:{relative}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return json.loads(text)


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.SUBJECT)
def test_published_version_changed_only_compatibly(event) -> None:
    published = first_published(schema_path(event))
    if published is None:
        published = json.loads(schema_path(event).read_text(encoding="utf-8"))
    assert breaking_changes(published, schema_of(event), agreed=AGREED_WIDENINGS.get(event.SUBJECT)) == []


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.SUBJECT)
def test_subject_ends_in_major_version_and_has_a_stream(event) -> None:
    name, _, version = event.SUBJECT.rpartition(".v")
    assert name and version == str(event.model_fields["version"].default)
    assert any(event.SUBJECT.startswith(s.removesuffix(">")) for s in STREAMS[event.STREAM]["subjects"])


def test_every_event_has_id_time_and_version() -> None:
    for event in ALL_EVENTS:
        assert {"event_id", "occurred_at", "version"} <= set(schema_of(event)["required"])


def test_asyncapi_names_every_subject() -> None:
    document = json.loads(ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert set(document["channels"]) == {e.SUBJECT for e in ALL_EVENTS}


BASE = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "k": {"enum": ["x", "y"]}},
    "required": ["a", "k"],
}


def variant(**changes) -> dict:
    schema = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        schema[key] = value
    return schema


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        (variant(properties={"b": {"type": "integer"}, "k": {"enum": ["x", "y"]}}), "a: removed"),
        (variant(properties={**BASE["properties"], "a": {"type": "integer"}}), "a: type"),
        (variant(required=["a", "k", "b"]), "b: newly required"),
        (variant(required=["k"]), "a: no longer required"),
        (variant(properties={**BASE["properties"], "k": {"enum": ["x"]}}), "k: allowed values"),
    ],
)
def test_breaking_changes_are_found(new: dict, problem: str) -> None:
    assert any(p.startswith(problem) for p in breaking_changes(BASE, new))


def test_a_new_optional_field_is_compatible() -> None:
    new = variant(properties={**BASE["properties"], "c": {"type": "string"}})
    assert breaking_changes(BASE, new) == []


def test_a_new_value_of_an_open_field_is_compatible_and_of_a_closed_one_is_not() -> None:
    closed = {"type": "object", "properties": {"k": {"enum": ["x", "y"]}}}
    opened = {"type": "object", "properties": {"k": {"enum": ["x", "y"], "x-open-enum": True}}}
    wider = {"type": "object", "properties": {"k": {"enum": ["x", "y", "z"], "x-open-enum": True}}}
    narrower = {"type": "object", "properties": {"k": {"enum": ["x"], "x-open-enum": True}}}
    assert breaking_changes(opened, wider) == []
    assert breaking_changes(closed, wider) == ["k: allowed values ['x', 'y'] -> ['x', 'y', 'z']"]
    assert breaking_changes(closed, wider, agreed={"k": {"z"}}) == []
    assert breaking_changes(opened, narrower) != []


def test_a_new_field_with_a_default_is_compatible_without_one_it_is_not() -> None:
    with_default = variant(
        properties={**BASE["properties"], "c": {"type": "string", "default": "x"}}, required=["a", "k", "c"]
    )
    without = variant(properties={**BASE["properties"], "c": {"type": "string"}}, required=["a", "k", "c"])
    assert breaking_changes(BASE, with_default) == []
    assert breaking_changes(BASE, without) == ["c: newly required"]
