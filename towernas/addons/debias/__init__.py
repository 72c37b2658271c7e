"""Debiasing add-ons: IPS, RelMF, UBPR (propensity weighting), PDA, MACR, DICE (causal adjustments)."""
