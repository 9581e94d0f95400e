"""The register import's pure rules: how many deletions --max-delete allows, what a dry run says."""

import argparse

import pytest

from runtime.cli import Service
from runtime.cli import parser as command_line
from services.pins.cli import COMMANDS, _max_delete
from services.pins.register import DEFAULT_MAX_DELETE, MaxDelete, Summary
from services.pins.settings import Settings


@pytest.mark.parametrize(
    ("text", "active", "allowed"),
    [("5%", 100, 5), ("5 %", 39, 1), ("5%", 19, 0), ("2,5%", 1000, 25), ("40", 10, 40), ("0", 1000, 0), ("100%", 7, 7)],
)
def test_max_delete_is_a_count_or_a_share_of_the_active_register_rounded_down(text, active, allowed) -> None:
    assert MaxDelete.parse(text).limit(active) == allowed


@pytest.mark.parametrize("text", ["", "viele", "-1", "1.5", "101%", "5%%", "%"])
def test_max_delete_refuses_anything_else(text) -> None:
    with pytest.raises(ValueError):
        MaxDelete.parse(text)


def test_the_command_line_defaults_to_five_percent_and_says_what_it_refuses() -> None:
    parse = command_line(Service("pins", Settings, object), COMMANDS).parse_args
    args = parse(["import-businesses", "b.csv", "--full"])
    assert (args.max_delete, args.dry_run, args.force) == (DEFAULT_MAX_DELETE, False, False)
    assert str(DEFAULT_MAX_DELETE) == "5 %"
    args = parse(["import-businesses", "b.csv", "--full", "--dry-run", "--max-delete", "12", "--force"])
    assert (args.max_delete, args.dry_run, args.force) == (MaxDelete(12, percent=False), True, True)
    with pytest.raises(SystemExit):
        parse(["import-businesses", "b.csv", "--max-delete", "viele"])


def test_a_dry_run_lists_what_would_be_deleted_and_says_nothing_was_applied() -> None:
    summary = Summary(3, 1, 1, 1, 2, 4, ["111", "222"], dry_run=True)
    lines = summary.lines()
    assert lines[0] == "Probelauf, nichts wurde geändert / dry run, nothing applied:"
    assert lines[-1] == "Würden gelöscht / would be deleted: 111, 222" and "links ended: 4" in lines[-2]
    assert not any("Probelauf" in line for line in Summary(3, 1, 1, 1, 2, 4, ["111"]).lines())


def test_the_refusal_names_the_two_forms() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="5%"):
        _max_delete("viele")
