/*
 * Chapter 4 demo, shared between its files: the bucketing-and-overlap study (overlap.c), which
 * main.c runs as part (f), or alone with `scaleout demo ch04 --overlap`.
 */
#ifndef SO_DEMO_CH04_H
#define SO_DEMO_CH04_H

#include "scaleout/so.h"

enum { CH04_MAX_LPB = 16 };

typedef struct ch04_overlap_cfg {
    int layers;            /* L */
    size_t grad;           /* G bytes per layer; 0 = sized so one layer's all-reduce takes
                              the book's 0.76 of a layer's backward */
    double compute_ms;     /* C, backward time of one layer */
    int lpb[CH04_MAX_LPB]; /* layers per bucket to try */
    int nlpb;
    int reps;          /* steps per (bucket size, mode); the median is kept */
    const char *plot;  /* PNG of hidden fraction vs bucket size, or NULL */
    const char *trace; /* Chrome-trace JSON of the last step of each run, or NULL */
} ch04_overlap_cfg;

/* What the study found, for the demo's last line. */
typedef struct ch04_overlap_result {
    int wrong;           /* gradient elements that differ from the expected average */
    double hidden_best;  /* measured hidden fraction at the smallest bucket */
    double speedup_best; /* no-overlap / overlap step time, best over bucket sizes */
    int lpb_best;
} ch04_overlap_result;

/* Fills cfg for quick or full runs; flags may then override fields. */
void ch04_overlap_defaults(ch04_overlap_cfg *cfg, int quick);
/* Collective over c: the study, printed by rank 0. Returns 0, or nonzero if a call failed. */
int ch04_overlap_run(so_comm *c, const ch04_overlap_cfg *cfg, ch04_overlap_result *out);

/* Collective over c: parts (g) and (h) (contract.c), printed by rank 0; *ok = 1 if every check
 * held (the same on every rank). */
int ch04_contract_run(so_comm *c, uint64_t seed, int *ok);

#endif
