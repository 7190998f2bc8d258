"""Create parameters: one set of keys for both container types.

The gateway validates a request with these models, and each executor maps the validated
values onto its engine, so a parameter is checked once and means the same thing for LXD
and Docker.
"""

import shlex
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    IPvAnyAddress,
    field_validator,
)

Port = Annotated[int, Field(ge=1, le=65535)]


class PortMapping(BaseModel):
    """A container port published on the host.

    Without ``host`` the engine picks a free host port and the task reports it.
    """

    model_config = ConfigDict(extra="forbid")

    container: Port
    host: Port | None = None
    host_ip: IPvAnyAddress | None = None
    protocol: Literal["tcp", "udp"] = "tcp"


class VolumeMount(BaseModel):
    """A named volume (Docker) or a host path (both types) mounted in the container."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1)
    target: str = Field(min_length=1, pattern=r"^/")
    read_only: bool = False

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")


class CreateParams(BaseModel):
    """What a user may ask of a new container, whatever its type."""

    model_config = ConfigDict(extra="forbid")

    cpu: float | None = Field(default=None, gt=0, le=1024, allow_inf_nan=False)
    # Engines take memory as a signed 64-bit count of bytes.
    memory: ByteSize | None = Field(default=None, ge=4 * 1024 * 1024, le=2**62)
    env: dict[str, str] = Field(default_factory=dict)
    command: list[str] | None = None
    ports: list[PortMapping] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    network: str | None = None
    hostname: str | None = Field(default=None, max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)
    autostart: bool = False
    start: bool = True
    privileged: bool = False
    # Host devices passed through, by path (/dev/ttyUSB0), at the same path inside.
    devices: list[Annotated[str, Field(pattern=r"^/dev/[\w./-]+$")]] = Field(
        default_factory=list
    )

    @field_validator("command", mode="before")
    @classmethod
    def split_command_string(cls, value: object) -> object:
        # Docker's API takes a string as a shell-less argv of one word; users who write
        # "sleep 60" mean two words, as `docker run IMAGE sleep 60` would.
        if isinstance(value, str):
            return shlex.split(value)
        return value

    @field_validator("env")
    @classmethod
    def env_names_are_valid(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not name or "=" in name:
                raise ValueError(f"invalid environment variable name {name!r}")
        return env

    @field_validator("env", "labels")
    @classmethod
    def no_nul_characters(cls, values: dict[str, str]) -> dict[str, str]:
        # The engines pass these to C strings, where NUL ends the string.
        for key, value in values.items():
            if "\x00" in key or "\x00" in value:
                raise ValueError(f"{key!r} contains a NUL character")
        return values
