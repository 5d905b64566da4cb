"""Check the built distributions in DIST: what `make dist` (and so CI) proves about a release.

1. One wheel and one sdist, named for the version in leader_election/_version.py.
2. The wheel ships py.typed and the `leader-election` console script, and none of the
   checkout's tests/, harness/, chaos/ or benchmarks/; it ships rbac/ as
   leader_election/manifests/ and its metadata has Project-URLs and declares every extra of
   setup.cfg with its requirements. The sdist carries rbac/, docs/, the changelog and what the
   tests import from the checkout (harness/, chaos/, benchmarks/).
3. In a clean virtualenv the wheel installs with its dependencies alone, imports, finds
   py.typed, and `leader-election --version` runs.
4. Extras: with --extras (``make dist-extras``) each extra gets a clean virtualenv of its own,
   a real install and an import of its module; without it (the CI default, to keep CI fast)
   pip only resolves the users' extras together (``--dry-run``) in the virtualenv of step 3.
   The project's own extras (test, docs, bench) are installed by every ``make`` target anyway.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import subprocess
import tarfile
import tempfile
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The module that proves an extra works, when the wheel ships it.
EXTRA_MODULES = {
    "flask": "leader_election.flask",
    "django": "leader_election.django",
    "metrics": "leader_election.metrics",
    "testing": "leader_election.testing",
    "asgi": "leader_election.asgi",
    "apscheduler": "leader_election.apscheduler",
    "celery": "leader_election.celery",
}
# Extras for developing the project itself: resolved, never installed by the check.
DEVELOPMENT_EXTRAS = {"test", "docs", "bench"}


def fail(message: str) -> None:
    raise SystemExit(f"check_dist: {message}")


def version() -> str:
    text = (ROOT / "leader_election" / "_version.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    if match is None:
        fail("no __version__ in leader_election/_version.py")
    assert match is not None
    return match.group(1)


def declared_extras() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return sorted(parser["options.extras_require"])


def check_wheel(wheel: Path, extras: list[str]) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        if "leader_election/py.typed" not in names:
            fail(f"{wheel.name} does not ship leader_election/py.typed")
        # pip users get the RBAC manifests that every 403 message points at.
        for manifest in (ROOT / "rbac").rglob("*.yaml"):
            packaged = "leader_election/manifests/" + manifest.relative_to(ROOT / "rbac").as_posix()
            if packaged not in names:
                fail(f"{wheel.name} does not ship {packaged} (a copy of rbac/)")
        for directory in ("tests", "harness", "chaos", "benchmarks"):
            if any(name.startswith(f"{directory}/") for name in names):
                fail(f"{wheel.name} ships {directory}/, which belongs to the checkout only")
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
    if not metadata.get_all("Project-URL"):
        fail(f"{wheel.name} has no Project-URL (setup.cfg project_urls)")
    if not re.search(r"^leader-election\s*=\s*leader_election\.cli:main$", entry_points, re.M):
        fail(f"{wheel.name} lacks the console script leader-election = leader_election.cli:main")
    provided = set(metadata.get_all("Provides-Extra") or [])
    missing = set(extras) - provided
    if missing:
        fail(f"{wheel.name} does not declare the extras {sorted(missing)}")
    requirements = metadata.get_all("Requires-Dist") or []
    for extra in extras:
        if not any(f'extra == "{extra}"' in r for r in requirements):
            fail(f"{wheel.name}: extra {extra!r} has no requirements")


def check_sdist(sdist: Path, stem: str) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for required in (
        "leader_election/py.typed",
        "rbac/role.yaml",
        "rbac/kustomization.yaml",
        "docs/index.md",
        "harness/fleet.py",
        "chaos/runner.py",
        "benchmarks/bench.py",
        "mkdocs.yml",
        "CHANGELOG.md",
        "LICENSE",
        "README.md",
    ):
        if required not in names:
            fail(f"{sdist.name} lacks {required}")


def run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        fail(f"{' '.join(map(str, argv))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def clean_venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin"


def pip_env() -> dict[str, str]:
    # Nothing from the developer's environment leaks into the clean virtualenv.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def check_install(wheel: Path, expected_version: str, bin_dir: Path, extra: str = "") -> None:
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", target, env=pip_env())
    probe = (
        "import importlib.resources, leader_election; "
        "assert importlib.resources.files('leader_election').joinpath('py.typed').is_file(); "
        "print(leader_election.__version__, leader_election.__file__)"
    )
    out = run(bin_dir / "python", "-I", "-c", probe, env=pip_env())
    installed_version, location = out.split()
    if installed_version != expected_version:
        fail(f"the installed wheel says {installed_version}, _version.py {expected_version}")
    if str(ROOT) in location:
        fail(f"the clean virtualenv imported the source tree ({location}), not the wheel")
    out = run(bin_dir / "leader-election", "--version", env=pip_env())
    if expected_version not in out:
        fail(f"leader-election --version printed {out!r}")
    run(bin_dir / "leader-election", "--help", env=pip_env())
    printed = run(bin_dir / "leader-election", "rbac", "--lease", "probe", env=pip_env())
    if "kind: Role" not in printed:
        fail(f"leader-election rbac printed no Role: {printed!r}")
    module = EXTRA_MODULES.get(extra)
    if module is not None and wheel_ships(wheel, module):
        run(bin_dir / "python", "-I", "-c", f"import {module}", env=pip_env())


def wheel_ships(wheel: Path, module: str) -> bool:
    path = module.replace(".", "/")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return f"{path}.py" in names or f"{path}/__init__.py" in names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", type=Path)
    parser.add_argument("--extras", action="store_true", help="install every extra for real")
    args = parser.parse_args()
    expected = version()
    stem = f"leader_election-{expected}"
    wheels = sorted(args.dist.glob("*.whl"))
    sdists = sorted(args.dist.glob("*.tar.gz"))
    if [w.name for w in wheels] != [f"{stem}-py3-none-any.whl"] or [s.name for s in sdists] != [
        f"{stem}.tar.gz"
    ]:
        fail(
            f"expected {stem}-py3-none-any.whl and {stem}.tar.gz in {args.dist}, found "
            f"{[p.name for p in wheels + sdists]}"
        )
    wheel, sdist = wheels[0].resolve(), sdists[0].resolve()
    extras = declared_extras()
    check_wheel(wheel, extras)
    check_sdist(sdist, stem)
    print(f"check_dist: {wheel.name} and {sdist.name}: contents and metadata ok")

    with tempfile.TemporaryDirectory(prefix="leader-election-dist-") as tmp:
        bin_dir = clean_venv(Path(tmp) / "alone")
        check_install(wheel, expected, bin_dir)
        print(
            "check_dist: installs alone in a clean virtualenv, imports, ships py.typed, "
            "runs leader-election"
        )
        user_extras = [e for e in extras if e not in DEVELOPMENT_EXTRAS]
        if args.extras:
            for extra in user_extras:
                check_install(wheel, expected, clean_venv(Path(tmp) / extra), extra)
                print(f"check_dist: [{extra}] installs in a clean virtualenv and imports")
        else:
            # One resolution of the users' extras together: if the union resolves, each does.
            everything = f"{wheel}[{','.join(user_extras)}]"
            run(
                bin_dir / "python",
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                everything,
                env=pip_env(),
            )
            print(
                f"check_dist: the extras resolve ({', '.join(user_extras)}); "
                "`make dist-extras` installs each in a clean virtualenv"
            )


if __name__ == "__main__":
    main()
