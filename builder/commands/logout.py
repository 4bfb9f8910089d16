"""`pybuild logout [REGISTRY]`: remove stored credentials (as docker logout does)."""

from __future__ import annotations

import argparse

from builder.commands.login import registry_host


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("registry", nargs="?", default="docker.io", help="registry host[:port]")


def run(args: argparse.Namespace) -> int:
    from registry_client.credentials import erase_credentials

    host = registry_host(args.registry)
    if erase_credentials(host):
        print(f"Removing login credentials for {host}")
    else:
        print(f"Not logged in to {host}")
    return 0
