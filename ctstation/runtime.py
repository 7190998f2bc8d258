"""Building each service from the settings, for the CLI and for tests."""

import logging
import threading
from dataclasses import dataclass

from kombu import Connection
from sqlalchemy.orm import Session, sessionmaker

from contract.bus import connect
from contract.health import Heartbeat, heartbeat_path
from contract.images import ContainerType
from ctstation.config import Settings
from executors.engine import Engine
from executors.service import ExecutorService
from gateway.app import create_app
from gateway.bus import BusClient
from gateway.users import UserStore
from orchestrator.db import installation_id, make_engine, make_sessionmaker
from orchestrator.events import EventLog
from orchestrator.schema import upgrade_schema
from orchestrator.service import Orchestrator, Timeouts
from orchestrator.tasks import TaskStore

log = logging.getLogger(__name__)


def open_database(settings: Settings) -> sessionmaker[Session]:
    """Connect to the database, bringing its schema up to date first."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return make_sessionmaker(engine)


def make_orchestrator(
    settings: Settings,
    sessions: sessionmaker[Session],
    connection: Connection | None = None,
) -> Orchestrator:
    users = UserStore(sessions)
    timeouts = Timeouts(
        silence=settings.task_silence_timeout,
        waiting=settings.task_waiting_timeout,
        event_retention=settings.event_retention,
    )
    orchestrator = Orchestrator(
        connection or connect(settings.broker_url),
        TaskStore(sessions),
        EventLog(sessions),
        users.exists,
        users.is_admin,
        timeouts,
        redispatch_unfinished=settings.broker_url.startswith("memory://"),
        installation=installation_id(sessions),
    )
    orchestrator.heartbeat = Heartbeat(
        heartbeat_path(settings.health_dir, "orchestrator")
    )
    return orchestrator


def make_engine_adapter(container_type: ContainerType, settings: Settings) -> Engine:
    """The engine adapter of one type, connected to its engine."""
    if container_type == ContainerType.DOCKER:
        import docker

        from executors.docker.engine import DockerEngine

        client = (
            docker.DockerClient(base_url=settings.docker_url)
            if settings.docker_url
            else docker.from_env()
        )
        return DockerEngine(
            client, settings.dockerhub_registry, tuple(settings.insecure_registries)
        )

    import pylxd
    import requests

    from executors.lxc.catalog import Catalog
    from executors.lxc.engine import LxdEngine

    client = (
        pylxd.Client(endpoint=settings.lxd_url) if settings.lxd_url else pylxd.Client()
    )
    return LxdEngine(client, Catalog(settings.catalog_url, requests.Session()))


def make_executor(
    container_type: ContainerType,
    settings: Settings,
    connection: Connection | None = None,
) -> ExecutorService:
    engine = make_engine_adapter(container_type, settings)
    executor = ExecutorService(
        connection or connect(settings.broker_url),
        engine,
        concurrency=settings.executor_concurrency,
    )
    executor.heartbeat = Heartbeat(
        heartbeat_path(settings.health_dir, f"executor-{container_type}")
    )
    return executor


def make_gateway(settings: Settings, sessions: sessionmaker[Session]):
    bus = BusClient(settings.broker_url)
    bus.start()
    app = create_app(
        settings,
        bus,
        TaskStore(sessions),
        UserStore(sessions),
        installation_id(sessions),
        EventLog(sessions),
    )
    return app, bus


@dataclass
class Background:
    """Consumer services running on threads of this process."""

    services: list
    threads: list[threading.Thread]

    def stop(self) -> None:
        for service in self.services:
            service.should_stop = True
        for thread in self.threads:
            thread.join(timeout=10)


def run_in_background(services: list, names: list[str]) -> Background:
    threads = []
    for service, name in zip(services, names, strict=True):
        thread = threading.Thread(target=service.run, name=name, daemon=True)
        thread.start()
        threads.append(thread)
    return Background(services, threads)
