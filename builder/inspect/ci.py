"""CI mode, as dive's: three rules, read from `.pybuild-ci.yaml` and overridden by
flags; exit 1 when one fails, printing what failed.

Rules (dive's names are accepted too):
- `lowest-efficiency` (lowestEfficiency): a ratio 0..1 ("95%" also works); default 0.9
- `highest-wasted-bytes` (highestWastedBytes): a size ("20MB", "1.5GiB", "1024");
  default disabled
- `highest-user-wasted-percent` (highestUserWastedPercent): a ratio 0..1 as dive takes
  it ("0.1" = 10 %; "10%" also works); default 0.1
Any rule may be "disabled". The file is a tiny YAML subset (no PyYAML): `key: value`
lines, optionally under a `rules:` section, `#` comments, optional quotes.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

from builder.inspect.analyze import Analysis
from builder.inspect.dive import percent_text
from builder.inspect.errors import CiConfigError
from builder.inspect.pitfalls.base import human
from builder.units import humanize_bytes

CONFIG_NAME = ".pybuild-ci.yaml"
RULES = ("lowest-efficiency", "highest-wasted-bytes", "highest-user-wasted-percent")
DEFAULTS: dict[str, str] = {
    "lowest-efficiency": "0.9",
    "highest-wasted-bytes": "disabled",
    "highest-user-wasted-percent": "0.1",
}
_ALIASES = {
    "lowestefficiency": "lowest-efficiency",
    "highestwastedbytes": "highest-wasted-bytes",
    "highestuserwastedpercent": "highest-user-wasted-percent",
}
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one `inspect --ci` rule."""

    rule: str
    status: str  # PASS | FAIL | SKIP
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"


def _key(k: str) -> str:
    k = k.strip().strip("\"'")
    norm = k.lower().replace("_", "-")
    return _ALIASES.get(norm.replace("-", ""), norm)


def parse_config(text: str, where: str = CONFIG_NAME) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"\s+#.*$", "", raw).rstrip()
        if not line.strip() or line.lstrip().startswith("#") or line.strip() == "---":
            continue
        key, sep, value = line.strip().partition(":")
        if not sep:
            raise CiConfigError(f"{where}:{n}: expected `key: value`, got {raw.strip()!r}")
        value = value.strip().strip("\"'")
        if not value:
            if _key(key) != "rules":
                raise CiConfigError(f"{where}:{n}: unknown section {key.strip()!r}")
            continue
        k = _key(key)
        if k not in RULES:
            raise CiConfigError(
                f"{where}:{n}: unknown rule {key.strip()!r} (known: {', '.join(RULES)})"
            )
        out[k] = value
    return out


def parse_ratio(text: str, rule: str) -> float:
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise CiConfigError(f"{rule}: not a ratio: {text!r}") from None
    if not 0 <= v <= 1:
        raise CiConfigError(f"{rule}: {text!r} is not between 0 and 1 (or 0% and 100%)")
    return v


def parse_size(text: str, rule: str = "size") -> int:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise CiConfigError(f"{rule}: not a size: {text!r} (e.g. 20MB, 1.5GiB, 1024)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def load_thresholds(args: argparse.Namespace) -> dict[str, str]:
    th = dict(DEFAULTS)
    path = getattr(args, "ci_config", None)
    if path is None and os.path.isfile(CONFIG_NAME):
        path = CONFIG_NAME
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                th.update(parse_config(f.read(), path))
        except OSError as e:
            raise CiConfigError(f"{path}: {e.strerror}") from None
    for rule in RULES:
        v = getattr(args, rule.replace("-", "_"), None)
        if v is not None:
            th[rule] = str(v)
    return th


def evaluate(a: Analysis, th: dict[str, str]) -> list[RuleResult]:
    out = []
    w = a.waste
    for rule in RULES:
        value = th.get(rule, "disabled").strip()
        if value.lower() == "disabled":
            out.append(RuleResult(rule, "SKIP", "rule disabled"))
            continue
        if rule == "lowest-efficiency":
            t = parse_ratio(value, rule)
            bad = w.efficiency < t
            msg = f"image efficiency is too low (efficiency={w.efficiency:.4f} < threshold={t})"
        elif rule == "highest-wasted-bytes":
            tb = parse_size(value, rule)
            bad = w.wasted_bytes > tb
            msg = f"too many bytes wasted (wasted-bytes={w.wasted_bytes} > threshold={tb})"
        else:
            t = parse_ratio(value, rule)
            ratio = w.user_wasted_percent / 100
            bad = ratio > t
            msg = (
                f"too many bytes wasted, relative to the user bytes added "
                f"(user-wasted-percent={ratio:.4f} > threshold={t})"
            )
        out.append(RuleResult(rule, "FAIL" if bad else "PASS", msg if bad else ""))
    return out


def format_ci(a: Analysis, results: list[RuleResult]) -> str:
    """dive's report, its figures to the byte, then pybuild's own (reclaimableBytes)."""
    w = a.waste
    lines = [
        f"  efficiency: {100 * w.efficiency:.4f} %",
        f"  wastedBytes: {w.wasted_bytes} bytes ({humanize_bytes(w.wasted_bytes)})",
        f"  userWastedPercent: {percent_text(w.user_wasted_percent, 4)}",
        f"  reclaimableBytes: {w.reclaimable_bytes} bytes ({human(w.reclaimable_bytes)}; "
        "pybuild: what a rewrite would not store)",
    ]
    shown = w.dive.inefficient[: w.top_n]
    if shown:
        lines.append("Inefficient Files:")
        lines.append(f"{'Count':>5}  {'Wasted Space':>12}  File Path")
        for p in shown:
            lines.append(f"{p.count:>5}  {humanize_bytes(p.size):>12}  {p.path}")
    lines.append("Results:")
    for r in results:
        lines.append(f"  {r.status}: {r.rule}" + (f": {r.message}" if r.message else ""))
    n = {s: sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "SKIP")}
    lines.append(
        f"Result:{'FAIL' if n['FAIL'] else 'PASS'} [Total:{len(results)}] "
        f"[Passed:{n['PASS']}] [Failed:{n['FAIL']}] [Warn:0] [Skipped:{n['SKIP']}]"
    )
    return "\n".join(lines)
