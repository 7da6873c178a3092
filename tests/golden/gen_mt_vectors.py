#!/usr/bin/env python3
"""Writes the expected outputs of CPython's `random` module (Mersenne Twister) for several seeds
and every method so_mt ports, one line per (seed, case):

    <seed> <case> <value> <value> ...

Floats are written with repr() (exact round trip), getrandbits values in hex. Every case starts
from a fresh random.seed(seed). tests/unit/test_rng.c replays each case with so_mt and compares
bit for bit; it also re-runs this script (when python3 exists) and diffs with the committed file.

Usage: gen_mt_vectors.py [OUTPUT]   (default: standard output)
"""
import random
import sys

SEEDS = [0, 1, 42, 12345, 2**32 + 7, 340282366920938463463374607431768211297, -987654321]


def cases(r):
    """Yields (name, thunk) pairs; each thunk returns a list of values from a freshly seeded r."""
    yield "random", lambda: [r.random() for _ in range(6)]
    for k in (1, 7, 32, 33, 64, 100):
        yield "getrandbits%d" % k, lambda k=k: ["%x" % r.getrandbits(k) for _ in range(4)]
    yield "randrange_10", lambda: [r.randrange(10) for _ in range(8)]
    yield "randrange_3_1000_7", lambda: [r.randrange(3, 1000, 7) for _ in range(6)]
    yield "randrange_100_-50_-3", lambda: [r.randrange(100, -50, -3) for _ in range(6)]
    yield "randrange_-1000000_1000000", lambda: [r.randrange(-1000000, 1000000) for _ in range(6)]
    yield "randrange_0_2p40", lambda: [r.randrange(0, 2**40) for _ in range(4)]
    yield "randrange_0_2p62p3", lambda: [r.randrange(0, 2**62 + 3) for _ in range(4)]
    yield "randint_50_5000", lambda: [r.randint(50, 5000) for _ in range(6)]
    yield "randint_1_6", lambda: [r.randint(1, 6) for _ in range(10)]
    yield "choice_37", lambda: [r.choice(range(37)) for _ in range(6)]

    def shuffled(n):
        x = list(range(n))
        r.shuffle(x)
        return x

    yield "shuffle_10", lambda: shuffled(10)
    yield "shuffle_100", lambda: shuffled(100)
    yield "sample_100_10", lambda: r.sample(range(100), 10)
    yield "sample_10_8", lambda: r.sample(range(10), 8)
    yield "sample_50_6", lambda: r.sample(range(50), 6)
    yield "sample_5000_40", lambda: r.sample(range(5000), 40)
    yield "uniform_-10_10", lambda: [r.uniform(-10, 10) for _ in range(6)]
    yield "gauss_0_1", lambda: [r.gauss(0.0, 1.0) for _ in range(7)]
    yield "gauss_5_2", lambda: [r.gauss(5.0, 2.0) for _ in range(3)]
    yield "normalvariate_0_1", lambda: [r.normalvariate(0.0, 1.0) for _ in range(6)]
    yield "normalvariate_40_3", lambda: [r.normalvariate(40.0, 3.0) for _ in range(3)]
    yield "expovariate_0.5", lambda: [r.expovariate(0.5) for _ in range(6)]
    yield "expovariate_800", lambda: [r.expovariate(800.0) for _ in range(3)]

    def mixed():
        out = [r.random(), r.gauss(0.0, 1.0), r.randint(1, 100), r.gauss(0.0, 1.0)]
        out += [r.gauss(0.0, 1.0), r.uniform(2.0, 3.0), r.choice(range(5))]
        return out

    yield "mixed", mixed


def fmt(v):
    return repr(v) if isinstance(v, float) else str(v)


def main():
    lines = []
    r = random.Random()
    for seed in SEEDS:
        for name, thunk in cases(r):
            r.seed(seed)
            lines.append("%d %s %s" % (seed, name, " ".join(fmt(v) for v in thunk())))
    text = "\n".join(lines) + "\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
