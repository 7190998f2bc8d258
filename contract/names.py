"""Container name rules, one per type, checked before any work is queued."""

import re

from contract.images import ContainerType

# LXD instance names are hostnames (RFC 1123 labels) and may not start with a digit.
_LXC_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Docker's own rule (daemon/names): a first alphanumeric, then alphanumerics and _.-
_DOCKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")

_RULES = {
    ContainerType.LXC: (
        _LXC_NAME,
        (
            "an LXC name is a hostname: letters, digits and hyphens, starting with "
            "a letter, not ending with a hyphen, at most 63 characters"
        ),
    ),
    ContainerType.DOCKER: (
        _DOCKER_NAME,
        (
            "a Docker name starts with a letter or digit and holds only letters, "
            "digits, '_', '.' and '-'"
        ),
    ),
}


def name_problem(container_type: ContainerType, name: str) -> str | None:
    """Why ``name`` is not a valid name for this type, or None when it is."""
    pattern, rule = _RULES[container_type]
    if pattern.fullmatch(name):
        return None
    return f"invalid {container_type} name {name!r}: {rule}"
