"""Add ``scale * unit(direction)`` to the block output at every position (the default steering recipe)."""


def make_hook(direction, scale):
    unit = direction / direction.norm()

    def hook(hidden):
        return hidden + scale * unit.to(dtype=hidden.dtype, device=hidden.device)

    return hook
