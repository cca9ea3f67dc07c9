"""Peak memory of running process trees, sampled from a background thread."""

from __future__ import annotations

import threading

import psutil


class RssSampler:
    """Samples the memory of process trees in a thread and keeps each process's peak.

    RSS counts pages a pool process shares with the parent it was forked from;
    USS (unique set size, read less often because it costs more) does not.
    """

    USS_EVERY = 10
    """Samples between two USS readings."""

    def __init__(self, roots: dict[str, int], interval: float = 0.1) -> None:
        self.roots = roots
        self.interval = interval
        self.peaks: dict[str, dict[int, int]] = {label: {} for label in roots}
        self.uss_peaks: dict[str, dict[int, int]] = {label: {} for label in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            for label, pid in self.roots.items():
                self._sample(label, pid, with_uss=tick % self.USS_EVERY == 0)
            tick += 1
            self._stop.wait(self.interval)

    def _sample(self, label: str, pid: int, with_uss: bool) -> None:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in tree:
            try:
                _raise(self.peaks[label], process.pid, process.memory_info().rss)
                if with_uss:
                    _raise(self.uss_peaks[label], process.pid, process.memory_full_info().uss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue

    def peak_mb(self, label: str) -> float:
        """The largest single process of a tree, in MB."""
        return round(max(self.peaks[label].values(), default=0) / 2**20, 1)

    def each_mb(self, label: str) -> list[float]:
        """Peak RSS of every process of a tree, in MB, in process id order."""
        return [round(v / 2**20, 1) for _, v in sorted(self.peaks[label].items())]

    def uss_each_mb(self, label: str) -> list[float]:
        """Peak USS, in the same order as ``each_mb`` (0 for a process never read)."""
        uss = self.uss_peaks[label]
        return [round(uss.get(pid, 0) / 2**20, 1) for pid in sorted(self.peaks[label])]


def _raise(peaks: dict[int, int], pid: int, value: int) -> None:
    peaks[pid] = max(peaks.get(pid, 0), value)
