"""The study's layers, read and checked once: the edge where files come in.

:func:`load_layers` reads a study's files (and its street network, from a
file or an OSMnx download); :func:`layers_from_frames` takes GeoDataFrames
made in Python instead. Both check every layer by the same rules (METHOD.md,
"Inputs"; ``docs/reliability.md``) and return :class:`Layers` in the study's
metric CRS, ready for :class:`coverage.pipeline.LoadedStudy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from coverage.config import Study
from coverage.errors import EmptyLayerError
from coverage.inputs import (
    check_communities,
    check_communities_meet_the_others,
    check_facilities,
    check_frame,
    check_near_communities,
    check_population,
    check_study_crs,
    check_workplaces,
    convert_datum,
    read_layer,
    read_population,
    resolve_overlaps,
)
from coverage.messages import Message
from coverage.network import StreetNetwork, load_networks
from coverage.terms import Mode
from coverage.vocabulary import map_categories, osm_facilities, rename_columns

__all__ = [
    "Layers",
    "Progress",
    "layers_from_frames",
    "load_layers",
    "quiet",
    "raster_cover_notes",
]

Progress = Callable[[Message], None]

#: Share of a community's area the population raster must cover not to be noted.
RASTER_COVER_SHARE = 0.99


def quiet(_: Message) -> None:
    """A progress callback that says nothing."""
    return None


@dataclass(frozen=True)
class Layers:
    """Checked layers in the study's metric CRS.

    Attributes
    ----------
    communities
        ``community_id``, ``name``, ``kind``, ``population``, ``households``, polygons
        (sliver overlaps resolved).
    facilities
        ``facility_id``, ``category``, ``name``, ``floor_area_m2``, ``capacity``, points.
    population
        ``source_id``, ``population``, polygons or points; ``None``: the
        communities' own ``population`` is spread over the network.
    workplaces
        ``workplace_id``, ``workers``, points; ``None`` when not given.
    networks
        The walk and cycle networks.
    crs
        The study's metric CRS.
    notes
        What was repaired, assumed or worth checking while reading.
    """

    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    population: gpd.GeoDataFrame | None
    workplaces: gpd.GeoDataFrame | None
    networks: dict[Mode, StreetNetwork]
    crs: str
    notes: tuple[Message, ...]


def load_layers(study: Study, progress: Progress = quiet) -> Layers:
    """Read and check the study's layers from its files.

    Parameters
    ----------
    study
        The validated study (its ``[inputs]`` and ``[datum]``).
    progress
        Called with a short message per stage.

    Returns
    -------
    Layers
    """
    progress(Message("progress_read"))
    inp, datum = study.inputs, study.datum
    communities, notes = check_communities(_read(study, inp.communities, "communities"))
    communities, n = convert_datum(communities, datum.communities, "communities", "community_id")
    notes += n
    if inp.facilities == "osm":
        raw, n = _osm_facilities(study, communities)
        notes += n
    else:
        raw = _read(study, Path(inp.facilities), "facilities")
        raw = map_categories(raw, study.categories.values, study.categories.preset)
    facilities, n = check_facilities(raw)
    notes += n
    facilities, n = convert_datum(facilities, datum.facilities, "facilities", "facility_id")
    notes += n
    population = workplaces = None
    if inp.population is not None:
        population, n = read_population(inp.population, study.columns.get("population"))
        notes += n
    if inp.workplaces is not None:
        workplaces, n = check_workplaces(_read(study, inp.workplaces, "workplaces"))
        notes += n
        workplaces, n = convert_datum(workplaces, datum.workplaces, "workplaces", "workplace_id")
        notes += n
    return _assemble(study, communities, facilities, population, workplaces, None, notes, progress)


def layers_from_frames(
    study: Study,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    population: gpd.GeoDataFrame | None = None,
    workplaces: gpd.GeoDataFrame | None = None,
    networks: dict[Mode, StreetNetwork] | None = None,
    progress: Progress = quiet,
) -> Layers:
    """Check layers made in Python by the rules files are checked by.

    Parameters
    ----------
    study
        The study: its settings, its ``[datum]`` for the frames' coordinates,
        and its ``[inputs] network`` when ``networks`` is not given.
    communities, facilities, population, workplaces
        GeoDataFrames with the columns of the input contract (README, "Running
        a study") and a CRS; ``population`` polygons or points with ``population``.
    networks
        Street networks already built (e.g. from an earlier :class:`Layers`);
        default: read or downloaded as the study says.
    progress
        Called with a short message per stage.

    Returns
    -------
    Layers
    """
    datum = study.datum
    frame = "the GeoDataFrame given for the {} layer"
    communities, notes = check_communities(
        check_frame(communities, "communities", frame.format("communities"))
    )
    communities, n = convert_datum(communities, datum.communities, "communities", "community_id")
    notes += n
    facilities, n = check_facilities(
        check_frame(facilities, "facilities", frame.format("facilities"))
    )
    notes += n
    facilities, n = convert_datum(facilities, datum.facilities, "facilities", "facility_id")
    notes += n
    if population is not None:
        population, n = check_population(
            check_frame(population, "population", frame.format("population"))
        )
        notes += n
    if workplaces is not None:
        workplaces, n = check_workplaces(
            check_frame(workplaces, "workplaces", frame.format("workplaces"))
        )
        notes += n
        workplaces, n = convert_datum(workplaces, datum.workplaces, "workplaces", "workplace_id")
        notes += n
    return _assemble(
        study, communities, facilities, population, workplaces, networks, notes, progress
    )


def _osm_facilities(
    study: Study, communities: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, list[Message]]:
    """``[inputs] facilities = "osm"``: from the study's OSM file, or downloaded with
    OSMnx's features module for the communities' area; the note says completeness is
    unknown."""
    net = study.inputs.network
    if net is not None and not str(net).endswith(".graphml"):
        frame = osm_facilities(net, study.categories.values)
    else:
        from coverage._download import osm_features

        area = communities.to_crs("EPSG:4326").union_all()
        frame = osm_features(area, study.categories.values)
    if frame.empty:
        raise EmptyLayerError(
            "facilities",
            "OpenStreetMap holds no facility of any category in the study area",
            "give a facilities layer (an inventory, or a Gaode export)",
        )
    return frame, [Message("osm_facilities", {"count": len(frame)})]


def _read(study: Study, path: Path, layer: str) -> gpd.GeoDataFrame:
    """A layer as read, its columns renamed by the study's ``[columns.<layer>]``."""
    return rename_columns(read_layer(path, layer), layer, study.columns.get(layer, {}))


def _assemble(
    study: Study,
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    population: gpd.GeoDataFrame | None,
    workplaces: gpd.GeoDataFrame | None,
    networks: dict[Mode, StreetNetwork] | None,
    notes: list[Message],
    progress: Progress,
) -> Layers:
    """The checks across layers, the study CRS, the networks, and everything projected."""
    crs = check_study_crs(study.crs, communities)
    communities, n = resolve_overlaps(communities.to_crs(crs))
    notes += n
    others = {"facilities": facilities, "population": population}
    check_communities_meet_the_others(
        communities, {k: v for k, v in others.items() if v is not None}
    )
    notes += check_near_communities(communities, facilities, "facilities")
    if population is not None:
        check_near_communities(communities, population, "population", note_far=False)
        notes += raster_cover_notes(population, communities)
        population = population.to_crs(crs)
    if workplaces is not None:
        notes += check_near_communities(communities, workplaces, "workplaces")
        workplaces = workplaces.to_crs(crs)
    if networks is None:
        progress(Message("progress_networks"))
        networks = _networks(study, communities, crs)
    notes += _network_notes(study, communities, networks)
    return Layers(
        communities=communities,
        facilities=facilities.to_crs(crs),
        population=population,
        workplaces=workplaces,
        networks=networks,
        crs=crs,
        notes=tuple(notes),
    )


def _networks(study: Study, communities: gpd.GeoDataFrame, crs: str) -> dict[Mode, StreetNetwork]:
    """The walk and cycle networks from the study's file, or downloaded for its area."""
    base_dir: Path | None = study.source.parent if study.source else None
    return load_networks(
        study.inputs.network,
        crs,
        boundary=communities.to_crs("EPSG:4326").union_all().buffer(0.02),
        push=study.speeds.push,
        cache_dir=study.network.cache_path(base_dir),
        attempts=study.network.download_attempts,
    )


def _network_notes(
    study: Study, communities: gpd.GeoDataFrame, networks: dict[Mode, StreetNetwork]
) -> list[Message]:
    """Refuse a network elsewhere; note speeds by highway value that apply to no street."""
    notes: list[Message] = []
    for mode, net in networks.items():
        nodes = gpd.GeoDataFrame(geometry=shapely.points(net.node_xy), crs=net.crs)
        check_near_communities(communities, nodes, f"network ({mode})", note_far=False)
        for highway in study.speeds.highway_kmh(mode):
            if not (net.seg_highway == highway).any():
                notes.append(Message("speed_unused", {"mode": mode, "highway": highway}))
    return notes


def raster_cover_notes(
    population: gpd.GeoDataFrame, communities: gpd.GeoDataFrame
) -> list[Message]:
    """Name the communities a population raster does not (fully) cover.

    Residents beyond the raster's extent are unknown, not absent: the figures
    of such communities rest on part of their area only.
    """
    bounds = population.attrs.get("raster_bounds")
    if bounds is None:
        return []
    # in the raster's own CRS: its extent may be global, which no metric CRS can hold
    own = communities.geometry.to_crs(population.attrs["raster_crs"])
    extent = shapely.box(*bounds)
    share = (own.intersection(extent).area / own.area).to_numpy()
    part = share < RASTER_COVER_SHARE
    if not part.any():
        return []
    ids = communities["community_id"].to_numpy()
    worst = np.flatnonzero(part)[np.argsort(share[part], kind="stable")][:5]
    shown = [Message("share_inside", {"id": ids[i], "share": f"{share[i]:.0%}"}) for i in worst]
    return [
        Message(
            "raster_cover",
            {"count": int(part.sum()), "total": len(communities), "listed": shown},
        )
    ]
