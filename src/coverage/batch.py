"""Many study areas in one batch, on Dask (``dask.distributed``).

A batch is a layer of study areas (counties, townships). Each area is one
task: it takes its inputs, runs the study and writes the study's usual
outputs into ``OUT/areas/<area_id>/``. The driver then gathers them into one
``indicators.csv`` (with an ``area`` column), one ``areas.gpkg`` and an
``index.html`` linking each area's map and report.

An area's inputs are either its own files (columns ``communities``,
``facilities`` and optionally ``population``, ``network``, ``workplaces`` in
the areas layer, paths relative to it), or the base study's layers clipped
to the area:

- communities whose representative point lies in the area, decided on the
  driver over the whole layer after sliver overlaps are resolved: each
  community belongs to one area (the first, when areas overlap), so nobody
  is counted twice across areas, and communities in no area are reported;
- facilities and workplaces within the study's reach of those communities
  (:func:`reach_m`: the farthest any indicator reaches, plus snapping), so
  that facilities just across a border still serve them;
- population features meeting those communities (a raster: the window over
  them);
- the OSM network's ways whose box meets the box of that reach.

Tasks run on a ``distributed.LocalCluster`` sized to the machine, or on the
cluster whose scheduler address is given; the results are the same either
way and the same as running each area alone (tested). A failed area is
reported with its error and does not stop the others. A rerun skips areas
whose inputs, settings and outputs are unchanged (``batch.key`` in the
area's ``run.json``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage import __version__
from coverage.config import Inputs, Study
from coverage.errors import CoverageError, EmptyLayerError, InputLayerError, StudyFileError
from coverage.inputs import read_layer
from coverage.messages import BATCH_LABELS, Message

#: Columns of the areas layer that name an area's own input files.
INPUT_COLUMNS = ("communities", "facilities", "population", "network", "workplaces")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AreaTask:
    """One area's work, sent to a worker (plain data: it must pickle).

    Attributes
    ----------
    area_id, name
        The area.
    study
        The base study, or the area's own study (``clip`` None).
    clip_wkb
        The area's polygon (WKB, EPSG:4326) when the base study's layers are clipped.
    buffer_m
        Reach around the area's communities for facilities, workplaces and streets.
    out_dir
        Where the area's outputs go.
    key
        Hash of everything the area's results depend on.
    lang
        Language of the area's report and map.
    version
        The driver's package version; a worker with another one refuses the task.
    area_wkb
        The area's polygon (WKB, EPSG:4326), for the gathered layer of areas.
    """

    area_id: str
    name: str
    study: Study
    clip_wkb: bytes | None
    buffer_m: float
    out_dir: Path
    key: str
    lang: str
    version: str = __version__
    area_wkb: bytes = b""


def _sha256(path: Path, memo: dict[Path, str]) -> str:
    """SHA-256 of a file, remembered in ``memo``: a batch hashes each file once."""
    from coverage.report import sha256

    if path not in memo:
        memo[path] = sha256(path)
    return memo[path]


def _study_files(study: Study) -> dict[str, Path]:
    """Every file a study's results depend on: inputs, preset CSVs, the catalogue."""
    files = {
        k: Path(v) for k, v in dataclasses.asdict(study.inputs).items() if isinstance(v, str | Path)
    }
    base = study.source.parent if study.source is not None else Path.cwd()
    for name in study.targets.preset:
        path = Path(name) if Path(name).is_absolute() else base / name
        if path.is_file():
            files[f"preset:{name}"] = path
    if study.indicators.catalogue:
        path = Path(study.indicators.catalogue)
        files["catalogue"] = path if path.is_absolute() else base / path
    return files


def _key(
    study: Study,
    clip_wkb: bytes | None,
    buffer_m: float,
    lang: str,
    memo: dict[Path, str],
    extra: object = None,
) -> str:
    """Hash of the files' contents, the settings, the area and the version."""
    files = {k: _sha256(v, memo) if v.is_file() else None for k, v in _study_files(study).items()}
    settings = dataclasses.asdict(study)
    settings.pop("inputs")
    settings.pop("source", None)
    payload = {
        "files": files,
        "settings": settings,
        "area": clip_wkb.hex() if clip_wkb is not None else None,
        "buffer_m": buffer_m,
        "lang": lang,
        "version": __version__,
        "extra": extra,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reach_m(study: Study) -> float:
    """The farthest a facility or street can matter from a community, metres.

    The largest time threshold of the study (tiers, circles, capacity, the
    catalogue's) at the fastest speed of either mode, plus that mode's
    snapping limit; or the largest distance threshold plus the walking
    snapping limit, whichever is larger.
    """
    from coverage.catalogue import AccessIndicator, study_catalogue

    ind = study.indicators
    minutes = [*ind.tiers_min, ind.circle_min, ind.rural_cycle_min, study.capacity.minutes]
    metres = [ind.complex_radius_m]
    for entry in study_catalogue(study).values():
        if isinstance(entry, AccessIndicator):
            (minutes if entry.unit == "min" else metres).append(entry.threshold)
    snap = {"walk": study.snapping.walk_limit_m, "cycle": study.snapping.cycle_limit_m}
    base = {"walk": study.speeds.walk_kmh, "cycle": study.speeds.cycle_kmh}
    by_time = max(
        max([base[m], *study.speeds.highway_kmh(m).values()]) / 3.6 * 60 * max(minutes) + snap[m]
        for m in ("walk", "cycle")
    )
    return float(max(by_time, max(metres) + snap["walk"]))


def area_tasks(
    areas_path: Path,
    base: Study,
    out_dir: Path,
    buffer_m: float | None = None,
    lang: str = "en",
) -> tuple[list[AreaTask], list[Message]]:
    """Read the areas layer and make one task per area.

    Parameters
    ----------
    areas_path
        Polygons with a unique ``area_id`` (optional ``name``, optional input
        path columns, see the module docstring).
    base
        The study whose settings (and, without path columns, whose layers)
        every area uses.
    out_dir
        The batch's output folder.
    buffer_m
        Reach around an area's communities when clipping; default
        :func:`reach_m` of the study.
    lang
        Language of the areas' reports and maps.

    Returns
    -------
    tuple
        The tasks in the layer's order, and notes (communities in no area or
        in several, slivers resolved). Clipping the study's own layers, each
        area's communities are written here into ``OUT/areas/<id>/inputs/``.

    Raises
    ------
    InputLayerError
        When the areas layer breaks a rule (ids, geometry, paths).
    """
    layer = "areas"
    if base.inputs.facilities == "osm":
        raise StudyFileError(
            'batch: [inputs] facilities = "osm" is not supported in batches yet. Fix: give '
            "a facilities file (or a facilities column in the areas layer)"
        )
    gdf = read_layer(areas_path, layer).reset_index(drop=True)
    if "area_id" not in gdf.columns:
        raise InputLayerError(
            layer,
            f"{areas_path} has no 'area_id' column (columns: "
            f"{', '.join(c for c in gdf.columns if c != 'geometry')})",
            "give every area a unique area_id",
        )
    ids = gdf["area_id"].astype(str).str.strip()
    if ids.eq("").any() or gdf["area_id"].isna().any():
        raise InputLayerError(layer, "some areas have no area_id", "give every area an area_id")
    if ids.duplicated().any():
        raise InputLayerError(
            layer,
            f"area_id {ids[ids.duplicated()].iloc[0]!r} is repeated",
            "make area_id unique",
        )
    unsafe = ids[~ids.str.fullmatch(r"[\w\-. ]+") | ids.str.startswith(".")]
    if len(unsafe):
        raise InputLayerError(
            layer,
            f"area_id {unsafe.iloc[0]!r} cannot name a folder",
            "use letters, digits, '-', '_', '.' and spaces in area_id",
        )
    if not gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        bad = ids[~gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].iloc[0]
        raise InputLayerError(
            layer, f"area {bad} is not a polygon", "give each area's boundary as a polygon"
        )
    names = gdf["name"].fillna("").astype(str) if "name" in gdf.columns else ids
    own = [c for c in INPUT_COLUMNS if c in gdf.columns]
    if own and not {"communities", "facilities"} <= set(own):
        raise InputLayerError(
            layer,
            f"the areas layer names some inputs ({', '.join(own)}) but not both "
            "'communities' and 'facilities'",
            "give both path columns, or none to clip the study's own layers",
        )
    geoms_ll = gdf.geometry.to_crs("EPSG:4326")
    buffer_m = reach_m(base) if buffer_m is None else buffer_m
    memo: dict[Path, str] = {}
    out_dir = out_dir.resolve()
    if own:
        tasks = []
        for i, area_id in enumerate(ids):
            study = _own_inputs_study(base, gdf.iloc[i], own, areas_path.parent, area_id)
            tasks.append(
                AreaTask(
                    area_id=str(area_id),
                    name=str(names.iloc[i]),
                    study=study,
                    clip_wkb=None,
                    area_wkb=shapely.to_wkb(geoms_ll.iloc[i]),
                    buffer_m=buffer_m,
                    out_dir=out_dir / "areas" / str(area_id),
                    key=_key(study, None, buffer_m, lang, memo),
                    lang=lang,
                )
            )
        return tasks, []
    members, notes = _assign_communities(base, gdf, ids)
    tasks = []
    for i, area_id in enumerate(ids):
        mine = members[i]
        folder = out_dir / "areas" / str(area_id) / "inputs"
        folder.mkdir(parents=True, exist_ok=True)
        if len(mine):
            mine.to_file(folder / "communities.gpkg", driver="GPKG")
        else:
            (folder / "communities.gpkg").unlink(missing_ok=True)
        digest = hashlib.sha256()
        for cid, wkb in zip(
            mine["community_id"], shapely.to_wkb(mine.geometry.values), strict=True
        ):
            digest.update(str(cid).encode("utf-8") + b"\0" + wkb)
        clip = shapely.to_wkb(shapely.normalize(geoms_ll.iloc[i]), hex=False)
        tasks.append(
            AreaTask(
                area_id=str(area_id),
                name=str(names.iloc[i]),
                study=base,
                clip_wkb=clip,
                area_wkb=clip,
                buffer_m=buffer_m,
                out_dir=out_dir / "areas" / str(area_id),
                key=_key(base, clip, buffer_m, lang, memo, extra=digest.hexdigest()),
                lang=lang,
            )
        )
    return tasks, notes


def _assign_communities(
    base: Study, areas: gpd.GeoDataFrame, ids: pd.Series
) -> tuple[list[gpd.GeoDataFrame], list[Message]]:
    """Give each community of the base study to one area, on the whole layer at once.

    The communities are read and checked as a run would (ids, geometry,
    datum), their sliver overlaps resolved over the whole layer (so that a
    sliver between two areas is not counted in both), and each goes to the
    first area in layer order that its representative point meets.

    Returns
    -------
    tuple
        Per area, its communities (in the study's metric CRS), and notes on
        communities in no area or in several.
    """
    from coverage.inputs import check_study_crs, convert_datum, read_communities, resolve_overlaps

    communities, _ = read_communities(base.inputs.communities)
    communities, _ = convert_datum(
        communities, base.datum.communities, "communities", "community_id"
    )
    crs = check_study_crs(base.crs, communities)
    metric, notes = resolve_overlaps(communities.to_crs(crs))
    points = metric.geometry.representative_point()
    areas_m = areas.geometry.to_crs(crs)
    pi, ai = areas_m.sindex.query(points, predicate="intersects")
    first = np.full(len(metric), -1)
    count = np.bincount(pi, minlength=len(metric))
    for p, a in sorted(zip(pi.tolist(), ai.tolist(), strict=True), reverse=True):
        first[p] = a  # sorted descending: the lowest area index is written last
    cids = metric["community_id"].to_numpy()
    if (count == 0).any():
        lost = cids[count == 0]
        params = {"count": len(lost), "total": len(cids), "example": ", ".join(lost[:5])}
        notes.append(Message("in_no_area", params))
    if (count > 1).any():
        shared = cids[count > 1]
        params = {"count": len(shared), "example": ", ".join(shared[:5])}
        notes.append(Message("in_several_areas", params))
    members = [metric[first == i].reset_index(drop=True) for i in range(len(ids))]
    return members, notes


def _own_inputs_study(
    base: Study, row: pd.Series, columns: list[str], folder: Path, area_id: str
) -> Study:
    paths: dict[str, Path | None] = {}
    for col in INPUT_COLUMNS:
        value = row.get(col) if col in columns else None
        if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
            paths[col] = None
            continue
        path = Path(str(value)).expanduser()
        path = path if path.is_absolute() else (folder / path)
        if not path.is_file():
            raise InputLayerError(
                "areas",
                f"area {area_id}: {col} file not found: {path}",
                "correct the path (relative paths are read from the areas file's folder)",
            )
        paths[col] = path.resolve()
    if paths["communities"] is None or paths["facilities"] is None:
        raise InputLayerError(
            "areas",
            f"area {area_id} has no communities or facilities file",
            "give both for every area",
        )
    inputs = Inputs(
        communities=paths["communities"],
        facilities=paths["facilities"],
        population=paths["population"] if "population" in columns else base.inputs.population,
        network=paths["network"] if paths["network"] is not None else base.inputs.network,
        workplaces=paths["workplaces"],
        surveyed_categories=base.inputs.surveyed_categories,
    )
    return base.with_overrides(inputs=inputs)


def clip_inputs(task: AreaTask, folder: Path) -> Study:
    """Clip the base study's other layers to the reach of the area's communities.

    The area's communities were written into ``folder`` by :func:`area_tasks`.

    Returns
    -------
    Study
        The base study with its inputs replaced by the clipped files.

    Raises
    ------
    InputLayerError
        When the area holds no community, or the population raster misses it.
    """
    study = task.study
    if not (folder / "communities.gpkg").is_file():
        raise InputLayerError(
            "areas",
            f"area {task.area_id}: no community of {study.inputs.communities.name} has its "
            "representative point in the area",
            "check the area's boundary and CRS against the communities layer",
        )
    mine = gpd.read_file(folder / "communities.gpkg")  # in the study's metric CRS
    crs = mine.crs.to_string()
    paths: dict[str, Path | None] = {"communities": folder / "communities.gpkg"}
    reach = gpd.GeoSeries([mine.union_all()], crs=crs).buffer(task.buffer_m)
    reach_ll = reach.to_crs("EPSG:4326").iloc[0]
    for name in ("facilities", "workplaces"):
        src = getattr(study.inputs, name)
        if src is None:
            paths[name] = None
            continue
        try:
            near = read_layer(src, name, mask=reach)
        except EmptyLayerError:  # keep the nearest, so that the run states how far it is
            layer = read_layer(src, name)
            zone = reach.to_crs(layer.crs).iloc[0]
            near = layer.iloc[[int(np.argmin(layer.geometry.distance(zone).to_numpy()))]]
        paths[name] = folder / f"{name}.gpkg"
        near.to_file(paths[name], driver="GPKG")
    paths["population"] = _clip_population(study.inputs.population, mine, folder)
    paths["network"] = _clip_network(study.inputs.network, reach_ll, folder)
    inputs = Inputs(
        communities=paths["communities"],  # type: ignore[arg-type]
        facilities=paths["facilities"],  # type: ignore[arg-type]
        population=paths["population"],
        network=paths["network"],
        workplaces=paths["workplaces"],
        surveyed_categories=study.inputs.surveyed_categories,
    )
    # the communities file is already WGS84-based (converted on the driver)
    datum = dataclasses.replace(study.datum, communities="wgs84")
    return study.with_overrides(inputs=inputs, crs=crs, datum=datum)


def _clip_population(src: Path | None, communities: gpd.GeoDataFrame, folder: Path) -> Path | None:
    if src is None:
        return None
    if src.suffix.lower() in (".tif", ".tiff"):
        import rasterio
        from affine import Affine
        from rasterio.errors import WindowError
        from rasterio.windows import Window, from_bounds

        with rasterio.open(src) as ds:
            bounds = communities.to_crs(ds.crs).total_bounds
            win = from_bounds(*bounds, transform=ds.transform).round_offsets().round_lengths()
            whole = Window(0, 0, ds.width, ds.height)
            try:  # two more rows and columns: the flooring of offsets and lengths cuts cells
                win = Window(win.col_off, win.row_off, win.width + 2, win.height + 2)
                win = win.intersection(whole)
            except WindowError as exc:
                raise InputLayerError(
                    "population",
                    f"the raster {src.name} does not cover this area's communities",
                    "give a raster that covers every area",
                ) from exc
            profile = ds.profile | {
                "width": int(win.width),
                "height": int(win.height),
                # = ds.window_transform(win), which warns under affine 2.4+ (its `*`)
                "transform": ds.transform @ Affine.translation(win.col_off, win.row_off),
            }
            data = ds.read(window=win)
        out = folder / "population.tif"
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(data)
        return out
    zone = gpd.GeoSeries([communities.union_all()], crs=communities.crs)
    try:
        near = read_layer(src, "population", mask=zone)
    except EmptyLayerError:  # the run then says that the population misses the communities
        near = read_layer(src, "population").iloc[:1]
    out = folder / "population.gpkg"
    near.to_file(out, driver="GPKG")
    return out


def _clip_network(src: Path | None, reach_ll: Any, folder: Path) -> Path | None:
    """The OSM ways whose box meets the box of the area's reach (GraphML: used whole)."""
    if src is None or src.name.lower().endswith(".graphml"):
        return src
    import osmium

    west, south, east, north = reach_ll.bounds
    out = folder / "network.osm.pbf"
    out.unlink(missing_ok=True)
    with osmium.BackReferenceWriter(str(out), ref_src=str(src), overwrite=True) as writer:
        processor = (
            osmium.FileProcessor(str(src))
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            lons = [n.location.lon for n in obj.nodes if n.location.valid()]
            lats = [n.location.lat for n in obj.nodes if n.location.valid()]
            # the way's box meets the reach's box: a long way crossing it is kept too
            meets = lons and min(lons) <= east and max(lons) >= west
            if meets and min(lats) <= north and max(lats) >= south:
                writer.add_way(obj)
    return out


def _complete(out_dir: Path, key: str) -> bool:
    """Whether ``out_dir`` holds the complete outputs of a run with ``key``."""
    from coverage.report import sha256

    run_json = out_dir / "run.json"
    if not run_json.is_file():
        return False
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except ValueError:
        return False
    if run.get("batch", {}).get("key") != key:
        return False
    for name, digest in run.get("output_sha256", {}).items():
        path = out_dir / name
        if not path.is_file() or sha256(path) != digest:
            return False
    return True


def run_area(task: AreaTask) -> dict[str, Any]:
    """Run one area and write its outputs; never raises (failures are returned).

    Returns
    -------
    dict
        ``area_id``, ``status`` (``done``, ``skipped`` or ``failed``),
        ``seconds``, ``error`` (for failures), ``key`` and, for areas run,
        ``peak_rss_mb`` (the worker's peak memory so far).
    """
    from coverage.pipeline import run_study
    from coverage.report import write_outputs

    start = time.perf_counter()
    record: dict[str, Any] = {"area_id": task.area_id, "key": task.key, "error": ""}
    if task.version != __version__:
        return record | {
            "status": "failed",
            "seconds": 0.0,
            "error": f"the worker runs service-coverage {__version__}, the batch "
            f"{task.version}: install the same version on every worker",
        }
    if _complete(task.out_dir, task.key):
        return record | {"status": "skipped", "seconds": 0.0}
    try:
        study = task.study
        if task.clip_wkb is not None:
            study = clip_inputs(task, task.out_dir / "inputs")
        result = run_study(study)
        write_outputs(
            result,
            task.out_dir,
            lang=task.lang,
            elapsed_s=time.perf_counter() - start,
            extra={"batch": {"area_id": task.area_id, "key": task.key}},
        )
    except CoverageError as exc:
        return record | {
            "status": "failed",
            "seconds": round(time.perf_counter() - start, 3),
            "error": str(exc),
        }
    except Exception as exc:  # a bug must not sink the batch either; keep the trace
        return record | {
            "status": "failed",
            "seconds": round(time.perf_counter() - start, 3),
            "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        }
    return record | {
        "status": "done",
        "seconds": round(time.perf_counter() - start, 3),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """The worker process's peak resident memory so far (Linux/macOS), MB."""
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024 if sys.platform != "darwin" else kb / 1024**2, 1)


def run_batch(
    tasks: list[AreaTask],
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress = print,
) -> list[dict[str, Any]]:
    """Run the tasks on Dask and report progress as areas finish.

    Parameters
    ----------
    tasks
        From :func:`area_tasks`.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); ``None``
        starts a ``LocalCluster`` of ``workers`` single-threaded processes
        (default: one per core, at most one per area).
    workers
        Local workers (ignored with ``scheduler``).
    progress
        Called with one line per finished area.

    Returns
    -------
    list of dict
        One status per task (see :func:`run_area`), in the tasks' order.
    """
    from distributed import Client, LocalCluster, as_completed

    if not tasks:
        return []
    cluster = None
    if scheduler is None:
        import os

        n = workers or min(len(tasks), os.cpu_count() or 1)
        cluster = LocalCluster(
            n_workers=max(1, n),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster
        )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {
            client.submit(run_area, task, key=_dask_key(task), pure=False): i
            for i, task in enumerate(tasks)
        }
        statuses: list[dict[str, Any]] = [{} for _ in tasks]
        failed = 0
        for done, future in enumerate(as_completed(futures), start=1):
            i = futures[future]
            try:
                status = future.result()
            except Exception as exc:  # the worker died (memory, a crash) or was lost
                status = {
                    "area_id": tasks[i].area_id,
                    "key": tasks[i].key,
                    "status": "failed",
                    "seconds": float("nan"),
                    "error": f"the Dask task failed: {type(exc).__name__}: {exc}",
                }
            statuses[i] = status
            failed += status["status"] == "failed"
            progress(
                f"[{done}/{len(tasks)}] area {status['area_id']}: {status['status']}"
                f" ({status['seconds']:.1f} s)" + (f"; {failed} failed so far" if failed else "")
            )
        return statuses
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_key(task: AreaTask) -> str:
    """A task key unique to the area, its inputs and its output folder."""
    where = hashlib.sha256(str(task.out_dir).encode("utf-8")).hexdigest()[:8]
    return f"area-{task.area_id}-{task.key[:16]}-{where}"


def gather(
    tasks: list[AreaTask],
    statuses: list[dict[str, Any]],
    out_dir: Path,
    notes: list[Message] | None = None,
) -> dict[str, Path]:
    """Gather the areas' outputs into one table, one GeoPackage and an index page.

    Returns
    -------
    dict
        Output name -> path.
    """
    tables, comms, rows = [], [], []
    for task, status in zip(tasks, statuses, strict=True):
        row = {"area_id": task.area_id, "name": task.name, **status}
        if status["status"] != "failed":
            ind = pd.read_csv(
                task.out_dir / "indicators.csv", keep_default_na=False, na_values=[""]
            )
            tables.append(ind.assign(area=task.area_id))
            comm = gpd.read_file(task.out_dir / "communities.gpkg", layer="communities")
            comms.append(comm.assign(area=task.area_id).to_crs("EPSG:4326"))
            a1 = ind[(ind["indicator"] == "A1_service_circle") & (ind["scope"] == "all")]
            row["A1_all"] = float(a1["value"].iloc[0]) if len(a1) else float("nan")
            row["residents"] = float(a1["total_population"].iloc[0]) if len(a1) else float("nan")
        rows.append(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "indicators": out_dir / "indicators.csv",
        "areas_gpkg": out_dir / "areas.gpkg",
        "index": out_dir / "index.html",
        "batch": out_dir / "batch.json",
    }
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({"area": []})
    table = table[["area", *[c for c in table.columns if c != "area"]]]
    table.to_csv(paths["indicators"], index=False, lineterminator="\n", encoding="utf-8-sig")
    paths["areas_gpkg"].unlink(missing_ok=True)
    if comms:
        merged = pd.concat(comms, ignore_index=True)
        gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326").to_file(
            paths["areas_gpkg"], layer="communities", driver="GPKG"
        )
    summary = pd.DataFrame(rows)
    layer = gpd.GeoDataFrame(
        summary.drop(columns=["error", "key"], errors="ignore").assign(
            error=summary["error"].astype(str).str.split("\n").str[0]
        ),
        geometry=[shapely.from_wkb(t.area_wkb) if t.area_wkb else None for t in tasks],
        crs="EPSG:4326",
    )
    layer.to_file(paths["areas_gpkg"], layer="areas", driver="GPKG")
    paths["index"].write_text(
        _index_html(summary, tasks[0].lang if tasks else "en"), encoding="utf-8"
    )
    record = {
        "areas": rows,
        "done": int((summary["status"] == "done").sum()),
        "skipped": int((summary["status"] == "skipped").sum()),
        "failed": int((summary["status"] == "failed").sum()),
        "notes": [str(n) for n in notes or []],
        "version": __version__,
    }
    paths["batch"].write_text(
        json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return paths


def _index_html(summary: pd.DataFrame, lang: str = "en") -> str:
    """The batch's index page: one row per area, in the batch's language."""
    words = BATCH_LABELS.get(lang, BATCH_LABELS["en"])
    rows = []
    for _, r in summary.iterrows():
        aid = html.escape(str(r["area_id"]))
        link = f"areas/{aid}"
        status = html.escape(words.get(str(r["status"]), str(r["status"])))
        if r["status"] == "failed":
            cells = (
                f'<td class="bad">{status}</td><td colspan="3"><pre>'
                f"{html.escape(str(r['error']))}</pre></td>"
            )
        else:
            a1 = "–" if pd.isna(r.get("A1_all")) else f"{100 * float(r['A1_all']):.1f} %"
            res = "–" if pd.isna(r.get("residents")) else f"{float(r['residents']):,.0f}"
            cells = (
                f"<td>{status}</td><td class='num'>{res}</td><td class='num'>{a1}</td>"
                f'<td><a href="{link}/map.html">{words["map"]}</a> · '
                f'<a href="{link}/report.html">{words["report"]}</a>'
                f' · <a href="{link}/indicators.csv">{words["indicators"]}</a></td>'
            )
        rows.append(f"<tr><td>{aid}</td><td>{html.escape(str(r['name']))}</td>{cells}</tr>")
    body = "\n".join(rows)
    head = (
        "".join(f"<th>{words[k]}</th>" for k in ("area", "name", "status", "residents"))
        + f"<th>A1</th><th>{words['outputs']}</th>"
    )
    return f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8"><title>{words["title"]}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}}
.num{{text-align:right}}.bad{{color:#b00;font-weight:bold}}pre{{white-space:pre-wrap;margin:0;max-width:60em}}</style>
</head><body><h1>{words["heading"].format(n=len(summary))}</h1>
<p>{words["a1"]}</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""
