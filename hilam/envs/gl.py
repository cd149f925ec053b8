"""Pick a headless OpenGL backend for MuJoCo once per process: EGL first, then OSMesa."""
from __future__ import annotations

import os
import subprocess
import sys

from hilam.envs.workers import core_share

BACKENDS = ("egl", "osmesa")
_PROBE = (
    "import mujoco;"
    "m=mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>');"
    "r=mujoco.Renderer(m,8,8);d=mujoco.MjData(m);mujoco.mj_forward(m,d);r.update_scene(d);r.render()"
)
INSTALL_HINT = (
    "no headless OpenGL backend renders on this machine. Install one, e.g. as root:\n"
    "  apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri   # EGL (preferred)\n"
    "  apt-get install -y libosmesa6                              # OSMesa (fallback)\n"
    "or set MUJOCO_GL yourself to a backend that works."
)


def _renders(backend: str) -> bool:
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


def select_gl_backend() -> str:
    """Set MUJOCO_GL/PYOPENGL_PLATFORM to a backend that renders (probed in a subprocess) and return it.

    A backend the user already set is kept. The choice is exported, so worker processes inherit it
    without probing again. Raises RuntimeError with install instructions when nothing renders.
    """
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        os.environ.setdefault("PYOPENGL_PLATFORM", chosen)
        return chosen
    for backend in BACKENDS:
        if _renders(backend):
            os.environ["MUJOCO_GL"] = backend
            os.environ["PYOPENGL_PLATFORM"] = backend
            return backend
    raise RuntimeError(INSTALL_HINT)


def render_threads(workers: int) -> str:
    """Mesa llvmpipe threads (LP_NUM_THREADS) for each of `workers` rendering processes: their share of the cores.

    llvmpipe starts one rasteriser thread per core in every process, so N workers on N cores
    oversubscribe the machine (measured: 1.49x instead of 2.08x for 2 workers on 2 cores). Thread count
    does not change the pixels. A value the user set is kept. Workers apply it with `use_render_threads`.
    """
    return os.environ.get("LP_NUM_THREADS") or str(core_share(workers))


def use_render_threads(threads: str) -> None:
    """In a fresh worker process, before any GL context exists."""
    os.environ["LP_NUM_THREADS"] = threads
