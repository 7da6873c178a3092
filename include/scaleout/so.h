/*
 * scaleout: the system of "Building Scalable AI", in C11. The umbrella header.
 * Layers: core (errors, logs, clocks, rng, stats) -> comm (process group) -> coll (collectives)
 * -> ml and data -> ... ; launch (the `scaleout run` launcher) needs only core.
 */
#ifndef SCALEOUT_SO_H
#define SCALEOUT_SO_H
#include "scaleout/core.h"
#include "scaleout/comm.h"
#include "scaleout/coll.h"
#include "scaleout/model.h"
#include "scaleout/dist.h"
#include "scaleout/harness.h"
#include "scaleout/ckpt.h"
#include "scaleout/data.h"
#include "scaleout/optim.h"
#include "scaleout/parallel.h"
#endif
