"""The web service and duplicates: the review page shows a repeated file and repeated
小班号, offers "替换批次 N" to whoever may replace batch N, and the replacement (page
and JSON API) checks ownership and CSRF like rollback.

Test plots are 100 m squares in 甲镇 (tests/webapp.gbk_zip): 10 000 m² = 15 mu each.
"""

from __future__ import annotations

import re

import pytest

from ecomap.store import open_store
from tests.webapp import bearer, client, csrf_of, gbk_zip, sign_in


def api_upload(c, path, headers, **fields):
    with open(path, "rb") as f:
        return c.post("/api/uploads", headers=headers,
                      files={"file": (path.name, f, "application/octet-stream")},
                      data={"category": "afforestation", "year": "2023", **fields})


def form_upload(c, path, csrf) -> str:
    """Uploads through the page's form; returns the review page's address."""
    with open(path, "rb") as f:
        r = c.post(f"/upload?csrf={csrf}", data={"category": "afforestation", "year": "2023",
                                                 "csrf": csrf},
                   files={"file": (path.name, f, "application/octet-stream")},
                   follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def plot_batches(settings) -> dict[int, float]:
    """Stored plot batches: id → area in m²."""
    with open_store(settings.store) as st:
        plots = st.plots()
    return plots.groupby("batch_id")["area_m2"].sum().to_dict()


def test_the_same_file_again_is_refused_and_its_owner_may_replace(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 3)
    with client(app) as c:
        old = api_upload(c, shp, bearer(app, "编辑甲"), confirm="true").json()["batch_id"]
        token = sign_in(c, "编辑甲")
        where = form_upload(c, shp, token)
        review = c.get(where).text
        assert "拒绝" in review and "duplicate_file" in review
        assert f"与已入库的批次 {old}" in review
        # Refused before it was read: the page says so, not "0 features read".
        assert '<td id="features">未读取(整个文件被拒绝)</td>' in review
        assert 'id="confirm"' not in review  # a plain confirm is not offered
        assert f'id="replace-{old}"' in review and f"替换批次 {old}" in review
        # Without the form's CSRF token: refused, nothing changed.
        r = c.post(where + "/confirm", data={"replace": str(old)})
        assert r.status_code == 403
        assert list(plot_batches(settings)) == [old]
        r = c.post(where + "/confirm", data={"csrf": csrf_of(review), "replace": str(old)},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        new = int(re.search(r"stored=(\d+)", r.headers["location"]).group(1))
        assert f"replaced={old}" in r.headers["location"]
        assert f"已替换批次 {old}" in c.get(r.headers["location"]).text
    # One batch, one copy: 3 × 10 000 m².
    assert plot_batches(settings) == {new: pytest.approx(30_000, abs=0.5)}


def test_another_editor_cannot_replace_an_admin_can(app, settings, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 2)
    with client(app) as c:
        old = api_upload(c, shp, bearer(app, "编辑甲"), confirm="true").json()["batch_id"]
        # 编辑乙 sends the same file: refused, and no replace offer on the page.
        token = sign_in(c, "编辑乙")
        where = form_upload(c, shp, token)
        review = c.get(where).text
        assert "duplicate_file" in review and "replace-" not in review
        r = c.post(where + "/confirm", data={"csrf": token, "replace": str(old)})
        assert r.status_code == 403 and "编辑甲" in r.text
        # Nor through the JSON API.
        ed2 = bearer(app, "编辑乙")
        j = api_upload(c, shp, ed2).json()
        assert j["report"]["status"] == "reject" and j["replaceable"] == [old]
        r = c.post(f"/api/uploads/{j['upload_id']}/confirm", headers=ed2,
                   data={"replace": str(old)})
        assert r.status_code == 403
        assert list(plot_batches(settings)) == [old]
        # An administrator may replace anybody's batch (API: confirm with replace).
        r = api_upload(c, shp, bearer(app, "admin"), confirm="true", replace=str(old))
        assert r.status_code == 200, r.text
        new = r.json()["batch_id"]
    assert plot_batches(settings) == {new: pytest.approx(20_000, abs=0.5)}


def test_a_repeated_plot_id_is_left_out_and_the_rest_stored(app, settings, tmp_path):
    with client(app) as c:
        ed = bearer(app, "编辑甲")
        old = api_upload(c, gbk_zip(tmp_path, "v1", 2), ed, confirm="true").json()["batch_id"]
        # XB001, XB002 again (further north) and the new XB003.
        j = api_upload(c, gbk_zip(tmp_path, "v2", 3, y0=3000), ed).json()
        assert j["report"]["status"] == "warn" and j["replaceable"] == [old]
        dups = [p for p in j["report"]["problems"] if p["code"] == "duplicate_stored"]
        assert [(p["feature"], p["severity"]) for p in dups] == [("XB001", "error"),
                                                                  ("XB002", "error")]
        assert all(f"批次 {old}" in p["message"] for p in dups)
        token = sign_in(c, "编辑甲")
        review = c.get(f"/uploads/{j['upload_id']}").text
        assert 'id="confirm"' in review and f'id="replace-{old}"' in review
        r = c.post(f"/uploads/{j['upload_id']}/confirm", data={"csrf": token},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
    with open_store(settings.store) as st:
        assert sorted(st.plots()["plot_id"]) == ["XB001", "XB002", "XB003"]
    assert sorted(plot_batches(settings).values()) == [pytest.approx(10_000, abs=0.5),
                                                      pytest.approx(20_000, abs=0.5)]
