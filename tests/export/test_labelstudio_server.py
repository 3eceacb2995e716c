"""The Label Studio export in the real Label Studio server: the labeling config is accepted, the
tasks and predictions import, and every image is served through local-files storage.

Label Studio (a Django server, about 12 minutes to install here) is not installed in CI; run
this by hand with the server in a separate environment (the README's export section):

    python -m venv /tmp/ls && /tmp/ls/bin/pip install label-studio
    LABEL_STUDIO_BIN=/tmp/ls/bin/label-studio python -m pytest -m labelstudio tests/export -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import httpx
import pytest

from grounding.export import export_job
from grounding.labeling import JobStore
from tests.export.conftest import CLASSES, TRICKY

pytestmark = pytest.mark.labelstudio

TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a fixture token for the throwaway server


@pytest.fixture
def label_studio(tmp_path, tricky):
    """(client, input folder, export folder) with a fresh server whose document root is the
    input folder's parent, as the export's setup.txt says."""
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("Label Studio is not installed (set LABEL_STUDIO_BIN)")
    root, out = tricky
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root.parent),
           "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls"), "HOME": str(tmp_path / "home")}  # fmt: skip
    args = [binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(tmp_path / "ls"), "--username", "fixture@example.com",
            "--password", "fixture-password", "--user-token", TOKEN, "--enable-legacy-api-token"]  # fmt: skip
    log = (tmp_path / "label-studio.log").open("w")
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {TOKEN}"}, timeout=60)
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            assert server.poll() is None, (tmp_path / "label-studio.log").read_text()[-3000:]
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield client, root, out
    finally:
        client.close()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def test_label_studio_imports_the_export_and_serves_every_image(label_studio) -> None:
    client, root, out = label_studio
    with JobStore(out / "job.sqlite") as store:
        export_job([store], out, classes=CLASSES, formats=["labelstudio"])
    config = (out / "labelstudio" / "labelstudio-config.xml").read_text()
    tasks = json.loads((out / "labelstudio" / "tasks.json").read_text())

    project = client.post("/api/projects", json={"title": "grounding export", "label_config": config})
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    # the storage the setup names is accepted; the document root itself is refused
    refused = client.post("/api/storages/localfiles", json={"project": pid, "path": str(root.parent), "use_blob_urls": True})
    assert refused.status_code == 400, refused.text
    storage = client.post("/api/storages/localfiles", json={"project": pid, "path": str(root), "use_blob_urls": True})
    assert storage.status_code == 201, storage.text

    imported = client.post(f"/api/projects/{pid}/import", json=tasks)
    assert imported.status_code == 201, imported.text
    assert imported.json()["task_count"] == len(TRICKY)
    results = sum(len(t["predictions"][0]["result"]) for t in tasks)
    stored = client.get("/api/predictions", params={"project": pid}).json()
    assert sum(len(p["result"]) for p in stored) == results

    served = client.get("/api/tasks", params={"project": pid, "page_size": 100}).json()
    listed = served["tasks"] if isinstance(served, dict) else served
    assert len(listed) == len(TRICKY)
    files = {}
    for task in listed:
        image = client.get(task["data"]["image"])
        assert image.status_code == 200, (task["data"]["image"], image.status_code)
        files[image.content] = task["data"]["image"]
    assert set(files) == {(root / case.key).read_bytes() for case in TRICKY}  # each its own image
    # the finding: the same references unencoded are not served
    for raw in ("photos/a+b.jpg", "photos/c#1.jpg", "photos/x&y=z.png"):
        assert client.get("/data/local-files/?d=" + raw).status_code != 200, raw
