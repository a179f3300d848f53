"""`attnlab evidence scaling --quick`: the 1/√d_k experiment runs, draws its figures and shows saturation."""

import json

from attnlab.evidence import run_experiment


def test_scaling_quick(tmp_path):
    record = run_experiment("scaling", quick=True, out=tmp_path)
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert (tmp_path / "scaling-gradient.png").stat().st_size > 0
    json.loads((tmp_path / "scaling.json").read_text())  # plain JSON: no NaN / inf
    scaled, unscaled = (record["numbers"]["results"][k] for k in ("scaled (1/√d_k)", "unscaled"))
    # Scaled logits keep unit spread; unscaled ones grow like √d_k (32 at d_k = 1024).
    assert all(0.8 < r["logit_std"] < 1.2 for r in scaled)
    assert unscaled[-1]["logit_std"] > 20
    # Entropy: flat with the scale, collapsing without it at large d_k.
    entropies = [r["entropy"] for r in scaled]
    assert max(entropies) - min(entropies) < 0.2
    assert unscaled[-1]["entropy"] < 0.25 * scaled[-1]["entropy"]
    assert unscaled[-1]["saturated_share"] > 0.5 > scaled[-1]["saturated_share"]
    # The typical unscaled row passes (almost) no gradient back through the softmax.
    assert unscaled[-1]["softmax_jacobian_median"] < 0.01 * scaled[-1]["softmax_jacobian_median"]
    assert "d_k=1024" in record["reading"]
