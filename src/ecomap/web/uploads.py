"""The web upload pipeline: stage (save, check once in a worker process, keep the
checked copy), preview on demand, confirm (store the checked copy).

* The file as sent is written to the upload's folder, counted against the staging
  budget while it arrives, and hashed (the batch's provenance SHA-256).
* It is read and checked **once**, in a worker process with limits of features, time
  and memory (:mod:`ecomap.web._check`); the worker saves the checked copy beside it
  and the file as sent is removed.  In memory the server keeps only the report.
* The preview map is drawn when it is asked for, from the checked copy (simplified),
  and not kept.
* Confirm stores the checked copy — exactly what was reviewed — without reading the
  user's file again; under the write lock only the overlaps with stored plots are
  looked for again (the store may have changed since the check).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import threading

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.settings import Settings
from ecomap.web._check import load_checked, run_check
from ecomap.web.staging import Staged, Staging

__all__ = ["Uploads"]

#: Preview geometries are simplified to about this many metres.
PREVIEW_TOLERANCE_M = 1.0
_M_PER_DEGREE = 111_320.0


class Uploads:
    """Staging, checking, previewing and storing web uploads.

    ``store`` is a context manager factory opening the store; ``write_lock`` the lock
    every writer of the web process holds; ``too_large(name)`` the error of a file
    larger than ``max_upload_mb``.
    """

    def __init__(self, settings: Settings, staging: Staging, *, store, write_lock,
                 too_large) -> None:
        self.settings, self.staging, self.store = settings, staging, store
        self.write_lock, self.too_large = write_lock, too_large
        # Checks at once; the others wait their turn (each worker has its memory limit).
        self._slots = threading.BoundedSemaphore(max(1, int(settings.check_workers)))

    # --- stage ----------------------------------------------------------------------
    def stage(self, owner: str, upload, category: str, year: int, lang: str, *,
              township: str | None = None) -> Staged:
        """Save ``upload`` (a file object with ``.filename`` and ``.file``) and check it;
        with ``township`` (a township-bound editor's), refuse it, keeping nothing, when
        accepted plots lie outside that township."""
        from ecomap.schema import get_category

        code = get_category(category).code
        this_year = _dt.date.today().year
        if not 1949 <= int(year) <= this_year + 1:
            raise InputError(tr("年度 {year}: 请填写施工年度 (1949–{last})",
                                "year {year}: give the year of the work, 1949–{last}",
                                year=year, last=this_year + 1))
        item = self.staging.new(owner=owner, filename=upload.filename, category=code,
                                year=year)
        try:
            self._save(item, upload)
            with self._slots:
                report = run_check(item.path, name=item.name, category=code, year=item.year,
                                   lang=lang, settings=self.settings)
            item.checked_sha256 = report.pop("checked_sha256", None)
            item.reports = report.pop("reports", {})
            item.replaceable = report.pop("replaceable", [])
            item.replace_batch = report.pop("replace_batch", None)
            item.replace_reports = report.pop("replace_reports", {})
            item.replace_sha256 = report.pop("replace_sha256", None)
            item.report = report
            # Only the checked copy is kept: confirm never reads the file as sent.
            item.path.unlink(missing_ok=True)
            self.staging.recount(item)
            if township is not None:
                self.check_township(item, township)
        except BaseException:
            self.staging.drop(item.token)
            raise
        return item

    def _save(self, item: Staged, upload) -> None:
        """Write the file as sent, counted against the staging budget (its whole size
        at once when the form parser knows it) and hashed."""
        limit, written = self.settings.max_upload_mb * 1e6, 0
        size = getattr(upload, "size", None)
        if size is not None:
            if size > limit:
                raise self.too_large(item.name)
            self.staging.charge(item, size)
        digest = hashlib.sha256()
        with open(item.path, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise self.too_large(item.name)
                if size is None or written > size:
                    self.staging.charge(item, len(chunk) if size is None else written - size)
                    size = written
                digest.update(chunk)
                out.write(chunk)
        item.sha256 = digest.hexdigest()

    def check_township(self, item: Staged, township: str) -> None:
        """PermissionDenied naming the accepted plots of ``item`` (either checked copy)
        whose primary township is not ``township``."""
        from ecomap.web._check import CHECKED, CHECKED_REPLACE
        from ecomap.web.patchviews import outside_township, refuse_outside

        ids: list[str] = []
        for sha, name in ((item.checked_sha256, CHECKED), (item.replace_sha256,
                                                          CHECKED_REPLACE)):
            if sha:
                ids += [i for i in outside_township(load_checked(item.folder, sha, name),
                                                    township) if i not in ids]
        refuse_outside(ids, township, item.name)

    # --- preview --------------------------------------------------------------------
    def preview_html(self, item: Staged, lang: str) -> str:
        """The preview map of a staged upload, drawn now from its checked copy."""
        import shapely

        from ecomap.maps import review_map, to_html
        from ecomap.web._check import CHECKED, CHECKED_REPLACE

        # The file as checked; a file that only repeats a stored batch, as its replacement.
        checked = (load_checked(item.folder, item.checked_sha256, CHECKED)
                   if item.checked_sha256 else
                   load_checked(item.folder, item.replace_sha256, CHECKED_REPLACE))
        tolerance = PREVIEW_TOLERANCE_M / _M_PER_DEGREE  # the copy is in degrees

        def simplified(frame):
            return frame.set_geometry(shapely.simplify(
                frame.geometry.values, tolerance, preserve_topology=True))

        with self.store() as st:
            towns, county = st.townships(), st.county()
        return to_html(review_map(simplified(checked["plots"]),
                                  simplified(checked["problems"]), towns, county=county,
                                  lang=lang))

    # --- confirm --------------------------------------------------------------------
    def confirm(self, user, token: str, *, replace: int | None = None,
                check_replace=None) -> dict:
        """Store the checked copy of upload ``token`` as one batch of its owner; with
        ``replace``, the copy checked as the replacement of that plot batch, rolling it
        back in the same transaction (``check_replace(store, batch)`` raises when the
        user may not)."""
        from ecomap.checks import stored_overlap_problems
        from ecomap.i18n import current_lang, render
        from ecomap.store import Provenance
        from ecomap.web._check import CHECKED, CHECKED_REPLACE

        item = self.staging.take(token, user)  # a second confirm finds nothing to store
        try:
            if replace is None:
                if item.report.get("status") == "reject":
                    raise InputError(tr("{file} 已被拒绝, 不能入库; 请改正所列问题后重新上传",
                                        "{file} was rejected and cannot be stored; fix the "
                                        "problems listed and upload it again",
                                        file=item.name))
                checked = load_checked(item.folder, item.checked_sha256, CHECKED)
                report = item.report_in(current_lang())
            else:
                if item.replace_batch != int(replace):
                    raise InputError(tr(
                        "{file} 不能用来替换批次 {batch}: 它不是该批次的重复文件, 或检查未通过; "
                        "请改正所列问题后重新上传",
                        "{file} cannot replace batch {batch}: it does not repeat that batch, "
                        "or its check failed; fix the problems listed and upload it again",
                        file=item.name, batch=int(replace)))
                checked = load_checked(item.folder, item.replace_sha256, CHECKED_REPLACE)
                report = item.replace_reports.get(current_lang()) or item.report
            plots, splits = checked["plots"], checked["splits"]
            # An account bound to a township since the check: checked again.
            town = getattr(user, "township", None)
            if town is not None and not user.can("admin"):
                from ecomap.web.patchviews import outside_township, refuse_outside

                refuse_outside(outside_township(checked, town), town, item.name)
            # The batch is the uploader's (an admin may confirm it for them).
            provenance = Provenance(item.name, item.sha256, item.owner)
            # One writer at a time in this process.  The store may have changed since
            # the check: its overlaps are found again, against the checked copy.
            with self.write_lock, self.store() as st:
                if replace is not None and check_replace is not None:
                    check_replace(st, int(replace))
                stored = st.plots(category=item.category, year=item.year)
                if replace is not None:
                    stored = stored[stored["batch_id"] != int(replace)]
                fresh = stored_overlap_problems(plots, stored, item.name)
                batch = st.add_plots(plots, provenance=provenance, splits=splits,
                                     replace=replace)
        except BaseException:
            self.staging.put_back(item)
            raise
        self.staging.drop(item)
        problems = [p for p in report.get("problems", [])
                    if p.get("code") != "overlaps_stored"] + [
                        {**vars(p), "message": render(p.message)} for p in fresh]
        return {"batch_id": batch, "file": item.name, "plots": len(plots),
                "area_mu": report.get("area_mu"),
                "status": "warn" if problems else "accept", "replaced": replace}
