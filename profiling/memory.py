"""Resident memory of a process, from /proc (Linux): what the benchmarks and the memory tests read."""
from pathlib import Path


def rss_kib(pid: int) -> int:
    """The process's resident set size in KiB (VmRSS); 0 when it is gone or /proc has no such field."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
