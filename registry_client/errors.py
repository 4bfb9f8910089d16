"""The registry client's exception tree. `RegistryError` carries the HTTP status, the
error codes from the body, the method and the URL, so the CLI can say it in one line."""

from __future__ import annotations


class RegistryError(Exception):
    """Root of every error raised by `registry_client/`."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None, codes: tuple[str, ...] = (),
                 method: str = "", url: str = "", detail: str = "") -> None:
        self.message = message
        self.status = status
        self.codes = codes
        self.method = method
        self.url = url
        self.detail = detail
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        if self.status is not None:
            code = " ".join(self.codes) if self.codes else ""
            parts.append(f"{self.status}{' ' + code if code else ''}")
        if self.detail:
            parts.append(f"({self.detail})")
        if self.method or self.url:
            parts.append(f"[{self.method} {self.url}]".replace("[ ", "["))
        return ": ".join(parts[:2]) + (" " + " ".join(parts[2:]) if len(parts) > 2 else "")
