"""Suite 2: atheris (libFuzzer for Python) on the verifiers, the body parser and the routing engine.

Long profile: each target fuzzes for ``AIRHOOK_FUZZ_SECONDS`` (default 100) in a subprocess, from
a seed corpus of the hand-written nasty inputs. A crash (a property violation that is not a known
issue, or any exception the target does not expect) is saved as
``tests/reliability/crashes/<target>-crash-<sha1>`` and fails the test.

Every profile: every saved crash is replayed in process, so it stays a failing test until airhook
is fixed (then the file stays, as a regression input).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from . import figures
from .corpus import NASTY_BODIES
from .fuzz_targets import TARGETS, replay

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CRASHES = HERE / "crashes"
SECONDS = int(os.environ.get("AIRHOOK_FUZZ_SECONDS", "100"))


def saved_crashes() -> list[Path]:
    return sorted(p for p in CRASHES.glob("*-*") if p.is_file() and p.name.split("-", 1)[0] in TARGETS)


@pytest.mark.parametrize("path", saved_crashes() or [None], ids=lambda p: p.name if p else "none-saved")
def test_saved_crash_inputs_no_longer_crash(path: Path | None) -> None:
    if path is None:
        pytest.skip("no saved crash inputs")
    replay(path.name.split("-", 1)[0], path.read_bytes())


def seed_corpus(target: str, directory: Path) -> None:
    seeds = list(NASTY_BODIES[:60])
    seeds += [json.dumps(d).encode() for d in (
        {"x": 1, "tags": ["a"], "ref": "refs/heads/main", "items": [{"n": 1}], "rid": "ok"},
        {"x": "1", "tags": "a", "items": [{"n": "a"}, {"n": 1}], "rid": "bad id"},
        [], {}, {"a": {"b": {"c": [1, 2.5, None, True]}}})]
    for index, seed in enumerate(seeds):
        prefix = bytes([index % 256, 1, 0]) if target != "body" else bytes([index % 6])
        (directory / f"seed-{index}").write_bytes(prefix + seed[:4000])


@pytest.mark.long
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz(target: str) -> None:
    CRASHES.mkdir(exist_ok=True)
    before = set(CRASHES.iterdir())
    with tempfile.TemporaryDirectory(prefix=f"airhook-fuzz-{target}-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        seed_corpus(target, corpus)
        command = [sys.executable, "-m", "tests.reliability.fuzz_targets", target,
                   f"-max_total_time={SECONDS}", f"-artifact_prefix={CRASHES}/{target}-",
                   "-rss_limit_mb=3072", "-timeout=20", "-max_len=8192", "-print_final_stats=1",
                   str(corpus)]
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=SECONDS + 120, errors="replace")
        elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    runs = re.search(r"Done (\d+) runs in (\d+) second", output)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", output)
    figures.record(f"2 fuzzing: {target}", seconds=round(elapsed, 1),
                   executions=int(runs.group(1)) if runs else None,
                   exec_per_s=round(int(runs.group(1)) / max(elapsed, 1)) if runs else None,
                   coverage_edges=int(cov[-1][0]) if cov else None,
                   crashes=len(set(CRASHES.iterdir()) - before))
    new = sorted(set(CRASHES.iterdir()) - before)
    assert done.returncode == 0 and not new, (
        f"atheris found a crash in {target}: saved {[p.name for p in new]} (replayed by "
        f"test_saved_crash_inputs_no_longer_crash)\n{output[-4000:]}")
