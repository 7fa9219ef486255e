"""Verb ``tuneloop deploy vllm NAME@alias -o DIR``: parses its options, calls
:func:`tuneloop.deploy.vllm.deploy_vllm` (which exports and writes everything), renders the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tuneloop.console import JsonFlag, console, print_json, stage_progress


def vllm(
    reference: Annotated[
        str, typer.Argument(help="The alias to deploy, NAME@alias (e.g. support@production).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory to write (empty, new, or a previous deployment).")
    ],
    json_output: JsonFlag = False,
) -> None:
    """Export an alias's versions for vLLM: immutable adapter names, serve.sh and the alias map."""
    from tuneloop.deploy.vllm import deploy_vllm
    from tuneloop.project import Project

    deployment = deploy_vllm(Project.open(), reference, out, progress=stage_progress(quiet=json_output))
    if json_output:
        print_json({"ok": True, **deployment.to_dict()})
        return
    table = Table(title=f"vLLM deployment of {deployment.requested}")
    for column in ("served as", "version", "kind", "aliases", "script"):
        table.add_column(column)
    for version in deployment.versions:
        aliases = ", ".join(version.aliases) or "(rollback target)"
        table.add_row(version.served_name, version.reference, version.kind, aliases, version.script)
    console.print(table)
    verb = "replaced" if deployment.replaced else "wrote"
    console.print(f"{verb} {deployment.out_dir}; start the fleet with {deployment.out_dir / 'serve.sh'}")
    main = deployment.servers[0]
    console.print(f"then route through tuneloop: tuneloop serve --upstream http://<gpu-host>:{main.port}")
