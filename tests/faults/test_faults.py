"""Fault tests: a few hundred creates through the real stack while its parts die.

One stack (each service its own process, on a RabbitMQ vhost of its own, SQLite in
a temporary folder), a few HTTP clients sending creates, and a chaos thread that
kill -9s each service at a moment chosen to hurt (an executor mid-create, the
orchestrator mid-transition, the gateway mid-publish) and starts it again after a
short pause. Last, the broker itself restarts. Once every task has ended, every
accepted request must be exactly one task, every completed task exactly one
container carrying its task label, every aborted task a reason and no container,
and no container of the run may be left without a completed task.

A request that fails while a service is down (503, a connection error, a timeout)
is not an accepted one: it is sent again later with the same Idempotency-Key, so a
request the stack did in fact accept is answered with its first task, not counted
twice.

Environment:
    CTSTATION_FAULTS_RESTART_BROKER  1 (default) restarts RabbitMQ at the end; that
        touches every vhost of the broker, so run it only where nothing else uses
        RabbitMQ (CI runs the tests one at a time); 0 skips it.
    CTSTATION_FAULTS_CREATES  how many creates (default 200).
    CTSTATION_FAULTS_SEED  the random seed (default: a new one, printed).
"""

import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pylxd
import pytest
import requests
from pylxd.exceptions import NotFound

from executors.engine import INSTALLATION_LABEL, TASK_LABEL, TASK_UID_LABEL
from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

CREATES = int(os.environ.get("CTSTATION_FAULTS_CREATES", "200"))
RESTART_BROKER = os.environ.get("CTSTATION_FAULTS_RESTART_BROKER", "1") == "1"
SEED = int(os.environ.get("CTSTATION_FAULTS_SEED", "0")) or random.randrange(10**6)

DOCKER_IMAGE = "ctstation-local/box"  # source local, on the Docker daemon
LXC_IMAGE = "busybox"  # source local, an LXD alias
LXC_SHARE = 0.1  # LXC creates are slower: about one in ten
CLIENTS = 3
# A client gives up on an answer after this long (the gateway's own wait for an
# executor or the orchestrator is 20 s), then asks again later with the same key.
CLIENT_TIMEOUT = 8.0
# The requests before the broker phase are spread over this many seconds, so that
# the service kills find work in every state.
SUBMIT_SECONDS = 45.0
# The share of requests sent while the broker restarts.
BROKER_PHASE_SHARE = 0.15
BROKER_RESTARTS = 2
# The broker phase's requests are spread over this many seconds.
BROKER_PHASE_SECONDS = 15.0
# How long clients keep retrying after the last fault, and how long tasks may take
# to end after that.
CLIENT_GRACE = 120.0
DRAIN_TIMEOUT = 300.0

# Short enough that a task orphaned by a kill ends within the test.
EXTRA_ENV = {
    "CTSTATION_TASK_SILENCE_TIMEOUT": "30",
    "CTSTATION_TASK_WAITING_TIMEOUT": "120",
}
LXD_INSTALLATION_KEY = f"user.{INSTALLATION_LABEL}"


class FaultStack(Stack):
    """The integration stack, with timeouts a test can wait out."""

    def env(self) -> dict[str, str]:
        return {**super().env(), **EXTRA_ENV}


# --- the engines, and what this run left on them ------------------------------------


def docker_client() -> docker.DockerClient:
    return docker.from_env(timeout=120)


@dataclass(frozen=True)
class Found:
    """A container on an engine, as far as this suite cares."""

    type: str
    name: str
    id: str
    labels: dict[str, str]

    @property
    def uid(self) -> str | None:
        return self.labels.get(TASK_UID_LABEL)


def containers_of_run(prefix: str, installation: str | None) -> list[Found]:
    """Containers named with the run's prefix or labelled with its installation."""
    found: dict[tuple[str, str], Found] = {}
    client = docker_client()
    try:
        filters = [{"name": prefix}]
        if installation:
            filters.append({"label": f"{INSTALLATION_LABEL}={installation}"})
        for filter_ in filters:
            for item in client.api.containers(all=True, filters=filter_):
                name = item["Names"][0].lstrip("/")
                labels = item.get("Labels") or {}
                if name.startswith(prefix) or (
                    installation and labels.get(INSTALLATION_LABEL) == installation
                ):
                    found[("docker", item["Id"])] = Found(
                        "docker", name, item["Id"], labels
                    )
    finally:
        client.close()
    for instance in pylxd.Client().instances.all(recursion=1):
        config = instance.config or {}
        if instance.name.startswith(prefix) or (
            installation and config.get(LXD_INSTALLATION_KEY) == installation
        ):
            labels = {
                key[len("user.") :]: value
                for key, value in config.items()
                if key.startswith("user.ctstation.")
            }
            found[("lxc", instance.name)] = Found(
                "lxc", instance.name, instance.name, labels
            )
    return list(found.values())


def remove_containers(prefix: str) -> int:
    """Remove every container named with the prefix; how many there were."""
    client = docker_client()
    lxd = pylxd.Client()

    def remove_docker(container_id: str) -> None:
        try:
            client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass

    def remove_lxc(name: str) -> None:
        try:
            instance = lxd.instances.get(name)
            if instance.status != "Stopped":
                instance.stop(force=True, wait=True)
            instance.delete(wait=True)
        except NotFound:
            pass

    jobs: list[Callable[[], None]] = []
    for item in client.api.containers(all=True, filters={"name": prefix}):
        if item["Names"][0].lstrip("/").startswith(prefix):
            jobs.append(lambda cid=item["Id"]: remove_docker(cid))
    for instance in lxd.instances.all():
        if instance.name.startswith(prefix):
            jobs.append(lambda name=instance.name: remove_lxc(name))
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(job) for job in jobs]:
            try:
                future.result()
            except Exception as error:  # noqa: BLE001 - clean what can be cleaned
                print(f"cleanup: {type(error).__name__}: {error}")
    client.close()
    return len(jobs)


# --- clients ---------------------------------------------------------------------


@dataclass
class CreateRequest:
    """One create as a client means it: sent until answered, always with one key."""

    kind: str
    name: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    task_ids: set[int] = field(default_factory=set)
    answers: list[str] = field(default_factory=list)  # per attempt
    replayed: bool = False
    refused: str | None = None
    not_before: float = 0.0

    @property
    def accepted(self) -> bool:
        return bool(self.task_ids)

    def body(self) -> dict[str, Any]:
        image = DOCKER_IMAGE if self.kind == "docker" else LXC_IMAGE
        return {"type": self.kind, "name": self.name, "image": image, "start": True}


class Clients:
    """A few threads sending creates; a failed attempt is sent again later."""

    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack = stack
        self.rng = rng
        self.pending: deque[CreateRequest] = deque()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.started: dict[str, float] = {}  # thread name: when its attempt began
        self.feeding_done = threading.Event()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"client-{i}", daemon=True)
            for i in range(CLIENTS)
        ]
        self.t0 = time.monotonic()
        # Every attempt, for the stack's workdir: when, which request, what answer.
        self.trace: list[str] = []

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def release(self, request: CreateRequest) -> None:
        with self.lock:
            self.pending.append(request)

    def wait(self, timeout: float) -> bool:
        """Until every request was answered, or ``timeout``; whether they were."""
        self.feeding_done.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)
        return not self.pending

    def _next(self) -> CreateRequest | None:
        with self.lock:
            now = time.monotonic()
            for _ in range(len(self.pending)):
                request = self.pending.popleft()
                if request.not_before <= now:
                    self.in_flight += 1
                    return request
                self.pending.append(request)
        return None

    def oldest_in_flight(self) -> float:
        """Seconds the oldest attempt in flight has waited for its answer."""
        started = list(self.started.values())
        return time.monotonic() - min(started) if started else 0.0

    def _idle(self) -> bool:
        with self.lock:
            return not self.pending and self.in_flight == 0

    def _work(self) -> None:
        while not self.stopping.is_set():
            request = self._next()
            if request is None:
                if self.feeding_done.is_set() and self._idle():
                    return
                time.sleep(0.05)
                continue
            retry = True
            sent = time.monotonic()
            thread = threading.current_thread().name
            self.started[thread] = sent
            try:
                retry = self._send(request)
            finally:
                self.started.pop(thread, None)
                with self.lock:
                    self.in_flight -= 1
                    if retry:
                        request.not_before = time.monotonic() + self.rng.uniform(1, 3)
                        self.pending.append(request)
                self.trace.append(
                    f"{sent - self.t0:7.2f} +{time.monotonic() - sent:5.2f} "
                    f"{request.name} {request.answers[-1] if request.answers else '-'}"
                    f" {sorted(request.task_ids)}"
                )
            if retry:
                time.sleep(0.2)  # a service is away: do not spin

    def _send(self, request: CreateRequest) -> bool:
        """One attempt; whether to try again later."""
        headers = {**self.stack.headers("alice"), "Idempotency-Key": request.key}
        try:
            response = requests.post(
                f"{self.stack.url}/image/create/local/{request.kind}",
                json=request.body(),
                headers=headers,
                timeout=(3, CLIENT_TIMEOUT),
            )
        except requests.RequestException as error:
            request.answers.append(type(error).__name__)
            self.trace.append(f"        {request.name} {str(error)[:200]}")
            return True
        request.answers.append(str(response.status_code))
        if response.status_code not in (200, 202):
            self.trace.append(f"        {request.name} {response.text[:200]}")
        if response.status_code in (200, 202):
            request.task_ids.add(int(response.json()["id"]))
            if response.headers.get("Idempotent-Replayed") == "true":
                request.replayed = True
            return False
        if response.status_code >= 500:
            return True  # 503 while a service is away; other 5xx are counted too
        request.refused = f"{response.status_code} {response.text[:300]}"
        return False


# --- chaos -----------------------------------------------------------------------


class Chaos:
    """Kills services at chosen moments and starts them again; notes what it did."""

    def __init__(
        self, stack: FaultStack, clients: Clients, rng: random.Random, t0: float
    ) -> None:
        self.stack = stack
        self.clients = clients
        self.rng = rng
        self.t0 = t0
        self.notes: list[str] = []
        self.kills: Counter[str] = Counter()
        self.broker_restarts = 0
        self.error: str | None = None
        self.database = Path(stack.database_url.removeprefix("sqlite:///"))

    def note(self, text: str) -> None:
        line = f"{time.monotonic() - self.t0:6.1f}s  {text}"
        self.notes.append(line)
        print(f"[chaos] {line}", flush=True)

    def running(self, kind: str | None = None, steps: tuple[str, ...] = ()) -> list:
        """Running tasks, read straight from SQL (the gateway may be the one down)."""
        query = "SELECT id, type, detail_state FROM tasks WHERE state = 'running'"
        args: list[str] = []
        if kind:
            query += " AND type = ?"
            args.append(kind)
        if steps:
            query += f" AND detail_state IN ({','.join('?' * len(steps))})"
            args.extend(steps)
        try:
            with sqlite3.connect(self.database, timeout=5) as connection:
                return connection.execute(query, args).fetchall()
        except sqlite3.Error:
            return []

    def wait_for(self, probe: Callable[[], Any], timeout: float = 8) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.02)
        return None

    def run(self, plan: list[str]) -> None:
        try:
            for action in plan:
                time.sleep(self.rng.uniform(2, 5))
                self.kill(action)
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            self.note(f"chaos failed: {self.error}")
            raise

    def kill(self, action: str) -> None:
        """kill -9 a service at the moment ``action`` names; start it again later."""
        service = action.split(":")[0]
        frozen = None
        if action == "executor docker":
            found = self.wait_for(
                lambda: self.running("docker", ("creating", "starting"))
            ) or self.running("docker")
            moment = (
                f"mid-create of task {found[0][0]} ({found[0][2]})"
                if found
                else "no docker task running"
            )
        elif action == "executor lxc":
            found = self.wait_for(lambda: self.running("lxc"), timeout=20)
            moment = f"task {found[0][0]} at {found[0][2]}" if found else "no lxc task"
        elif action == "orchestrator":
            found = self.wait_for(self.running)
            moment = f"mid-transition, {len(found)} running" if found else "idle"
        elif action == "gateway":
            busy = self.wait_for(lambda: self.clients.in_flight > 0)
            moment = "requests in flight" if busy else "no request in flight"
        else:  # gateway:published - its requests published, their answers not back
            # The orchestrator is frozen (SIGSTOP) for a moment, so that requests
            # the gateway published wait for their answer when it dies; once thawed,
            # the orchestrator stores them as tasks their clients never heard of.
            frozen = self.stack.processes["orchestrator"]
            frozen.send_signal(signal.SIGSTOP)
            busy = self.wait_for(lambda: self.clients.oldest_in_flight() > 0.5, 5)
            moment = (
                "mid-publish: requests published, orchestrator frozen"
                if busy
                else "orchestrator frozen, no request in flight"
            )
        process = self.stack.processes[service]
        try:
            process.kill()
            process.wait()
        finally:
            if frozen is not None:
                frozen.send_signal(signal.SIGCONT)
        self.kills[service] += 1
        pause = self.rng.uniform(0.5, 4)
        self.note(f"kill -9 {service}: {moment}; back in {pause:.1f} s")
        time.sleep(pause)
        self.stack.start_service(service)

    def restart_broker(self) -> None:
        self.note("rabbitmqctl stop_app")
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
        try:
            time.sleep(3)
        finally:
            subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=180)
        subprocess.run(
            ["rabbitmqctl", "-q", "await_online_nodes", "1"], check=True, timeout=180
        )
        self.broker_restarts += 1
        self.note("broker answers again")


def feed(clients: Clients, creates: list[CreateRequest], seconds: float) -> None:
    """Hand the clients these requests, evenly over ``seconds``."""
    for request in creates:
        clients.release(request)
        time.sleep(seconds / max(1, len(creates)))


# --- the stack's view ---------------------------------------------------------------


def wait_drained(stack: Stack, timeout: float) -> list[dict[str, Any]]:
    """Until no task waits or runs (or ``timeout``); the unfinished ones left."""
    deadline = time.monotonic() + timeout
    unfinished: list[dict[str, Any]] = [{"id": "?", "state": "unknown"}]
    while time.monotonic() < deadline:
        try:
            unfinished = [
                task
                for state in ("waiting", "running")
                for task in stack.get(f"/image/create/?state={state}").json()
            ]
        except (requests.RequestException, ValueError):
            pass
        else:
            if not unfinished:
                return []
        time.sleep(1)
    return unfinished


def stored_keys(database: Path) -> tuple[dict[int, tuple[str, str | None]], str]:
    """Each task's uid and idempotency key, as SQL has them, and the installation."""
    with sqlite3.connect(database, timeout=10) as connection:
        rows = connection.execute("SELECT id, request_id, idempotency_key FROM tasks")
        keys = {row[0]: (row[1], row[2]) for row in rows}
        installation = connection.execute("SELECT id FROM installation").fetchone()[0]
    return keys, installation


# --- the suite ----------------------------------------------------------------------


@pytest.fixture
def run_prefix() -> Iterator[str]:
    """The name prefix of this run's containers, all removed at the end."""
    prefix = f"flt-{SEED:06d}-{uuid.uuid4().hex[:4]}-"
    yield prefix
    removed = remove_containers(prefix)
    print(f"cleanup: removed {removed} containers named {prefix}*")


@pytest.fixture
def fault_stack(tmp_path: Path, run_prefix: str) -> Iterator[FaultStack]:
    stack = FaultStack(
        workdir=tmp_path, database_url=f"sqlite:///{tmp_path}/ctstation.db"
    )
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        print(f"stack logs: {tmp_path}")


@pytest.mark.timeout(900)
def test_faults_lose_no_request_and_leave_no_stray_container(
    fault_stack: FaultStack, run_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = fault_stack
    rng = random.Random(SEED)
    started = time.monotonic()
    print(f"\nfault suite: seed {SEED}, prefix {run_prefix}, workdir {stack.workdir}")

    lxc_count = max(1, round(CREATES * LXC_SHARE))
    kinds = ["lxc"] * lxc_count + ["docker"] * (CREATES - lxc_count)
    rng.shuffle(kinds)
    creates = [
        CreateRequest(kind, f"{run_prefix}{kind[0]}{i:03d}")
        for i, kind in enumerate(kinds)
    ]
    split = round(CREATES * (1 - BROKER_PHASE_SHARE)) if RESTART_BROKER else CREATES
    first, last = creates[:split], creates[split:]

    clients = Clients(stack, random.Random(SEED + 1))
    clients.t0 = started
    chaos = Chaos(stack, clients, random.Random(SEED + 2), started)
    plan = ["executor docker"] * 3 + ["executor lxc"] + ["orchestrator"] * 2
    plan += ["gateway", "gateway:published"]
    rng.shuffle(plan)
    chaos_thread = threading.Thread(target=chaos.run, args=(plan,), name="chaos")
    clients.start()
    chaos_thread.start()
    feed(clients, first, SUBMIT_SECONDS)
    chaos_thread.join()

    failures: list[str] = []
    if chaos.error:
        failures.append(f"the chaos itself failed: {chaos.error}")
    # The broker, last: it is shared with every other vhost.
    if RESTART_BROKER:
        feeder = threading.Thread(
            target=feed, args=(clients, last, BROKER_PHASE_SECONDS), daemon=True
        )
        feeder.start()
        for restart in range(BROKER_RESTARTS):
            time.sleep(rng.uniform(1, 3) if restart == 0 else rng.uniform(4, 8))
            chaos.restart_broker()
        feeder.join()
    for service, process in stack.processes.items():
        if process.poll() is not None:
            failures.append(f"{service} exited ({process.returncode}) after the chaos")
            stack.start_service(service)
    try:
        stack.wait_ready(timeout=90)
    except RuntimeError as error:
        failures.append(f"stack not ready after the faults: {error}")

    all_answered = clients.wait(CLIENT_GRACE)
    (stack.workdir / "clients.trace").write_text("\n".join(clients.trace) + "\n")
    sent_at = time.monotonic()
    unfinished = wait_drained(stack, DRAIN_TIMEOUT)
    drained_in = time.monotonic() - sent_at

    # What the stack and the engines say.
    tasks = {task["id"]: task for task in stack.get("/image/create/").json()}
    keys, installation = stored_keys(
        Path(stack.database_url.removeprefix("sqlite:///"))
    )
    containers = containers_of_run(run_prefix, installation)
    by_uid: dict[str, list[Found]] = {}
    for container in containers:
        by_uid.setdefault(container.uid or "", []).append(container)
    for service, process in stack.processes.items():
        if process.poll() is not None:
            failures.append(f"{service} exited ({process.returncode})")

    accepted = [request for request in creates if request.accepted]
    refused = [request for request in creates if request.refused]
    unanswered = [r for r in creates if not r.accepted and not r.refused]
    answers = Counter(answer for request in creates for answer in request.answers)
    states = Counter(task["state"] for task in tasks.values())
    completed = [task for task in tasks.values() if task["state"] == "completed"]
    aborted = [task for task in tasks.values() if task["state"] == "aborted"]

    # Every accepted request is one task, the one SQL holds under its key.
    mapped = 0
    task_of_request: dict[int, CreateRequest] = {}
    for request in accepted:
        if len(request.task_ids) > 1:
            failures.append(
                f"{request.name}: one key, tasks {sorted(request.task_ids)}"
            )
            continue
        (task_id,) = request.task_ids
        task = tasks.get(task_id)
        if task is None:
            failures.append(f"{request.name}: accepted as task {task_id}, not listed")
        elif (
            keys.get(task_id, ("", None))[1] != request.key
            or task["name"] != request.name
        ):
            failures.append(f"{request.name}: task {task_id} is another request's")
        else:
            mapped += 1
            task_of_request[task_id] = request
    for task_id, task in tasks.items():
        if task_id not in task_of_request:
            failures.append(
                f"task {task_id} ({task['name']}, {task['state']}) answers no accepted "
                f"request (key {keys.get(task_id, ('', None))[1]})"
            )
    for name, count in Counter(t["name"] for t in tasks.values()).items():
        if count > 1:
            failures.append(f"{count} tasks for the name {name}")
    for request in refused:
        failures.append(
            f"{request.name}: refused {request.refused} ({request.answers})"
        )
    for request in unanswered:
        failures.append(f"{request.name}: never accepted ({request.answers})")
    for task in unfinished:
        failures.append(f"task {task['id']} still {task['state']}: {task}")

    # Every completed task has exactly one container; aborted ones have a reason
    # and none; no container of the run is without a completed task.
    one_container = 0
    for task in completed:
        uid = keys[task["id"]][0]
        holders = by_uid.get(uid, [])
        if len(holders) != 1:
            failures.append(
                f"completed task {task['id']} ({task['name']}): {len(holders)} "
                f"containers carry its uid: {[h.name for h in holders]}"
            )
            continue
        holder = holders[0]
        reported = task["container"] or {}
        if (
            holder.type != task["type"]
            or holder.name != task["name"]
            or holder.labels.get(TASK_LABEL) != str(task["id"])
            or reported.get("id") != holder.id
        ):
            failures.append(
                f"completed task {task['id']} ({task['name']}) and its container "
                f"differ: {holder} vs {reported}"
            )
            continue
        one_container += 1
    with_reason = 0
    for task in aborted:
        reason = (task.get("error") or {}).get("message")
        if task["detail_state"] and reason:
            with_reason += 1
        else:
            failures.append(f"aborted task {task['id']} without a reason: {task}")
        uid = keys[task["id"]][0]
        if by_uid.get(uid):
            failures.append(
                f"aborted task {task['id']} ({task['name']}) left "
                f"{[h.name for h in by_uid[uid]]}"
            )
    completed_uids = {keys[task["id"]][0] for task in completed}
    strays = [c for c in containers if c.uid not in completed_uids]
    for container in strays:
        failures.append(
            f"{container.type} container {container.name} has no "
            f"completed task (labels {container.labels})"
        )

    abort_codes = Counter(
        (task.get("error") or {}).get("code", "?") for task in aborted
    )
    print("\n".join(["", "chaos:", *(f"  {note}" for note in chaos.notes)]))
    replays = sum(request.replayed for request in accepted)
    rows = [
        (
            "requests sent",
            f"{len(creates)} ({CREATES - lxc_count} docker, {lxc_count} lxc), "
            + f"{CLIENTS} clients",
        ),
        ("attempts", f"{sum(answers.values())}: {dict(sorted(answers.items()))}"),
        (
            "accepted requests",
            f"{len(accepted)} ({replays} answered by replay of an earlier attempt)",
        ),
        ("refused / never accepted", f"{len(refused)} / {len(unanswered)}"),
        ("tasks", f"{len(tasks)}: {dict(states)}"),
        ("accepted request -> task", f"{mapped} of {len(accepted)} by key"),
        ("completed", f"{len(completed)}, {one_container} with exactly one container"),
        (
            "aborted",
            f"{len(aborted)}, {with_reason} with a reason: {dict(abort_codes)}",
        ),
        ("waiting or running", f"{len(unfinished)}"),
        (
            "containers of the run",
            f"{len(containers)}, {len(strays)} without a completed task",
        ),
        ("kills", f"{dict(chaos.kills)}; broker restarts {chaos.broker_restarts}"),
        ("clients answered", f"{all_answered}; drained {drained_in:.0f} s later"),
        ("runtime", f"{time.monotonic() - started:.0f} s (after stack start)"),
    ]
    width = max(len(label) for label, _ in rows)
    # The counts are the suite's report: shown even when pytest captures output.
    with capsys.disabled():
        print("\nfault suite results")
        for label, value in rows:
            print(f"  {label:<{width}}  {value}")
        for task in aborted:
            print(
                f"  aborted {task['id']} {task['name']}: {task['detail_state'][:160]}"
            )
        if failures:
            print("\nfailures:\n  " + "\n  ".join(failures[:50]))
    assert not failures, f"{len(failures)} failures; stack logs in {stack.workdir}"
