"""CPython's own collector on the `build_*` workloads of `peerbench` (BENCHMARKS.md,
"Generations: CPython on the same builds").

Builds the same structures as `cyclegc_bench::workloads::build_list` and `build_cycles`,
the way user code builds them (each step links a new node from the tail and drops the old
tail's reference), with the collector enabled and disabled, and times the build alone. Also
times a full `gc.collect()` of a 1M-node live list (the cost per examined object).

    python3 benches/python/cpython_build.py [--nodes 1000000] [--rounds 5]

Prints one line per workload: median ns per node with the collector on and off, and the
ratio of the medians. Standard library only.
"""

import argparse
import gc
import statistics
import sys
import time


class Node:
    """A node with two edges and an id, as the benchmark's node."""

    __slots__ = ("next", "prev", "id")

    def __init__(self, i):
        self.next = None
        self.prev = None
        self.id = i


def build_list(n, doubly):
    head = Node(0)
    tail = head
    for i in range(1, n):
        node = Node(i)
        if doubly:
            node.prev = tail
        tail.next = node
        tail = node
    return head


def build_cycles(n):
    owners = []
    for i in range(n):
        a = Node(2 * i)
        b = Node(2 * i + 1)
        a.next = b
        b.prev = a
        owners.append(a)
    return owners


def timed_build(build, enabled):
    """ns for one build, with the collector `enabled` or not; the structure is then freed
    with the collector on, untimed."""
    gc.enable()
    gc.collect()
    if not enabled:
        gc.disable()
    start = time.perf_counter_ns()
    kept = build()
    elapsed = time.perf_counter_ns() - start
    gc.enable()
    del kept
    gc.collect()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.nodes
    print(f"# {sys.implementation.name} {sys.version.split()[0]}, thresholds {gc.get_threshold()}")
    workloads = [
        ("build_list", n, lambda: build_list(n, False)),
        ("build_dlist", n, lambda: build_list(n, True)),
        ("build_cycles", n // 5, lambda: build_cycles(n // 10)),
    ]
    for name, nodes, build in workloads:
        on, off = [], []
        # Alternated, so that a busy moment hits both.
        for _ in range(args.rounds):
            off.append(timed_build(build, False) / nodes)
            on.append(timed_build(build, True) / nodes)
        on_ns, off_ns = statistics.median(on), statistics.median(off)
        print(f"{name}: on {on_ns:.1f} ns/node, off {off_ns:.1f} ns/node, on/off {on_ns / off_ns:.2f}")

    gc.disable()
    kept = build_list(n, False)
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter_ns()
        gc.collect()
        times.append(time.perf_counter_ns() - start)
    gc.enable()
    del kept
    print(f"full gc.collect() of a {n}-node live list: {statistics.median(times) / n:.1f} ns/object")


if __name__ == "__main__":
    main()
