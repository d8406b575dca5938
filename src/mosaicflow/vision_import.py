"""Import torchvision without loading ``torch._dynamo`` until something compiles.

torchvision's ``ops.roi_align`` imports ``torch._dynamo.utils`` at import time for one check
that runs only when ``roi_align`` is called without torchvision's compiled ops
(``is_compile_supported``). Loading ``torch._dynamo`` costs about a second of CPU in every process
that runs a YOLO model (ultralytics imports torchvision for its NMS) or the restorer
(``deform_conv2d``), and a workflow runs hundreds of such short jobs. :func:`import_torchvision`
imports torchvision with that one name standing for a function that imports the real check on
its first call; ``torch._dynamo`` itself is untouched and loads as usual for whatever needs it
(``torch.compile``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_DYNAMO_UTILS = "torch._dynamo.utils"


def _is_compile_supported(device_type: Any) -> Any:
    """``torch._dynamo.utils.is_compile_supported``, imported on the first call."""
    return importlib.import_module("torch._dynamo.utils").is_compile_supported(device_type)


def import_torchvision() -> types.ModuleType:
    """Import torchvision (once), deferring ``torch._dynamo`` (see the module docstring)."""
    if "torchvision" in sys.modules or "torch._dynamo" in sys.modules:
        import torchvision

        return torchvision
    import torch  # noqa: F401  (torchvision's import needs it loaded)

    stand_in = types.ModuleType(_DYNAMO_UTILS)
    stand_in.is_compile_supported = _is_compile_supported  # type: ignore[attr-defined]
    sys.modules[_DYNAMO_UTILS] = stand_in
    try:
        import torchvision
    finally:
        if sys.modules.get(_DYNAMO_UTILS) is stand_in:
            del sys.modules[_DYNAMO_UTILS]
    return torchvision
