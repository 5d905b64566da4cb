"""kubectl against the embedded server: the commands people run on Leases."""

from __future__ import annotations

import datetime
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from leader_election.testing import LeaseAPIServer

KUBECTL = shutil.which("kubectl")

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH"),
]


@pytest.fixture
def cluster(lease_api_server: LeaseAPIServer, tmp_path: Path) -> dict[str, str]:
    api = client.CoordinationV1Api(lease_api_server.api_client())
    api.create_namespaced_lease(
        "default",
        client.V1Lease(
            metadata=client.V1ObjectMeta(name="my-lease"),
            spec=client.V1LeaseSpec(holder_identity="pod-a", lease_duration_seconds=15),
        ),
    )
    api.create_namespaced_lease(
        "kube-system", client.V1Lease(metadata=client.V1ObjectMeta(name="system-lease"))
    )
    # A private discovery cache: kubectl must not reuse one from another test's server.
    return {
        **os.environ,
        "KUBECONFIG": lease_api_server.kubeconfig_path,
        "KUBECACHEDIR": str(tmp_path / "kube-cache"),
        "HOME": str(tmp_path),
    }


def kubectl(env: dict[str, str], *args: str) -> str:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def test_get_leases_prints_name_holder_age(cluster: dict[str, str]) -> None:
    table = rows(kubectl(cluster, "get", "leases"))
    assert table[0] == ["NAME", "HOLDER", "AGE"]
    assert table[1][:2] == ["my-lease", "pod-a"]


def test_get_leases_in_all_namespaces(cluster: dict[str, str]) -> None:
    table = rows(kubectl(cluster, "get", "leases", "-A"))
    assert table[0] == ["NAMESPACE", "NAME", "HOLDER", "AGE"]
    assert [r[:2] for r in table[1:]] == [["default", "my-lease"], ["kube-system", "system-lease"]]


def test_get_lease_as_yaml_json_and_jsonpath(cluster: dict[str, str]) -> None:
    as_yaml = yaml.safe_load(kubectl(cluster, "get", "lease", "my-lease", "-o", "yaml"))
    as_json = json.loads(kubectl(cluster, "get", "lease", "my-lease", "-o", "json"))
    for document in (as_yaml, as_json):
        assert document["kind"] == "Lease"
        assert document["spec"] == {"holderIdentity": "pod-a", "leaseDurationSeconds": 15}
    assert (
        kubectl(cluster, "get", "lease", "my-lease", "-o", "jsonpath={.spec.holderIdentity}")
        == "pod-a"
    )


def test_describe_lease_without_events(cluster: dict[str, str]) -> None:
    described = kubectl(cluster, "describe", "lease", "my-lease")
    assert "Name:         my-lease" in described
    assert re.search(r"Holder Identity:\s+pod-a", described)
    assert re.search(r"Events:\s+<none>\s*$", described)


def test_describe_lease_lists_its_events(
    cluster: dict[str, str], lease_api_server: LeaseAPIServer
) -> None:
    found = lease_api_server.get_object("leases", "default", "my-lease")
    assert found is not None
    core = client.CoreV1Api(lease_api_server.api_client())
    core.create_namespaced_event(
        "default",
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="my-lease.1"),
            involved_object=client.V1ObjectReference(
                kind="Lease",
                namespace="default",
                name="my-lease",
                uid=found["metadata"]["uid"],
                api_version="coordination.k8s.io/v1",
            ),
            reason="LeaderElection",
            message="pod-a became leader",
            type="Normal",
            source=client.V1EventSource(component="candidate"),
            count=1,
            first_timestamp=datetime.datetime.now(datetime.timezone.utc),
            last_timestamp=datetime.datetime.now(datetime.timezone.utc),
        ),
    )
    described = kubectl(cluster, "describe", "lease", "my-lease")
    events = described[described.index("Events:") :].splitlines()
    assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[3].split()[:2] == ["Normal", "LeaderElection"]
    assert events[3].split()[-4:] == ["candidate", "pod-a", "became", "leader"]


def test_patch_lease_with_a_merge_patch(
    cluster: dict[str, str], lease_api_server: LeaseAPIServer
) -> None:
    out = kubectl(
        cluster,
        "patch",
        "lease",
        "my-lease",
        "--type",
        "merge",
        "-p",
        '{"spec":{"holderIdentity":"pod-b"}}',
    )
    assert out.strip() == "lease.coordination.k8s.io/my-lease patched"
    found = lease_api_server.get_object("leases", "default", "my-lease")
    assert found is not None
    assert found["spec"]["holderIdentity"] == "pod-b"


def test_delete_lease(cluster: dict[str, str], lease_api_server: LeaseAPIServer) -> None:
    assert (
        kubectl(cluster, "delete", "lease", "my-lease").strip()
        == 'lease.coordination.k8s.io "my-lease" deleted'
    )
    assert lease_api_server.get_object("leases", "default", "my-lease") is None


def test_get_leases_watch_prints_changes(
    cluster: dict[str, str], lease_api_server: LeaseAPIServer
) -> None:
    assert KUBECTL is not None
    process = subprocess.Popen(
        [KUBECTL, "get", "leases", "-w", "--request-timeout=60s"],
        env=cluster,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read(stream: Any) -> None:
        for line in stream:
            lines.put(line)

    reader = threading.Thread(target=read, args=(process.stdout,), name="test-kubectl-reader")
    reader.start()
    try:
        assert lines.get(timeout=30).split() == ["NAME", "HOLDER", "AGE"]
        assert lines.get(timeout=30).split()[:2] == ["my-lease", "pod-a"]
        api = client.CoordinationV1Api(lease_api_server.api_client())
        api.patch_namespaced_lease("my-lease", "default", {"spec": {"holderIdentity": "pod-c"}})
        assert lines.get(timeout=30).split()[:2] == ["my-lease", "pod-c"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


LEASE_YAML = """\
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: from-yaml
spec:
  holderIdentity: pod-y
"""


def test_create_and_apply_from_yaml(
    cluster: dict[str, str], lease_api_server: LeaseAPIServer
) -> None:
    assert KUBECTL is not None

    def run(*args: str, text: str) -> str:
        result = subprocess.run(
            [KUBECTL, *args],
            env=cluster,
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert (
        run("create", "-f", "-", text=LEASE_YAML) == "lease.coordination.k8s.io/from-yaml created"
    )
    assert run("apply", "-f", "-", text=LEASE_YAML.replace("pod-y", "pod-z")) == (
        "lease.coordination.k8s.io/from-yaml configured"
    )
    found = lease_api_server.get_object("leases", "default", "from-yaml")
    assert found is not None
    assert found["spec"]["holderIdentity"] == "pod-z"


def test_edit_lease(
    cluster: dict[str, str], lease_api_server: LeaseAPIServer, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text().replace('holderIdentity: pod-a', 'holderIdentity: pod-e')\n"
        "path.write_text(text)\n"
    )
    env = {**cluster, "KUBE_EDITOR": f"{sys.executable} {editor}"}
    assert (
        kubectl(env, "edit", "lease", "my-lease").strip()
        == "lease.coordination.k8s.io/my-lease edited"
    )
    found = lease_api_server.get_object("leases", "default", "my-lease")
    assert found is not None
    assert found["spec"]["holderIdentity"] == "pod-e"
