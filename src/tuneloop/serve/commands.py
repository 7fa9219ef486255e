"""Verbs ``tuneloop serve`` and ``tuneloop keys create|list|revoke``: each parses its options, calls one
stage function (:func:`tuneloop.serve.server.serve`, :mod:`tuneloop.serve.keys`), renders the result
and picks the exit code. Heavy modules (fastapi, uvicorn) load inside the verbs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tuneloop.console import JsonFlag, console, print_json, stage_progress


def _project() -> Any:
    from tuneloop.project import Project

    return Project.open()


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default: serve.host).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="TCP port (default: serve.port).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Alias served by default (default: serve.model).")
    ] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Serve without API keys (local experiments only).")
    ] = False,
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", help="Generate with this OpenAI-compatible engine (a vLLM server)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Serve the project's models with an OpenAI-compatible API that follows the registry's aliases."""
    import logging

    from tuneloop.serve.server import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = run_server(
        _project(),
        host=host,
        port=port,
        model=model,
        upstream=upstream,
        insecure_no_auth=insecure_no_auth,
        progress=stage_progress(quiet=json_output),
    )
    if json_output:
        print_json({"ok": True, **summary.__dict__})


def create(
    name: Annotated[str, typer.Argument(help="A name for the key (who or what uses it).")],
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Only this model name (support, support@production; repeatable)."),
    ] = None,
    no_feedback: Annotated[
        bool, typer.Option("--no-feedback", help="The key may not send feedback.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Create an API key; its secret is printed this once and only its hash is stored."""
    from tuneloop.serve.commands_render import key_dict
    from tuneloop.serve.keys import create_key

    info, secret = create_key(_project(), name, models=model or None, can_feedback=not no_feedback)
    if json_output:
        print_json({"ok": True, "key": key_dict(info), "secret": secret})
        return
    console.print(f"API key '{info.name}' created. Its secret is shown once, store it now:")
    console.print(secret, markup=False)


def list_keys(json_output: JsonFlag = False) -> None:
    """List API keys (names, prefixes, scopes; never the secrets)."""
    from tuneloop.serve.commands_render import key_dict, keys_table
    from tuneloop.serve.keys import list_keys as stored_keys

    keys = stored_keys(_project())
    if json_output:
        print_json({"ok": True, "keys": [key_dict(k) for k in keys]})
        return
    console.print(keys_table(keys))


def revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    from tuneloop.serve.commands_render import key_dict
    from tuneloop.serve.keys import revoke_key

    info = revoke_key(_project(), name)
    if json_output:
        print_json({"ok": True, "key": key_dict(info)})
        return
    console.print(f"API key '{info.name}' revoked.")
