"""The documentation builds without a warning."""

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(DOCS),
         str(tmp_path)],
        capture_output=True, text=True,
    )

    assert build.returncode == 0, build.stderr
    assert (tmp_path / "api.html").exists()
