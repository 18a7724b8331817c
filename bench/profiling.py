"""Summarize a py-spy profile in its ``raw`` (collapsed stack) format.

Each line of the file is ``frame;frame;...;frame COUNT``, outermost frame
first, and with ``--threads`` the first frame names the thread. py-spy leaves
out samples of threads that it detects as idle, but a thread blocked in
``SimpleQueue.get``, ``Condition.wait`` or a socket read often still counts,
so the per-thread listing shows where each thread's samples were.

Usage: ``python bench/profiling.py FILE [--top N]``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_THREAD_ID = re.compile(r"^thread \((?:0x)?[0-9a-f]+\):?\s*", re.IGNORECASE)
_DIGITS = re.compile(r"-\d+\b")


def _thread_group(frame: str) -> str:
    """Return the thread's name without its id or number, so the ten processor threads add up."""
    name = _THREAD_ID.sub("", frame).strip().strip('"')
    return _DIGITS.sub("-N", name) or frame


def summarize(path: Path, top: int = 15) -> str:
    """Return a text summary: samples per thread, and the frames with the most self and total samples."""
    per_thread: Counter[str] = Counter()
    self_by_thread: dict[str, Counter[str]] = {}
    self_samples: Counter[str] = Counter()
    total_samples: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        total += count
        group = _thread_group(thread)
        per_thread[group] += count
        if frames:
            self_samples[frames[-1]] += count
            self_by_thread.setdefault(group, Counter())[frames[-1]] += count
            for frame in set(frames):
                total_samples[frame] += count

    lines = [f"{total} samples in {path.name}", "", "samples by thread:"]
    for name, count in per_thread.most_common():
        lines.append(f"  {count / total:6.1%}  {name}, where most samples were in:")
        for frame, inner in self_by_thread.get(name, Counter()).most_common(4):
            lines.append(f"      {inner / total:6.1%}  {frame}")
    lines += ["", f"top {top} frames by self samples:"]
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in self_samples.most_common(top)]
    lines += ["", f"top {top} frames by total samples (the frame or anything it called):"]
    lines += [f"  {count / total:6.1%}  {frame}" for frame, count in total_samples.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Summarize a py-spy raw profile.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=15, help="frames to list [15]")
    args = parser.parse_args()
    print(summarize(args.path, args.top))


if __name__ == "__main__":
    main()
