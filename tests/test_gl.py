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


def test_render_threads_split_the_cores_among_workers_unless_the_user_set_them(monkeypatch):
    monkeypatch.delenv("LP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert [gl.render_threads(w) for w in (1, 4, 3, 32)] == ["16", "4", "5", "1"]
    monkeypatch.setenv("LP_NUM_THREADS", "2")
    assert gl.render_threads(4) == "2"
