"""How a mosaicflow process ends: without a last garbage collection over what it imported.

At exit Python collects every object its garbage collector tracks: after torch and torchvision
are loaded, over 300,000, and the collection takes half a second to a second of CPU per process
(minutes in a workflow of a few hundred short jobs). Freezing them at exit (:func:`gc.freeze`)
leaves their memory to the operating system instead. Log handlers, temporary folders and worker
processes are closed by their own exit hooks, which still run, and an object nothing refers to
any more is still freed (an unclosed file is flushed). Only objects caught in reference cycles
are not finalised, so code closes the files it writes (``with``, atomic writes).
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_final_collection() -> None:
    """Freeze the garbage collector's objects when this process exits (registered once)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
