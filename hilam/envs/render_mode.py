"""Render modes: `libero` (LIBERO's rendering, unchanged) and `fast` (a CPU render mode).

On llvmpipe an agentview frame rasterises ~400k mesh faces, so rendering is most of an evaluation step. The fast
mode points every visual-only mesh (used only by geoms that neither collide nor count for inertia) at a decimated
copy made once and cached on disk, and turns off 4x MSAA and reflections. Collision meshes and the physics are
untouched, so states, actions and outcomes are bit-for-bit those of the `libero` mode; only the pixels differ.
The hook is robosuite's `MjSim.from_xml_string`, which receives the final scene XML (absolute mesh paths).
"""
from __future__ import annotations

import hashlib
import os
import warnings
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from hilam.atomic import temp_path

LIBERO, FAST = "libero", "fast"
RENDER_MODES = (LIBERO, FAST)
UNRECORDED = LIBERO  # files and cells from before render modes were rendered by LIBERO's renderer
CACHE_ENV = "HILAM_MESH_CACHE"  # where decimated meshes are cached (default ~/.cache/hilam/meshes)


@dataclass(frozen=True)
class FastRenderConfig:
    """What the fast mode changes; every field is part of a decimated mesh's cache key or the scene settings."""

    keep: float = 0.1  # fraction of a visual mesh's faces kept
    min_faces: int = 2000  # meshes with fewer faces are left alone (they cost little)
    aggressiveness: float = 7.0  # fast-simplification's `agg` (its default): higher is faster and coarser
    offsamples: int = 0  # MSAA samples of the offscreen buffer (LIBERO: MuJoCo's default 4)
    reflections: bool = False  # the reflective table/floor pass (it redraws the scene: ~2x in stove scenes)

    def key(self) -> str:
        """The part of a cached mesh's name that depends on the reduction."""
        return f"keep{self.keep:g}-min{self.min_faces}-agg{self.aggressiveness:g}-v{MESH_FORMAT}"


MESH_FORMAT = 3  # bump when the decimation code changes what it writes: old cache entries are then ignored
FAST_RENDER = FastRenderConfig()


def check_render_mode(mode: str) -> str:
    """`mode` if it is a known render mode, else a ValueError naming the known ones."""
    if mode not in RENDER_MODES:
        raise ValueError(f"unknown render mode {mode!r}; known: {', '.join(RENDER_MODES)}")
    return mode


def recorded_mode(attrs: dict) -> str:
    """The render mode a file's attributes record; files without one (official, older) were rendered by LIBERO."""
    value = attrs.get("render_mode", UNRECORDED)
    return value.decode() if isinstance(value, bytes) else str(value)


class RenderModeMismatch(ValueError):
    """Demos drawn in one render mode, evaluation in another."""


def check_mode_mix(demo_modes: set[str], eval_mode: str, allow: bool = False) -> None:
    """Refuse a policy trained on frames of one render mode and evaluated in another (its inputs would change
    under it), naming both, unless `allow` (--allow-mode-mix; the cell then records both)."""
    other = sorted(demo_modes - {eval_mode})
    if other and not allow:
        raise RenderModeMismatch(
            f"the demos were rendered in render mode {' and '.join(map(repr, other))} but the evaluation renders in "
            f"{eval_mode!r}: the policy would be evaluated on other pixels than it trained on. Official files count as "
            f"'{UNRECORDED}'; use a profile of that mode (paper: libero), or pass --allow-mode-mix to run it anyway")


def mesh_cache_dir() -> Path:
    """The decimated-mesh cache: $HILAM_MESH_CACHE, else ~/.cache/hilam/meshes."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hilam" / "meshes")


# ---------------------------------------------------------------------------------------------- meshes
@dataclass
class Mesh:
    """A triangle mesh in its file's frame, unscaled: vertices (N, 3), faces (M, 3), per-vertex uv (N, 2) or None."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Any mesh file MuJoCo reads (msh, stl, obj), as MuJoCo reads it (its texture-coordinate conventions included),
    with one vertex per distinct (position, uv) of the face corners: LIBERO's meshes are triangle soups, and a
    simplifier needs shared vertices; a texture seam (same position, other uv) stays a seam.

    MuJoCo moves a mesh to its inertial frame on loading and puts that frame into the geom's pose; undoing it gives
    the file's frame, so the decimated copy can take the original's place with the same `scale` and pose.
    """
    import mujoco

    xml = (f'<mujoco><asset><mesh name="m" file="{Path(path).resolve()}"/></asset>'
           f'<worldbody><geom type="mesh" mesh="m"/></worldbody></mujoco>')
    m = mujoco.MjModel.from_xml_string(xml)
    rot = np.zeros(9)
    mujoco.mju_quat2Mat(rot, m.geom_quat[0])
    verts = m.mesh_vert[:m.mesh_vertnum[0]].astype(np.float64) @ rot.reshape(3, 3).T + m.geom_pos[0]
    corners = verts[m.mesh_face[:m.mesh_facenum[0]].ravel()]
    corner_uv = None
    if m.mesh_texcoordnum[0]:
        uv = m.mesh_texcoord[:m.mesh_texcoordnum[0]].astype(np.float64)
        corner_uv = uv[m.mesh_facetexcoord[:m.mesh_facenum[0]].ravel()]
    key = corners if corner_uv is None else np.concatenate([corners, corner_uv], axis=1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return Mesh(corners[first], inverse.reshape(-1, 3).astype(np.int32), None if corner_uv is None else corner_uv[first])


def decimate(mesh: Mesh, cfg: FastRenderConfig = FAST_RENDER) -> Mesh:
    """The mesh with about `cfg.keep` of its faces (fast-simplification's quadric edge collapse).

    Open borders, texture seams among them, are kept (no cracks), and each merged vertex is put on the original
    vertex nearest to where the simplifier placed it, with that vertex's uv: the decimated mesh is a subset of the
    original's vertices, so textures stay where they were.
    """
    import fast_simplification

    _, _, collapses = fast_simplification.simplify(mesh.vertices, mesh.faces, target_reduction=1 - cfg.keep,
                                                   agg=cfg.aggressiveness, return_collapses=True, preserve_border=True)
    placed, _, merged_into = fast_simplification.replay_simplification(mesh.vertices, mesh.faces, collapses)
    dist = np.linalg.norm(mesh.vertices - placed[merged_into], axis=1)
    order = np.lexsort((dist, merged_into))  # by new vertex, nearest original first
    new, first = np.unique(merged_into[order], return_index=True)
    nearest = np.zeros(len(placed), np.int64)
    nearest[new] = order[first]
    faces = merged_into[mesh.faces]
    kept = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return Mesh(mesh.vertices[nearest], faces[kept].astype(np.int32), None if mesh.uv is None else mesh.uv[nearest])


def write_msh(path: str | os.PathLike, mesh: Mesh) -> None:
    """MuJoCo's binary .msh (counts of vertices, normals, uv, faces; then the arrays), atomically. No normals:
    MuJoCo computes its own, as it does for LIBERO's meshes that carry none."""
    n_uv = 0 if mesh.uv is None else len(mesh.uv)
    parts = [np.array([len(mesh.vertices), 0, n_uv, len(mesh.faces)], np.int32), mesh.vertices.astype(np.float32)]
    parts += [] if mesh.uv is None else [mesh.uv.astype(np.float32)]
    parts.append(mesh.faces.astype(np.int32))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_bytes(b"".join(p.tobytes() for p in parts))
    os.replace(tmp, path)


_digests: dict[tuple, str] = {}


def _digest(path: Path) -> str:
    """sha256 of a file's content (memoised per process by path, size and mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    return _digests[key]


def decimated_mesh(source: str | os.PathLike, cfg: FastRenderConfig = FAST_RENDER,
                   cache: Path | None = None) -> Path | None:
    """The cached decimated copy of a mesh file (made if missing), or None for a mesh left as it is (too few
    faces). Keyed by the source's content hash and the reduction, so an edited mesh or another reduction gets
    its own entry; a small marker file remembers a mesh left alone, so it is read only once."""
    source = Path(source)
    base = (cache or mesh_cache_dir()) / f"{source.stem}-{_digest(source)}-{cfg.key()}"
    out, small = Path(f"{base}.msh"), Path(f"{base}.small")
    if out.exists():
        return out
    if small.exists():
        return None
    mesh = read_mesh(source)
    if len(mesh.faces) < cfg.min_faces:
        small.parent.mkdir(parents=True, exist_ok=True)
        small.touch()
        return None
    write_msh(out, decimate(mesh, cfg))
    return out


# ---------------------------------------------------------------------------------------------- scene XML
def visual_only_meshes(root: ET.Element) -> set[str]:
    """Names of the meshes whose every user is a geom that cannot touch the physics: contype and conaffinity
    explicitly 0 and a group outside the compiler's inertiagrouprange. Anything else that names a mesh (a geom
    relying on a default class, a default itself) keeps it as it is."""
    compiler = root.find("compiler")
    lo, hi = (int(x) for x in (compiler.get("inertiagrouprange", "0 5") if compiler is not None else "0 5").split())
    in_defaults = {id(el) for d in root.iter("default") for el in d.iter()}
    users: dict[str, list[bool]] = {}
    for el in root.iter():
        name = el.get("mesh")
        if name is None:
            continue
        visual = (el.tag == "geom" and id(el) not in in_defaults and el.get("contype") == "0"
                  and el.get("conaffinity") == "0" and not lo <= int(el.get("group", "0")) <= hi)
        users.setdefault(name, []).append(visual)
    return {name for name, flags in users.items() if all(flags)}


def fast_xml(xml: str, cfg: FastRenderConfig = FAST_RENDER, cache: Path | None = None) -> str:
    """The scene XML with visual-only meshes pointed at their decimated copies and MSAA set to `cfg.offsamples`."""
    root = ET.fromstring(xml)
    visual = visual_only_meshes(root)
    for asset in root.iter("asset"):
        for mesh in asset.iter("mesh"):
            file = mesh.get("file")
            if mesh.get("name") not in visual or not file or not Path(file).is_absolute():
                continue
            try:
                copy = decimated_mesh(file, cfg, cache)
            except Exception as e:  # noqa: BLE001 (a mesh we cannot decimate is drawn as it is)
                warnings.warn(f"fast render mode: {file} kept as it is ({type(e).__name__}: {e})", stacklevel=2)
                continue
            if copy is not None:
                mesh.set("file", str(copy))
    visual_el = root.find("visual")
    if visual_el is None:
        visual_el = ET.SubElement(root, "visual")
    quality = visual_el.find("quality")
    if quality is None:
        quality = ET.SubElement(visual_el, "quality")
    quality.set("offsamples", str(cfg.offsamples))
    return ET.tostring(root, encoding="unicode")


@contextmanager
def scene_hook(mode: str, cfg: FastRenderConfig = FAST_RENDER) -> Iterator[None]:
    """While active, robosuite builds its simulators from the `mode` version of their XML (`libero`: as is)."""
    check_render_mode(mode)
    if mode == LIBERO:
        yield
        return
    from robosuite.utils.binding_utils import MjSim

    original = MjSim.__dict__["from_xml_string"]
    MjSim.from_xml_string = classmethod(lambda cls, xml: original.__func__(cls, fast_xml(xml, cfg)))
    try:
        yield
    finally:
        MjSim.from_xml_string = original


def apply_scene_flags(sim, mode: str, cfg: FastRenderConfig = FAST_RENDER) -> None:
    """Per-context settings of the mode (reflections) on robosuite's offscreen render context, if it has one."""
    import mujoco

    ctx = getattr(sim, "_render_context_offscreen", None)
    if mode == FAST and ctx is not None:
        ctx.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = int(cfg.reflections)


def describe(mode: str) -> dict:
    """What a mode is, for results and benchmark records."""
    return {"mode": check_render_mode(mode)} | (asdict(FAST_RENDER) if mode == FAST else {})
