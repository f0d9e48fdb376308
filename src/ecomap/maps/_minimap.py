"""An offline overview map: Leaflet-MiniMap drawing a local GeoJSON layer, no tiles.

``folium.plugins.MiniMap`` always creates its own ``L.tileLayer`` (OpenStreetMap when no
tiles are given), which is a network request on every pan.  :class:`GeoJsonMiniMap` is
the offline replacement: same plugin and options, but the overview map draws a local
GeoJSON layer (e.g. the county outline) instead of tiles.
"""

from __future__ import annotations

from typing import Any

import folium
from folium.plugins import MiniMap
from folium.template import Template

__all__ = ["GeoJsonMiniMap"]


class GeoJsonMiniMap(MiniMap):
    """``folium.plugins.MiniMap`` that shows a local GeoJSON layer instead of tiles.

    ``folium.plugins.MiniMap`` always builds an ``L.tileLayer`` (OpenStreetMap when no
    ``tile_layer`` is given), i.e. network requests.  Leaflet-MiniMap itself accepts
    any layer, so this subclass gives it an ``L.geoJson`` of *data* — typically the
    county outline or simplified township polygons in EPSG:4326/4490 lon/lat — drawn
    with *style* (a Leaflet path style dict).  All other keyword arguments are those of
    ``MiniMap`` (position, width, height, zoom_level_offset, toggle_display, ...).
    Uses the same vendored Leaflet-MiniMap files as ``MiniMap``.

    The data is embedded a second time in the page, so pass something small.
    ``screen_only``: not printed (an overview of a map that shows the whole area anyway).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layer = L.geoJson(
                {{ this.data|tojson }},
                {interactive: false, style: function () { return {{ this.style|tojson }}; }}
            );
            var {{ this.get_name() }} = new L.Control.MiniMap(
                {{ this.get_name() }}_layer,
                {{ this.options|tojavascript }}
            );
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
            {{ this.get_name() }}.getContainer()._ecoMiniMap = {{ this.get_name() }};
            {% if this.screen_only %}
            {{ this.get_name() }}.getContainer().classList.add('ecomap-screen-only');
            {% endif %}
        {% endmacro %}
        """
    )

    DEFAULT_STYLE = {"color": "#2e7d32", "weight": 1, "fillColor": "#a5d6a7", "fillOpacity": 0.5}

    def __init__(
        self, data: Any, style: dict | None = None, *, zoom_level_offset: int = -4,
        screen_only: bool = False, **kwargs
    ) -> None:
        # tile_layer is never rendered by our template; pass a local dummy so that
        # MiniMap.__init__ does not build an OpenStreetMap TileLayer.
        dummy = folium.TileLayer(tiles="{z}/{x}/{y}.png", attr="-")
        super().__init__(tile_layer=dummy, zoom_level_offset=zoom_level_offset, **kwargs)
        self._name = "GeoJsonMiniMap"
        if isinstance(data, folium.GeoJson):
            self.data = data.data
        elif isinstance(data, dict):
            self.data = data
        else:
            self.data = folium.GeoJson(data).data
        self.style = dict(style or self.DEFAULT_STYLE)
        self.screen_only = screen_only
