"""GL backend selection: a working backend is found, and none gives one clear, actionable error."""
import pytest

from hilam.envs import gl


def test_keeps_a_backend_the_user_set(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert gl.select_gl_backend() == "osmesa"


def test_probe_finds_a_renderer(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    assert gl.select_gl_backend() in gl.BACKENDS


def test_no_backend_raises_with_install_hint(monkeypatch):
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(gl, "BACKENDS", ("no-such-backend",))
    with pytest.raises(RuntimeError, match="apt-get install"):
        gl.select_gl_backend()
