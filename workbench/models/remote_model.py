"""``RemoteModel``: a hub model built on the meta device (no local weights) for traces that run on NDIF."""

from __future__ import annotations

from workbench.errors import InputError, OfflineError, SettingError
from workbench.models.adapter import ModelAdapter
from workbench.models.backend_nnsight import NNsightAdapter
from workbench.models.spec import ModelSpec

__all__ = ["RemoteModel", "load_remote_model"]


class RemoteModel(NNsightAdapter):
    """An nnsight model whose weights live on NDIF: its structure and tokenizer only.

    It runs nothing here: collect and steering send its traces with ``remote=True``.
    """

    def __init__(self, native, spec: ModelSpec):
        ModelAdapter.__init__(self, native._module, native.tokenizer, spec)
        self._model = native
        envoy = native
        for part in spec.block_path.split("."):
            envoy = getattr(envoy, part)
        self._blocks = envoy

    def _refuse(self, *args, **kwargs):
        raise InputError(f"{self.name} was built on the meta device for NDIF: it has no local weights to run "
                         "(use remote=True, or load it with wb.load_model to run it here)")

    run_blocks = generate = logits = _refuse


def load_remote_model(name: str, revision: str | None = None, block_path: str | None = None) -> RemoteModel:
    """The model ``name`` (an alias or HF id of a hub model) on the meta device, with its tokenizer."""
    from workbench.models.blocks import find_block_path
    from workbench.models.hf import resolve

    resolved = resolve(name)
    if resolved.source != "hub":
        raise SettingError(f"remote runs on NDIF, which hosts Hugging Face hub models; {name!r} is a "
                           f"{resolved.source} model. Use 'local' to simulate the remote run here", "remote")
    from nnsight.modeling.transformers import TransformersModel

    try:
        native = TransformersModel(resolved.location, revision=revision, task="text-generation")
    except OSError as exc:
        raise OfflineError(f"cannot read the config and tokenizer of {resolved.location!r} ({exc}); they are "
                           "needed to build the model's structure here (its weights stay on NDIF)") from None
    module = native._module
    n_layers = int(module.config.get_text_config().num_hidden_layers)
    spec = ModelSpec(name=name, source="hub", location=resolved.location, revision=revision, dtype="server",
                     backend="nnsight", device="ndif", architecture=type(module).__name__,
                     block_path=find_block_path(module, n_layers, block_path))
    return RemoteModel(native, spec)
