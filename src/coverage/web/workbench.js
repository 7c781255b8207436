// The scenario workbench page (service-coverage serve). Every string from the
// server is set as text, never as HTML.
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("sc-config").textContent);
  var W = C.words;
  var COLOURS = C.colours, PALETTE = C.palette;
  var state = { add: [], remove: [], next: 1, seq: 0, proposals: [] };
  var study, map, communities, existing, added, covered, proposalsLayer;
  var byId = function (id) { return document.getElementById(id); };

  function text(id, value) { byId(id).textContent = value; }

  function api(path, body, method) {
    var options = { method: method || (body === undefined ? "GET" : "POST"),
      headers: { "Content-Type": "application/json" }, credentials: "same-origin" };
    if (body !== undefined) { options.body = JSON.stringify(body); }
    return fetch(path, options).then(function (r) {
      if (r.ok) { return r; }
      return r.json().then(function (e) { throw new Error(e.error || r.statusText); },
        function () { throw new Error(r.statusText); });
    });
  }

  function fail(err) { text("sc-error", err.message || String(err)); setStatus("error"); }
  function setStatus(s) { var el = byId("sc-status"); el.dataset.state = s; el.textContent = W["status_" + s] || ""; }

  function colourOf(v) {
    if (v === null || v === undefined) { return C.none; }
    for (var i = 0; i < C.bounds.length; i++) { if (v < C.bounds[i]) { return COLOURS[i]; } }
    return COLOURS[COLOURS.length - 1];
  }

  function catColour(cat) {
    var i = study.categories.findIndex(function (c) { return c.id === cat; });
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }

  function catLabel(cat) {
    var c = study.categories.find(function (x) { return x.id === cat; });
    return c ? c.label : cat;
  }

  function scenario() {
    return { add: state.add.map(function (a) { return { id: a.id, category: a.category, lon: a.lon, lat: a.lat }; }),
      remove: state.remove.slice() };
  }

  function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + W.percent; }
  function num(v) { return v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US"); }
  function signed(v, digits) {
    if (v === null || v === undefined) { return "–"; }
    var s = digits ? v.toFixed(digits) : Math.round(v).toLocaleString("en-US");
    return v > 0 ? "+" + s : (v < 0 ? "\u2212" + s.replace("-", "") : s);
  }

  function cell(tr, value, cls) {
    var td = document.createElement("td");
    td.textContent = value;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }

  function header(table, names) {
    var thead = table.querySelector("thead");
    thead.textContent = "";
    var tr = document.createElement("tr");
    names.forEach(function (n, i) {
      var th = document.createElement("th");
      th.textContent = n;
      if (i > 0) { th.className = "num"; }
      tr.appendChild(th);
    });
    thead.appendChild(tr);
  }

  function renderTable(rows) {
    var table = byId("sc-table");
    header(table, W.columns.split("|"));
    var body = table.querySelector("tbody");
    body.textContent = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      tr.dataset.indicator = r.indicator;
      tr.dataset.scope = r.scope;
      tr.dataset.after = r.after === null ? "" : String(r.after);
      cell(tr, r.label + " (" + (W.scopes[r.scope] || r.scope) + ")");
      cell(tr, pct(r.target), "num");
      cell(tr, pct(r.before), "num");
      cell(tr, pct(r.after), "num after");
      cell(tr, signed(r.change_pp, 1), "num " + (r.change_pp > 0 ? "sc-up" : (r.change_pp < 0 ? "sc-down" : "")));
      cell(tr, signed(r.change_residents), "num");
      cell(tr, W.statuses[r.status_after] || r.status_after, "num sc-" + r.status_after);
      body.appendChild(tr);
    });
  }

  function renderNew(newly) {
    covered.clearLayers();
    var parts = [];
    Object.keys(newly).forEach(function (cat) {
      var n = newly[cat];
      parts.push(W.newly.replace("{n}", num(n.residents)).replace("{t}", String(n.threshold))
        .replace("{unit}", W.units[n.unit]).replace("{mode}", W.modes[n.mode]).replace("{cat}", catLabel(cat)));
      n.points.forEach(function (p) {
        L.circleMarker([p[1], p[0]], { radius: 3, weight: 0, fillColor: catColour(cat), fillOpacity: 0.6,
          interactive: false }).addTo(covered);
      });
    });
    text("sc-new", parts.join(" "));
  }

  function recolour(values) {
    communities.eachLayer(function (layer) {
      var v = values[layer.feature.properties.community_id];
      layer.setStyle({ fillColor: colourOf(v) });
      layer.feature.properties.value = v;
    });
  }

  function listAdded() {
    var list = byId("sc-added");
    list.textContent = "";
    state.add.forEach(function (a) {
      var li = document.createElement("li");
      li.dataset.lon = String(a.lon); li.dataset.lat = String(a.lat); li.dataset.category = a.category;
      li.textContent = W.added.replace("{cat}", catLabel(a.category)).replace("{lon}", a.lon.toFixed(5))
        .replace("{lat}", a.lat.toFixed(5));
      list.appendChild(li);
    });
  }

  function evaluate() {
    var seq = ++state.seq;
    listAdded();
    setStatus("busy");
    text("sc-error", "");
    var path = "/api/evaluate?indicator=" + encodeURIComponent(byId("sc-indicator").value);
    return api(path, scenario()).then(function (r) { return r.json(); }).then(function (out) {
      if (seq !== state.seq) { return; }
      renderTable(out.headline);
      recolour(out.communities);
      renderNew(out.newly_covered);
      byId("sc-status").dataset.seq = String(seq);
      setStatus("ready");
    }).catch(fail);
  }

  function pin(cat, label) {
    return L.divIcon({ className: "", iconSize: [22, 22], iconAnchor: [11, 11],
      html: '<div class="sc-pin" style="background:' + catColour(cat) + '">' + label + "</div>" });
  }

  function addFacility(cat, latlng) {
    var a = { id: "added-" + state.next++, category: cat, lon: +latlng.lng.toFixed(6), lat: +latlng.lat.toFixed(6) };
    a.marker = L.marker(latlng, { draggable: true, icon: pin(cat, "+"), title: catLabel(cat) }).addTo(added);
    a.marker.on("dragend", function () {
      var ll = a.marker.getLatLng();
      a.lon = +ll.lng.toFixed(6); a.lat = +ll.lat.toFixed(6);
      evaluate();
    });
    a.marker.on("click", function () {
      added.removeLayer(a.marker);
      state.add = state.add.filter(function (x) { return x !== a; });
      evaluate();
    });
    state.add.push(a);
    return a;
  }

  function restyle(m) {
    m.setStyle({ fillColor: catColour(m.feature.properties.category), color: "#fff", dashArray: null });
  }

  function toggleExisting(f, marker) {
    var i = state.remove.indexOf(f.id);
    if (i < 0) { state.remove.push(f.id); marker.setStyle({ fillColor: "#ffffff", color: "#555", dashArray: "2" }); }
    else { state.remove.splice(i, 1); marker.setStyle({ fillColor: catColour(f.category), color: "#fff", dashArray: null }); }
    evaluate();
  }

  function drawStudy() {
    map = L.map("sc-map", { preferCanvas: true });
    if (C.tiles && C.tiles !== "none") {
      L.tileLayer(C.tiles, { attribution: C.attribution, maxZoom: 19 }).addTo(map);
    }
    communities = L.geoJSON(study.communities, { style: function () {
      return { color: "#555", weight: 1, fillOpacity: 0.55, fillColor: "#bbbbbb" }; },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(function () {
          return document.createTextNode(feature.properties.community_id + ": " + pct(feature.properties.value));
        });
      } }).addTo(map);
    covered = L.layerGroup().addTo(map);
    existing = L.layerGroup().addTo(map);
    study.facilities.forEach(function (f) {
      var m = L.circleMarker([f.lat, f.lon], { radius: 4, weight: 1, color: "#fff", fillColor: catColour(f.category), fillOpacity: 0.9 });
      m.bindTooltip(function () { return document.createTextNode((f.name || f.id) + " · " + catLabel(f.category)); });
      m.on("click", function (e) { L.DomEvent.stopPropagation(e); toggleExisting(f, m); });
      m.feature = { properties: { facility_id: f.id, category: f.category } };
      m.addTo(existing);
    });
    added = L.layerGroup().addTo(map);
    proposalsLayer = L.layerGroup().addTo(map);
    var b = study.bounds;
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
    map.on("click", function (e) { addFacility(byId("sc-category").value, e.latlng); evaluate(); });
  }

  function fillSelect(id, items, selected) {
    var sel = byId(id);
    items.forEach(function (it) {
      var o = document.createElement("option");
      o.value = it.id; o.textContent = it.label;
      if (it.id === selected) { o.selected = true; }
      sel.appendChild(o);
    });
  }

  function renderProposals() {
    var list = byId("sc-proposals");
    list.textContent = "";
    proposalsLayer.clearLayers();
    state.proposals.forEach(function (p) {
      var li = document.createElement("li");
      li.dataset.rank = String(p.rank);
      li.appendChild(document.createTextNode(W.proposal.replace("{rank}", p.rank).replace("{alone}", num(p.alone))
        .replace("{added}", num(p.added)) + " "));
      var keep = document.createElement("button"); keep.type = "button"; keep.textContent = W.keep; keep.className = "sc-keep";
      var drop = document.createElement("button"); drop.type = "button"; drop.textContent = W.drop; drop.className = "sc-drop";
      keep.onclick = function () { dropProposal(p); addFacility(p.category, L.latLng(p.lat, p.lon)); evaluate(); };
      drop.onclick = function () { dropProposal(p); };
      li.appendChild(keep); li.appendChild(drop);
      list.appendChild(li);
      L.marker([p.lat, p.lon], { icon: pin(p.category, String(p.rank)), opacity: 0.75 }).addTo(proposalsLayer);
    });
  }

  function dropProposal(p) {
    state.proposals = state.proposals.filter(function (x) { return x !== p; });
    renderProposals();
  }

  function optimise() {
    var share = parseFloat(byId("sc-share").value);
    var body = { scenario: scenario(), category: byId("sc-category").value };
    if (share > 0) { body.target_share = Math.min(share, 100) / 100; } else { body.p = parseInt(byId("sc-p").value, 10) || 1; }
    setStatus("optimising");
    api("/api/optimise", body).then(function (r) { return r.json(); }).then(function (out) {
      state.proposals = out.proposals.map(function (p) { p.category = body.category; return p; });
      renderProposals();
      setStatus("ready");
    }).catch(fail);
  }

  function refreshSaved(names) {
    var list = byId("sc-saved");
    list.textContent = "";
    names.forEach(function (name) {
      var li = document.createElement("li");
      var box = document.createElement("input"); box.type = "checkbox"; box.value = name; box.className = "sc-pick";
      li.appendChild(box);
      li.appendChild(document.createTextNode(" " + name + " "));
      var load = document.createElement("button"); load.type = "button"; load.textContent = W.load;
      load.onclick = function () { loadScenario(name); };
      var del = document.createElement("button"); del.type = "button"; del.textContent = W["delete"];
      del.onclick = function () {
        api("/api/scenarios/" + encodeURIComponent(name), undefined, "DELETE").then(function (r) { return r.json(); })
          .then(function (out) { refreshSaved(out.names); }).catch(fail);
      };
      li.appendChild(load); li.appendChild(del);
      list.appendChild(li);
    });
  }

  function loadScenario(name) {
    api("/api/scenarios/" + encodeURIComponent(name)).then(function (r) { return r.json(); }).then(function (rec) {
      added.clearLayers();
      state.add = []; state.remove = [];
      existing.eachLayer(restyle);
      rec.add.forEach(function (a) {
        var item = addFacility(a.category, L.latLng(a.lat, a.lon));
        item.lon = a.lon; item.lat = a.lat;
      });
      rec.remove.forEach(function (id) { state.remove.push(id); });
      existing.eachLayer(function (m) {
        if (state.remove.indexOf(m.feature.properties.facility_id) >= 0) { m.setStyle({ fillColor: "#ffffff", color: "#555", dashArray: "2" }); }
      });
      byId("sc-name").value = rec.name;
      evaluate();
    }).catch(fail);
  }

  function save() {
    var body = scenario();
    body.name = byId("sc-name").value.trim();
    api("/api/scenarios", body).then(function (r) { return r.json(); }).then(function (out) {
      refreshSaved(out.names);
      text("sc-error", "");
    }).catch(fail);
  }

  function compare() {
    var picked = Array.prototype.slice.call(document.querySelectorAll(".sc-pick:checked")).map(function (b) { return b.value; });
    if (picked.length !== 2) { text("sc-error", W.pick_two); return; }
    api("/api/compare", { a: picked[0], b: picked[1], indicator: byId("sc-indicator").value })
      .then(function (r) { return r.json(); }).then(function (out) {
        var table = byId("sc-comparison");
        header(table, [W.columns.split("|")[0], W.target, out.a.name, out.b.name]);
        var body = table.querySelector("tbody");
        body.textContent = "";
        out.a.headline.forEach(function (r, i) {
          var other = out.b.headline.find(function (x) { return x.indicator === r.indicator && x.scope === r.scope && x.preset === r.preset; }) || {};
          var tr = document.createElement("tr");
          cell(tr, r.label + " (" + (W.scopes[r.scope] || r.scope) + ")");
          cell(tr, pct(r.target), "num");
          cell(tr, pct(r.after), "num");
          cell(tr, pct(other.after), "num");
          body.appendChild(tr);
        });
      }).catch(fail);
  }

  function download(kind) {
    var body = scenario();
    body.name = byId("sc-name").value.trim() || undefined;
    if (!body.name) { delete body.name; }
    setStatus("exporting");
    api("/api/export/" + kind, body).then(function (r) {
      var header = r.headers.get("Content-Disposition") || "";
      var utf8 = /filename\*=UTF-8''([^;]+)/.exec(header);
      var plain = /filename="([^"]+)"/.exec(header);
      var name = utf8 ? decodeURIComponent(utf8[1]) : (plain ? plain[1] : kind);
      return r.blob().then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob); a.download = name || kind;
        document.body.appendChild(a); a.click(); a.remove();
        setStatus("ready");
      });
    }).catch(fail);
  }

  function words() {
    ["title", "hint", "h-edit", "l-category", "l-indicator", "h-table", "h-optimise", "l-p", "l-share",
      "h-scenarios", "h-export"].forEach(function (k) { text("sc-" + k, W[k.replace("-", "_")]); });
    text("sc-reset", W.reset); text("sc-optimise", W.optimise); text("sc-save", W.save);
    text("sc-compare", W.compare); text("sc-export-candidates", W.export_candidates);
    text("sc-export-report", W.export_report); text("sc-export-workbook", W.export_workbook);
    byId("sc-name").placeholder = W.name_placeholder;
    byId("sc-title").textContent = W.title + " · " + study.name;
  }

  api("/api/study").then(function (r) { return r.json(); }).then(function (s) {
    study = s;
    words();
    fillSelect("sc-category", study.categories, "community_complex");
    fillSelect("sc-indicator", study.indicators, "A1_service_circle");
    drawStudy();
    byId("sc-indicator").onchange = evaluate;
    byId("sc-reset").onclick = function () {
      added.clearLayers(); state.add = []; state.remove = [];
      existing.eachLayer(restyle);
      evaluate();
    };
    byId("sc-optimise").onclick = optimise;
    byId("sc-save").onclick = save;
    byId("sc-compare").onclick = compare;
    byId("sc-export-candidates").onclick = function () { download("candidates"); };
    byId("sc-export-report").onclick = function () { download("report"); };
    byId("sc-export-workbook").onclick = function () { download("workbook"); };
    api("/api/scenarios").then(function (r) { return r.json(); }).then(function (o) { refreshSaved(o.names); }).catch(fail);
    return evaluate();
  }).catch(fail);
})();
