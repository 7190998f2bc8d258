"""Errors of the orchestrator's task store.

OrchestratorError          base
└── NameReservedError      an unfinished task of the type holds the name
"""


class OrchestratorError(Exception):
    code = "orchestrator_error"


class NameReservedError(OrchestratorError):
    """Two tasks may not make containers of one type and name at the same time."""

    code = "name_taken"
    status = 409

    def __init__(self, container_type: str, name: str, holder: int) -> None:
        super().__init__(
            f"{container_type} container name {name!r} is being used by task {holder}"
        )
        self.holder = holder
