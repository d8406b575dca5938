"""torchvision imported with torch._dynamo deferred: its ops work, and dynamo loads when asked."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from mosaicflow.vision_import import import_torchvision
import torch
tv = import_torchvision()
assert "torch._dynamo" not in sys.modules, "dynamo was loaded at import"
boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]])
assert tv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
x = torch.arange(16.0).reshape(1, 1, 4, 4)
out = tv.ops.roi_align(x, [torch.tensor([[0.0, 0.0, 3.0, 3.0]])], output_size=1, aligned=True)
assert out.shape == (1, 1, 1, 1)
assert "torch._dynamo" not in sys.modules, "dynamo was loaded by the ops"
# the deferred check imports the real one; dynamo itself then works as usual
module = sys.modules["torchvision.ops.roi_align"]
assert module.is_compile_supported("cpu") in (True, False)
import torch._dynamo.utils
assert torch._dynamo.utils.is_compile_supported is not module.is_compile_supported
assert torch.compile(lambda t: t * 2, backend="eager")(torch.ones(2)).tolist() == [2.0, 2.0]
print("ok")
"""


def test_torchvision_works_and_dynamo_loads_only_when_asked():
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_a_process_that_loaded_dynamo_imports_torchvision_as_usual():
    code = (
        "import torch._dynamo, sys\n"
        "from mosaicflow.vision_import import import_torchvision\n"
        "tv = import_torchvision()\n"
        "m = sys.modules['torchvision.ops.roi_align']\n"
        "import torch._dynamo.utils as u\n"
        "assert m.is_compile_supported is u.is_compile_supported\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
