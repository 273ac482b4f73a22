"""Architecture rules the whole code base keeps (#14 point 6)."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / ".importlinter"


def _ignored_imports() -> dict[str, list[str]]:
    parser = configparser.ConfigParser()
    parser.read(CONTRACTS, encoding="utf-8")
    return {
        section.removeprefix("importlinter:contract:"): [
            line.strip() for line in parser[section].get("ignore_imports", "").splitlines() if line.strip()
        ]
        for section in parser.sections()
        if section.startswith("importlinter:contract:")
    }


class TestImportContracts:
    """#14 point 2: layers that only point down, workflows independent, core at the bottom, no
    cycle at any depth — the contracts in .importlinter, checked by import-linter."""

    # The imports that still break a contract (each contract's `ignore_imports`). A ratchet:
    # lower a number when you remove entries, never raise one.
    MAX_IGNORED = {"layers": 11, "workflows": 8, "core": 1, "acyclic": 18}

    def test_contracts_hold(self) -> None:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(lint_imports), "--no-cache", "--no-logo", str(CONTRACTS)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # "No matches for ignored import": the import is gone, so delete its entry and lower
        # MAX_IGNORED below.
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout

    def test_every_contract_is_counted(self) -> None:
        assert set(_ignored_imports()) == set(self.MAX_IGNORED)

    def test_ignore_lists_only_shrink(self) -> None:
        counts = {name: len(entries) for name, entries in _ignored_imports().items()}
        grown = {name: n for name, n in counts.items() if n > self.MAX_IGNORED.get(name, 0)}
        assert not grown, f"ignore_imports grew (limits {self.MAX_IGNORED}): {grown}"
