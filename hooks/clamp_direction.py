"""Set the block output's projection on ``direction`` to ``scale`` at every position."""


def make_hook(direction, scale):
    unit = direction / direction.norm()

    def hook(hidden):
        u = unit.to(dtype=hidden.dtype, device=hidden.device)
        return hidden + (scale - hidden @ u).unsqueeze(-1) * u

    return hook
