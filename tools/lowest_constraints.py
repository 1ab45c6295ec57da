"""Print a pip constraints file that pins every runtime dependency to its minimum.

    python3 tools/lowest_constraints.py > lowest.txt
    pip install -c lowest.txt -e '.[test]'

Each entry of ``[project].dependencies`` in pyproject.toml must carry a ``>=``
lower bound; the constraint is ``name==<that bound>``. PEP 440 pads release
numbers with zeros when it compares them, so ``==3.0`` selects the release
published as 3.0.0. Only the declared dependencies are pinned: pip resolves the
packages they pull in, so a minimum that needs a newer transitive release has to
say so in pyproject.toml itself. A dependency without a lower bound, or with an
upper bound or exclusion, is an error, since then there is no single oldest
release to test.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

_REQUIREMENT = re.compile(
    r"""^\s*
    (?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)
    \s*(?:\[[^\]]*\])?          # extras: not allowed in a constraints file
    \s*(?P<specs>[^;]*?)
    \s*(?:;\s*(?P<marker>.+))?$
    """,
    re.VERBOSE,
)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lowest_pin(requirement: str) -> str:
    """Return ``name==minimum`` (with its environment marker) for one requirement."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    name = _normalise(match["name"])
    minimum = None
    for spec in filter(None, (s.strip() for s in match["specs"].split(","))):
        if spec.startswith(">="):
            minimum = spec[2:].strip()
        else:
            raise ValueError(f"{requirement!r}: only a '>=' lower bound is supported, got {spec!r}")
    if not minimum:
        raise ValueError(f"{requirement!r} declares no minimum version ('>=')")
    pin = f"{name}=={minimum}"
    if match["marker"]:
        pin += f"; {match['marker'].strip()}"
    return pin


def constraints(pyproject: Path = PYPROJECT) -> list[str]:
    """The constraint lines for every entry of ``[project].dependencies``."""
    with pyproject.open("rb") as fh:
        project = tomllib.load(fh)["project"]
    return [lowest_pin(req) for req in project.get("dependencies", [])]


def main(argv: list[str]) -> int:
    pyproject = Path(argv[1]) if len(argv) > 1 else PYPROJECT
    try:
        lines = constraints(pyproject)
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"lowest_constraints: {exc}", file=sys.stderr)
        return 1
    print(f"# The declared minimum of every dependency in {pyproject.name}.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
