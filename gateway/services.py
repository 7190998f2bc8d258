"""What request handlers share: settings, the bus, the stores, and how to ask."""

from dataclasses import dataclass
from typing import Any

from flask import current_app

from contract.events import EventType, make_event
from contract.images import ContainerType
from contract.schemas import RpcRequest
from contract.topology import EVENTS, RPC
from ctstation.config import Settings
from gateway.bus import BusClient
from gateway.errors import from_remote
from gateway.users import UserStore
from orchestrator.events import EventLog
from orchestrator.tasks import TaskStore

SERVICE = "gateway"


@dataclass
class Services:
    settings: Settings
    bus: BusClient
    tasks: TaskStore
    users: UserStore
    # This installation's id, on the labels of the containers it made.
    installation: str
    events: EventLog

    def ask_executor(self, ctype: ContainerType, method: str, **args: Any) -> Any:
        """Ask an executor of the type; its error answer is raised as an ApiError.

        Raises:
            ApiError: the executor's error, or 503 when none answered in time.
        """
        question = RpcRequest(method=method, args=args)
        envelope = make_event(
            EventType.RPC_REQUEST, question.model_dump(mode="json"), SERVICE
        )
        answer = self.bus.ask(
            envelope, RPC, ctype, self.settings.rpc_timeout, who=f"{ctype} executor"
        )
        if "error" in answer:
            raise from_remote(answer["error"])
        return answer["result"]

    def ask_orchestrator(self, event_type: EventType, data: dict[str, Any]) -> Any:
        """Publish a request event and answer the orchestrator's reply.

        Raises:
            ApiError: the orchestrator's error, or 503 when it did not answer.
        """
        envelope = make_event(event_type, data, SERVICE)
        answer = self.bus.ask(
            envelope,
            EVENTS,
            event_type.routing_key,
            self.settings.rpc_timeout,
            who="orchestrator",
        )
        if "error" in answer:
            raise from_remote(answer["error"])
        return answer["task"]


def services() -> Services:
    return current_app.extensions["ctstation"]
