"""Open an ecomap GeoPackage in QGIS (PyQGIS, offscreen) and report what QGIS sees.

Run with Debian's Python, where python3-qgis lives, not the project's venv:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py STORE.gpkg OUTDIR

Prints one JSON object: every layer as added by hand (validity, CRS, its default style's
renderer, categories, aliases, labels); the project read from the GeoPackage (its CRS,
layers, layer tree, layouts); and writes OUTDIR/layout.pdf (the print layout) and
OUTDIR/canvas.png (the project's visible layers over the layout map's extent); then
saves a style "mine" of the plots into the file as a QGIS user would.
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsLayoutExporter,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

LAYERS = ("county", "townships", "plots", "plot_townships", "water_sites", "water_samples",
          "batches")


def layer_report(path, name):
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    out = {"valid": layer.isValid(), "crs": layer.crs().authid() if layer.isSpatial() else None,
           "features": layer.featureCount()}
    if not layer.isSpatial():
        return out
    renderer = layer.renderer()
    out["renderer"] = renderer.type()
    if renderer.type() == "categorizedSymbol":
        out["attr"] = renderer.classAttribute()
        out["categories"] = [[c.value(), c.label(), c.symbol().color().name(),
                              c.symbol().symbolLayer(0).properties().get("style", ""),
                              c.renderState()]
                             for c in renderer.categories()]
    out["aliases"] = {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())}
    out["labels"] = layer.labelsEnabled()
    if layer.labelsEnabled():
        settings = layer.labeling().settings()
        out["label_field"] = settings.fieldName
        text_format = settings.format()  # held: a temporary's buffer() would dangle
        buffer = text_format.buffer()
        out["label_halo"] = buffer.enabled()
    return out


def main(path, outdir):
    app = QgsApplication([], False)
    app.initQgis()
    report = {"layers": {name: layer_report(path, name) for name in LAYERS}}

    project = QgsProject.instance()
    report["project_read"] = project.read(f"geopackage:{path}?projectName=ecomap")
    report["project_crs"] = project.crs().authid()
    report["project_layers"] = {
        layer.name(): {"valid": layer.isValid(), "crs": layer.crs().authid(),
                       "source": layer.source(), "features": layer.featureCount()}
        for layer in project.mapLayers().values()}
    root = project.layerTreeRoot()
    report["tree"] = [[node.layer().source().split("layername=")[-1].split("|")[0], node.name(),
                       node.isVisible(), node.parent().name()] for node in root.findLayers()]
    layouts = project.layoutManager().layouts()
    report["layouts"] = [lay.name() for lay in layouts]
    if layouts:
        layout = layouts[0]
        items = layout.items()
        maps = [i for i in items if isinstance(i, QgsLayoutItemMap)]
        legend = [i for i in items if isinstance(i, QgsLayoutItemLegend)]
        report["layout_items"] = sorted(type(i).__name__ for i in items
                                        if hasattr(i, "uuid") and type(i).__name__ !=
                                        "QgsLayoutItemPage")
        page = layout.pageCollection().page(0).pageSize()
        report["page_mm"] = [page.width(), page.height()]
        report["north_linked"] = all(p.linkedMap() is maps[0] for p in items
                                     if isinstance(p, QgsLayoutItemPicture))
        report["scalebar_linked"] = all(s.linkedMap() is maps[0] for s in items
                                        if isinstance(s, QgsLayoutItemScaleBar))
        if maps and legend:
            m, g = maps[0].sceneBoundingRect(), legend[0].sceneBoundingRect()
            report["legend_outside_map"] = not m.intersects(g)
            report["map_crs"] = maps[0].crs().authid()
        exporter = QgsLayoutExporter(layout)
        report["pdf_export"] = exporter.exportToPdf(f"{outdir}/layout.pdf",
                                                    QgsLayoutExporter.PdfExportSettings())
        settings = QgsMapSettings()
        settings.setLayers([n.layer() for n in root.findLayers() if n.isVisible()])
        settings.setDestinationCrs(project.crs())
        settings.setTransformContext(project.transformContext())
        settings.setOutputSize(QSize(1100, 700))
        settings.setBackgroundColor(QColor("white"))
        settings.setExtent(maps[0].extent())
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        report["canvas_saved"] = job.renderedImage().save(f"{outdir}/canvas.png")
    # QGIS saves a style of its own into ecomap's layer_styles table, as a user would.
    plots = QgsVectorLayer(f"{path}|layername=plots", "plots", "ogr")
    report["user_style_error"] = plots.saveStyleToDatabase("mine", "saved in QGIS", False, "")
    del plots  # layers go before QGIS does
    print(json.dumps(report, ensure_ascii=False))
    project.clear()
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
