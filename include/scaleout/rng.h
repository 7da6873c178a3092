/* Random number generators (src/core/rng.c). Being written: see the core-rng work. */
#ifndef SCALEOUT_RNG_H
#define SCALEOUT_RNG_H
#endif
