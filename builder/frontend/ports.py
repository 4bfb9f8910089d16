"""EXPOSE's port specs as Docker reads them (go-connections `nat.ParsePortSpec`, which
Docker's BuildKit converter calls): `80`, `80/udp`, `8000-8010/tcp`, with the host
side (`[ip:]host:container`) parsed and checked but dropped, as EXPOSE keeps only the
container's. Pure: the planner checks the expanded words with it, so `pybuild plan`
rejects what the build would, at the instruction's line and column."""

from __future__ import annotations

import ipaddress

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    """A port spec Docker rejects; the message is Docker's."""


def parse_port_specs(specs: tuple[str, ...] | list[str]) -> list[str]:
    """Every container port the specs name, as `port/proto` (ranges expanded)."""
    out: list[str] = []
    for spec in specs:
        out.extend(_parse(spec))
    return out


def _parse(raw: str) -> list[str]:
    ip, host, container = _split_parts(raw)
    proto, container = _split_proto(container)
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise PortSpecError(f"Invalid ip address: {ip}") from None
    if not container:
        raise PortSpecError(f"No port specified: {raw}<empty>")
    start, end = _port_range(container, "containerPort")
    if host:
        hstart, hend = _port_range(host, "hostPort")
        if end - start != hend - hstart and end != start:
            raise PortSpecError(
                f"Invalid ranges specified for container and host Ports: {container} and {host}"
            )
    if proto.lower() not in PROTOCOLS:
        raise PortSpecError(f"Invalid proto: {proto}")
    return [f"{p}/{proto.lower()}" for p in range(start, end + 1)]


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _split_proto(raw: str) -> tuple[str, str]:
    """nat.SplitProtoPort: `port[/proto]`, tcp when no protocol is given."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _port_range(text: str, what: str) -> tuple[int, int]:
    """nat.ParsePortRange: a port or `start-end`, each a 16-bit unsigned number."""
    bounds = text.split("-")
    if len(bounds) > 2 or not all(_uint16(b) for b in bounds):
        raise PortSpecError(f"Invalid {what}: {text}")
    start, end = int(bounds[0]), int(bounds[-1])
    if end < start:
        raise PortSpecError(f"Invalid {what}: {text}")
    return start, end


def _uint16(s: str) -> bool:
    return s.isascii() and s.isdigit() and int(s) <= 65535
