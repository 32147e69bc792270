"""The machine and the versions a run measured on: CPU, cores, RAM, OS, Python, SQLite, servers, packages."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

PACKAGES = (
    "aiokafka",
    "aiosqlite",
    "fastapi",
    "httptools",
    "orjson",
    "pydantic",
    "pymongo",
    "starlette",
    "uvicorn",
    "uvloop",
)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _os_name() -> str:
    release = Path("/etc/os-release")
    if release.is_file():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"') + f" (kernel {platform.release()})"
    return f"{platform.system()} {platform.release()}"


def _wrk_version() -> str | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    completed = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].strip() if first else "wrk"


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpu": _cpu_model(),
        "cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": _os_name(),
        "load_average_at_start": [round(value, 2) for value in load],
    }


def versions(kafka: str | None, ferretdb: str | None) -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "kafka": kafka,
        "ferretdb": ferretdb,
        "wrk": _wrk_version(),
        "packages": packages,
    }
