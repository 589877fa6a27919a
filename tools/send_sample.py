"""Send a signed GitHub delivery to a running airhook, as GitHub would.

    python -m tools.send_sample http://127.0.0.1:8080/github --secret local-dev-secret

Stdlib only. (The ``airhook send`` command does this for every sender type.)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the source's URL, e.g. http://127.0.0.1:8080/github")
    parser.add_argument("--secret", default=os.environ.get("GITHUB_WEBHOOK_SECRET", "local-dev-secret"))
    parser.add_argument("--payload", type=Path, default=ROOT / "examples" / "payloads" / "github-push.json")
    parser.add_argument("--event", default="push")
    parser.add_argument("--delivery-id", default=None, help="reuse one to see a redelivery (duplicate)")
    args = parser.parse_args(argv)

    body = args.payload.read_bytes()
    delivery_id = args.delivery_id or str(uuid.uuid4())
    request = urllib.request.Request(args.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/airhook-sample",
        "X-GitHub-Event": args.event, "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except urllib.error.URLError as error:
        print(f"cannot reach {args.url}: {error.reason}", file=sys.stderr)
        return 2
    print(f"{status} {json.dumps(json.loads(text), indent=2) if text.startswith('{') else text}")
    print(f"(delivery id {delivery_id}; send it again with --delivery-id {delivery_id} to see a duplicate)")
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
