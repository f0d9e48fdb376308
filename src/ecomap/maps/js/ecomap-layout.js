/* ecomap-layout.js: the layout of a map's furniture, as a print layout would place it.
 *
 * Inlined after ecomap.js.  Everything Leaflet puts in the bottom corners (legends,
 * colour bars, notes, minimap, scale bar, attribution) is moved into one panel:
 *
 *   docked     on paper (print media, html.ecomap-print) and on large windows: a
 *              column panel at the right or a band at the bottom, whichever lets the
 *              home view (the county) show at the larger scale; the map is then fitted
 *              to the rest of the frame, so that nothing covers the county;
 *   collapsed  on small windows (< 900 x 620 px): a button that opens the panel over
 *              the map; the scale bar stays visible.
 *
 * Township labels sit in their own pane above every marker, with a halo, and are
 * nudged away from water-site dots, other labels and the furniture (placeLabels).
 * A legend section tied to layers shows only while one of them is on the map
 * (tieToLayers).
 */
(function (window, L) {
  'use strict';

  var ecomap = (window.ecomap = window.ecomap || {});
  var SMALL = { w: 900, h: 620 };
  var GAP = 10;

  /** Is the page laid out for paper (printing, PNG/PDF export, a briefing's PDF)? */
  function isPrint() {
    return document.documentElement.classList.contains('ecomap-print') ||
      !!(window.matchMedia && window.matchMedia('print').matches);
  }
  ecomap.isPrint = isPrint;

  /**
   * Show `el` only while one of `layers` is on `map`; `onChange` runs after each change.
   * The mechanism behind "one legend per visible layer": a legend section or a whole
   * box follows the layer control and the legend's own toggles.
   */
  ecomap.tieToLayers = function (map, el, layers, onChange) {
    layers = layers.filter(function (l) { return !!l; });
    function sync() {
      var on = layers.some(function (l) { return map.hasLayer(l); });
      el.classList.toggle('ecomap-hidden', !on);
      var box = el.closest ? el.closest('.ecomap-box') : null;
      if (box && box !== el) {
        var shown = box.querySelectorAll('.ecomap-section:not(.ecomap-hidden)').length;
        box.classList.toggle('ecomap-hidden', !shown);
      }
      if (onChange) onChange();
    }
    map.on('layeradd layerremove', function (e) {
      if (layers.indexOf(e.layer) >= 0) sync();
    });
    sync();
  };

  // ------------------------------------------------------------------ the panel

  function rank(el) {
    var c = el.classList;
    if (c.contains('ecomap-legend')) return c.contains('ecomap-legend-main') ? 0 : 1;
    if (c.contains('leaflet-control-minimap')) return 4;
    if (c.contains('leaflet-control-scale')) return 5;
    if (c.contains('ecomap-note')) return 6;
    if (c.contains('leaflet-control-attribution')) return 7;
    return 2;  // colour bars and other boxes, after the legends
  }

  function rect(el) { return el.getBoundingClientRect(); }

  function visible(el) {
    if (!el || !el.isConnected) return false;
    var r = rect(el);
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  }

  function Layout(map, options) {
    this.map = map;
    this.home = options.bounds ? L.latLngBounds(options.bounds) : null;
    this.toggleText = options.toggle || 'Legend';
    var c = map.getContainer();
    this.panel = L.DomUtil.create('div', 'ecomap-panel', c);
    this.button = L.DomUtil.create('button', 'ecomap-panel-toggle', this.panel);
    this.button.type = 'button';
    this.button.textContent = this.toggleText;
    this.body = L.DomUtil.create('div', 'ecomap-panel-body', this.panel);
    this.foot = L.DomUtil.create('div', 'ecomap-panel-foot', this.panel);
    L.DomEvent.disableClickPropagation(this.panel);
    L.DomEvent.disableScrollPropagation(this.panel);
    this.open = false;
    this.items = [];
    var self = this;
    L.DomEvent.on(this.button, 'click', function () {
      self.open = !self.open;
      self.arrange();
    });
    this.collect();
    // Controls added later (colour bars shown with their layer) join the panel too.
    if (window.MutationObserver) {
      var watch = new MutationObserver(function () {
        if (self.collect()) self.arrange();
      });
      c.querySelectorAll('.leaflet-bottom').forEach(function (corner) {
        watch.observe(corner, { childList: true });
      });
    }
  }

  Layout.prototype = {
    /** Take the bottom corners' controls as panel items (placed by place); true if any. */
    collect: function () {
      var c = this.map.getContainer(), moved = false, self = this;
      c.querySelectorAll('.leaflet-bottom > .leaflet-control').forEach(function (el) {
        if (self.items.indexOf(el) < 0) self.items.push(el);
        moved = true;
      });
      this.items = this.items.filter(function (el) {
        return el.isConnected && (el.parentNode === self.body || el.parentNode === self.foot ||
          el.parentNode.classList.contains('ecomap-panel-col') ||
          /leaflet-bottom/.test(el.parentNode.className));
      });
      this.items.sort(function (a, b) { return rank(a) - rank(b); });
      return moved;
    },

    /** Free part of the map frame for a mode: {left, top, right, bottom} padding. */
    frame: function (mode) {
      var c = this.map.getContainer(), box = rect(c), pad = { left: GAP, top: GAP,
        right: GAP, bottom: GAP };
      var title = c.querySelector('.ecomap-title');
      var tl = c.querySelector('.leaflet-top.leaflet-left');
      var tr = c.querySelector('.leaflet-top.leaflet-right');
      var p = rect(this.panel);
      function bottomOf(el) { return visible(el) ? rect(el).bottom - box.top : 0; }
      function widthOf(corner) {
        var w = 0;
        if (!corner) return 0;
        Array.prototype.forEach.call(corner.children, function (el) {
          if (visible(el)) w = Math.max(w, rect(el).right - box.left);
        });
        return w;
      }
      pad.left += widthOf(tl);
      pad.top += bottomOf(title);
      if (mode === 'side') {
        pad.right += box.right - p.left;
      } else if (mode === 'bottom') {
        pad.top = Math.max(pad.top, GAP + bottomOf(tr));
        pad.bottom += box.bottom - p.top;
      } else {
        pad.right += tr ? box.right - Math.min.apply(null, [box.right].concat(
          Array.prototype.map.call(tr.children, function (el) {
            return visible(el) ? rect(el).left : box.right;
          }))) : 0;
        pad.bottom += box.bottom - p.top;
      }
      return pad;
    },

    /** Place the panel's items for `mode` ('side', 'bottom' or 'collapsed'). */
    place: function (mode) {
      var c = this.map.getContainer(), panel = this.panel, self = this;
      panel.className = 'ecomap-panel ecomap-panel-' + mode + (this.open ? ' ecomap-open' : '');
      panel.style.top = panel.style.maxHeight = '';
      this.body.innerHTML = '';
      // The foot: the scale bar of a collapsed panel (always in sight), the notes and
      // attribution of a bottom band (one line across it, as a layout's credits).
      var feet = this.items.filter(function (el) {
        if (mode === 'collapsed') return el.classList.contains('leaflet-control-scale');
        return mode === 'bottom' && rank(el) >= 6;
      });
      var rest = this.items.filter(function (el) { return feet.indexOf(el) < 0; });
      feet.forEach(function (el) { self.foot.appendChild(el); });
      if (mode === 'collapsed') {
        // Opened over the map: below the top-right controls, above the button.
        rest.forEach(function (el) { self.body.appendChild(el); });
        var cbox = rect(c), top = GAP, trc = c.querySelector('.leaflet-top.leaflet-right');
        if (trc) {
          Array.prototype.forEach.call(trc.children, function (el) {
            if (visible(el)) top = Math.max(top, rect(el).bottom - cbox.top + GAP);
          });
        }
        var below = rect(this.button).height + rect(this.foot).height + 2 * 6 + GAP;
        this.body.style.maxHeight = Math.max(120, cbox.height - top - below) + 'px';
        return;
      }
      this.body.style.maxHeight = '';
      var box = rect(c);
      if (mode === 'side') {
        // Below the top-right controls, items in columns as tall as the room left.
        var tr = c.querySelector('.leaflet-top.leaflet-right'), top = GAP;
        if (tr) {
          Array.prototype.forEach.call(tr.children, function (el) {
            if (visible(el)) top = Math.max(top, rect(el).bottom - box.top + GAP);
          });
        }
        panel.style.top = top + 'px';
        this.pack(rest, box.height - top - GAP);
        return;
      }
      // Bottom: a band of columns as low as the tallest item allows, wider if need be.
      var tallest = 0;
      rest.forEach(function (el) {
        var col = L.DomUtil.create('div', 'ecomap-panel-col', self.body);
        col.appendChild(el);
        tallest = Math.max(tallest, rect(el).height);
      });
      for (var f = 1; f <= 3; f += 0.25) {
        this.pack(rest, tallest * f + 1);
        var width = -GAP;
        Array.prototype.forEach.call(this.body.children, function (col) {
          width += rect(col).width + GAP;
        });
        if (width <= box.width - 2 * GAP) break;
      }
    },

    /** Stack `items` into columns of at most `room` px (an item taller gets its own). */
    pack: function (items, room) {
      var self = this, col = null, used = 0;
      this.body.innerHTML = '';
      items.forEach(function (el) {
        if (!col) col = L.DomUtil.create('div', 'ecomap-panel-col', self.body);
        col.appendChild(el);
        var h = visible(el) ? rect(el).height + GAP : 0;
        if (used && used + h > room + GAP) {
          col = L.DomUtil.create('div', 'ecomap-panel-col', self.body);
          col.appendChild(el);
          used = 0;
        }
        used += h;
      });
    },

    /** The layout for the current size and medium; refit the home view if `fit`. */
    arrange: function (fit) {
      this.collect();
      var map = this.map, size = map.getSize(), home = this.home, mode;
      var minimap = this.items.filter(function (el) {
        return el.classList.contains('leaflet-control-minimap');
      });
      if (!isPrint() && (size.x < SMALL.w || size.y < SMALL.h)) {
        mode = 'collapsed';
        this.place(mode);
      } else {
        // Whichever docking shows the home view at the larger scale.
        var best = null, self = this;
        ['side', 'bottom'].forEach(function (m) {
          self.place(m);
          var pad = self.frame(m);
          var z = home ? map.getBoundsZoom(home, false, L.point(pad.left + pad.right,
                                                                pad.top + pad.bottom)) : 0;
          if (!best || z > best.z + 1e-9) best = { mode: m, z: z };
        });
        mode = best.mode;
        if (mode !== 'bottom') this.place(mode);
      }
      this.mode = mode;
      this.centreTitle();
      minimap.forEach(function (el) {  // its own map was sized where it was before
        var ctl = el._ecoMiniMap;
        if (!ctl || !ctl._miniMap) return;
        ctl._miniMap.invalidateSize({ pan: false });
        if (ctl.options.centerFixed) {
          ctl._miniMap.setView(ctl.options.centerFixed, ctl.options.zoomLevelFixed,
                               { animate: false });
        }
      });
      if (fit && home) {
        var pad = this.frame(mode);
        map.fitBounds(home, { paddingTopLeft: [pad.left, pad.top],
                              paddingBottomRight: [pad.right, pad.bottom], animate: false });
        this.fitted = { c: map.getCenter(), z: map.getZoom() };
      }
      ecomap.placeLabels(map);
    },

    /** True while the view is the one the last fit gave (the reader has not moved it):
     *  then a panel that grows or shrinks with a layer may fit the view again. */
    atHome: function () {
      var f = this.fitted, map = this.map;
      return !!f && map.getZoom() === f.z && map.getCenter().distanceTo(f.c) < 1;
    },

    /** The title centred over the free part of the frame, between the top controls. */
    centreTitle: function () {
      var c = this.map.getContainer(), title = c.querySelector('.ecomap-title');
      if (!title) return;
      var box = rect(c), lo = GAP, hi = box.width - GAP;
      var tl = c.querySelector('.leaflet-top.leaflet-left');
      var tr = c.querySelector('.leaflet-top.leaflet-right');
      [[tl, 'left'], [tr, 'right']].forEach(function (pair) {
        if (!pair[0]) return;
        Array.prototype.forEach.call(pair[0].children, function (el) {
          if (!visible(el)) return;
          var r = rect(el);
          if (r.top - box.top > 60) return;  // only controls beside the title
          if (pair[1] === 'left') lo = Math.max(lo, r.right - box.left + GAP);
          else hi = Math.min(hi, r.left - box.left - GAP);
        });
      });
      title.style.maxWidth = 'none';
      var natural = rect(title).width;
      if (this.mode === 'side') {  // over the map frame if it fits there
        var frameHi = Math.min(hi, rect(this.panel).left - box.left - GAP);
        if (natural <= frameHi - lo) hi = frameHi;
      }
      title.style.maxWidth = Math.max(120, hi - lo) + 'px';
      title.style.left = ((lo + hi) / 2) + 'px';
    }
  };

  /** Dock the map's bottom-corner furniture in a panel and fit `options.bounds` beside it. */
  ecomap.layout = function (map, options) {
    var lay = map._ecoLayout;
    if (!lay) {
      lay = map._ecoLayout = new Layout(map, options || {});
      map.on('resize', function () { lay.arrange(isPrint()); });
      map.on('zoomend moveend', function () { ecomap.placeLabels(map); });
    }
    lay.arrange(true);
    return lay;
  };

  // ------------------------------------------------------------------ labels

  function overlaps(a, b, m) {
    m = m || 0;
    return a.left < b.right + m && b.left < a.right + m && a.top < b.bottom + m &&
      b.top < a.bottom + m;
  }

  function shifted(r, dx, dy) {
    return { left: r.left + dx, right: r.right + dx, top: r.top + dy, bottom: r.bottom + dy };
  }

  /**
   * Nudge each township label (.ecomap-label) off water-site dots, other labels and
   * the furniture, keeping it inside the free frame; a label with no free place near
   * its anchor stays, one whose anchor is under the furniture is hidden.
   */
  ecomap.placeLabels = function (map) {
    var c = map.getContainer(), box = rect(c);
    var labels = Array.prototype.slice.call(c.querySelectorAll('.ecomap-label'));
    if (!labels.length) return;
    var blocks = [];
    c.querySelectorAll('.ecomap-site').forEach(function (el) { blocks.push(rect(el)); });
    c.querySelectorAll('.leaflet-control, .ecomap-title, .ecomap-panel-toggle, ' +
                       '.ecomap-panel-col, .ecomap-panel-body > *, .ecomap-panel-foot > *')
      .forEach(function (el) { if (visible(el)) blocks.push(rect(el)); });
    var frame = { left: box.left + 2, top: box.top + 2, right: box.right - 2,
                  bottom: box.bottom - 2 };
    var lay = map._ecoLayout;
    if (lay && lay.mode === 'side') frame.right = Math.min(frame.right, rect(lay.panel).left);
    if (lay && lay.mode === 'bottom') frame.bottom = Math.min(frame.bottom, rect(lay.panel).top);
    labels.forEach(function (el) {
      el.style.transform = '';
      el.classList.remove('ecomap-hidden');
    });
    var placed = [];
    labels.forEach(function (el) {
      var r0 = rect(el), h = r0.bottom - r0.top, w = r0.right - r0.left;
      // Near first: above, below, beside, then the diagonals, up to about 2.5 lines away.
      var cands = [[0, 0]];
      [0.8, 1.4, 2, 2.6].forEach(function (k) {
        cands.push([0, -k * h], [0, k * h], [k * 0.4 * w, 0], [-k * 0.4 * w, 0],
                   [k * 0.4 * w, -k * h], [-k * 0.4 * w, -k * h], [k * 0.4 * w, k * h],
                   [-k * 0.4 * w, k * h]);
      });
      var best = null;
      for (var i = 0; i < cands.length; i++) {
        var r = shifted(r0, cands[i][0], cands[i][1]);
        if (r.left < frame.left || r.right > frame.right || r.top < frame.top ||
            r.bottom > frame.bottom) continue;
        var hit = blocks.some(function (b) { return overlaps(r, b, 1); }) ||
          placed.some(function (b) { return overlaps(r, b, 2); });
        if (!hit) { best = cands[i]; break; }
      }
      var cx = (r0.left + r0.right) / 2, cy = (r0.top + r0.bottom) / 2;
      if (!best) {
        var inside = cx > frame.left && cx < frame.right && cy > frame.top && cy < frame.bottom;
        if (!inside) { el.classList.add('ecomap-hidden'); return; }
        best = [0, 0];
      }
      if (best[0] || best[1]) {
        el.style.transform = 'translate(-50%, -50%) translate(' + best[0] + 'px, ' +
          best[1] + 'px)';
      }
      placed.push(shifted(r0, best[0], best[1]));
    });
  };

})(window, window.L);
