"""Remove the component along ``direction`` from the block output (its projection becomes 0)."""


def make_hook(direction, scale=None):
    unit = direction / direction.norm()

    def hook(hidden):
        u = unit.to(dtype=hidden.dtype, device=hidden.device)
        return hidden - (hidden @ u).unsqueeze(-1) * u

    return hook
