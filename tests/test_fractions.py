"""Data fractions are deterministic and nested per task."""
import pytest

from hilam.data.fractions import select_demos

FRACS = (0.1, 0.3, 0.5, 0.8, 1.0)


def test_nested_and_deterministic():
    sel = {f: select_demos("task_a", 50, f, seed=0) for f in FRACS}
    assert [len(sel[f]) for f in FRACS] == [5, 15, 25, 40, 50]
    for small, large in zip(FRACS, FRACS[1:]):
        assert sel[large][: len(sel[small])] == sel[small]
    assert sorted(sel[1.0]) == list(range(50))
    assert select_demos("task_a", 50, 0.3, seed=0) == sel[0.3]


def test_differs_across_tasks_and_seeds():
    a = select_demos("task_a", 50, 0.1)
    assert a != select_demos("task_b", 50, 0.1)
    assert a != select_demos("task_a", 50, 0.1, seed=1)
    assert a != list(range(5))  # a permutation, not the first demos in file order


@pytest.mark.parametrize("frac", [0.0, -0.1, 1.5])
def test_rejects_bad_fraction(frac):
    with pytest.raises(ValueError):
        select_demos("t", 50, frac)


def test_at_least_one_demo():
    assert len(select_demos("t", 5, 0.1)) == 1
