"""The ``ctstation`` command: one subcommand per service, plus administration."""

import logging
import sys

import click

from contract.health import DEFAULT_MAX_AGE, age, heartbeat_path
from contract.images import ContainerType
from ctstation import runtime
from ctstation.config import Settings
from ctstation.deadletters import dead_letters
from ctstation.tail import tail

log = logging.getLogger(__name__)


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic tells of every schema check at INFO; only a change is worth a line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


def _require_real_broker(settings: Settings, service: str) -> None:
    if settings.broker_url.startswith("memory://"):
        raise click.UsageError(
            f"`ctstation {service}` runs as its own process and needs a shared "
            "broker: set CTSTATION_BROKER_URL (e.g. amqp://guest:guest@127.0.0.1//), "
            "or run everything in one process with `ctstation serve`"
        )


@click.group()
def main() -> None:
    """ctstation: LXC and Docker containers behind one REST API."""


@main.command()
def serve() -> None:
    """Run the gateway, the orchestrator and the executors in one process."""
    settings = _settings()
    sessions = runtime.open_database(settings)
    services = [runtime.make_orchestrator(settings, sessions)]
    names = ["orchestrator"]
    for kind in settings.executors:
        try:
            services.append(runtime.make_executor(ContainerType(kind), settings))
            names.append(f"executor-{kind}")
        except Exception as error:
            log.error("no %s executor: its engine is unavailable (%s)", kind, error)
    background = runtime.run_in_background(services, names)
    try:
        _serve_http(settings, sessions)
    finally:
        background.stop()


@main.command()
def gateway() -> None:
    """Run the HTTP API."""
    settings = _settings()
    _require_real_broker(settings, "gateway")
    _serve_http(settings, runtime.open_database(settings))


@main.command()
def orchestrator() -> None:
    """Run the orchestrator, the one writer of task state."""
    settings = _settings()
    _require_real_broker(settings, "orchestrator")
    runtime.make_orchestrator(settings, runtime.open_database(settings)).run()


@main.command()
@click.argument("kind", type=click.Choice([t.value for t in ContainerType]))
def executor(kind: str) -> None:
    """Run the executor of one container type (docker or lxc)."""
    settings = _settings()
    _require_real_broker(settings, "executor")
    runtime.make_executor(ContainerType(kind), settings).run()


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Let the user see and act on everything.")
@click.option("--password", help="Password for HTTP Basic; without it, tokens only.")
def user_add(name: str, admin: bool, password: str | None) -> None:
    """Add a user; the last line printed is their API token."""
    from gateway.users import UserExistsError, UserStore

    settings = _settings()
    users = UserStore(runtime.open_database(settings))
    try:
        token = users.add(name, password, admin=admin)
    except UserExistsError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"added {'admin' if admin else 'user'} {name}; API token:")
    click.echo(token)


@user.command("token")
@click.argument("name")
def user_token(name: str) -> None:
    """Issue another API token for a user; the last line printed is the token."""
    from gateway.users import UserStore

    users = UserStore(runtime.open_database(_settings()))
    if not users.exists(name):
        raise click.ClickException(f"no user {name!r}")
    click.echo(users.issue_token(name))


@main.command("config")
@click.option("--table", is_flag=True, help="Print every setting as a Markdown table.")
def show_config(table: bool) -> None:
    """Print the settings in force (or, with --table, what each one means)."""
    if table:
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for name, field in Settings.model_fields.items():
            default = field.get_default(call_default_factory=True)
            click.echo(
                f"| `CTSTATION_{name.upper()}` | `{default!r}` | {field.description} |"
            )
        return
    for name, value in Settings().model_dump().items():
        click.echo(f"CTSTATION_{name.upper()}={value!r}")


@main.command()
@click.argument(
    "service",
    type=click.Choice(["gateway", "orchestrator", "executor-docker", "executor-lxc"]),
)
@click.option(
    "--max-age",
    default=DEFAULT_MAX_AGE,
    show_default=True,
    help="Seconds without a heartbeat after which a consumer is unhealthy.",
)
def health(service: str, max_age: float) -> None:
    """Exit 0 if SERVICE is healthy, 1 if not (for container health checks)."""
    settings = Settings()
    if service == "gateway":
        healthy, detail = _gateway_health(settings)
    else:
        seconds = age(heartbeat_path(settings.health_dir, service))
        healthy = seconds is not None and seconds <= max_age
        detail = (
            "never consumed"
            if seconds is None
            else f"last consumed {seconds:.1f} s ago"
        )
    click.echo(f"{service}: {'healthy' if healthy else 'unhealthy'} ({detail})")
    sys.exit(0 if healthy else 1)


def _gateway_health(settings: Settings) -> tuple[bool, str]:
    import requests

    url = f"http://{settings.listen}/api/v1/health"
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException as error:
        return False, f"{url} does not answer: {error}"
    return response.status_code == 200, response.text.strip()


@main.command("db-upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    runtime.open_database(_settings())
    click.echo("database schema is current")


def _serve_http(settings: Settings, sessions) -> None:
    from waitress import serve as waitress_serve

    app, bus = runtime.make_gateway(settings, sessions)
    host, _, port = settings.listen.rpartition(":")
    log.info("gateway listening on http://%s:%s", host, port)
    try:
        waitress_serve(app, host=host, port=int(port), threads=16, ident="ctstation")
    finally:
        bus.stop()


main.add_command(tail)
main.add_command(dead_letters)


if __name__ == "__main__":
    sys.exit(main())
