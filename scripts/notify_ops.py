"""Tell the ops channel that a deploy failed: one message to a Slack-compatible incoming webhook.

Run by the deploy workflow's `notify` job (with the runner's python3: no virtualenv needed, so it also runs
when the bootstrap is what failed). Everything comes from the environment:

    OPS_WEBHOOK_URL   the webhook (a repository secret); never printed, not even in errors
    STACK, DEPLOYMENT_TYPE, NEEDS (the workflow's `toJSON(needs)`: each job's result)
    GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_SHA, GITHUB_REF_NAME, GITHUB_ACTOR (set by Actions)
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request

ATTEMPTS = 3
TIMEOUT_SECONDS = 20


def message(env: dict[str, str]) -> str:
    """The text of the notice: what failed, where, and the run to open."""
    try:
        needs = json.loads(env.get("NEEDS") or "{}")
    except json.JSONDecodeError:
        needs = {}
    failed = [f"{job} {info.get('result')}" for job, info in needs.items()
              if isinstance(info, dict) and info.get("result") not in ("success", "skipped")]
    run_url = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env.get('GITHUB_REPOSITORY', '?')}" \
              f"/actions/runs/{env.get('GITHUB_RUN_ID', '?')}"
    stack = env.get("STACK") or "no stack (refused before deploying)"
    return (f":rotating_light: Deploy of {stack} failed ({env.get('DEPLOYMENT_TYPE') or 'deploy'}) "
            f"on {env.get('GITHUB_REF_NAME', '?')} at {env.get('GITHUB_SHA', '?')[:12]} by {env.get('GITHUB_ACTOR', '?')}: "
            f"{', '.join(failed) or 'see the run'}. {run_url}")


def post(url: str, text: str) -> None:
    """POST the message; raises RuntimeError with a reason that never contains the URL."""
    data = json.dumps({"text": text}).encode()
    last = "no attempt"
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
                return
        except urllib.error.HTTPError as error:
            last = f"the webhook answered HTTP {error.code}"
            if error.code < 500:
                break  # a refused request (bad or revoked webhook) will not pass on retry
        except (urllib.error.URLError, OSError) as error:
            last = f"the webhook could not be reached ({type(getattr(error, 'reason', error)).__name__})"
        if attempt < ATTEMPTS:
            time.sleep(attempt)
    raise RuntimeError(last)


def main() -> int:
    url = os.environ.get("OPS_WEBHOOK_URL", "")
    if not url.startswith(("https://", "http://")):
        print("::error::the ops channel was not told: the repository secret OPS_WEBHOOK_URL is not set (or is not "
              "an http(s) URL); add the channel's incoming-webhook URL (README, CI/CD)", file=sys.stderr)
        return 1
    text = message(dict(os.environ))
    try:
        post(url, text)
    except RuntimeError as error:
        print(f"::error::the ops channel was not told: {error}", file=sys.stderr)
        return 1
    print(f"told the ops channel: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
