"""The logit lens of emotion vectors: the tokens each vector promotes and suppresses, and the own-word share."""

from workbench.lens.head import head_lens
from workbench.lens.own import OwnWordShare, form_token_ids, own_word_share, wilson
from workbench.lens.result import LENS_FILES, LogitLens, vector_logit_lens

__all__ = ["vector_logit_lens", "LogitLens", "OwnWordShare", "head_lens", "form_token_ids", "own_word_share",
           "wilson", "LENS_FILES"]
