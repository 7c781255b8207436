"""A synthetic prefecture: population raster, communities, facilities, streets and a study.

Deterministic from a seed. The region is a square in UTM zone 48N (EPSG:32648) centred near
Suining (105.6 E, 30.5 N), of 100 m pixels, sized so that about ``cells`` pixels are populated
(40 % of the region):

* **population** (``population.tif``): a few urban cores (discs with ragged edges, dense,
  5 % of the populated pixels) and rural villages (small clusters of pixels, sparse);
* **communities** (``communities.geojson``): Voronoi polygons of ``communities`` seeds drawn
  in proportion to residents (half) and to populated pixels (half), clipped to the region;
  ``urban`` when the seed is in an urban core; ``population`` and ``households`` are the
  raster's residents within, off by up to 3 % as a census would be;
* **facilities** (``facilities.geojson``): the 18 categories of
  :data:`PER_COMMUNITY` (the first cities' set), a set number per community (three convenience stores,
  one health station, ..., one community complex in ten), placed in populated pixels in
  proportion to residents;
* **streets** (``streets.osm.pbf``): a jittered lattice, 120 m blocks in the urban cores and
  240 m in the countryside; every 8th rural line ``secondary``, every 4th ``tertiary``, the
  rest ``residential``; 8 % of residential ways ``oneway=yes``; 5 % of block sides missing;
* **study** (``study.toml``): the four inputs, ``crs = "EPSG:32648"``, the ``suining-2025``
  targets and an offline map without basemap.

The prefecture size (600 000 cells, 3 000 communities) is a 122 km square with about 290 000
street nodes. Usage::

    python benchmarks/make_city.py OUT_DIR --cells 10000 --communities 100 [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from scipy import ndimage
from scipy.spatial import cKDTree

from coverage.categories import CATEGORIES

CRS = "EPSG:32648"
#: UTM 48N coordinates of the region's centre (105.6 E, 30.5 N).
CENTRE = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(105.6, 30.5)
PIXEL_M = 100.0
POPULATED_SHARE = 0.4
URBAN_SHARE = 0.05
BLOCK_M = 120.0
GAP_SHARE = 0.05
ONEWAY_SHARE = 0.08
#: Facilities per community, by category.
PER_COMMUNITY = {
    "convenience": 3.0,
    "health": 1.2,
    "community_service": 1.0,
    "sports": 1.0,
    "post": 1.0,
    "pharmacy": 1.0,
    "kindergarten": 0.8,
    "supermarket": 0.6,
    "primary_school": 0.5,
    "elderly_care": 0.5,
    "self_service": 0.5,
    "nursery": 0.4,
    "culture": 0.4,
    "police": 0.4,
    "market": 0.3,
    "legal_aid": 0.2,
    "middle_school": 0.15,
    "community_complex": 0.1,
}


@dataclass(frozen=True)
class Grid:
    """The population raster and where it lies.

    Attributes
    ----------
    people
        Residents per pixel, ``(rows, cols)``, row 0 at the north edge.
    urban
        Whether each pixel is in an urban core.
    x0, y0
        South-west corner of the region, metres (EPSG:32648).
    """

    people: np.ndarray
    urban: np.ndarray
    x0: float
    y0: float

    @property
    def side_m(self) -> float:
        """The region's side, metres."""
        return self.people.shape[0] * PIXEL_M

    @property
    def transform(self) -> Affine:
        """The raster's affine transform."""
        return Affine(PIXEL_M, 0.0, self.x0, 0.0, -PIXEL_M, self.y0 + self.side_m)

    def pixel_xy(self, flat: np.ndarray) -> np.ndarray:
        """Centres of pixels given by flat index, ``(n, 2)`` metres."""
        rows, cols = np.divmod(flat, self.people.shape[1])
        x = self.x0 + (cols + 0.5) * PIXEL_M
        y = self.y0 + self.side_m - (rows + 0.5) * PIXEL_M
        return np.column_stack([x, y])


def urban_cores(side: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Mask of the urban cores: one main city and a county town per 150 000 cells.

    Parameters
    ----------
    side
        Pixels per side of the region.
    cells
        Populated pixels wanted.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Boolean ``(side, side)`` mask.
    """
    n_cores = 1 + cells // 150_000
    weights = np.array([3.0] + [1.0] * (n_cores - 1))
    radii = np.sqrt(weights / weights.sum() * URBAN_SHARE * cells / np.pi)
    centres = rng.uniform(0.2, 0.8, size=(n_cores, 2)) * side
    centres[0] = side / 2
    rows, cols = np.mgrid[0:side, 0:side]
    ragged = ndimage.gaussian_filter(rng.normal(size=(side, side)), 3.0)
    ragged *= 0.25 / max(ragged.std(), 1e-9)
    mask = np.zeros((side, side), dtype=bool)
    for (cy, cx), r in zip(centres, radii, strict=True):
        mask |= np.hypot(rows - cy, cols - cx) / r < 1.0 + ragged
    return mask


def population_grid(cells: int, rng: np.random.Generator) -> Grid:
    """Residents per 100 m pixel: urban cores and village clusters, about ``cells`` populated.

    Parameters
    ----------
    cells
        Populated pixels wanted.
    rng
        Random generator.

    Returns
    -------
    Grid
        The raster, its urban mask and its corner.
    """
    side = int(np.ceil(np.sqrt(cells / POPULATED_SHARE)))
    urban = urban_cores(side, cells, rng)
    villages = np.zeros((side, side))
    n_villages = max(1, (cells - int(urban.sum())) // 12)
    at = rng.integers(0, side, size=(n_villages, 2))
    np.add.at(villages, (at[:, 0], at[:, 1]), rng.uniform(0.5, 1.5, n_villages))
    villages = ndimage.gaussian_filter(villages, 1.5) + rng.uniform(0, 1e-4, villages.shape)
    villages[urban] = -1.0
    rural_wanted = max(cells - int(urban.sum()), 0)
    threshold = np.sort(villages.ravel())[-rural_wanted] if rural_wanted else np.inf
    rural = villages >= threshold
    people = np.zeros((side, side), dtype="float32")
    people[urban] = rng.lognormal(np.log(120.0), 0.5, int(urban.sum()))
    people[rural] = rng.lognormal(np.log(4.0), 0.6, int(rural.sum()))
    half = side * PIXEL_M / 2
    return Grid(np.round(people, 1), urban, CENTRE[0] - half, CENTRE[1] - half)


def write_raster(grid: Grid, path: Path) -> None:
    """Write the residents per pixel as a deflated GeoTIFF."""
    rows, cols = grid.people.shape
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32"}
    with rasterio.open(
        path, "w", **profile, crs=CRS, transform=grid.transform, nodata=-1.0, compress="deflate"
    ) as dst:
        dst.write(grid.people, 1)


def draw_pixels(grid: Grid, n: int, rng: np.random.Generator, mix: float) -> np.ndarray:
    """Points in populated pixels: a share ``mix`` drawn by residents, the rest by pixel.

    Parameters
    ----------
    grid
        The population raster.
    n
        Points wanted.
    rng
        Random generator.
    mix
        Share of the points drawn in proportion to residents.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` points, metres, jittered within their pixels.
    """
    flat = grid.people.ravel()
    populated = np.flatnonzero(flat > 0)
    by_people = rng.random(n) < mix
    weights = flat[populated] / flat[populated].sum()
    chosen = np.where(
        by_people,
        rng.choice(populated, size=n, p=weights),
        rng.choice(populated, size=n),
    )
    return grid.pixel_xy(chosen) + rng.uniform(-0.45, 0.45, (n, 2)) * PIXEL_M


def communities_frame(grid: Grid, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Voronoi communities with kind, residents and households from the raster.

    Parameters
    ----------
    grid
        The population raster.
    n
        Communities wanted.
    rng
        Random generator.

    Returns
    -------
    geopandas.GeoDataFrame
        ``community_id``, ``name``, ``kind``, ``population``, ``households``, in EPSG:4326.
    """
    seeds = draw_pixels(grid, n, rng, mix=0.5)
    region = shapely.box(grid.x0, grid.y0, grid.x0 + grid.side_m, grid.y0 + grid.side_m)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region, ordered=True)
    polygons = shapely.intersection(np.asarray(shapely.get_parts(cells)), region)
    flat = np.flatnonzero(grid.people.ravel() > 0)
    _, owner = cKDTree(seeds).query(grid.pixel_xy(flat))
    residents = np.bincount(owner, weights=grid.people.ravel()[flat], minlength=n)
    declared = np.round(residents * rng.uniform(0.97, 1.03, n))
    rows, cols = (
        np.floor((grid.y0 + grid.side_m - seeds[:, 1]) / PIXEL_M).astype(int),
        np.floor((seeds[:, 0] - grid.x0) / PIXEL_M).astype(int),
    )
    urban = grid.urban[rows, cols]
    frame = gpd.GeoDataFrame(
        {
            "community_id": [f"C{k:05d}" for k in range(n)],
            "name": [f"{'Community' if u else 'Village'} {k + 1}" for k, u in enumerate(urban)],
            "kind": np.where(urban, "urban", "rural"),
            "population": declared.astype(int),
            "households": np.round(declared / rng.uniform(2.4, 3.0, n)).astype(int),
        },
        geometry=polygons,
        crs=CRS,
    )
    return frame.to_crs("EPSG:4326")


def facilities_frame(grid: Grid, communities: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Facilities of every category, placed in proportion to residents.

    Parameters
    ----------
    grid
        The population raster.
    communities
        Number of communities (the counts are per community).
    rng
        Random generator.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``category``, ``name``, in EPSG:4326.
    """
    parts = []
    # the 18 categories of the first cities (later ones, e.g. the MOFCOM circle's
    # breakfast shops, are left out: figures stay comparable across sessions)
    for category in (c for c in CATEGORIES if c in PER_COMMUNITY):
        n = max(1, int(rng.poisson(PER_COMMUNITY[category] * communities)))
        xy = draw_pixels(grid, n, rng, mix=0.8)
        ids = [f"{category}-{k + 1}" for k in range(n)]
        parts.append(
            gpd.GeoDataFrame(
                {"facility_id": ids, "category": category, "name": ids},
                geometry=shapely.points(xy),
                crs=CRS,
            )
        )
    return gpd.GeoDataFrame(
        gpd.pd.concat(parts, ignore_index=True), crs=CRS, geometry="geometry"
    ).to_crs("EPSG:4326")


@dataclass
class Lattice:
    """Street lattice nodes: grid index ``(i, j)`` at ``BLOCK_M`` spacing, jittered.

    Attributes
    ----------
    n
        Grid points per side.
    urban
        Whether each grid point is in an urban core, ``(n, n)`` indexed ``[i, j]`` (x, y).
    xy
        Jittered coordinates, ``(n, n, 2)`` metres.
    """

    n: int
    urban: np.ndarray
    xy: np.ndarray

    def node_id(self, i: int, j: int) -> int:
        """OSM id of grid point ``(i, j)``."""
        return 1 + i * self.n + j


def lattice(grid: Grid, rng: np.random.Generator) -> Lattice:
    """The lattice's grid points, their urban flags and jittered coordinates."""
    n = int(grid.side_m // BLOCK_M) + 1
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = grid.x0 + i * BLOCK_M + rng.uniform(-0.15, 0.15, (n, n)) * BLOCK_M
    y = grid.y0 + j * BLOCK_M + rng.uniform(-0.15, 0.15, (n, n)) * BLOCK_M
    cols = np.clip((i * BLOCK_M // PIXEL_M).astype(int), 0, grid.urban.shape[1] - 1)
    rows = np.clip(((grid.side_m - j * BLOCK_M) // PIXEL_M).astype(int), 0, grid.urban.shape[0] - 1)
    urban = ndimage.binary_dilation(grid.urban, iterations=2)[rows, cols]
    return Lattice(n, urban, np.stack([x, y], axis=-1))


def line_edges(urban: np.ndarray, even: bool) -> list[tuple[int, int]]:
    """Block sides along one lattice line, as ``(from, to)`` positions along it.

    Parameters
    ----------
    urban
        Urban flags of the line's grid points.
    even
        Whether the line is a rural line too (every other line is).

    Returns
    -------
    list of tuple
        Fine sides ``(k, k + 1)`` where the city is, coarse sides ``(k, k + 2)`` elsewhere.
    """
    n = len(urban)
    edges = []
    for k in range(0, n - 1, 2):
        stop = min(k + 2, n - 1)
        city = bool(urban[k : stop + 1].any())
        if city:
            edges += [(a, a + 1) for a in range(k, stop) if not even and urban[a : a + 2].any()]
            edges += [(a, a + 1) for a in range(k, stop) if even]
        elif even and stop == k + 2:
            edges.append((k, k + 2))
    return edges


def highway(line: int, even: bool) -> str:
    """The ``highway`` value of a lattice line: secondary, tertiary or residential."""
    if even and line % 16 == 0:
        return "secondary"
    if even and line % 8 == 0:
        return "tertiary"
    return "residential"


def chains(edges: list[tuple[int, int]], rng: np.random.Generator) -> list[list[int]]:
    """Split a line's sides into ways: gaps drop a side, ways break every few sides."""
    ways: list[list[int]] = []
    for a, b in edges:
        if rng.random() < GAP_SHARE:
            ways.append([])
            continue
        if ways and ways[-1] and ways[-1][-1] == a and rng.random() > 0.12:
            ways[-1].append(b)
        else:
            ways.append([a, b])
    return [w for w in ways if len(w) >= 2]


def lattice_ways(lat: Lattice, rng: np.random.Generator) -> list[tuple[list[int], dict]]:
    """Every way of the lattice: node ids and tags."""
    ways = []
    for axis in (0, 1):
        for line in range(lat.n):
            flags = lat.urban[:, line] if axis == 0 else lat.urban[line, :]
            even = line % 2 == 0
            tag = highway(line, even)
            for chain in chains(line_edges(flags, even), rng):
                ids = [lat.node_id(k, line) if axis == 0 else lat.node_id(line, k) for k in chain]
                tags = {"highway": tag}
                if tag != "secondary" and rng.random() < ONEWAY_SHARE:
                    tags["oneway"] = "yes"
                ways.append((ids, tags))
    return ways


def write_streets(grid: Grid, path: Path, rng: np.random.Generator) -> dict[str, int]:
    """Write the street lattice as an OSM PBF; return its node and way counts."""
    import osmium

    lat = lattice(grid, rng)
    ways = lattice_ways(lat, rng)
    used = np.unique(np.concatenate([np.asarray(ids) for ids, _ in ways]))
    i, j = np.divmod(used - 1, lat.n)
    xy = lat.xy[i, j]
    lon, lat_deg = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        xy[:, 0], xy[:, 1]
    )
    path.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(path)) as writer:
        for node, x, y in zip(used.tolist(), lon.tolist(), lat_deg.tolist(), strict=True):
            writer.add_node(osmium.osm.mutable.Node(id=node, location=(x, y), version=1))
        for k, (ids, tags) in enumerate(ways):
            writer.add_way(osmium.osm.mutable.Way(id=k + 1, nodes=ids, tags=tags, version=1))
    return {"nodes": len(used), "ways": len(ways)}


STUDY = """\
name = "Synthetic prefecture ({cells} cells, {communities} communities, seed {seed})"
crs = "{crs}"
attribution = "synthetic data (benchmarks/make_city.py)"

[inputs]
communities = "communities.geojson"
facilities = "facilities.geojson"
population = "population.tif"
network = "streets.osm.pbf"

[targets]
preset = ["suining-2025"]

[map]
basemap = "none"
offline = true
"""

#: ``[map]`` line added when the size cap is raised.
MAP_CAP = "max_size_mb = {mb:g}\n"


def make_city(
    out_dir: Path,
    cells: int,
    communities: int,
    seed: int = 0,
    map_max_mb: float | None = None,
    service_areas: bool = True,
    catchment_counts: bool = True,
) -> Path:
    """Write a synthetic prefecture's inputs and study file into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into (made if missing).
    cells
        Populated 100 m pixels wanted (the demand cells, before community boundaries split them).
    communities
        Communities wanted.
    seed
        Random seed: the same arguments give the same files.
    map_max_mb
        The map's size cap (``[map] max_size_mb``); ``None``: the package's default.
    service_areas
        ``False`` writes ``[map] service_areas = false`` (no service areas traced).
    catchment_counts
        ``False`` writes ``[network] catchment_counts = false`` (no facility catchment counts).

    Returns
    -------
    pathlib.Path
        The study TOML. ``city.json`` beside it holds the sizes made.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grid = population_grid(cells, rng)
    write_raster(grid, out_dir / "population.tif")
    comm = communities_frame(grid, communities, rng)
    comm.to_file(out_dir / "communities.geojson", driver="GeoJSON")
    fac = facilities_frame(grid, communities, rng)
    fac.to_file(out_dir / "facilities.geojson", driver="GeoJSON")
    streets = write_streets(grid, out_dir / "streets.osm.pbf", rng)
    sizes = {
        "cells": int((grid.people > 0).sum()),
        "urban_cells": int((grid.urban & (grid.people > 0)).sum()),
        "residents": round(float(grid.people.sum())),
        "side_km": grid.side_m / 1000,
        "communities": communities,
        "urban_communities": int((comm["kind"] == "urban").sum()),
        "facilities": len(fac),
        "street_nodes": streets["nodes"],
        "street_ways": streets["ways"],
    }
    (out_dir / "city.json").write_text(json.dumps(sizes, indent=2) + "\n", encoding="utf-8")
    study = out_dir / "study.toml"
    text = STUDY.format(cells=cells, communities=communities, seed=seed, crs=CRS)
    text += MAP_CAP.format(mb=map_max_mb) if map_max_mb else ""
    text += "" if service_areas else "service_areas = false\n"
    text += "" if catchment_counts else "\n[network]\ncatchment_counts = false\n"
    study.write_text(text, encoding="utf-8")
    return study


def main() -> None:
    """Command line: ``make_city.py OUT_DIR --cells N --communities M [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder to write into")
    parser.add_argument("--cells", type=float, required=True, help="populated 100 m pixels")
    parser.add_argument("--communities", type=int, required=True, help="communities")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    study = make_city(args.out_dir, int(args.cells), args.communities, args.seed)
    sizes = json.loads((args.out_dir / "city.json").read_text(encoding="utf-8"))
    print(study)
    print(", ".join(f"{k} {v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
