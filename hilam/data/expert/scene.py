"""Read-only privileged simulator state for the scripted expert (positions, shapes, contacts)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import mujoco
import numpy as np

_BOX_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
_ROBOT_PREFIXES = ("robot0_", "gripper0_", "mount0_")
_COLLISION_GROUPS = np.array([1, 0, 0, 0, 0, 0], dtype=np.uint8)  # robosuite: collision geoms in group 0


@dataclass(frozen=True)
class Shape:
    """World-frame extent of an object's collision geometry at one instant."""

    lo: np.ndarray  # axis-aligned box corners (3,)
    hi: np.ndarray
    center: np.ndarray  # xy centre of the footprint's principal-axis box
    short_yaw: float  # world yaw of the footprint's narrow horizontal axis
    short: float  # footprint width along `short_yaw`
    long: float  # footprint width across it
    rim_center: np.ndarray  # xy centre of the top 1.5 cm slice (the cup of a mug, without its handle)
    rim_radius: float  # half-width of that slice

    @property
    def height(self) -> float:
        return float(self.hi[2] - self.lo[2])


class Scene:
    """Queries on a LIBERO BDDL domain env by BDDL object / site name."""

    def __init__(self, sim_env):
        self.env = sim_env
        self.robot = sim_env.robots[0]
        self._bodies: dict[str, frozenset[int]] = {}
        self._geoms: dict[str, list[int]] = {}

    @property
    def sim(self):
        return self.env.sim

    @property
    def model(self) -> mujoco.MjModel:
        return self.sim.model._model

    @property
    def data(self) -> mujoco.MjData:
        return self.sim.data._data

    # robot
    def eef_pos(self) -> np.ndarray:
        return np.array(self.sim.data.site_xpos[self.robot.eef_site_id])

    def eef_mat(self) -> np.ndarray:
        return np.array(self.sim.data.site_xmat[self.robot.eef_site_id]).reshape(3, 3)

    def robot_base(self) -> np.ndarray:
        """World position of the arm's base."""
        return np.array(self.sim.data.body_xpos[self.model.body(self.robot.robot_model.root_body).id])

    def gripper_qpos(self) -> np.ndarray:
        return np.array([self.sim.data.qpos[i] for i in self.robot._ref_gripper_joint_pos_indexes])

    def gripper_width(self) -> float:
        """Finger opening in metres (about 0.08 fully open, near 0 closed on nothing)."""
        q = self.gripper_qpos()
        return float(q[0] - q[1])

    # objects, fixtures and sites
    def is_site(self, name: str) -> bool:
        return name in self.env.object_sites_dict

    def pos(self, name: str) -> np.ndarray:
        """World position of an object/fixture body or of a region site."""
        if self.is_site(name):
            return np.array(self.sim.data.get_site_xpos(name))
        return np.array(self.sim.data.body_xpos[self.env.obj_body_id[name]])

    def mat(self, name: str) -> np.ndarray:
        if self.is_site(name):
            return np.array(self.sim.data.get_site_xmat(name)).reshape(3, 3)
        return np.array(self.sim.data.body_xmat[self.env.obj_body_id[name]]).reshape(3, 3)

    def object(self, name: str):
        """The LIBERO object model (class tells the kind: MokaPot, FlatStove, ...)."""
        if self.is_site(name):
            return self.env.object_sites_dict[name]
        return self.env.get_object(name)

    def kind(self, name: str) -> str:
        """LIBERO class name of an object (`AkitaBlackBowl`, `Basket`, ...)."""
        return type(self.object(name)).__name__

    def site_parent(self, name: str) -> str:
        """The object or fixture a region site belongs to (`flat_stove_1` for its cook region)."""
        return self.env.object_states_dict[name].parent_name

    def site_size(self, name: str) -> np.ndarray:
        return np.asarray(self.object(name).size, dtype=float)

    def region_half_extents(self, name: str) -> np.ndarray:
        """World-axis half extents of a region site's box, as LIBERO's `In` test takes them (|mat @ size|):
        a caddy compartment's site is turned so that its size's z is not the vertical one."""
        return np.abs(self.mat(name) @ self.site_size(name))

    def region_long_yaw(self, name: str) -> float:
        """Yaw of a region site's longer horizontal axis (of its three axes, the two least vertical)."""
        axes, size = self.mat(name), self.site_size(name)
        horizontal = np.argsort(np.abs(axes[2]))[:2]
        k = max(horizontal, key=lambda i: size[i])
        return float(np.arctan2(axes[1, k], axes[0, k]))

    def region_offset(self, region: str, point: np.ndarray) -> np.ndarray:
        """`point` in a region site's frame as LIBERO's `On` test computes it (`mat @ (point - pos)`)."""
        return self.mat(region) @ (np.asarray(point, dtype=float) - self.pos(region))

    def region_point(self, region: str, offset: np.ndarray) -> np.ndarray:
        """World point whose `region_offset` is `offset` (the inverse of `region_offset`)."""
        return self.pos(region) + self.mat(region).T @ np.asarray(offset, dtype=float)

    def on_region(self, name: str, region: str) -> bool:
        """Whether object `name`'s origin passes the region's geometric `On` test (LIBERO's
        `SiteObject.under`; the contact with the region's parent is not checked)."""
        site = self.object(region)
        return bool(site.under(self.pos(region), self.mat(region), self.pos(name)))

    def joint_qpos(self, name: str) -> list[float]:
        joints = self.object(name).joints
        return [float(self.sim.data.qpos[self.sim.model.get_joint_qpos_addr(j)]) for j in joints]

    def in_contact(self, a: str, b: str) -> bool:
        return bool(self.env.check_contact(self.env.get_object(a), self.env.get_object(b)))

    # geometry
    @cached_property
    def _robot_bodies(self) -> frozenset[int]:
        m = self.model
        return frozenset(b for b in range(m.nbody) if m.body(b).name.startswith(_ROBOT_PREFIXES))

    def bodies(self, name: str) -> frozenset[int]:
        """Body ids of an object's subtree (its root body and all descendants)."""
        if name not in self._bodies:
            m, root = self.model, self.env.obj_body_id[name]
            out = set()
            for b in range(m.nbody):
                a = b
                while a > 0 and a != root:
                    a = m.body_parentid[a]
                if a == root:
                    out.add(b)
            self._bodies[name] = frozenset(out)
        return self._bodies[name]

    def collision_geoms(self, name: str) -> list[int]:
        if name not in self._geoms:
            m, bodies = self.model, self.bodies(name)
            self._geoms[name] = [g for g in range(m.ngeom)
                                 if m.geom_bodyid[g] in bodies and (m.geom_contype[g] or m.geom_conaffinity[g])]
        return self._geoms[name]

    def vertices(self, name: str) -> np.ndarray:
        """World-frame points spanning the object's collision geometry (mesh vertices, box corners)."""
        m, d = self.model, self.data
        pts = []
        for g in self.collision_geoms(name):
            R, p = d.geom_xmat[g].reshape(3, 3), d.geom_xpos[g]
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                mid = m.geom_dataid[g]
                local = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
            else:
                s = m.geom_size[g]
                half = {mujoco.mjtGeom.mjGEOM_BOX: s, mujoco.mjtGeom.mjGEOM_SPHERE: s[[0, 0, 0]]}.get(
                    m.geom_type[g], s[[0, 0, 1]])  # cylinder / capsule: radius, radius, half-length
                local = _BOX_CORNERS * half
            pts.append(local @ R.T + p)
        return np.concatenate(pts)

    def shape(self, name: str) -> Shape:
        """Current world extent, footprint axes and rim of an object."""
        v = self.vertices(name)
        lo, hi = v.min(0), v.max(0)
        xy = v[:, :2]
        mean = xy.mean(0)
        _, vecs = np.linalg.eigh(np.cov((xy - mean).T))
        proj = (xy - mean) @ vecs  # columns sorted by ascending variance
        width = proj.max(0) - proj.min(0)
        mid = mean + vecs @ ((proj.max(0) + proj.min(0)) / 2)
        i_short = int(np.argmin(width))
        axis = vecs[:, i_short]
        top = v[v[:, 2] > hi[2] - 0.015, :2]
        rim_lo, rim_hi = top.min(0), top.max(0)
        return Shape(lo=lo, hi=hi, center=mid, short_yaw=float(np.arctan2(axis[1], axis[0])),
                     short=float(width[i_short]), long=float(width[1 - i_short]),
                     rim_center=(rim_lo + rim_hi) / 2, rim_radius=float(np.max(rim_hi - rim_lo) / 2))

    def surface_z(self, xy: np.ndarray, radius: float = 0.0, exclude: tuple[str, ...] = (),
                  top: float = 2.0) -> float:
        """Highest collision surface below height `top` over a disc at `xy` (robot and `exclude` ignored)."""
        skip = set(self._robot_bodies)
        for n in exclude:
            skip |= self.bodies(n)
        pts = [np.zeros(2)]
        if radius > 0:
            pts += [radius * np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
            pts += [0.5 * p for p in pts[1:]]
        best = -np.inf
        geom = np.zeros(1, dtype=np.int32)
        down = np.array([0.0, 0.0, -1.0])
        for off in pts:
            z = top
            while True:  # step through skipped bodies until a kept surface (or nothing) is hit
                start = np.array([*(np.asarray(xy) + off), z])
                dist = mujoco.mj_ray(self.model, self.data, start, down, _COLLISION_GROUPS, 1, -1, geom)
                if dist < 0:
                    break
                z -= dist + 1e-4
                if self.model.geom_bodyid[geom[0]] not in skip:
                    best = max(best, z)
                    break
        return float(best)

    def obstructed(self, lo: np.ndarray, hi: np.ndarray, exclude: tuple[str, ...] = ()) -> bool:
        """Whether the world box [lo, hi] meets the bounding box of any collision geom other than the
        robot's, planes and those of the `exclude` objects."""
        m, d = self.model, self.data
        skip = set(self._robot_bodies)
        for n in exclude:
            skip |= self.bodies(n)
        keep = ((m.geom_contype | m.geom_conaffinity) > 0) & (m.geom_type != mujoco.mjtGeom.mjGEOM_PLANE)
        keep &= ~np.isin(m.geom_bodyid, list(skip))
        rot = d.geom_xmat[keep].reshape(-1, 3, 3)
        center = d.geom_xpos[keep] + np.einsum("gij,gj->gi", rot, m.geom_aabb[keep, :3])
        half = np.einsum("gij,gj->gi", np.abs(rot), m.geom_aabb[keep, 3:])
        meets = np.all(center - half < np.asarray(hi), axis=1) & np.all(center + half > np.asarray(lo), axis=1)
        return bool(meets.any())

    # contacts
    def _finger_geoms(self) -> tuple[set[int], set[int]]:
        g = self.robot.gripper.important_geoms
        ids = lambda names: {self.model.geom(n).id for n in names}  # noqa: E731
        return ids(g["left_finger"]), ids(g["right_finger"])

    def grasped(self, name: str) -> bool:
        """Both fingers touch the object."""
        obj = set(self.collision_geoms(name))
        left, right = self._finger_geoms()
        touch_l = touch_r = False
        d = self.data
        for i in range(d.ncon):
            c = d.contact[i]
            pair = {c.geom1, c.geom2}
            if pair & obj:
                touch_l |= bool(pair & left)
                touch_r |= bool(pair & right)
        return touch_l and touch_r

    # goal
    def goal(self) -> list[list[str]]:
        """The BDDL goal as a list of lower-case predicates, e.g. [['on', 'bowl_1', 'plate_1']]."""
        return [[p[0].lower(), *p[1:]] for p in self.env.parsed_problem["goal_state"]]

    def holds(self, predicate: list[str]) -> bool:
        """Whether one goal predicate is true now (the env's own check)."""
        return bool(self.env._eval_predicate(predicate))
