/* ecomap.js: compact vector layers, interactions and map furniture of ecomap's maps.
 *
 * Inlined once into every page ecomap writes (no network).  Layers arrive in the
 * compact encoding of ecomap/maps/_vector.py:
 *
 *   geometry  integer coordinates on a ~0.5 m grid (grid = [qx, qy] degrees), ring
 *             closure dropped, deltas from the previous vertex, zigzag varints, base64;
 *             "nr" = rings per feature (null: one each), "nv" = vertices per ring;
 *             exteriors counter-clockwise, holes clockwise (so "nonzero" fills right);
 *   columns   one entry per field: "num" (scaled zigzag varints, 0 = empty),
 *             "dict" (distinct values + varint codes, 0 = empty) or "front"
 *             (front-coded strings: shared-prefix lengths + suffixes).
 *
 * A layer is drawn either as one Leaflet polygon per feature (SVG: small layers, vector
 * output when printed) or as a single canvas path object (EcoBatch) that draws every
 * feature of the layer from typed arrays, culls by bounding box, drops sub-pixel
 * vertices and finds the feature under the mouse with a grid index.  Tooltips, popups,
 * highlight and search work the same in both modes.  Attribute values are data:
 * they are HTML-escaped here, where they are put into HTML.
 */
(function (window, L) {
  'use strict';

  var ecomap = (window.ecomap = window.ecomap || {});
  var PI = Math.PI;
  ecomap.maps = ecomap.maps || [];

  // ------------------------------------------------------------------ decoding

  function bytesOf(b64) {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(b64 || '');
    var bin = window.atob(b64 || ''), n = bin.length, out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /** Unsigned LEB128 varints of a base64 string (values up to 2^53). */
  function varints(b64) {
    var b = bytesOf(b64), out = new Float64Array(b.length), n = 0, v = 0, mul = 1;
    for (var i = 0; i < b.length; i++) {
      var byte = b[i];
      v += (byte & 127) * mul;
      if (byte < 128) { out[n++] = v; v = 0; mul = 1; } else { mul *= 128; }
    }
    return out.subarray(0, n);
  }

  function unzig(u) { return u % 2 ? -(u + 1) / 2 : u / 2; }

  function decodeColumn(spec, n) {
    var col = { key: spec.key, label: spec.label, kind: spec.k, d: spec.d || 0, g: spec.g !== 0 };
    if (spec.k === 'num') {
      var raw = varints(spec.v), scale = Math.pow(10, col.d), vals = new Float64Array(n);
      for (var i = 0; i < n; i++) vals[i] = raw[i] ? unzig(raw[i] - 1) / scale : NaN;
      col.get = function (f) { var x = vals[f]; return x === x ? x : null; };
    } else if (spec.k === 'dict') {
      var codes = varints(spec.v), uniq = spec.u;
      col.get = function (f) { var c = codes[f]; return c ? uniq[c - 1] : null; };
    } else {
      var strings = null;
      col.get = function (f) {
        if (!strings) {  // decoded on first use (search, popups)
          var p = varints(spec.p), s = spec.s, prev = '';
          strings = new Array(n);
          for (var j = 0; j < n; j++) {
            if (s[j] === null) { strings[j] = null; continue; }
            prev = strings[j] = prev.slice(0, p[j]) + s[j];
          }
        }
        return strings[f];
      };
    }
    return col;
  }

  /** Decode one layer: normalised Web-Mercator coordinates, ring/feature offsets, boxes. */
  function decode(spec) {
    var n = spec.n, g = spec.geom, qx = g.grid[0], qy = g.grid[1], k, r, f;
    var nr = g.nr ? varints(g.nr) : null, nv = varints(g.nv), nRings = nv.length, nVerts = 0;
    for (r = 0; r < nRings; r++) nVerts += nv[r];
    var xy = new Float64Array(2 * nVerts), ringStart = new Uint32Array(nRings + 1);
    var featRing = new Uint32Array(n + 1), bbox = new Float64Array(4 * n);
    // One pass over the coordinate varints: zigzag deltas -> grid -> Web Mercator (0..1).
    var b = bytesOf(g.xy), nb = b.length, ix = 0, iy = 0, v = 0, mul = 1, j = 0;
    var MAXS = 0.9999999;  // sin of Leaflet's MAX_LATITUDE, about 85.05 degrees
    var kx = qx / 360, ky = qy * PI / 180;
    for (var p = 0; p < nb; p++) {
      var byte = b[p];
      v += (byte & 127) * mul;
      if (byte >= 128) { mul *= 128; continue; }
      var dlt = v % 2 ? -(v + 1) / 2 : v / 2;
      v = 0; mul = 1;
      if (j & 1) {
        iy += dlt;
        var s = Math.sin(iy * ky);
        s = s > MAXS ? MAXS : s < -MAXS ? -MAXS : s;
        xy[j] = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * PI);
      } else {
        ix += dlt;
        xy[j] = ix * kx + 0.5;
      }
      j++;
    }
    for (r = 0; r < nRings; r++) ringStart[r + 1] = ringStart[r] + nv[r];
    var all = [Infinity, Infinity, -Infinity, -Infinity];
    for (f = 0, r = 0; f < n; f++) {
      featRing[f] = r;
      r += nr ? nr[f] : 1;
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (k = ringStart[featRing[f]]; k < ringStart[r]; k++) {
        var x = xy[2 * k], y = xy[2 * k + 1];
        if (x < x0) x0 = x; if (x > x1) x1 = x;
        if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
      bbox[4 * f] = x0; bbox[4 * f + 1] = y0; bbox[4 * f + 2] = x1; bbox[4 * f + 3] = y1;
      if (x0 < all[0]) all[0] = x0; if (y0 < all[1]) all[1] = y0;
      if (x1 > all[2]) all[2] = x1; if (y1 > all[3]) all[3] = y1;
    }
    featRing[n] = r;
    var cols = {}, fields = [];
    (spec.cols || []).forEach(function (cs) {
      var col = decodeColumn(cs, n);
      cols[cs.key] = col;
      fields.push(col);
    });
    return new Data(n, xy, ringStart, featRing, bbox, all, cols, fields);
  }

  function Data(n, xy, ringStart, featRing, bbox, nbox, cols, fields) {
    this.n = n; this.xy = xy; this.ringStart = ringStart; this.featRing = featRing;
    this.bbox = bbox; this.nbox = nbox; this.cols = cols; this.fields = fields;
  }

  function unproject(x, y) {
    return L.latLng((2 * Math.atan(Math.exp(PI * (1 - 2 * y))) - PI / 2) * 180 / PI,
                    x * 360 - 180);
  }

  Data.prototype = {
    value: function (key, f) { var c = this.cols[key]; return c ? c.get(f) : null; },
    /** Rings of feature f as arrays of L.LatLng (exteriors and holes alike). */
    latlngs: function (f) {
      var rings = [], xy = this.xy;
      for (var r = this.featRing[f]; r < this.featRing[f + 1]; r++) {
        var ring = [];
        for (var k = this.ringStart[r]; k < this.ringStart[r + 1]; k++) {
          ring.push(unproject(xy[2 * k], xy[2 * k + 1]));
        }
        rings.push(ring);
      }
      return rings;
    },
    bounds: function (f) {
      var b = this.bbox, i = 4 * f;
      return L.latLngBounds(unproject(b[i], b[i + 3]), unproject(b[i + 2], b[i + 1]));
    },
    allBounds: function () {
      var b = this.nbox;
      return L.latLngBounds(unproject(b[0], b[3]), unproject(b[2], b[1]));
    },
    center: function (f) {
      var b = this.bbox, i = 4 * f;
      return unproject((b[i] + b[i + 2]) / 2, (b[i + 1] + b[i + 3]) / 2);
    },
    /** Is the normalised point (x, y) inside feature f (even-odd over all its rings)? */
    contains: function (f, x, y) {
      var xy = this.xy, inside = false;
      for (var r = this.featRing[f]; r < this.featRing[f + 1]; r++) {
        var a = this.ringStart[r], b = this.ringStart[r + 1];
        for (var i = a, j = b - 1; i < b; j = i++) {
          var xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
          if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) {
            inside = !inside;
          }
        }
      }
      return inside;
    },
    /** Is (x, y) within tol of an edge of feature f? */
    nearEdge: function (f, x, y, tol) {
      var xy = this.xy, t2 = tol * tol;
      for (var r = this.featRing[f]; r < this.featRing[f + 1]; r++) {
        var a = this.ringStart[r], b = this.ringStart[r + 1];
        for (var i = a, j = b - 1; i < b; j = i++) {
          var x1 = xy[2 * j], y1 = xy[2 * j + 1], dx = xy[2 * i] - x1, dy = xy[2 * i + 1] - y1;
          var len = dx * dx + dy * dy, t = len ? ((x - x1) * dx + (y - y1) * dy) / len : 0;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          var ex = x1 + t * dx - x, ey = y1 + t * dy - y;
          if (ex * ex + ey * ey <= t2) return true;
        }
      }
      return false;
    },
    /** Grid index over the feature boxes, built on first use (mouse, search). */
    index: function () {
      if (this._grid) return this._grid;
      var n = this.n, b = this.bbox, nb = this.nbox;
      var G = Math.max(8, Math.min(512, Math.ceil(Math.sqrt(n))));
      var w = (nb[2] - nb[0]) / G || 1e-12, h = (nb[3] - nb[1]) / G || 1e-12;
      var cell = function (v, o, s) { var c = Math.floor((v - o) / s); return c < 0 ? 0 : c >= G ? G - 1 : c; };
      var counts = new Uint32Array(G * G + 1), f, cx, cy;
      var span = new Int32Array(4 * n);
      for (f = 0; f < n; f++) {
        var c0 = cell(b[4 * f], nb[0], w), c1 = cell(b[4 * f + 2], nb[0], w);
        var r0 = cell(b[4 * f + 1], nb[1], h), r1 = cell(b[4 * f + 3], nb[1], h);
        span[4 * f] = c0; span[4 * f + 1] = r0; span[4 * f + 2] = c1; span[4 * f + 3] = r1;
        for (cy = r0; cy <= r1; cy++) for (cx = c0; cx <= c1; cx++) counts[cy * G + cx + 1]++;
      }
      for (var i = 0; i < G * G; i++) counts[i + 1] += counts[i];
      var fill = counts.slice(0, G * G), items = new Uint32Array(counts[G * G]);
      for (f = 0; f < n; f++) {
        for (cy = span[4 * f + 1]; cy <= span[4 * f + 3]; cy++) {
          for (cx = span[4 * f]; cx <= span[4 * f + 2]; cx++) items[fill[cy * G + cx]++] = f;
        }
      }
      this._grid = { G: G, w: w, h: h, start: counts, items: items, cell: cell };
      return this._grid;
    },
    /** The topmost feature at normalised (x, y): inside it, or within tol of its edge. */
    featureAt: function (x, y, tol, filled) {
      var nb = this.nbox;
      if (x < nb[0] - tol || x > nb[2] + tol || y < nb[1] - tol || y > nb[3] + tol) return -1;
      var g = this.index(), c = g.cell(x, nb[0], g.w), r = g.cell(y, nb[1], g.h);
      var best = -1, b = this.bbox, id = r * g.G + c;
      for (var i = g.start[id]; i < g.start[id + 1]; i++) {
        var f = g.items[i];
        if (f <= best || x < b[4 * f] - tol || x > b[4 * f + 2] + tol ||
            y < b[4 * f + 1] - tol || y > b[4 * f + 3] + tol) continue;
        if ((filled && this.contains(f, x, y)) || this.nearEdge(f, x, y, tol)) best = f;
      }
      return best;
    }
  };

  ecomap.decode = decode;

  // ------------------------------------------------------ canvas with real DPR

  // Leaflet's canvas renders at 2x on any "retina" screen; render at the real device
  // pixel ratio so that a 300 dpi export (device scale 3.125) stays sharp.
  L.Canvas.include({
    _update: function () {
      if (this._map._animatingZoom && this._bounds) return;
      L.Renderer.prototype._update.call(this);
      var b = this._bounds, container = this._container, size = b.getSize();
      var m = Math.max(1, window.devicePixelRatio || 1);
      L.DomUtil.setPosition(container, b.min);
      container.width = Math.round(m * size.x);
      container.height = Math.round(m * size.y);
      container.style.width = size.x + 'px';
      container.style.height = size.y + 'px';
      this._ctx.setTransform(m, 0, 0, m, 0, 0);
      this._ctx.translate(-b.min.x, -b.min.y);
      this.fire('update');
    }
  });

  // ------------------------------------------------------ one path, many features

  // Level of detail, in device pixels: plots smaller than `dot` are drawn as dots and
  // vertices closer than sqrt(thin2) to the last one kept are skipped.
  ecomap.LOD = { dot: 4, thin2: 2.25 };

  var EcoBatch = L.Path.extend({
    options: { fill: true, fillRule: 'nonzero', interactive: true },

    initialize: function (data, options) {
      L.setOptions(this, options);
      this._data = data;
      this._hit = -1;
      this._drawnCount = 0;
    },

    getBounds: function () { return this._data.allBounds(); },

    _project: function () {
      var map = this._map, S = map.options.crs.scale(map.getZoom()), o = map.getPixelOrigin();
      var nb = this._data.nbox, w = this._clickTolerance();
      this._pxBounds = L.bounds([nb[0] * S - o.x - w, nb[1] * S - o.y - w],
                                [nb[2] * S - o.x + w, nb[3] * S - o.y + w]);
    },

    _update: function () {},  // the renderer calls _updatePath while it draws

    _empty: function () { return !this._data.n; },

    _updatePath: function () {
      var r = this._renderer;
      if (!r._drawing || !this._map) return;
      var t0 = window.performance.now();
      var view = r._redrawBounds || r._bounds, big = !r._redrawBounds;
      if (!big) {  // part of the canvas: a hover or popup redraw is small, a first draw not
        var a = view.getSize(), c = r._bounds.getSize();
        big = a.x * a.y >= 0.1 * c.x * c.y;
      }
      if (big) this._drawCached(r._ctx, r._bounds);
      else this._drawDirect(r._ctx, view, r);
      if (big || view.contains(this._pxBounds)) this._drawnCount = this._countIn(r._bounds);
      var tm = ecomap.timing;
      tm.draws = (tm.draws || 0) + 1;
      tm.draw = (tm.draw || 0) + window.performance.now() - t0;
    },

    /**
     * Trace every feature meeting `region` (layer pixels) into `sink` (moveTo, lineTo,
     * rect, closePath).  Plots of a few device pixels become dots, vertices within
     * 1.5 device pixels of the last one kept are skipped (Leaflet's smoothFactor does
     * the same), so that at county scale most plots cost a few calls.
     */
    _trace: function (sink, region) {
      var d = this._data, map = this._map, S = map.options.crs.scale(map.getZoom());
      var o = map.getPixelOrigin(), ox = o.x, oy = o.y;
      var vx0 = region.min.x, vy0 = region.min.y, vx1 = region.max.x, vy1 = region.max.y;
      var xy = d.xy, rs = d.ringStart, fr = d.featRing, bb = d.bbox, n = 0, f, k, ring;
      var dpr = Math.max(1, window.devicePixelRatio || 1);
      var dot = ecomap.LOD.dot / dpr, thin2 = ecomap.LOD.thin2 / (dpr * dpr);
      for (f = 0; f < d.n; f++) {
        var i = 4 * f;
        var bx0 = bb[i] * S - ox, by0 = bb[i + 1] * S - oy;
        var bx1 = bb[i + 2] * S - ox, by1 = bb[i + 3] * S - oy;
        if (bx1 < vx0 || bx0 > vx1 || by1 < vy0 || by0 > vy1) continue;
        n++;
        if (bx1 - bx0 < dot && by1 - by0 < dot) {
          sink.rect(bx0, by0, Math.max(bx1 - bx0, 1.2 / dpr), Math.max(by1 - by0, 1.2 / dpr));
          continue;
        }
        for (ring = fr[f]; ring < fr[f + 1]; ring++) {
          k = rs[ring];
          var lx = xy[2 * k] * S - ox, ly = xy[2 * k + 1] * S - oy;
          sink.moveTo(lx, ly);
          for (k++; k < rs[ring + 1]; k++) {
            var px = xy[2 * k] * S - ox, py = xy[2 * k + 1] * S - oy;
            if ((px - lx) * (px - lx) + (py - ly) * (py - ly) < thin2) continue;
            sink.lineTo(px, py);
            lx = px; ly = py;
          }
          sink.closePath();
        }
      }
      return n;
    },

    _countIn: function (view) {
      var d = this._data, map = this._map, S = map.options.crs.scale(map.getZoom());
      var o = map.getPixelOrigin(), bb = d.bbox, n = 0;
      for (var f = 0; f < d.n; f++) {
        var i = 4 * f;
        if (bb[i + 2] * S - o.x < view.min.x || bb[i] * S - o.x > view.max.x ||
            bb[i + 3] * S - o.y < view.min.y || bb[i + 1] * S - o.y > view.max.y) continue;
        n++;
      }
      return n;
    },

    /** Small redraws (hover, popups): trace just that part straight onto the canvas. */
    _drawDirect: function (ctx, view, r) {
      ctx.beginPath();
      this._trace(ctx, view);
      r._fillStroke(ctx, this);
    },

    /**
     * Whole-canvas redraws: one Path2D of everything within half a screen around the
     * view, kept for this zoom, so that panning redraws without tracing again.
     */
    _drawCached: function (ctx, view) {
      var map = this._map, zoom = map.getZoom(), o = map.getPixelOrigin(), c = this._cache;
      if (!c || c.zoom !== zoom || c.ox !== o.x || c.oy !== o.y || !c.region.contains(view)) {
        var half = view.getSize().divideBy(2);
        var region = L.bounds(view.min.subtract(half), view.max.add(half));
        // An SVG path string in 1/8 px integers: far fewer calls into the canvas than
        // moveTo/lineTo (each costs microseconds) and integers print fast.
        var parts = [];
        var q = function (v) { return (v * 8 + 0.5) | 0; };
        this._trace({
          moveTo: function (x, y) { parts.push('M' + q(x) + ' ' + q(y)); },
          lineTo: function (x, y) { parts.push('L' + q(x) + ' ' + q(y)); },
          closePath: function () { parts.push('Z'); },
          rect: function (x, y, w, h) {
            var a = q(w), b = q(h);
            parts.push('M' + q(x) + ' ' + q(y) + 'h' + a + 'v' + b + 'h' + (-a) + 'Z');
          }
        }, region);
        c = this._cache = { zoom: zoom, ox: o.x, oy: o.y, region: region,
                            path: new window.Path2D(parts.join('')) };
      }
      ctx.save();
      ctx.scale(0.125, 0.125);
      var opts = this.options;
      if (opts.fill) {
        ctx.globalAlpha = opts.fillOpacity;
        ctx.fillStyle = opts.fillColor || opts.color;
        ctx.fill(c.path, opts.fillRule || 'nonzero');
      }
      if (opts.stroke && opts.weight !== 0) {
        if (ctx.setLineDash) {
          ctx.setLineDash((opts._dashArray || []).map(function (v) { return v * 8; }));
        }
        ctx.globalAlpha = opts.opacity;
        ctx.lineWidth = opts.weight * 8;
        ctx.strokeStyle = opts.color;
        ctx.lineCap = opts.lineCap;
        ctx.lineJoin = opts.lineJoin;
        ctx.stroke(c.path);
      }
      ctx.restore();
    },

    _containsPoint: function (p) {
      var map = this._map, S = map.options.crs.scale(map.getZoom()), o = map.getPixelOrigin();
      var tol = (this._clickTolerance() + 1) / S;
      this._hit = this._data.featureAt((p.x + o.x) / S, (p.y + o.y) / S, tol,
                                       this.options.fill);
      return this._hit >= 0;
    }
  });

  ecomap.EcoBatch = EcoBatch;

  // ---------------------------------------------------------------- text helpers

  var ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }

  function fmt(col, v) {
    if (v === null || v === undefined || v === '') return '';
    if (col.kind === 'num') {
      return v.toLocaleString('zh-CN', { minimumFractionDigits: col.d, maximumFractionDigits: col.d,
                                        useGrouping: col.g });
    }
    return String(v);
  }

  ecomap.esc = esc;

  function tooltipHtml(d, f, keys) {
    var parts = [];
    keys.forEach(function (key, i) {
      var col = d.cols[key], v = col && fmt(col, col.get(f));
      if (!v) return;
      parts.push(i === 0 ? '<b>' + esc(v) + '</b>' : esc(col.label) + ' ' + esc(v));
    });
    return parts.join('<br>');
  }

  function popupHtml(d, f, title) {
    var rows = d.fields.map(function (col) {
      var v = fmt(col, col.get(f));
      return v === '' ? '' : '<tr><th>' + esc(col.label) + '</th><td>' + esc(v) + '</td></tr>';
    }).join('');
    return '<div class="ecomap-popup"><div class="ecomap-popup-title">' + esc(title) +
      '</div><table>' + rows + '</table></div>';
  }

  // ------------------------------------------------------------------ plot layers

  function registry(map) { return (map._ecoLayers = map._ecoLayers || []); }

  /**
   * A layer of plots on `map` from the compact `spec`.
   *
   * options: name, mode ('svg' | 'canvas'), style (Leaflet path options),
   * highlight (path options), tooltip (field keys), search (field keys).
   */
  ecomap.timing = { decode: 0, build: 0 };

  ecomap.plotLayer = function (map, spec, options) {
    var t0 = window.performance.now();
    var d = decode(spec), style = L.extend({}, options.style), layer;
    var t1 = window.performance.now();
    if (options.mode === 'canvas') {
      layer = new EcoBatch(d, style);
    } else {
      layer = L.featureGroup();
      for (var f = 0; f < d.n; f++) {
        var p = L.polygon(d.latlngs(f), style);
        p._ecoIdx = f;
        layer.addLayer(p);
      }
    }
    var entry = { layer: layer, data: d, name: options.name, options: options };
    layer._eco = entry;
    registry(map).push(entry);
    bindInteraction(map, entry);
    ecomap.timing.decode += t1 - t0;
    ecomap.timing.build += window.performance.now() - t1;
    return layer;
  };

  function featureOf(entry, e) {
    if (e.layer && e.layer._ecoIdx !== undefined) return e.layer._ecoIdx;
    if (e.propagatedFrom && e.propagatedFrom._ecoIdx !== undefined) return e.propagatedFrom._ecoIdx;
    return entry.layer._hit !== undefined ? entry.layer._hit : -1;
  }

  /** Outline feature f of entry on top of everything; one highlight per map. */
  function setHighlight(map, entry, f, popup) {
    var state = map._ecoHighlight;
    if (state && state.entry === entry && state.f === f) {
      if (popup) state.popup = popup;
      return;
    }
    if (state) map.removeLayer(state.layer);
    map._ecoHighlight = null;
    if (!entry || f < 0) return;
    var opts = L.extend({ interactive: false, fill: false, color: '#000', weight: 3 },
                        entry.options.highlight || {});
    if (entry.layer._renderer) opts.renderer = entry.layer._renderer;
    var hl = L.polygon(entry.data.latlngs(f), opts).addTo(map);
    map._ecoHighlight = { entry: entry, f: f, layer: hl, popup: popup || null };
  }

  function watchPopups(map) {
    if (map._ecoPopupWatch) return;
    map._ecoPopupWatch = true;
    map.on('popupclose', function (e) {
      var s = map._ecoHighlight;
      if (s && s.popup && s.popup === e.popup) setHighlight(map, null, -1);
    });
  }

  /** Open the attribute popup of feature f (and show its layer if it was off). */
  ecomap.openFeature = function (map, entry, f, latlng) {
    if (!map.hasLayer(entry.layer)) map.addLayer(entry.layer);
    var popup = L.popup({ maxWidth: 380, className: 'ecomap-popup-wrap' })
      .setLatLng(latlng || entry.data.center(f))
      .setContent(popupHtml(entry.data, f, entry.options.title || entry.name) +
                  ((entry.options.photos || {})[f] || ''));  // trusted HTML, built by ecomap
    popup.openOn(map);  // closes the previous popup (and its highlight) first
    setHighlight(map, entry, f, popup);
  };

  function bindInteraction(map, entry) {
    var layer = entry.layer, d = entry.data, keys = entry.options.tooltip || [];
    var tip = L.tooltip({ direction: 'top', offset: [0, -10], className: 'ecomap-tip', opacity: 0.95 });
    var current = -1;
    watchPopups(map);

    function hovering() { var s = map._ecoHighlight; return !s || !s.popup; }
    function move(e) {
      var f = featureOf(entry, e);
      if (f < 0) { out(); return; }
      if (f !== current) {
        current = f;
        tip.setContent(tooltipHtml(d, f, keys) || esc(entry.name));
        if (hovering()) setHighlight(map, entry, f, null);
      }
      tip.setLatLng(e.latlng);
      if (!map.hasLayer(tip)) map.openTooltip(tip);
    }
    function out() {
      current = -1;
      if (map.hasLayer(tip)) map.closeTooltip(tip);
      var s = map._ecoHighlight;
      if (s && !s.popup && s.entry === entry) setHighlight(map, null, -1);
    }
    layer.on('mouseover mousemove', move);
    layer.on('mouseout remove', out);
    layer.on('click', function (e) {
      var f = featureOf(entry, e);
      if (f >= 0) ecomap.openFeature(map, entry, f, e.latlng);
    });
  }

  // ------------------------------------------------------------------------ search

  /** Search box over plot IDs and village names of every plot layer of `map`. */
  ecomap.search = function (map, options) {
    if (!L.Control.Search) return null;
    var records = null;
    function build() {
      var recs = {}, villages = {}, plots = [];
      function put(title, loc) {
        var t = title, k = 2;
        while (Object.prototype.hasOwnProperty.call(recs, t)) t = title + ' (' + (k++) + ')';
        recs[t] = loc;
      }
      registry(map).forEach(function (entry) {
        var d = entry.data, keys = entry.options.search || [];
        if (!keys.length) return;
        for (var f = 0; f < d.n; f++) {
          var id = d.value(keys[0], f), vil = keys[1] ? d.value(keys[1], f) : null;
          if (id === null && vil === null) continue;
          plots.push([[id, vil].filter(function (x) { return x !== null && x !== ''; })
            .join(' · '), entry, f]);
          if (vil) (villages[vil] = villages[vil] || []).push({ entry: entry, f: f });
        }
      });
      // Villages first: typing a village name lists the village before its plots.
      Object.keys(villages).forEach(function (v) {
        var list = villages[v], bounds = L.latLngBounds([]);
        list.forEach(function (it) { bounds.extend(it.entry.data.bounds(it.f)); });
        var loc = bounds.getCenter();
        loc.eco = { bounds: bounds, list: list };
        put(v + ' ' + options.villageSuffix.replace('{n}', list.length), loc);
      });
      plots.forEach(function (p) {
        var loc = p[1].data.center(p[2]);
        loc.eco = { entry: p[1], f: p[2] };
        put(p[0], loc);
      });
      return recs;
    }
    var ctl = new L.Control.Search({
      position: options.position || 'topleft',
      sourceData: function (text, callResponse) {
        records = records || build();
        callResponse(records);
        return { abort: function () {} };
      },
      formatData: function (json) { return json; },
      filterData: function (text, recs) {
        var q = text.toLowerCase(), out = {}, n = 0;
        if (!q) return out;
        for (var key in recs) {
          if (key.toLowerCase().indexOf(q) >= 0) {
            out[key] = recs[key];
            if (++n >= 40) break;
          }
        }
        return out;
      },
      buildTip: function (text) {
        var li = L.DomUtil.create('li', '');
        li.textContent = text;
        return li;
      },
      moveToLocation: function (loc) {
        var eco = loc.eco;
        if (!eco) { map.panTo(loc); return; }
        if (eco.entry) {
          map.fitBounds(eco.entry.data.bounds(eco.f), { maxZoom: 16, padding: [40, 40] });
          ecomap.openFeature(map, eco.entry, eco.f);
        } else {
          map.fitBounds(eco.bounds, { maxZoom: 16, padding: [40, 40] });
          eco.list.forEach(function (it) {
            if (!map.hasLayer(it.entry.layer)) map.addLayer(it.entry.layer);
          });
        }
      },
      marker: false,
      initial: false,
      autoType: false,
      tipAutoSubmit: true,
      minLength: 1,
      delayType: 200,
      textPlaceholder: options.placeholder,
      textErr: options.notFound,
      textCancel: options.cancel
    });
    map.addControl(ctl);
    return ctl;
  };

  // --------------------------------------------------------------------- furniture

  function control(position, className, html) {
    var c = L.control({ position: position });
    c.onAdd = function () {
      var div = L.DomUtil.create('div', className);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return c;
  }

  /** The map title, centred at the top (HTML built and escaped in Python). */
  ecomap.title = function (map, html) {
    var div = L.DomUtil.create('div', 'ecomap-title', map.getContainer());
    div.innerHTML = html;
    L.DomEvent.disableClickPropagation(div);
    return div;
  };

  ecomap.northArrow = function (map, position, label) {
    var svg = '<svg width="34" height="46" viewBox="0 0 34 46" role="img" aria-label="' +
      esc(label) + '"><text x="17" y="12" text-anchor="middle" font-size="13" ' +
      'font-weight="bold" font-family="sans-serif" fill="#222">N</text>' +
      '<polygon points="17,15 27,43 17,36" fill="#222"/>' +
      '<polygon points="17,15 7,43 17,36" fill="#fff" stroke="#222" stroke-width="1"/></svg>';
    return control(position, 'ecomap-north leaflet-control', svg).addTo(map);
  };

  /**
   * A box control (notes, legends); `links` maps row keys to layers to toggle,
   * `sections` section keys to the layers a legend section shows with (tieToLayers).
   */
  ecomap.box = function (map, position, className, html, links, sections) {
    var c = control(position, className, html).addTo(map), div = c.getContainer();
    if (/ecomap-legend/.test(className)) {
      // A legend never covers the controls of a small map: it scrolls instead.
      var fit = function () { div.style.maxHeight = Math.max(120, map.getSize().y - 190) + 'px'; };
      fit();
      map.on('resize', fit);
    }
    if (links) {
      Object.keys(links).forEach(function (key) {
        var row = div.querySelector('[data-ecomap-row="' + key + '"]'), layer = links[key];
        if (!row || !layer) return;
        row.classList.add('ecomap-toggle');
        row.setAttribute('role', 'button');
        var sync = function () { row.classList.toggle('ecomap-off', !map.hasLayer(layer)); };
        L.DomEvent.on(row, 'click', function () {
          if (map.hasLayer(layer)) map.removeLayer(layer); else map.addLayer(layer);
        });
        map.on('layeradd layerremove', function (e) { if (e.layer === layer) sync(); });
        sync();
      });
    }
    if (sections && ecomap.tieToLayers) {
      Object.keys(sections).forEach(function (key) {
        var sec = div.querySelector('[data-ecomap-section="' + key + '"]');
        if (!sec) return;
        ecomap.tieToLayers(map, sec, sections[key], function () {
          // A legend that comes or goes changes the panel: the county is fitted beside
          // it again, unless the reader has moved the map.
          var lay = map._ecoLayout;
          if (lay) lay.arrange(lay.atHome());
        });
      });
    }
    return c;
  };

  /** Online basemap: say when its tiles cannot be loaded (no internet). */
  ecomap.watchTiles = function (map, layers, message) {
    var shown = false;
    layers.forEach(function (t) {
      t.on('tileerror', function () {
        if (shown) return;
        shown = true;
        var el = map.getContainer().querySelector('.ecomap-online');
        if (el) { el.classList.add('ecomap-online-failed'); el.textContent = message; }
      });
    });
  };

  // -------------------------------------------------------------- ready and print

  var pending = 0;

  function frames(fn) {
    window.requestAnimationFrame(function () { window.requestAnimationFrame(fn); });
  }

  /** Per map: plot features drawn, for tests, exports and benchmarks. */
  ecomap.stats = function (map) {
    var out = { layers: [], drawn: 0, features: 0 };
    registry(map).forEach(function (entry) {
      var on = map.hasLayer(entry.layer), drawn = 0;
      if (on) {
        if (entry.layer instanceof EcoBatch) drawn = entry.layer._drawnCount;
        else entry.layer.eachLayer(function (p) { if (p._path && p._path.parentNode) drawn++; });
      }
      out.layers.push({ name: entry.name, n: entry.data.n, shown: on, drawn: drawn });
      out.drawn += drawn;
      out.features += entry.data.n;
    });
    return out;
  };

  /**
   * Last call of every map's script: attribution, print handling, ready flags.
   * The page is ready (attribute data-ecomap-ready="1" on the root element) once every
   * map on it has drawn.
   */
  ecomap.finish = function (map, options) {
    options = options || {};
    ecomap.maps.push(map);
    if (map.attributionControl) map.attributionControl.setPrefix(options.prefix || 'Leaflet');
    var home = options.bounds ? L.latLngBounds(options.bounds) : null;
    var view = null;
    function toPrint() {
      view = { c: map.getCenter(), z: map.getZoom() };
      document.documentElement.classList.add('ecomap-print');
      map.invalidateSize({ pan: false });
      if (map._ecoLayout) map._ecoLayout.arrange(true);
      else if (home) map.fitBounds(home, { animate: false });
    }
    function fromPrint() {
      if (!view) return;
      document.documentElement.classList.remove('ecomap-print');
      map.invalidateSize({ pan: false });
      if (map._ecoLayout) map._ecoLayout.arrange(false);
      map.setView(view.c, view.z, { animate: false });
      view = null;
    }
    if (!options.printStatic) {
      window.addEventListener('beforeprint', toPrint);
      window.addEventListener('afterprint', fromPrint);
    }
    ecomap.timing.finish = window.performance.now();
    pending++;
    var done = function () {
      if (map._animatingZoom) { map.once('zoomend', function () { frames(done); }); return; }
      if (options.layout && !map._ecoLayout && ecomap.layout) {
        // The furniture docked beside the county, the view fitted to the rest.
        ecomap.layout(map, { bounds: options.bounds, toggle: options.toggle });
        frames(done);
        return;
      }
      var s = ecomap.stats(map);
      ecomap.timing.ready = window.performance.now();
      map.getContainer().setAttribute('data-ecomap-drawn', String(s.drawn));
      if (--pending === 0) document.documentElement.setAttribute('data-ecomap-ready', '1');
    };
    if (document.readyState === 'complete') frames(done);
    else window.addEventListener('load', function () { frames(done); });
  };

})(window, window.L);
