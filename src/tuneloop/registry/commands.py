"""Verbs ``tuneloop registry list|show|diff|history|promote|rollback``: each parses its options, calls
one stage function (:mod:`tuneloop.registry` for the views, :mod:`tuneloop.deploy` for the moves),
renders the result (:mod:`tuneloop.registry.commands_render`) and picks the exit code: 0 done, 1 a
promotion refused (or the alias moved meanwhile), 2 bad input.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tuneloop.console import JsonFlag, console, err_console, print_json, stage_progress
from tuneloop.errors import InvalidInput

AliasOption = Annotated[str, typer.Option("--alias", "-a", help="The alias to move.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", "-r", help="Why (recorded in the alias history).")
]


def _project() -> Any:
    from tuneloop.project import Project

    return Project.open()


def _name_and_alias(name: str, alias: str) -> tuple[str, str]:
    """``NAME`` with ``--alias``, or ``NAME@ALIAS`` (the alias written in the name wins)."""
    if "@" not in name:
        return name, alias
    bare, _, given = name.partition("@")
    return bare, given


def list_versions(
    name: Annotated[str | None, typer.Argument(help="Only versions of this model name.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Registered versions with their lineage summary and the aliases pointing at them."""
    from tuneloop.registry import describe_versions
    from tuneloop.registry.commands_render import plain, versions_table

    versions = describe_versions(_project(), name)
    if json_output:
        print_json({"ok": True, "versions": [plain(v) for v in versions]})
        return
    if not versions:
        err_console.print("no registered versions; `tuneloop train` registers one per run")
        return
    console.print(versions_table(versions))


def show(
    reference: Annotated[str, typer.Argument(help="NAME:V, NAME@alias or NAME (its newest version).")],
    json_output: JsonFlag = False,
) -> None:
    """A version's lineage (base, template, data, run, config, environment), results and aliases."""
    from tuneloop.registry import describe_version
    from tuneloop.registry.commands_render import detail_view, plain

    detail = describe_version(_project(), reference)
    if json_output:
        print_json({"ok": True, "version": plain(detail)})
        return
    for renderable in detail_view(detail):
        console.print(renderable)


def diff(
    first: Annotated[str, typer.Argument(help="The older version, NAME:A.")],
    second: Annotated[str, typer.Argument(help="The newer version, NAME:B.")],
    json_output: JsonFlag = False,
) -> None:
    """What changed between two versions: data, settings, metrics."""
    from tuneloop.registry import diff_versions
    from tuneloop.registry.commands_render import diff_table, plain

    result = diff_versions(_project(), first, second)
    if json_output:
        print_json({"ok": True, **plain(result)})
        return
    if not result.changes:
        console.print(f"{result.first} and {result.second} differ in nothing recorded")
        return
    console.print(diff_table(result))


def history(
    name: Annotated[str, typer.Argument(help="Model name (or NAME@ALIAS).")],
    alias: Annotated[str | None, typer.Option("--alias", "-a", help="Only this alias.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Every alias move: when, action, previous -> new, actor, reason, forced."""
    from tuneloop.registry import describe_history
    from tuneloop.registry.commands_render import history_table, plain

    if "@" in name:
        name, alias = _name_and_alias(name, alias or "")
    entries = describe_history(_project(), name, alias)
    if json_output:
        print_json({"ok": True, "events": [plain(e) for e in entries]})
        return
    if not entries:
        err_console.print(f"no alias moves for '{name}'")
        return
    console.print(history_table(entries))


def promote(
    reference: Annotated[str, typer.Argument(help="The version to promote, NAME:V.")],
    alias: AliasOption = "production",
    reason: ReasonOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote despite failed checks (needs --reason; recorded).")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Point NAME@ALIAS at a version that passed its gates against the alias's current target and the
    red-team gate; exit 1 naming each failed check."""
    from tuneloop.deploy import promote as promote_version
    from tuneloop.registry.commands_render import promotion_view

    result = promote_version(
        _project(), reference, alias, reason=reason, force=force, progress=stage_progress(quiet=json_output)
    )
    if json_output:
        print_json({"ok": result.passed, **result.to_dict()})
    else:
        for renderable in promotion_view(result):
            console.print(renderable)
    if not result.passed:
        raise typer.Exit(1)


def rollback(
    name: Annotated[str, typer.Argument(help="Model name (or NAME@ALIAS).")],
    alias: AliasOption = "production",
    to: Annotated[
        str | None,
        typer.Option("--to", help="Roll back to this version (NAME:V) instead of the previous one."),
    ] = None,
    reason: ReasonOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Move NAME@ALIAS back to its previous target (successive rollbacks walk further back) or --to."""
    from tuneloop.deploy import rollback as rollback_alias

    if not reason:
        raise InvalidInput("reason_required", "a rollback needs --reason")
    name, alias = _name_and_alias(name, alias)
    result = rollback_alias(
        _project(), name, alias, to=to, reason=reason, progress=stage_progress(quiet=json_output)
    )
    if json_output:
        print_json({"ok": True, **result.to_dict()})
        return
    console.print(
        f"[green]rolled back[/green] {result.name}@{result.alias}: {result.previous} -> "
        f"[bold]{result.reference}[/bold] (by {result.actor}: {result.reason})"
    )
