"""`pybuild login [REGISTRY] [-u USER] [--password-stdin]`: check credentials against the
registry, then store them as docker does (credential helper or config.json)."""

from __future__ import annotations

import argparse
import getpass
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("registry", nargs="?", default="docker.io", help="registry host[:port]")
    p.add_argument("-u", "--username", default=None)
    p.add_argument("-p", "--password", default=None, help="insecure; prefer --password-stdin")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]")


def registry_host(text: str) -> str:
    host = text.strip().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def run(args: argparse.Namespace) -> int:
    from registry_client.client import RegistryClient
    from registry_client.credentials import Credentials, store_credentials
    from registry_client.errors import CredentialsError, RegistryError

    host = registry_host(args.registry)
    user = args.username
    if args.password_stdin:
        if args.password is not None:
            raise CredentialsError("login", detail="--password and --password-stdin are exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    elif args.password is not None:
        password = args.password
    else:
        if user is None:
            user = input("Username: ")
        password = getpass.getpass("Password: ")
    if not user:
        raise CredentialsError("login", detail="a username is required (-u USER)")
    creds = Credentials(user, password)
    client = RegistryClient(insecure=tuple(args.insecure_registry))
    try:
        client.login(host, creds)
    except RegistryError as e:
        raise e.in_context(f"login {host}") from None
    finally:
        client.close()
    store_credentials(host, creds)
    print("Login Succeeded")
    return 0
