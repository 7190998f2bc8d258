"""The executor service acks work only once its final report is out."""

from concurrent.futures import Future

from executors.service import ExecutorService
from tests.fakes import FakeEngine


class Message:
    def __init__(self) -> None:
        self.outcome = ""

    def ack(self) -> None:
        self.outcome = "acked"

    def requeue(self) -> None:
        self.outcome = "requeued"


def test_work_whose_report_failed_is_requeued_not_acked() -> None:
    service = ExecutorService(connection=None, engine=FakeEngine())
    reported, unreported = Future(), Future()
    reported.set_result(None)
    unreported.set_exception(RuntimeError("broker away"))
    done, failed = Message(), Message()
    service._track(reported, done)
    service._track(unreported, failed)

    service.ack_finished()

    assert (done.outcome, failed.outcome) == ("acked", "requeued")
