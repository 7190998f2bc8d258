"""The daemon's pull stream, read to its end with progress over all layers.

Pure: it reads lines the SDK has decoded and never calls the daemon itself.
"""

from collections.abc import Iterable
from typing import Any

from executors.engine import ProgressReport


class PullStreamError(Exception):
    """An ``error`` line in the daemon's pull stream; the engine translates it."""

    def __init__(self, reason: str, code: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def follow_pull(lines: Iterable[dict[str, Any]], report: ProgressReport) -> None:
    """Read the daemon's pull stream to its end, reporting bytes over all layers.

    The expected total stays unknown (None) until every layer has announced its
    size; the last report, after the stream ends, has done equal to expected.

    The daemon answers 200 as soon as the pull begins; a failure later on (a layer
    blob the registry cannot serve) arrives as an ``error`` line inside the stream.

    Raises:
        PullStreamError: an error line, with the daemon's reason and code.
    """
    layers: dict[str, tuple[int, int | None]] = {}
    for line in lines:
        if "error" in line:
            detail = line.get("errorDetail") or {}
            raise PullStreamError(
                detail.get("message") or line["error"], detail.get("code")
            )
        if _track_layer(layers, line):
            report(*_progress(layers))
    # A last report says "complete", even for a pull that had nothing to download
    # (every layer present, or the image itself) and so sent no layer lines.
    done, _ = _progress(layers)
    report(done, done)


def _track_layer(
    layers: dict[str, tuple[int, int | None]], line: dict[str, Any]
) -> bool:
    """Update one layer's (current, total) from a pull line; True when it changed."""
    layer, status = line.get("id"), line.get("status", "")
    detail = line.get("progressDetail") or {}
    if not layer:
        return False
    if status == "Downloading" and "current" in detail:
        layers[layer] = (int(detail["current"]), detail.get("total"))
        return True
    if status == "Pulling fs layer":
        # Its size comes with its first "Downloading" line; until then the total
        # over all layers is unknown rather than too small.
        layers[layer] = (0, None)
        return True
    if status == "Already exists":
        # Shared with an image the daemon has: nothing of it to download.
        layers[layer] = (0, 0)
        return True
    if status in ("Download complete", "Pull complete") and layer in layers:
        total = layers[layer][1]
        layers[layer] = (total if total is not None else layers[layer][0], total)
        return True
    return False


def _progress(layers: dict[str, tuple[int, int | None]]) -> tuple[int, int | None]:
    done = sum(current for current, _ in layers.values())
    totals = [total for _, total in layers.values()]
    # One layer of unknown size makes the whole size unknown.
    expected = None if None in totals else sum(t for t in totals if t is not None)
    return done, expected
