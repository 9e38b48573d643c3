"""Commands about models: ``auditkit build-model`` (offline checkpoints) and ``auditkit serve`` (an HTTP
endpoint)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..core.errors import AuditkitError
from .app import app, err, guarded


@app.command("build-model")
@guarded
def build_model_cmd(
    config: Annotated[str | None, typer.Argument(help="Shipped config name or path to a config.json.")] = None,
    vocab: Annotated[Path | None, typer.Option("--vocab", help="WordPiece vocab.txt.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Directory to write the model to.")] = None,
    seed: Annotated[int, typer.Option(help="Weight seed.")] = 0,
    null_bias: Annotated[
        float, typer.Option(help="QA only: make the empty answer win more often (0.14: ~60% on SQuAD v2).")
    ] = 0.0,
    list_configs: Annotated[bool, typer.Option("--list", help="List the shipped configs and exit.")] = False,
) -> None:
    """Build a real-architecture model with deterministic random weights (offline tests and demos)."""
    from ..models.hf import silence_transformers
    from ..models.synthetic import BuildRecipe, build_model
    from ..spec.schema import shipped_configs

    silence_transformers()
    if list_configs or config is None:
        typer.echo("\n".join(shipped_configs()))
        return
    if vocab is None or out is None:
        raise typer.BadParameter("--vocab and --out are required to build a model")
    if not vocab.is_file():
        raise AuditkitError(
            f"vocabulary file not found: {vocab}",
            hint="pass a BERT vocab.txt, e.g. ../shared/data/vocab/bert-base-cased-vocab.txt",
        )
    if not config.endswith(".json") and config not in shipped_configs():
        raise AuditkitError(
            f"unknown config {config!r}", hint=f"use one of: {', '.join(shipped_configs())}, or a path to a config.json"
        )
    typer.echo(str(build_model(BuildRecipe(config, vocab, seed=seed, null_bias=null_bias), out)))


@app.command()
@guarded
def serve(
    model: Annotated[
        str, typer.Argument(help="Hub id or local model directory (e.g. one written by `auditkit build-model`).")
    ],
    contract: Annotated[str, typer.Option("--contract", help="azureml-qa or hf-inference.")],
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port; the URL is printed).")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; the default keeps it on this machine.")
    ] = "127.0.0.1",
    auth_env: Annotated[
        str | None,
        typer.Option("--auth-env", help="Require 'Authorization: Bearer <token>' with the token in this variable."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Model batch size within a request.")] = 32,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not log requests.")] = False,
) -> None:
    """Serve a local model behind an endpoint contract (POST /score, GET /health, GET /openapi.json) on uvicorn.

    Use it to check a deployment wrapper, or to test a suite against a served model.

    Prints the scoring URL on stdout once it is listening; stops on Ctrl-C.
    """
    from ..endpoints.contracts import CONTRACTS, make_contract
    from ..endpoints.serve import Limits, ModelService, bind, make_app
    from ..endpoints.serve import run as run_server
    from ..models import LoadedModel, head_of, open_model
    from ..spec.schema import HEAD_TASKS, ModelSpec

    servable = [name for name, c in CONTRACTS.items() if c.servable]
    if contract not in servable:
        raise typer.BadParameter(f"must be one of {', '.join(servable)}", param_hint="--contract")
    token = None
    if auth_env is not None:
        token = os.environ.get(auth_env)
        if not token:
            raise AuditkitError(f"--auth-env {auth_env}: the variable is not set", hint=f"export {auth_env}=<token>")
    spec = ModelSpec.model_validate({"name": "served", "id": model, "batch_size": batch_size, "device": device})
    head = head_of(spec)
    chosen = make_contract(contract)
    task = HEAD_TASKS[head]
    if task not in chosen.tasks:
        raise AuditkitError(
            f"{model} is a {task} model, but the {contract} contract serves {', '.join(chosen.tasks)}",
            hint="pick a contract that serves this model's task",
        )
    served = open_model(spec, head)
    if not isinstance(served, LoadedModel):
        raise AuditkitError(f"{model} is an endpoint; serve puts a local checkpoint behind a contract")
    service = ModelService(served, chosen)
    limits = Limits(
        max_queue=_env_int("AUDITKIT_SERVE_MAX_QUEUE", Limits.max_queue),
        request_timeout=float(_env_int("AUDITKIT_SERVE_TIMEOUT", int(Limits.request_timeout))),
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise AuditkitError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="pick another --port (0 picks a free one)"
        ) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            f"[yellow]warning:[/yellow] listening on {escape(host)}: reachable from other machines"
            + ("" if token else ", without a token")
        )
    bound_host, bound_port = sock.getsockname()[:2]
    err.print(
        escape(
            f"serving {model} ({task}, model_sha256 {service.model.fingerprint['model_sha256'][:12]})"
            f" with the {contract} contract; queue {limits.max_queue}, timeout {limits.request_timeout:g} s"
        )
    )
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    typer.echo(f"http://{shown}:{bound_port}/score")
    sys.stdout.flush()
    run_server(make_app(service, token=token, limits=limits), sock, log=not quiet)


def _env_int(name: str, default: int) -> int:
    """A serve limit from the environment (operators tune these without a new command-line flag each)."""
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise AuditkitError(f"{name}={value!r} is not a positive whole number", hint=f"unset {name} or fix it")
    return int(value)
