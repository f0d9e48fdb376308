"""The check of one web upload, run in a worker process of its own.

:func:`run_check` starts the process, waits at most ``check_seconds`` and kills it
after that; the worker (:func:`_work`) limits its own address space to
``check_memory_mb`` beyond what the program itself takes, reads and checks the file
once (:func:`ecomap.ingest.validate_file`) and leaves its result in the upload's
folder: ``checked.pickle`` (the accepted plots, their township splits and the problem
features — the copy that is stored on confirm) and ``result.json`` (the report and the
checked copy's SHA-256).  Nothing big travels between the processes.

A heavy upload therefore costs its own process, never the server's memory or time:
the server keeps answering meanwhile.  Whatever stops the check (time, memory, a file
that cannot be read) comes back as a rejected report naming the file as it was sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from ecomap.errors import EcomapError, NotFoundError, StoreError
from ecomap.i18n import tr, use_lang
from ecomap.settings import Settings

__all__ = ["CHECKED", "CHECKED_REPLACE", "load_checked", "rejected_report", "run_check"]

log = logging.getLogger(__name__)

CHECKED = "checked.pickle"
CHECKED_REPLACE = "checked-replace.pickle"  # the copy checked as a batch's replacement
# How GDAL and numpy say that an allocation failed.
_OUT_OF_MEMORY = re.compile(r"malloc of size|out of memory|cannot allocate|"
                            r"unable to allocate|MemoryError", re.IGNORECASE)
_RESULT = "check.result"  # no suffix an upload may have


def rejected_report(name: str, code: str, message, lang: str) -> dict:
    """The JSON report (in ``lang``, and in every language under ``reports``) of a file
    rejected whole, with one file-level problem."""
    from ecomap.checks import Report
    from ecomap.ingest import rejected_outcome

    report = Report(name)
    report.add("error", code, message)
    outcome = rejected_outcome(report, {"file": name, "layer": None})
    return {**outcome.to_json(lang), "reports": _reports(outcome)}


def _context():
    """Worker processes forked from a server process that has imported the checks
    once (quick to start); spawned afresh where there is no fork server (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ecomap.web._check", "ecomap.ingest", "ecomap.store",
                                    "ecomap.io.gpkg_guard", "ecomap.io.tables", "pyogrio"])
        return ctx
    return multiprocessing.get_context("spawn")


def run_check(path: Path, *, name: str, category: str, year: int, lang: str,
              settings: Settings) -> dict:
    """Check the staged file ``path`` (sent as ``name``) in a worker process; the
    report, with ``checked_sha256`` (None when nothing checked was kept).

    Raises :class:`StoreError` when the store could not be read, and
    :class:`EcomapError` (an internal error) when the worker failed otherwise.
    """
    folder = path.parent
    result = folder / _RESULT
    result.unlink(missing_ok=True)
    job = {"path": str(path), "name": name, "category": category, "year": int(year),
           "lang": lang, "settings": replace(settings, max_features=settings.max_features_web)}
    process = _context().Process(target=_work, args=(job,), name=f"ecomap-check {name}",
                                 daemon=True)
    process.start()
    process.join(settings.check_seconds)
    if process.is_alive():
        process.kill()
        process.join()
        _clean(folder)
        return {**rejected_report(name, "time_limit", tr(
            "{file}: 检查超过了允许的 {s:,g} 秒, 已停止; 请把文件拆分(按乡镇或年度)后分别上传",
            "{file}: checking took longer than the {s:,g} seconds allowed and was stopped; "
            "split the file (by township or year) and upload the parts",
            file=name, s=settings.check_seconds), lang), "checked_sha256": None}
    process.close()
    try:
        out = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        out = None
    result.unlink(missing_ok=True)
    shutil.rmtree(folder / "tmp", ignore_errors=True)
    if out is None or out.get("kind") == "memory":
        # No answer: the worker died (out of memory, most likely) or said so.
        _clean(folder)
        return {**rejected_report(name, "memory_limit", tr(
            "{file}: 检查需要的内存超过了允许的 {mb:,g} MB, 已停止; 请把文件拆分(按乡镇或年度)"
            "后分别上传",
            "{file}: checking needed more memory than the {mb:,g} MB allowed and was "
            "stopped; split the file (by township or year) and upload the parts",
            file=name, mb=settings.check_memory_mb), lang), "checked_sha256": None}
    if out["kind"] == "store":
        raise StoreError(out["message"])
    if out["kind"] != "report":
        raise EcomapError(tr("{file}: 检查时服务器内部出错(已记入服务器日志); 请稍后重试, "
                             "如仍出错请告知管理员",
                             "{file}: the check failed with an internal error (logged on "
                             "the server); try again, and tell the administrator if it keeps "
                             "happening", file=name))
    return {**out["report"], **{k: v for k, v in out.items() if k not in ("kind", "report")}}


def _clean(folder: Path) -> None:
    """What a stopped worker left: its unpacked archive and half-written files."""
    shutil.rmtree(folder / "tmp", ignore_errors=True)
    for leftover in (CHECKED, CHECKED + ".part", CHECKED_REPLACE, CHECKED_REPLACE + ".part",
                     _RESULT):
        (folder / leftover).unlink(missing_ok=True)


def _limit_memory(mb: float) -> None:
    """At most ``mb`` MB of address space beyond what the process takes now."""
    try:
        import resource
    except ImportError:  # Windows: no limit of this kind
        return
    try:
        with open("/proc/self/statm") as f:
            base = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        base = 0
    limit = base + int(mb * 2**20)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _write_json(path: Path, data: dict) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def _import_all() -> None:
    """What a check imports (already there in a worker forked from the fork server)."""
    import pyogrio  # noqa: F401
    import pyproj

    import ecomap.ingest
    import ecomap.io.gpkg_guard
    import ecomap.io.tables
    import ecomap.store  # noqa: F401

    pyproj.CRS.from_epsg(4490)  # opens the PROJ database


def _work(job: dict) -> None:
    """The worker process: check, save the checked copy, write the result."""
    path = Path(job["path"])
    folder = path.parent
    settings: Settings = job["settings"]
    work_tmp = folder / "tmp"
    work_tmp.mkdir(exist_ok=True)
    # Archives unpack inside the upload's folder: removed with it, even after a kill.
    tempfile.tempdir = str(work_tmp)
    _import_all()  # before the limit: the program itself is not the check's memory
    _limit_memory(settings.check_memory_mb)
    try:
        with use_lang(job["lang"]):
            out = _check(path, job, settings)
    except MemoryError:
        out = {"kind": "memory"}
    except StoreError as exc:
        out = {"kind": "store", "message": str(exc)}
    except Exception:
        log.exception("checking %s failed", job["name"])
        out = {"kind": "internal"}
    _write_json(folder / _RESULT, _scrubbed(out, path, job["name"]))


def _check(path: Path, job: dict, settings: Settings) -> dict:
    from ecomap.ingest import validate_file
    from ecomap.store import open_store

    try:
        st = open_store(settings.store)
    except EcomapError as exc:
        raise StoreError(str(exc)) from exc
    try:
        outcome = validate_file(path, st, category=job["category"], year=job["year"],
                                settings=settings, name=job["name"])
        replaceable = list(outcome.info.get("replaceable", []))
        # A file repeating exactly one stored batch may replace it: checked once more
        # as its replacement, and that checked copy kept too.
        again = (validate_file(path, st, category=job["category"], year=job["year"],
                               settings=settings, name=job["name"], replace=replaceable[0])
                 if len(replaceable) == 1 else None)
    finally:
        st.close()
    report = outcome.to_json()
    if report["status"] == "reject" and any(
            _OUT_OF_MEMORY.search(str(p["message"])) for p in report["problems"]
            if p["feature"] is None):
        # GDAL's own allocation failed under the limit: said as such, not "damaged".
        return {"kind": "memory"}
    out = {"kind": "report", "report": report, "reports": _reports(outcome),
           "checked_sha256": _save_checked(outcome, path.with_name(CHECKED)),
           "replaceable": replaceable}
    if again is not None and again.status != "reject":
        out.update(replace_batch=replaceable[0], replace_reports=_reports(again),
                   replace_sha256=_save_checked(again, path.with_name(CHECKED_REPLACE)))
    return out


def _reports(outcome) -> dict:
    """The report of ``outcome`` in every language, so each request shows its own."""
    from ecomap.i18n import LANGS

    return {lang: outcome.to_json(lang) for lang in LANGS}


def _save_checked(outcome, target: Path) -> str | None:
    """Save the checked copy of ``outcome`` at ``target``; its SHA-256 (None: nothing)."""
    if not (len(outcome.plots) or len(outcome.problem_geoms)):
        return None
    checked = {"plots": outcome.plots, "splits": outcome.splits,
               "problems": outcome.problem_geoms}
    data = pickle.dumps(checked, protocol=pickle.HIGHEST_PROTOCOL)
    del checked
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    os.replace(part, target)
    return hashlib.sha256(data).hexdigest()


def _scrubbed(out: dict, path: Path, name: str) -> dict:
    """No server path in what people read: the staged file's path becomes the file
    name as sent, the folders around it nothing."""
    folder = path.parent
    pairs = []
    for f in dict.fromkeys((folder, folder.resolve())):
        pairs += [(str(f / path.name), name), (str(f / "tmp") + os.sep, ""),
                  (str(f) + os.sep, ""), (str(f), name)]
    text = json.dumps(out, ensure_ascii=False)
    for old, new in pairs:
        text = text.replace(json.dumps(old, ensure_ascii=False)[1:-1],
                            json.dumps(new, ensure_ascii=False)[1:-1])
    return json.loads(text)


def load_checked(folder: Path, sha256: str | None, name: str = CHECKED) -> dict:
    """The checked copy ``name`` saved by the worker, verified against its SHA-256.

    Raises :class:`NotFoundError` when it is missing or changed since the check.
    """
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    if not sha256 or hashlib.sha256(data).hexdigest() != sha256:
        raise NotFoundError(tr("检查过的副本已不在或已改变; 请重新上传文件",
                               "the checked copy of this upload is missing or has changed "
                               "since the check; upload the file again"))
    # Our own file, written by our worker and matching its recorded hash.
    return pickle.loads(data)  # noqa: S301
