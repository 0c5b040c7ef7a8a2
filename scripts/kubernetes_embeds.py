"""Generate the two files the Kubernetes provider's main package embeds.

At release time the provider's build stamps its version into schema.json and minifies both JSON files
as schema-embed.json and terraform-mapping-embed.json; the Go module ships only the sources. This does
the same from the module's own files.  Usage: kubernetes_embeds.py SRC_DIR OUT_DIR VERSION
"""

import json
import sys
from pathlib import Path


def main(src: Path, out: Path, version: str) -> None:
    schema = json.loads((src / "schema.json").read_text())
    schema["version"] = version
    (out / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")))
    mapping = json.loads((src / "terraform-mapping.json").read_text())
    (out / "terraform-mapping-embed.json").write_text(json.dumps(mapping, separators=(",", ":")))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
