"""Docker inspect data as the container API shows it."""

from executors.docker.details import container_details, cpu_cores, environment
from executors.engine import ContainerRef
from tests.unit.executors.docker.samples import CONTAINER_ID, UID, inspect_data


def test_our_container_shows_its_task_state_and_configuration() -> None:
    details = container_details(inspect_data())

    assert details.ref == ContainerRef("docker", "web", CONTAINER_ID, 7)
    assert (details.task_id, details.task_uid, details.owner) == (7, UID, "alice")
    assert (details.state, details.image) == ("running", "nginx:1.25")
    assert details.created == "2024-05-01T10:00:00.123456789Z"
    assert details.addresses == ["172.17.0.2"]
    assert details.ports == [
        {"container": 80, "protocol": "tcp", "host_ip": "127.0.0.1", "host": 32768}
    ]
    assert details.config == {
        "env": {"A": "1", "EMPTY": "", "BARE": ""},
        "command": ["nginx", "-g", "daemon off;"],
        "entrypoint": ["/docker-entrypoint.sh"],
        "working_dir": "/srv",
        "labels": {"team": "qa"},
        "cpu": 1.5,
        "memory": 64 * 1024 * 1024,
        "autostart": True,
        "hostname": "webhost",
        "network": None,
        "volumes": [
            {"source": "data", "target": "/data", "read_only": False},
            {"source": "/srv/conf", "target": "/c", "read_only": True},
        ],
        "privileged": False,
    }


def test_a_foreign_container_has_no_task_fields_and_unset_limits() -> None:
    attrs = inspect_data(
        Config={"Hostname": CONTAINER_ID[:12], "Labels": None, "Env": None},
        HostConfig={"NetworkMode": "backend", "RestartPolicy": {"Name": "no"}},
        State={"Status": "exited"},
    )

    details = container_details(attrs)

    assert details.ref.task_id is None
    assert (details.task_id, details.task_uid, details.owner) == (None, None, None)
    assert details.state == "exited"
    config = details.config
    assert (config["env"], config["labels"]) == ({}, {})
    assert (config["cpu"], config["memory"], config["autostart"]) == (None, None, False)
    assert (config["hostname"], config["network"]) == (None, "backend")


def test_a_forged_task_label_that_is_no_number_is_no_task_id() -> None:
    labels = {"ctstation.task": "seven", "ctstation.user": "mallory"}
    attrs = inspect_data(Config={"Labels": labels})

    details = container_details(attrs)

    assert (details.task_id, details.owner) == (None, "mallory")


def test_the_hostname_of_the_host_network_is_not_the_containers_own() -> None:
    attrs = inspect_data(HostConfig={"NetworkMode": "host"})

    assert container_details(attrs).config["hostname"] is None


def test_cpu_cores_come_from_nano_cpus_or_from_quota_and_period() -> None:
    assert cpu_cores({"NanoCpus": 500_000_000}) == 0.5
    assert cpu_cores({"CpuQuota": 150_000, "CpuPeriod": 100_000}) == 1.5
    assert cpu_cores({"CpuQuota": -1, "CpuPeriod": 100_000}) is None
    assert cpu_cores({}) is None


def test_environment_keeps_equal_signs_in_values() -> None:
    assert environment(["URL=a=b"]) == {"URL": "a=b"}
