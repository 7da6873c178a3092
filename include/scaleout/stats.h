/* Statistics (src/core/stats.c). Being written: see the core-stats work. */
#ifndef SCALEOUT_STATS_H
#define SCALEOUT_STATS_H
#endif
