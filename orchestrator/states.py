"""The task state machine: states, allowed moves, and the error for a forbidden one.

Pure data: the SQL layer (``orchestrator.tasks``) turns each move into a conditional
update, so that two writers can never both move the same task.
"""

from enum import StrEnum


class TaskState(StrEnum):
    # Stored, its work queued; no executor has reported on it yet.
    WAITING = "waiting"
    # An executor is working on it; ``detail_state`` names the step.
    RUNNING = "running"
    # The container exists, started unless the request said otherwise. Final.
    COMPLETED = "completed"
    # Failed, cancelled or timed out; ``detail_state`` says why. Final.
    ABORTED = "aborted"


TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.WAITING: frozenset({TaskState.RUNNING, TaskState.ABORTED}),
    TaskState.RUNNING: frozenset({TaskState.COMPLETED, TaskState.ABORTED}),
    TaskState.COMPLETED: frozenset(),
    TaskState.ABORTED: frozenset(),
}

FINAL_STATES = frozenset({TaskState.COMPLETED, TaskState.ABORTED})


def states_leading_to(target: TaskState) -> frozenset[TaskState]:
    """The states from which ``target`` may be reached."""
    return frozenset(state for state, nexts in TRANSITIONS.items() if target in nexts)


class IllegalTransitionError(Exception):
    """A move the state machine forbids, such as reopening a finished task."""

    def __init__(self, task_id: int, current: str, requested: TaskState) -> None:
        super().__init__(f"task {task_id} cannot move from {current} to {requested}")
        self.task_id = task_id
        self.current = current
        self.requested = requested
