"""Request bodies for the benchmark, built at run time from the real GitHub push deliveries in
``tests/payloads/github/push`` (octokit/webhooks examples, MIT; kept with the tests).

* :func:`small_push` -- a ~2 KB push to ``refs/heads/main``: the real delivery with its longest
  ``*_url`` fields dropped until it fits (GitHub's hooks send ~7 KB; 2 KB is the issue's size).
* :func:`large_push` -- a ~25 MB push of the same shape with many commits (GitHub's maximum payload
  is 25 MiB), to time verification + parsing of a worst-case delivery.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

#: Real GitHub deliveries kept with the tests (tests/payloads/README.md); $AIRHOOK_PAYLOADS overrides.
PAYLOADS = Path(os.environ.get("AIRHOOK_PAYLOADS") or Path(__file__).resolve().parents[1] / "tests" / "payloads")
PUSH_DIR = PAYLOADS / "github" / "push"
#: The delivery used as the template: it has one commit and a branch ref.
TEMPLATE = "with-new-branch.payload.json"
REF = "refs/heads/main"


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def load_template(push_dir: Path = PUSH_DIR) -> dict[str, Any]:
    path = push_dir / TEMPLATE
    if not path.is_file():
        raise SystemExit(f"bench: {path} not found (set AIRHOOK_PAYLOADS to a folder holding github/push/)")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    document["ref"] = REF
    return document


def small_push(target: int = 2048, push_dir: Path = PUSH_DIR) -> bytes:
    """A real push delivery trimmed to at most ``target`` bytes (compact JSON), keeping every
    field a route reads (ref, after, repository.full_name, pusher, commits, head_commit)."""
    document = load_template(push_dir)
    # Drop the API-link fields, longest first, from the objects that carry dozens of them.
    holders = [document["repository"], document["repository"].get("owner", {}), document.get("sender", {})]
    links = sorted(((len(str(h[k])), i, k) for i, h in enumerate(holders) for k in h
                    if k.endswith("_url") and k != "html_url"), reverse=True)
    for _, index, key in links:
        if len(_compact(document)) <= target:
            break
        del holders[index][key]
    # Then whole optional blocks, least used by routes first, then the repository's counters and
    # flags from the last one up (ids, names, URLs and the default branch stay), then the sender.
    repository = document["repository"]
    optional = ["installation", "base_ref", "compare", "sender"]
    keep = {"id", "node_id", "name", "full_name", "private", "owner", "html_url", "url",
            "default_branch", "created_at", "pushed_at"}
    drops = optional[:3] + [k for k in reversed(list(repository)) if k not in keep] + optional[3:]
    for key in drops:
        if len(_compact(document)) <= target:
            break
        (document if key in optional else repository).pop(key, None)
    return _compact(document)


def large_push(target: int = 25_000_000, push_dir: Path = PUSH_DIR) -> bytes:
    """A push delivery of about ``target`` bytes: the real template with its one commit repeated
    (distinct ids, messages and file lists) until the body reaches the size."""
    document = load_template(push_dir)
    template = document["commits"][0] if document.get("commits") else {
        "id": "", "tree_id": "", "distinct": True, "message": "", "timestamp": "2019-05-15T15:20:30-05:00",
        "url": "", "author": {"name": "a", "email": "a@example.com"},
        "committer": {"name": "a", "email": "a@example.com"}, "added": [], "removed": [], "modified": []}
    document["commits"] = []
    base = len(_compact(document))

    def commit(i: int) -> dict[str, Any]:
        c = copy.deepcopy(template)
        sha = hashlib.sha1(str(i).encode()).hexdigest()
        c["id"] = sha
        c["tree_id"] = hashlib.sha1(b"tree" + str(i).encode()).hexdigest()
        c["message"] = f"Bench commit {i}: update generated files\n\nPart of a very large push."
        c["url"] = f"https://github.com/Codertocat/Hello-World/commit/{sha}"
        c["added"] = [f"src/gen/module_{i}_{j}.py" for j in range(3)]
        c["modified"] = [f"src/lib/part_{i % 97}.py", "README.md"]
        c["removed"] = []
        return c

    per_commit = len(_compact(commit(0))) + 1  # + the comma
    count = max(1, (target - base) // per_commit)
    commits = [commit(i) for i in range(count)]
    document["commits"] = commits
    document["head_commit"] = commits[-1]
    body = _compact(document)
    # Trim or pad with commits until within one commit of the target (ids vary in length).
    while len(body) > target and len(commits) > 1:
        over = len(body) - target
        del commits[-max(1, over // per_commit):]
        document["head_commit"] = commits[-1]
        body = _compact(document)
    return body


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header GitHub sends."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


if __name__ == "__main__":
    small = small_push()
    print("small", len(small), json.loads(small)["ref"])
    large = large_push()
    print("large", len(large), len(json.loads(large)["commits"]), "commits")
