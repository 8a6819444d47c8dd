"""The demo fault switch: injected server errors and latency, so a class can cause an incident
on cue and watch it reach the dashboards and the alerts.

It exists only with CHURN_DEMO_FAULTS=true and an admin token. Every fault ends by itself at its
expiry, is shown by api_fault_injected{kind} (0 when off) and is logged when it changes; each
injected answer's log line says so.

The faults live in one small JSON file in the logs folder, so every worker and every container
sharing that folder applies the same ones: the process that receives the switch applies it at
once, the others within a second, when their watcher sees the file change.
"""

import asyncio
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Request
from loguru import logger
from prometheus_client import Gauge

from churn.files import write_text_atomic
from churn.metrics import FAULT_KINDS

FILE_NAME = "demo-faults.json"
WATCH_SECONDS = 1.0
INJECTED = "injected fault (demo fault switch): not a real failure"


@dataclass(frozen=True)
class Fault:
    value: float  # errors: the share of requests answered 500; latency: seconds added to each
    until: float  # epoch seconds at which it ends by itself


class FaultSwitch:
    """The faults in force, kept in sync with the shared file and shown by the gauge."""

    def __init__(self, path: Path, gauge: Gauge) -> None:
        self.path, self.gauge = path, gauge
        self.faults: dict[str, Fault] = {}
        self._seen: float | None = None  # the file's mtime when last read
        self.refresh()

    def active(self) -> dict[str, Fault]:
        """The faults that have not expired; an expired one is dropped and its gauge zeroed."""
        now = time.time()
        expired = [kind for kind, fault in self.faults.items() if fault.until <= now]
        for kind in expired:
            del self.faults[kind]
            self.gauge.labels(kind).set(0)
            logger.info("demo fault {} ended by itself", kind)
        return self.faults

    def set(self, changes: dict[str, float], seconds: float) -> dict[str, Fault]:
        """Sets each kind in `changes` (0 turns it off) for `seconds`; the others stay as they are."""
        faults = dict(self.active())
        until = time.time() + seconds
        for kind, value in changes.items():
            if value > 0:
                faults[kind] = Fault(value, until)
            else:
                faults.pop(kind, None)
        self._save(faults)
        return self.faults

    def clear(self) -> dict[str, Fault]:
        self._save({})
        return self.faults

    def refresh(self) -> None:
        """Reads the file again if it changed since the last read."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime == self._seen:
            self.active()
            return
        self._seen = mtime
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8")) if mtime else {}
            faults = {kind: Fault(float(saved[kind]["value"]), float(saved[kind]["until"]))
                      for kind in FAULT_KINDS if kind in saved}
            faults = {kind: fault for kind, fault in faults.items() if fault.until > time.time()}
        except (OSError, ValueError, TypeError, KeyError) as exc:
            logger.warning("demo faults file {} unreadable ({}); no fault applied", self.path, exc)
            faults = {}
        self._apply(faults)

    async def watch(self) -> None:
        """Keeps this process in step with the others; runs until cancelled."""
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            self.refresh()

    async def inject(self, request: Request) -> None:
        """A dependency of the scoring routes: waits the added latency, then maybe fails."""
        faults = self.active()
        if latency := faults.get("latency"):
            request.state.fault = "latency"
            await asyncio.sleep(latency.value)
        if (errors := faults.get("errors")) and random.random() < errors.value:
            request.state.fault = "errors"
            raise HTTPException(500, INJECTED)

    def _save(self, faults: dict[str, Fault]) -> None:
        write_text_atomic(self.path, json.dumps(
            {kind: {"value": fault.value, "until": fault.until} for kind, fault in faults.items()}))
        self._seen = self.path.stat().st_mtime
        self._apply(faults)

    def _apply(self, faults: dict[str, Fault]) -> None:
        for kind in FAULT_KINDS:
            before, after = self.faults.get(kind), faults.get(kind)
            if before != after:
                if after is None:
                    logger.warning("demo fault {} off", kind)
                else:
                    logger.warning("demo fault {} on: {:g}{} until {}", kind, after.value,
                                   " of requests answered 500" if kind == "errors" else " s added",
                                   time.strftime("%H:%M:%S", time.localtime(after.until)))
            self.gauge.labels(kind).set(after.value if after else 0)
        self.faults = faults
        self.active()
