"""Success rates on LIBERO as published in the HiLAM paper's Tables 1-2 (arXiv 2603.05815; its BAKU rows), in [0, 1]. Shown beside ours in
clearly labelled columns, never mixed into our cells. Their demos are human teleoperation (ours are
scripted), 50 eval episodes per task and full-size models: compare trends, not absolute values."""

SOURCE = "HiLAM paper (Kim, Pinto, Kim 2026), Tables 1-2"

# suite -> method -> rate, all demos (frac 1.0)
ALL_DEMOS = {
    "libero_spatial": {"baku": 0.89, "hilam": 0.97},
    "libero_object": {"baku": 0.99, "hilam": 1.00},
    "libero_goal": {"baku": 0.95, "hilam": 0.97},
    "libero_10": {"baku": 0.86, "hilam": 0.94},
}

# LIBERO-Long data-efficiency curve: method -> fraction -> rate
LONG_FRACTIONS = {
    "baku": {0.1: 0.23, 0.3: 0.67, 0.5: 0.71, 0.8: 0.86, 1.0: 0.86},
    "hilam": {0.1: 0.45, 0.3: 0.74, 0.5: 0.84, 0.8: 0.87, 1.0: 0.94},
}


def paper_rate(suite: str, method: str, frac: float) -> float | None:
    """The paper's number for a cell, if it reports one."""
    if suite == "libero_10" and method in LONG_FRACTIONS:
        return LONG_FRACTIONS[method].get(round(frac, 2))
    if frac == 1.0:
        return ALL_DEMOS.get(suite, {}).get(method)
    return None
