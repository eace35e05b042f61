"""A collect killed with SIGKILL mid-run and started again gives bit-identical means."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from workbench.collect import StoryActivations

pytestmark = pytest.mark.slow  # four fresh interpreters

SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import torch
    from tiny import tiny_tokenizer, tiny_model
    from workbench.collect import collect
    from workbench.models import adapter_from_hf

    tok = tiny_tokenizer()
    adapter = adapter_from_hf(tiny_model("llama", len(tok)), tok, name="tiny-llama")
    words = "the old man and the child opened the door of the house at night".split()
    gen = torch.Generator().manual_seed(0)
    texts = [" ".join(words[int(j)] for j in torch.randint(0, len(words), (10 + i % 17,), generator=gen))
             for i in range(40)]
    slow = float(sys.argv[2])
    if slow:
        run = type(adapter).run_blocks
        def delayed(self, *a, **k):
            run(self, *a, **k)
            time.sleep(slow)
        type(adapter).run_blocks = delayed
    acts = collect(adapter, texts, token_offset=3, max_tokens_per_batch=60, checkpoint_every=1,
                   out=sys.argv[1], progress=False)
    print("resumed_at", acts.info["resumed_at_batch"])
""")


def _run(script, out, slow, **kw):
    return subprocess.Popen([sys.executable, str(script), str(out), str(slow)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "run_collect.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    reference = _run(script, tmp_path / "reference", 0)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    killed_at = []
    for wait_for in (2, 6):  # kill twice, at different points
        proc = _run(script, tmp_path / "resumed", 0.3)
        state = tmp_path / "resumed" / ".partial" / "state.json"
        deadline = time.time() + 240
        while time.time() < deadline:
            if state.is_file() and f'"batches_done": {wait_for}' in state.read_text() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at.append(wait_for)
        assert not (tmp_path / "resumed" / "manifest.json").exists()
    final = _run(script, tmp_path / "resumed", 0)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    resumed_at = int(out.split()[-1])
    assert resumed_at >= 6
    a = StoryActivations.load(tmp_path / "reference")
    b = StoryActivations.load(tmp_path / "resumed")
    assert torch.equal(a.means, b.means) and torch.equal(a.token_norms, b.token_norms)
    assert torch.equal(a.n_tokens, b.n_tokens)
    assert not (tmp_path / "resumed" / ".partial").exists()
