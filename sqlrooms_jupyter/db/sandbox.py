"""What clients of a shared server may do to the machine: DuckDB settings, then locked.

A DuckDB that a browser can reach can read every file its process can read,
write files with `COPY … TO`, attach databases and load extensions. The
sandbox narrows that, and `lock_configuration` keeps a client's `SET`,
`RESET` or `PRAGMA` from undoing it. Settings are global to the database: in
a kernel they apply to the notebook's own cells too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Sandbox:
    read_only: bool = False
    allowed_directories: tuple[str, ...] = ()
    memory_limit: str | None = None
    threads: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.read_only or self.allowed_directories or self.memory_limit or self.threads)

    def settings(self) -> list[str]:
        """The statements that apply it, in order (file access goes last but one)."""
        statements = []
        if self.memory_limit:
            statements.append(f"SET memory_limit = {_literal(self.memory_limit)}")
        if self.threads:
            statements.append(f"SET threads = {int(self.threads)}")
        if self.allowed_directories:
            directories = ", ".join(
                _literal(str(Path(d).expanduser().resolve())) for d in self.allowed_directories
            )
            statements += [
                f"SET allowed_directories = [{directories}]",
                "SET autoinstall_known_extensions = false",
                "SET autoload_known_extensions = false",
                "SET enable_external_access = false",
            ]
        if self.active:
            statements.append("SET lock_configuration = true")
        return statements

    def apply(self, con: duckdb.DuckDBPyConnection) -> None:
        for statement in self.settings():
            con.execute(statement)
