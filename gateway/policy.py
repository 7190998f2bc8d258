"""Which create params a user may ask for.

Privileged containers, host devices and host bind mounts reach outside the
container; plain users never get them, admins only where the server's configuration
allows them.
"""

from pathlib import PurePosixPath

from contract.params import CreateParams
from ctstation.config import Settings
from gateway.errors import ForbiddenError


def check_params_allowed(
    params: CreateParams,
    is_admin: bool,
    settings: Settings,
) -> None:
    """Raises ForbiddenError naming the first param this user may not have."""
    switches = {
        "privileged": (params.privileged, settings.allow_privileged),
        "devices": (bool(params.devices), settings.allow_devices),
    }
    for param, (asked, server_allows) in switches.items():
        if asked and not (is_admin and server_allows):
            who = "on this server" if is_admin else "for non-admin users"
            raise ForbiddenError(
                f"param '{param}' is not allowed {who}",
                code="param_forbidden",
                param=param,
            )
    for volume in params.volumes:
        if volume.is_host_path and not (
            is_admin and _is_under(volume.source, settings.allowed_host_paths)
        ):
            raise ForbiddenError(
                f"param 'volumes': host path {volume.source!r} is outside the "
                "allowed roots",
                code="param_forbidden",
                param="volumes",
            )


def _is_under(path: str, roots: list[str]) -> bool:
    candidate = PurePosixPath(path)
    if ".." in candidate.parts:
        return False
    return any(candidate.is_relative_to(PurePosixPath(root)) for root in roots)
