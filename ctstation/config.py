"""Configuration: environment variables ``CTSTATION_<NAME>`` over a TOML file.

The file is the one named by ``CTSTATION_CONFIG``, else ``/etc/ctstation/config.toml``
when it exists. Every setting, its default and its meaning is in the README's table.
"""

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("/etc/ctstation/config.toml")


def _config_file() -> Path | None:
    named = os.environ.get("CTSTATION_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CTSTATION_", extra="ignore")

    broker_url: str = Field(
        "memory://",
        description="AMQP URL of RabbitMQ; memory:// runs the bus inside one "
        "process (only for `ctstation serve`).",
    )
    database_url: str = Field(
        "sqlite:////var/lib/ctstation/ctstation.db",
        description="SQLAlchemy URL of the task database (SQLite or PostgreSQL).",
    )
    listen: str = Field("127.0.0.1:8080", description="Gateway address, HOST:PORT.")
    docker_url: str | None = Field(
        None, description="Docker engine URL; unset means DOCKER_HOST or the socket."
    )
    lxd_url: str | None = Field(
        None, description="LXD URL; unset means the local unix socket."
    )
    dockerhub_registry: str = Field(
        "https://registry-1.docker.io",
        description="Registry that pre-inspects `dockerhub` images; point it at the "
        "registry mirror dockerd pulls through.",
    )
    insecure_registries: list[str] = Field(
        default_factory=list,
        description="Registry hosts (host:port) spoken to over plain HTTP.",
    )
    catalog_url: str | None = Field(
        None, description="URL of the appcenter catalog's index.json."
    )
    executors: list[str] = Field(
        default_factory=lambda: ["docker", "lxc"],
        description="Executor types `ctstation serve` runs.",
    )
    executor_concurrency: int = Field(
        2, ge=1, description="Tasks one executor works on at once."
    )
    rpc_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds the gateway waits for an executor or the "
        "orchestrator before answering 503.",
    )
    task_silence_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds without a report before a running task is aborted.",
    )
    task_waiting_timeout: float = Field(
        3600.0,
        gt=0,
        description="Seconds a task may wait for an executor.",
    )
    event_retention: float = Field(
        7 * 24 * 3600.0,
        gt=0,
        description="Seconds the event log keeps an event "
        "for replay (`GET /api/v1/events`).",
    )
    allow_privileged: bool = Field(
        False,
        description="Whether admins may create privileged containers.",
    )
    allow_devices: bool = Field(
        False,
        description="Whether admins may pass host devices through.",
    )
    allowed_host_paths: list[str] = Field(
        default_factory=list,
        description="Host folders under which admins may bind-mount volumes.",
    )
    health_dir: str = Field(
        "/run/ctstation",
        description="Folder of the consumer services' heartbeat "
        "files, read by `ctstation health`.",
    )
    log_level: str = Field("INFO", description="Log level of every service.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, config_file))
        return tuple(sources)
