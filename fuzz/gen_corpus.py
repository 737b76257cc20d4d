#!/usr/bin/env python3
"""Writes the seed corpus of the `ops` fuzz target to fuzz/corpus/ops/.

Hand-written scenarios (one per drop behaviour and per operation the harness knows) plus
pseudo-random inputs. The byte layout is the decoder's in fuzz/src/harness.rs: an opcode
byte (mod 18), then the operation's parameter bytes.
"""
import os
import random

NEW, LINK, UNLINK, CLONE, DROP = 0, 2, 4, 5, 6
DOWNGRADE, UPGRADE, DROP_WEAK, GET_MUT, MAKE_MUT, TRY_UNWRAP = 8, 9, 10, 11, 12, 13
COLLECT, THRESHOLD, ENABLE, STASH = 14, 15, 16, 17
NOTHING, STASH_B, DEREF, TRY_DEREF, COLLECT_B, ALLOC_DROP, ALLOC_CYCLE, PANIC, BOMB = range(9)


def new(behaviour=None, child=None, parent=None, slot=0):
    """A node with `behaviour`, an edge to root `child`, pushed into root `parent`."""
    b = 0 if behaviour is None else 1 | (behaviour << 1)
    to = 0 if child is None else 1 | (child << 1)
    fr = 0 if parent is None else 1 | (parent << 1)
    return [NEW, b, to, fr, slot]


def cycle(b1, b2):
    """Roots 0 and 1 point to each other; then both roots go, leaving a garbage cycle."""
    return new(b1) + new(b2, child=0) + [LINK, 0, 1, DROP, 0, DROP, 0]


SCENARIOS = {
    "seed-cycle-plain": cycle(None, None) + [COLLECT],
    "seed-cycle-stash": cycle(STASH_B, STASH_B) + [COLLECT, STASH, 1, 0, 0, STASH, 0, COLLECT],
    "seed-cycle-deref": cycle(DEREF, DEREF) + [COLLECT],
    "seed-cycle-try-deref": cycle(TRY_DEREF, TRY_DEREF) + [COLLECT],
    "seed-cycle-collect": cycle(COLLECT_B, NOTHING) + [COLLECT],
    "seed-cycle-alloc": cycle(ALLOC_DROP, ALLOC_CYCLE) + [COLLECT, COLLECT],
    "seed-cycle-panic": cycle(PANIC, NOTHING) + [COLLECT],
    "seed-cycle-bomb": cycle(BOMB, NOTHING) + [COLLECT],
    "seed-release-behaviours": sum((new(b) + [DROP, 0] for b in range(9)), []),
    "seed-release-chain": new(COLLECT_B) + sum((new(ALLOC_CYCLE, child=0) for _ in range(20)), [])
    + [DROP, 0, COLLECT],
    "seed-weak": cycle(None, None)[:15] + [DOWNGRADE, 0, DOWNGRADE, 1, DROP, 0, DROP, 0, UPGRADE, 0, 0,
                                            DROP, 0, COLLECT, UPGRADE, 1, 0, DROP_WEAK, 0],
    "seed-threshold": [THRESHOLD, 1] + sum((cycle(None, STASH_B) for _ in range(6)), []),
    "seed-disable": [ENABLE, 0, THRESHOLD, 2] + cycle(None, None) + cycle(None, None)
    + [ENABLE, 1] + new() + [COLLECT],
    "seed-get-mut-push-pop": new() + new() + [GET_MUT, 0, 0, 1, GET_MUT, 0, 1, 0, GET_MUT, 0, 6, 0],
    # Root 0 with edges [b, c, a] (ids a < b < c), sorted with a collection in the third
    # comparison (mask 4) and in all of them (0xff); the node is not in the root buffer.
    "seed-get-mut-sort": new() + new() + new(parent=0) + new(parent=0) + [LINK, 0, 1]
    + [DROP, 1, DROP, 1, DROP, 1, GET_MUT, 0, 2, 0, 4, GET_MUT, 0, 3, 1, 0xFF, COLLECT],
    "seed-get-mut-dedup": new() + new() + [LINK, 0, 1, LINK, 0, 1, LINK, 0, 1, DROP, 1]
    + [GET_MUT, 0, 4, 0, 0xFF, GET_MUT, 0, 5, 1, 0xFF, COLLECT],
    "seed-make-mut": new(STASH_B) + new(child=0) + [CLONE, 1, 2, MAKE_MUT, 1, 0, 0, MAKE_MUT, 0, 1, 0,
                                                    DOWNGRADE, 0, MAKE_MUT, 0, 3, 0, COLLECT],
    "seed-try-unwrap": new() + new(DEREF, child=0) + [TRY_UNWRAP, 1, 0, TRY_UNWRAP, 0, 1, DOWNGRADE, 0,
                                                      TRY_UNWRAP, 0, 0, UPGRADE, 0, 0],
    "seed-unlink": cycle(None, None)[:15] + [UNLINK, 0, 0, UNLINK, 1, 0, DROP, 0, DROP, 0, COLLECT],
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "ops")
    os.makedirs(out, exist_ok=True)
    for name, ops in SCENARIOS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(b & 0xFF for b in ops))
    rng = random.Random(20240601)
    for k in range(24):
        n = rng.choice([16, 48, 96, 200, 400, 800])
        data = bytes(rng.randrange(256) for _ in range(n))
        with open(os.path.join(out, f"seed-random-{k:02}"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
