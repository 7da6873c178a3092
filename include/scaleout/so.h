/*
 * scaleout: the system of "Building Scalable AI", in C11. The umbrella header.
 * Layers: core (errors, logs, clocks, rng, stats, checkpoints) -> comm (process group) -> coll
 * (collectives) -> data, ml, model, infra -> parallel; launch (`scaleout run`) needs core and the
 * store of comm.
 */
#ifndef SCALEOUT_SO_H
#define SCALEOUT_SO_H
#include "scaleout/core.h"
#include "scaleout/ckpt.h"
#include "scaleout/comm.h"
#include "scaleout/coll.h"
#include "scaleout/model.h"
#include "scaleout/dist.h"
#include "scaleout/harness.h"
#include "scaleout/data.h"
#include "scaleout/ml.h"
#include "scaleout/optim.h"
#include "scaleout/parallel.h"
#endif
