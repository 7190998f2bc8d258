"""Which create params a user may ask for.

Privileged containers and host bind mounts reach outside the container; plain users
never get them, admins only where the server's configuration allows them.
"""

from pathlib import PurePosixPath

from contract.params import CreateParams
from gateway.errors import ForbiddenError


def check_params_allowed(
    params: CreateParams,
    is_admin: bool,
    allow_privileged: bool,
    allowed_host_paths: list[str],
) -> None:
    """Raises ForbiddenError naming the first param this user may not have."""
    if params.privileged and not (is_admin and allow_privileged):
        raise ForbiddenError(
            "param 'privileged' is not allowed"
            + ("" if is_admin else " for non-admin users"),
            code="param_forbidden",
            param="privileged",
        )
    for volume in params.volumes:
        if volume.is_host_path and not (
            is_admin and _is_under(volume.source, allowed_host_paths)
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
