"""`assent serve`: migrate, optionally seed demo data, run the API/pages/admin and a worker."""

from __future__ import annotations

import os

import click
import uvicorn
from rich.console import Console

from assent.cli.demo import issue_demo_sign_in, print_demo_sign_in
from assent.cli.main import cli, settle_heap
from assent.config import Settings
from assent.storage.db import open_database
from assent.storage.migrate import migrate

console = Console(stderr=True, soft_wrap=True)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="HTTP worker processes.")
@click.option("--demo/--no-demo", default=False, help="Seed a demo data set into an empty database.")
@click.option("--no-worker", is_flag=True, help="Do not run the job worker in this process.")
def serve(host: str, port: int, workers: int, demo: bool, no_worker: bool) -> None:
    """Run Assent (migrates the database first)."""
    url = f"http://{host}:{port}"
    # Links in mail and API answers point at ASSENT_BASE_URL; unset, they point here.
    os.environ.setdefault("ASSENT_BASE_URL", url)
    settings = Settings.from_env()
    db = open_database(settings)  # a URL or server it cannot use: one line (cli.main._Commands)
    migrate(db)
    if demo:
        from assent.actions.demo import seed_if_empty

        seeded = seed_if_empty(db)
        console.print("[green]Demo data seeded.[/green]" if seeded else "Demo data already present.")
        sign_in = issue_demo_sign_in(db)
    db.dispose()
    console.print(f"Assent is running at [bold]{url}[/bold] on {settings.database_url.split('://')[0]}")
    console.print(f"API docs (OpenAPI): {url}/docs  ·  schema: {url}/openapi.json")
    if demo:
        print_demo_sign_in(console, url, sign_in)
    os.environ["ASSENT_RUN_WORKER"] = "0" if no_worker else "1"
    uvicorn.run(
        "assent.cli.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


def app_from_env() -> object:
    from assent.app import create_app

    settings = Settings.from_env(run_worker=os.environ.get("ASSENT_RUN_WORKER", "1") == "1")
    app = create_app(settings)
    settle_heap()  # in each HTTP worker process, once its app is built
    return app
