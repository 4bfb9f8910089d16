"""Capability sets and the seccomp profile's selection rules (pure; no namespaces)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.sandbox import SandboxSetupError, caps, seccomp
from builder.sandbox.seccomp import PROFILE, applies


def test_docker_default_is_the_14() -> None:
    assert len(caps.DOCKER_DEFAULT) == 14
    assert caps.mask(caps.DOCKER_DEFAULT) == 0xA80425FB


def test_add_drop_and_all() -> None:
    got = caps.resolve(False, ("NET_ADMIN",), ("CAP_CHOWN",))
    assert "NET_ADMIN" in got and "CHOWN" not in got
    assert caps.resolve(False, (), ("ALL",)) == frozenset()
    assert caps.resolve(False, ("SYS_TIME",), ("ALL",)) == {"SYS_TIME"} & caps.available()
    assert caps.resolve(True) == caps.available() & frozenset(caps.NAMES[: caps.last_cap() + 1])


def test_unknown_capability_is_a_setup_error() -> None:
    with pytest.raises(SandboxSetupError, match="unknown capability 'CAP_FLY'"):
        caps.resolve(False, ("CAP_FLY",))


@given(st.frozensets(st.sampled_from(caps.NAMES)))
def test_mask_round_trips(names: frozenset[str]) -> None:
    assert caps.names_of(caps.mask(names)) == names


def test_parse_status() -> None:
    got = caps.parse_status("Name:\tsh\nCapEff:\t00000000a80425fb\nCapBnd:\t0000000000000001\n")
    assert got == {"CapEff": 0xA80425FB, "CapBnd": 1}


def _entry(names: list[str]) -> dict:
    for e in json.loads(PROFILE.read_text())["syscalls"]:
        if e["names"][: len(names)] == names:
            return e
    raise AssertionError(names)


def test_profile_rules_follow_caps_arch_and_kernel() -> None:
    default = caps.DOCKER_DEFAULT
    admin_entry = _entry(["bpf", "clone", "clone3"])
    assert not applies(admin_entry, default, "amd64", (6, 1))
    assert applies(admin_entry, default | {"SYS_ADMIN"}, "amd64", (6, 1))
    clone3_enosys = next(
        e
        for e in json.loads(PROFILE.read_text())["syscalls"]
        if e["names"] == ["clone3"] and e.get("errnoRet") == 38
    )
    assert applies(clone3_enosys, default, "amd64", (6, 1))
    assert not applies(clone3_enosys, default | {"SYS_ADMIN"}, "amd64", (6, 1))
    assert applies(_entry(["arch_prctl"]), default, "amd64", (6, 1))
    assert not applies(_entry(["arch_prctl"]), default, "arm64", (6, 1))
    ptrace = _entry(["process_vm_readv", "process_vm_writev", "ptrace"])
    assert applies(ptrace, default, "amd64", (4, 8)) and not applies(
        ptrace, default, "amd64", (4, 4)
    )


def test_compiled_filter_differs_by_caps_and_is_cached() -> None:
    a = seccomp.compile_filter(caps.DOCKER_DEFAULT)
    b = seccomp.compile_filter(caps.DOCKER_DEFAULT | {"SYS_ADMIN"})
    assert len(a) % 8 == 0 and len(a) > 8 * 100
    assert a != b
    assert seccomp.prepare(caps.DOCKER_DEFAULT) is seccomp.prepare(caps.DOCKER_DEFAULT)
