"""Where a store beside the state is: from a store URL, and from the Pulumi backend URL of a stack.

Our objects go in `.tonsurance/` next to Pulumi's own `.pulumi/` folder; `file://` URLs may carry options after `?`
(`metadata=skip`), which do not name a place; S3 URLs take the query parameters Pulumi's own S3 backend reads
(gocloud.dev): `region`, `endpoint` (a bare host gets https://, or http:// with `disable_https=true`),
`use_path_style` (or `s3ForcePathStyle`), `profile`. `role` is refused: assume it in the environment.
"""
from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from state_store.store import StateStore

STATE_FOLDER = ".tonsurance"   # beside Pulumi's own `.pulumi/` folder of the same backend
_TRUE = ("1", "true", "yes")


def store_at(url: str) -> StateStore:
    """The store a `file:///dir` or `s3://bucket/prefix[?options]` URL names (nothing opened)."""
    parsed = urlsplit(url)
    if parsed.scheme == "file":
        from state_store.file_store import FileStore
        path = parsed.path if not parsed.netloc else f"/{parsed.netloc}{parsed.path}"
        if not path.startswith("/"):
            raise ValueError(f"a folder store must be an absolute file:// URL, got {url!r}")
        return FileStore(path)
    if parsed.scheme == "s3":
        from state_store.s3_store import S3Store
        if not parsed.netloc:
            raise ValueError(f"an S3 store URL needs a bucket: s3://bucket/prefix, got {url.split('?')[0]!r}")
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        if "role" in query:
            raise ValueError(f"{url.split('?')[0]}: the `role` option is not supported here; assume the role in the "
                             "environment (AWS_PROFILE or credentials) instead")
        endpoint = query.get("endpoint")
        if endpoint and "://" not in endpoint:
            endpoint = ("http://" if query.get("disable_https", "").lower() in _TRUE else "https://") + endpoint
        path_style = (query.get("use_path_style") or query.get("s3ForcePathStyle") or "").lower() in _TRUE
        prefix = parsed.path.strip("/")
        return S3Store(parsed.netloc, f"{prefix}/" if prefix else "", query.get("region"), endpoint, path_style,
                       query.get("profile"))
    raise ValueError(f"a store beside the state is a file:// or s3:// URL, got {url.split('?')[0]!r}")


def beside_state(backend_url: str | None, project_dir: str) -> str | None:
    """The URL of the `.tonsurance` folder beside the state of the Pulumi backend `backend_url`, or None when
    there is no such place (no backend named, or a backend kind other than a folder or S3). A relative `file://`
    path is taken against `project_dir` (the engine runs the program there); S3 options are kept."""
    if not backend_url:
        return None
    parsed = urlsplit(backend_url)
    if parsed.scheme == "file":
        folder = backend_url.removeprefix("file://").split("?", 1)[0]
        folder = os.path.abspath(os.path.join(project_dir, os.path.expanduser(folder)))
        return f"file://{os.path.join(folder, STATE_FOLDER)}"
    if parsed.scheme == "s3" and parsed.netloc:
        prefix = parsed.path.strip("/")
        path = f"{prefix}/{STATE_FOLDER}" if prefix else STATE_FOLDER
        query = f"?{parsed.query}" if parsed.query else ""
        return f"s3://{parsed.netloc}/{path}{query}"
    return None
