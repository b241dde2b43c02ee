"""Model surgery: a stock Piper graph cut into encoder, flow and decoder.

``graph_cut`` finds the cut by graph structure (and folds the encoder's
layer norms, ``layer_norm_fusion``); ``verify`` checks it against the
whole graph and measures each part's receptive field; ``cache`` does it
once per voice and keeps the result on disk. Running a cut voice is
``voices/piper.py``'s business, not this package's.
"""

from .cache import CUT_FORMAT, load_or_cut
from .graph_cut import DP_NOISE_INPUT, CutError, CutInfo

__all__ = ["CUT_FORMAT", "DP_NOISE_INPUT", "CutError", "CutInfo", "load_or_cut"]
