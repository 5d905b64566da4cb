"""What a pip user gets: the packaged manifests, `leader-election rbac`, links that resolve.

The Role that `leader-election rbac` prints is proven against the embedded server's RBAC with
one SelfSubjectAccessReview per verb (the preflight), as the ServiceAccount it binds.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from leader_election.cli import main
from leader_election.preflight import run_preflight
from leader_election.rbac import manifest_dir, manifests, render
from leader_election.testing import LeaseAPIServer
from leader_election.testing.auth import service_account_groups, service_account_username

ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "rbac"
KUBECTL = shutil.which("kubectl")


def relative_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_the_packaged_manifests_are_a_copy_of_rbac() -> None:
    packaged = manifest_dir()
    assert relative_files(packaged) == relative_files(RBAC), (
        "run: cp -r rbac/. leader_election/manifests/"
    )
    for name in relative_files(RBAC):
        assert (packaged / name).read_bytes() == (RBAC / name).read_bytes(), name


def test_the_default_kustomization_deploys_no_workload() -> None:
    kustomization = yaml.safe_load((RBAC / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["serviceaccount.yaml", "role.yaml", "rolebinding.yaml"]


@pytest.mark.kubectl
@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")
@pytest.mark.parametrize(
    ("directory", "kinds"),
    [
        ("", ["ServiceAccount", "Role", "RoleBinding"]),
        ("pod-label", ["Role", "RoleBinding"]),
        ("example", ["Service", "Deployment"]),
    ],
)
def test_each_kustomization_builds(directory: str, kinds: list[str]) -> None:
    assert KUBECTL is not None
    built = subprocess.run(
        [KUBECTL, "kustomize", str(RBAC / directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert [doc["kind"] for doc in yaml.safe_load_all(built)] == kinds


def test_the_printed_role_has_the_rules_of_rbac_role_yaml() -> None:
    shipped = yaml.safe_load((RBAC / "role.yaml").read_text())
    lease = shipped["rules"][0]["resourceNames"][0]
    role = next(o for o in manifests(lease, "default") if o["kind"] == "Role")
    assert role["rules"] == shipped["rules"]


def test_a_name_kubernetes_would_refuse_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rbac", "My_App"]) == 2
    assert "lease='My_App' is not a valid name" in capsys.readouterr().err


@pytest.fixture
def apply(
    lease_api_server_factory: Callable[..., LeaseAPIServer],
) -> Callable[[list[str]], Any]:
    """Print manifests with `leader-election rbac ARGS`, load them into a server's RBAC, and
    return an ApiClient of the ServiceAccount they bind (namespace prod, account web)."""

    def run(args: list[str]) -> Any:
        objects = manifests(
            "my-app", "prod", service_account="web", pod_label="--pod-label" in args
        )
        printed = render(objects)
        rbac_objects = [d for d in yaml.safe_load_all(printed) if d["kind"] != "ServiceAccount"]
        server = lease_api_server_factory(
            authentication=True, rbac=yaml.safe_dump_all(rbac_objects), namespaces=["prod"]
        )
        user = service_account_username("prod", "web")
        server.add_user(user, service_account_groups("prod"))
        return server.api_client(user=user)

    return run


def test_the_printed_role_allows_every_required_verb_on_its_lease_only(
    apply: Callable[[list[str]], Any],
) -> None:
    api = apply([])
    report = run_preflight(api, "my-app", "prod", events=False)
    assert report.ok, report.error()
    other = run_preflight(api, "other", "prod", events=False)
    assert {str(p).split()[0] for p in other.missing_required} == {"get", "update", "watch"}
    with_pods = run_preflight(api, "my-app", "prod", pod_label=True, events=False)
    assert [p.verb for p in with_pods.missing_required] == ["get", "patch"]


def test_pod_label_adds_get_and_patch_on_pods(apply: Callable[[list[str]], Any]) -> None:
    api = apply(["--pod-label"])
    assert run_preflight(api, "my-app", "prod", pod_label=True, events=False).ok


def test_the_command_prints_yaml_that_loads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rbac", "--lease", "my-app", "-n", "prod", "--service-account", "web"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# leader-election rbac: leader election on Lease prod/my-app")
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds == ["ServiceAccount", "Role", "RoleBinding"]


# -- metadata and links -------------------------------------------------------------------------


def source_url() -> str:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser["metadata"]["url"].strip()


def test_readme_links_are_absolute_under_the_project_url() -> None:
    links = re.findall(r"\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert links
    for link in links:
        assert link.startswith(("https://", "#")), f"relative link {link!r} breaks on PyPI"
        if "leader-election/" in link:
            assert link.startswith(source_url())


def test_project_urls_share_the_source_url() -> None:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    urls = [
        line.split("=", 1)[1].strip()
        for line in parser["metadata"]["project_urls"].split("\n")
        if line.strip()
    ]
    assert urls
    assert all(url.startswith(source_url()) for url in urls)
