"""msm-ingest's own process collects cyclic garbage less often, but still collects it."""

from __future__ import annotations

import subprocess
import sys

# Run in a child: tune_gc freezes and retunes the collector of the whole process.
CHILD = """
import gc, weakref
from msm_ingest.bootstrap import tune_gc

class Node:
    pass

tune_gc()
before = gc.get_stats()[0]["collections"]
a, b = Node(), Node()
a.other, b.other = b, a          # a reference cycle: only the cyclic collector frees it
alive = weakref.ref(a)
del a, b
for _batch in range(30):         # 30 batches of 15,000 rows, each freed by refcount at once
    rows = [{"_id": i, "v": [i]} for i in range(15_000)]
print(gc.get_stats()[0]["collections"] - before, alive() is None)
"""


def test_the_collector_runs_rarely_and_still_frees_reference_cycles() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    collections, freed = int(out[0]), out[1] == "True"
    assert freed, "a reference cycle was never collected"
    # 900,000 container allocations in batches: ~1,300 collections at the default threshold.
    assert 1 <= collections <= 200, collections
