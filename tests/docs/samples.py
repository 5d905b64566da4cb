"""Code samples in docs/*.md: which run, and how a page's samples are executed.

How a fence is judged, by the first word of its info string:

- ``python``: executed. A page's ``python`` samples run in order, in one namespace (a later
  sample may use what an earlier one defined), in a fresh Python process started in the
  repository root (so ``rbac/role.yaml`` resolves) whose ``KUBECONFIG`` points at an embedded
  Lease API server — so samples connect as they would in a cluster.
- ``py``: Python that is shown but not executed (a fragment, code that needs a web server or a
  real cluster). Its first line must be a comment saying why, e.g. ``# not run: needs Flask``;
  the test fails otherwise, so a sample is never skipped by accident.
- anything else (``console``, ``yaml``, ``text``, none): not Python, never executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")


@dataclass(frozen=True)
class Sample:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str


def samples(page: Path) -> list[Sample]:
    """Every fenced block of a Markdown page, dedented to its fence."""
    found: list[Sample] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        indent, fence = len(match["indent"]), match["fence"]
        info = match["info"].strip()
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        found.append(Sample(page, index + 1, language, "\n".join(body) + "\n"))
        index = end + 1
    return found


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


RUNNER = """
import sys, traceback
blocks = [(int(line), code) for line, code in zip(sys.argv[2::2], sys.argv[3::2])]
namespace = {"__name__": "__main__"}
for line, code in blocks:
    try:
        exec(compile(code, f"{sys.argv[1]}:{line}", "exec"), namespace)
    except BaseException:
        print(f"the sample at {sys.argv[1]}:{line} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""
