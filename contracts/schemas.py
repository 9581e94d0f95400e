"""JSON Schemas and the AsyncAPI document of the events, and the compatibility rule.

`python -m contracts.schemas` rewrites `contracts/schemas/` from the models.
"""

import json
import sys
from pathlib import Path
from typing import Any

from contracts import ALL_EVENTS, STREAMS, Event

SCHEMA_DIR = Path(__file__).parent / "schemas"
ASYNCAPI_PATH = SCHEMA_DIR / "asyncapi.json"


def schema_of(event: type[Event]) -> dict[str, Any]:
    schema = event.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:kundenportal:event:{event.SUBJECT}"
    schema["x-subject"] = event.SUBJECT
    schema["x-stream"] = event.STREAM
    return schema


def schema_path(event: type[Event]) -> Path:
    return SCHEMA_DIR / f"{event.SUBJECT}.json"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event in ALL_EVENTS:
        name = event.__name__
        messages[name] = {
            "name": name,
            "title": event.SUBJECT,
            "summary": (event.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "= event_id"}},
            },
            "payload": {"$ref": f"./{event.SUBJECT}.json"},
        }
        channels[event.SUBJECT] = {
            "address": event.SUBJECT,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-stream": event.STREAM,
        }
        operations[f"receive_{event.SUBJECT}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{event.SUBJECT}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kundenportal events",
            "version": "1.0.0",
            "description": (
                "Events of the Kundenportal on NATS JetStream. Streams: "
                + ", ".join(f"{n} ({', '.join(s['subjects'])})" for n, s in STREAMS.items())
                + ". Secrets in payloads are libsodium sealed boxes."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def generated_files() -> dict[Path, str]:
    files = {schema_path(e): render(schema_of(e)) for e in ALL_EVENTS}
    files[ASYNCAPI_PATH] = render(asyncapi())
    return files


# Values added to a published field that was not yet marked open, each agreed with its readers.
# pin.requested.v1's `reason`: DESIGN.md's events table named `staff_request` from the first
# version on; the print shop prints every reason alike. The field is marked open from now on.
AGREED_WIDENINGS: dict[str, dict[str, set[str]]] = {"pin.requested.v1": {"reason": {"staff_request"}}}


def breaking_changes(
    old: dict[str, Any], new: dict[str, Any], where: str = "", agreed: dict[str, set[str]] | None = None
) -> list[str]:
    """What in `new` breaks a consumer written against `old` (polyn's list): a removed or
    retyped field, a new required field, a field no longer required. A new optional field is fine,
    and so is a new value of a field published as open (`x-open-enum`: its readers were told to
    accept values they do not know); any other change of the allowed values breaks."""
    problems: list[str] = []
    old_type, new_type = _types(old), _types(new)
    if old_type and new_type and not new_type <= old_type:
        problems.append(f"{where or 'root'}: type {sorted(old_type)} -> {sorted(new_type)}")
    before, after = _allowed(old), _allowed(new)
    if before is not None and before != after:
        added = set(after or ()) - set(before)
        open_field = old.get("x-open-enum", False) or added <= (agreed or {}).get(where, set())
        widened = after is not None and set(before) < set(after) and open_field
        if not widened:
            problems.append(f"{where or 'root'}: allowed values {before} -> {after}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        path = f"{where}.{name}" if where else name
        if name not in new_props:
            problems.append(f"{path}: removed")
            continue
        problems += breaking_changes(_resolve(old_prop, old), _resolve(new_props[name], new), path, agreed)
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_req - old_req):
        # A field new to the schema that has a default is always sent (serialization schema)
        # but never needed: readers built before it ignore it, readers after it fill it in.
        if name not in old_props and "default" in new_props.get(name, {}):
            continue
        problems.append(f"{where + '.' if where else ''}{name}: newly required")
    for name in sorted(old_req - new_req):
        problems.append(f"{where + '.' if where else ''}{name}: no longer required")
    return problems


def _types(schema: dict[str, Any]) -> set[str]:
    if "type" in schema:
        t = schema["type"]
        return set(t) if isinstance(t, list) else {t}
    if "anyOf" in schema:
        return set().union(*(_types(s) for s in schema["anyOf"]))
    return set()


def _allowed(schema: dict[str, Any]) -> list[str] | None:
    if "enum" in schema:
        return sorted(map(str, schema["enum"]))
    if "const" in schema:
        return [str(schema["const"])]
    return None


def _resolve(prop: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if ref and ref.startswith("#/$defs/"):
        resolved = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        return {**resolved, "$defs": root.get("$defs", {})}
    return prop


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for path, text in generated_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(SCHEMA_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
