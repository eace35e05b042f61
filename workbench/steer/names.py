"""The names a steering setting may take, kept apart from the code that uses them so that settings are
checked without importing torch: the spans steering acts on (:mod:`workbench.steer.spans`) and the
definitions of the layer norm that scales alpha (:data:`workbench.steer.directions.NORMS`)."""

__all__ = ["POSITIONS", "NORM_DEFINITIONS"]

# every position, the last, the generated tokens, the assistant's turn
POSITIONS = ("all", "last", "generated", "assistant")

# --norm name -> what it is; the definition is recorded with every steering result
NORM_DEFINITIONS = {
    "token-mean": "mean per-token resid_post norm at the layer over the run's story tokens from the offset "
                  "(BOS and padding excluded)",
    "text-mean": "mean over the run's texts of the norm of their mean resid_post at the layer",
}
