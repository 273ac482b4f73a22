"""Command-line use of the destination resolver: one JSON object per input line."""

from __future__ import annotations

import json
import sys

from zhengding.divisions.resolver import default_resolver


def resolve_lines(texts: list[str]) -> list[dict]:
    resolver = default_resolver()
    return [resolver.resolve(text).to_dict() for text in texts]


def main(texts: list[str]) -> None:
    """Print one resolution per text; with no texts, resolve each line of stdin."""
    if not texts:
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    for result in resolve_lines(texts):
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
