"""End-effector pose conversions: robosuite (x, y, z, w) quaternions to the continuous 6D rotation
representation (Zhou et al. 2019, the first two columns of the rotation matrix) and back, and the
angle between rotations, used to report tokenizer error in degrees."""
from __future__ import annotations

import numpy as np
import torch


def quat_xyzw_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (x, y, z, w) -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_rot6d(m: np.ndarray | torch.Tensor):
    """(..., 3, 3) -> (..., 6): the first two columns, column-major (continuous, unlike quaternions)."""
    return torch.cat([m[..., :, 0], m[..., :, 1]], -1) if isinstance(m, torch.Tensor) else \
        np.concatenate([m[..., :, 0], m[..., :, 1]], -1)


def rot6d_to_matrix(r: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt, so any decoder output maps to a valid rotation."""
    a, b = r[..., :3], r[..., 3:]
    c0 = torch.nn.functional.normalize(a, dim=-1)
    c1 = torch.nn.functional.normalize(b - (c0 * b).sum(-1, keepdim=True) * c0, dim=-1)
    return torch.stack([c0, c1, torch.cross(c0, c1, dim=-1)], -1)


def rotation_angle_deg(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (degrees) between rotations given as 6D vectors, elementwise over leading dims."""
    m1, m2 = rot6d_to_matrix(r1.double()), rot6d_to_matrix(r2.double())
    cos = ((m1.transpose(-1, -2) @ m2).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))
