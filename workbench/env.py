"""Process-level guards: offline mode when no hub is reachable, and no surprise installs.

Called by :func:`workbench.load_model` and :func:`workbench.load_corpus` before
anything touches a hub. Nothing here runs at import time.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import urllib.error
import urllib.request

__all__ = ["hub_offline", "ensure_offline_if_unreachable", "disable_transformer_lens_installs"]

log = logging.getLogger(__name__)
HUB_TIMEOUT = 3.0  # seconds: one question to the hub, never the libraries' minutes of retries


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


@functools.lru_cache(maxsize=1)
def _hub_reachable(timeout: float = HUB_TIMEOUT) -> bool:
    """One HTTP request; only a JSON answer from the hub's API counts (a proxy accepting any
    connection, or answering with its own page, does not)."""
    url = f"{hub_endpoint()}/api/models?limit=1"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(1 << 16)
            status = response.status
    except (OSError, ValueError):
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return status == 200 and isinstance(answer, list)


def hub_offline() -> bool:
    """True when hub access is off, by setting (HF_HUB_OFFLINE) or because no hub answers."""
    import huggingface_hub.constants as hub_constants

    return bool(hub_constants.HF_HUB_OFFLINE) or _env_true("HF_HUB_OFFLINE") or not _hub_reachable()


def ensure_offline_if_unreachable() -> bool:
    """Switch the hub libraries to offline mode when no hub is reachable (no retries, no waits).

    Returns whether the process is now offline.
    """
    offline = hub_offline()
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True
    return offline


def disable_transformer_lens_installs() -> None:
    """TransformerLens may ``pip install torchvision`` while booting multimodal models: never."""
    try:
        from transformer_lens.model_bridge.sources.transformers import helpers
    except ImportError:  # pragma: no cover - older TransformerLens
        return
    helpers._ensure_torchvision = lambda: False
