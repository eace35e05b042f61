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

__all__ = ["hub_offline", "hub_request", "offline_by_env", "ensure_offline_if_unreachable",
           "disable_transformer_lens_installs"]

log = logging.getLogger(__name__)
HUB_TIMEOUT = 3.0  # seconds: one question to the hub, never the libraries' minutes of retries


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_request(path: str, timeout: float = HUB_TIMEOUT, token: bool = False) -> tuple[int, object] | str:
    """Ask the hub's API once (``GET {endpoint}{path}``, short timeout, no retries): ``(HTTP status,
    the JSON answer or None when the body is not JSON)``, or why no answer came (a string).

    ``token``: send the user's hub token (for gated or private repositories).
    """
    headers = {}
    if token:
        from huggingface_hub import get_token

        found = get_token()
        headers = {"Authorization": f"Bearer {found}"} if found else {}
    base = hub_endpoint()
    request = urllib.request.Request(f"{base}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(1 << 16)
    except (OSError, ValueError) as exc:
        return f"the Hugging Face hub ({base}) cannot be reached ({exc})"
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


@functools.lru_cache(maxsize=1)
def _hub_reachable(timeout: float = HUB_TIMEOUT) -> bool:
    """Only a JSON list from the hub's model API counts (a proxy accepting any connection, or
    answering with its own page, does not)."""
    answer = hub_request("/api/models?limit=1", timeout)
    return not isinstance(answer, str) and answer[0] == 200 and isinstance(answer[1], list)


def offline_by_env() -> bool:
    """Whether offline mode is set in the environment (HF_HUB_OFFLINE, HF_DATASETS_OFFLINE or TRANSFORMERS_OFFLINE)."""
    return any(_env_true(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


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
