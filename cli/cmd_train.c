/*
 * `scaleout train`: trains the library's models on the bundled data and reports held-out quality.
 *
 *   scaleout train gpt    --data fortunes ...   (cli/cmd_train_gpt.c)
 *   scaleout train mlp    --data digits|breast-cancer|iris|wine|diabetes [--hidden 64 ...]
 *   scaleout train logreg --data breast-cancer|iris|wine|digits
 *   scaleout train linreg --data diabetes
 *
 * The tabular trainers split the data deterministically (--test-frac, --seed), standardize the
 * features on the training split only (sklearn's StandardScaler semantics), run mini-batch epochs
 * over a seeded shuffle with the chosen optimizer, and report test accuracy (classification) or
 * R^2 and MSE in the target's units (regression; targets are standardized for training). logreg on
 * a multi-class dataset is multinomial (softmax) regression, an MLP without hidden layers.
 * Also here: the small flag parser every train subcommand uses.
 */
#include <math.h>
#include <string.h>

#include "scaleout/data.h"
#include "scaleout/ml.h"
#include "scaleout/optim.h"
#include "train.h"

/* ---- shared helpers ---- */

static void print_flags(FILE *f, const so_train_flag *flags, int n) {
    for (int i = 0; i < n; i++) {
        char lhs[64];
        const so_train_flag *fl = &flags[i];
        snprintf(lhs, sizeof lhs, "--%s%s", fl->name,
                 fl->kind == SO_TF_BOOL  ? ""
                 : fl->kind == SO_TF_STR ? " S"
                                         : " N");
        char dflt[64] = "";
        switch (fl->kind) {
        case SO_TF_INT:
            snprintf(dflt, sizeof dflt, "[%d]", *(int *)fl->dst);
            break;
        case SO_TF_DBL:
            snprintf(dflt, sizeof dflt, "[%g]", *(double *)fl->dst);
            break;
        case SO_TF_STR:
            snprintf(dflt, sizeof dflt, "[%s]",
                     *(const char **)fl->dst ? *(const char **)fl->dst : "none");
            break;
        default:
            break;
        }
        fprintf(f, "  %-22s %s %s\n", lhs, fl->help, dflt);
    }
}

int so__train_parse(int argc, char **argv, const so_train_flag *flags, int n,
                    const char *usage_head) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("%s\nflags:\n", usage_head);
            print_flags(stdout, flags, n);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr,
                    "scaleout train %s: unexpected argument '%s'\nhint: flags look like "
                    "--steps 100; see 'scaleout train %s --help'\n",
                    argv[0], a, argv[0]);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const so_train_flag *fl = NULL;
        for (int k = 0; k < n; k++) {
            if (strlen(flags[k].name) == len && !strncmp(flags[k].name, name, len)) {
                fl = &flags[k];
            }
        }
        if (!fl) {
            fprintf(stderr,
                    "scaleout train %s: unknown flag '--%.*s'\nhint: see 'scaleout train "
                    "%s --help' for the flags\n",
                    argv[0], (int)len, name, argv[0]);
            return 2;
        }
        if (fl->kind == SO_TF_BOOL) {
            *(int *)fl->dst = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) {
            fprintf(stderr, "scaleout train %s: flag --%s needs a value\n", argv[0], fl->name);
            return 2;
        }
        char *end = NULL;
        if (fl->kind == SO_TF_INT) {
            long v = strtol(val, &end, 10);
            if (!*val || *end || v < -2147483647L || v > 2147483647L) {
                fprintf(stderr, "scaleout train %s: --%s wants an integer, got '%s'\n", argv[0],
                        fl->name, val);
                return 2;
            }
            *(int *)fl->dst = (int)v;
        } else if (fl->kind == SO_TF_DBL) {
            double v = strtod(val, &end);
            if (!*val || *end || !isfinite(v)) {
                fprintf(stderr, "scaleout train %s: --%s wants a number, got '%s'\n", argv[0],
                        fl->name, val);
                return 2;
            }
            *(double *)fl->dst = v;
        } else {
            *(const char **)fl->dst = val;
        }
    }
    return 0;
}

int so__train_fail(const char *what, int rc, const char *hint) {
    fprintf(stderr, "scaleout train: %s: %s (%s)\n", what,
            so_last_error()[0] ? so_last_error() : so_strerror(rc), so_err_name(rc));
    if (hint) {
        fprintf(stderr, "hint: %s\n", hint);
    }
    return 1;
}

const char *so__train_hms(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, cap, "?");
    } else if (s >= 3600) {
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    } else if (s >= 60) {
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    } else {
        snprintf(buf, cap, "%.1fs", s);
    }
    return buf;
}

/* ---- tabular models ---- */

enum { KIND_MLP = 0, KIND_LOGREG, KIND_LINREG };

typedef struct tab_opts {
    const char *data, *optim, *act;
    int hidden, layers, epochs, batch, seed, quiet;
    double lr, wd, test_frac, momentum;
} tab_opts;

/* The model behind one of the three subcommands, through one small vtable. */
typedef struct tab_model {
    int kind;
    so_mlp *mlp;
    so_logreg *lr;
    so_linreg *lin;
} tab_model;

static const so_param_set *tab_params(const tab_model *m) {
    return m->mlp  ? so_mlp_params(m->mlp)
           : m->lr ? so_logreg_params(m->lr)
                   : so_linreg_params(m->lin);
}

static int tab_forward(tab_model *m, const float *x, const int32_t *labels, const float *targets,
                       int n, float *loss) {
    if (m->mlp) {
        return so_mlp_forward(m->mlp, x, labels, targets, n, loss);
    }
    if (m->lr) {
        return so_logreg_forward(m->lr, x, labels, n, loss);
    }
    return so_linreg_forward(m->lin, x, targets, n, loss);
}

static int tab_backward(tab_model *m) {
    return m->mlp  ? so_mlp_backward(m->mlp)
           : m->lr ? so_logreg_backward(m->lr)
                   : so_linreg_backward(m->lin);
}

static int tab_accuracy(tab_model *m, const so_dataset *ds, double *acc) {
    return m->mlp ? so_mlp_accuracy(m->mlp, ds->X, ds->labels, (int)ds->n, acc)
                  : so_logreg_accuracy(m->lr, ds->X, ds->labels, (int)ds->n, acc);
}

/* Predictions for regression, in chunks of at most batch rows; pred has ds->n floats. */
static int tab_predict(tab_model *m, const so_dataset *ds, int batch, float *pred) {
    for (size_t at = 0; at < ds->n; at += (size_t)batch) {
        int k = (int)(ds->n - at < (size_t)batch ? ds->n - at : (size_t)batch);
        float loss;
        SO_TRY(tab_forward(m, ds->X + at * ds->d, NULL, NULL, k, &loss));
        const float *out = m->mlp ? so_mlp_output(m->mlp) : so_linreg_output(m->lin);
        memcpy(pred + at, out, (size_t)k * sizeof *pred);
    }
    return SO_OK;
}

static void tab_destroy(tab_model *m) {
    so_mlp_destroy(m->mlp);
    so_logreg_destroy(m->lr);
    so_linreg_destroy(m->lin);
}

static int train_tabular(int kind, int argc, char **argv) {
    tab_opts o = {.data = kind == KIND_LINREG   ? "diabetes"
                          : kind == KIND_LOGREG ? "breast-cancer"
                                                : "digits",
                  .optim = "adam",
                  .act = "relu",
                  .hidden = 64,
                  .layers = 1,
                  .epochs = kind == KIND_MLP ? 30 : 50,
                  .batch = 32,
                  .seed = 0,
                  .lr = kind == KIND_MLP ? 0.01 : 0.05,
                  .wd = 0,
                  .test_frac = 0.2,
                  .momentum = 0.9};
    so_train_flag flags[] = {
        {"data", SO_TF_STR, &o.data, "dataset: digits, breast-cancer, iris, wine, diabetes"},
        {"hidden", SO_TF_INT, &o.hidden, "hidden units per layer (mlp)"},
        {"layers", SO_TF_INT, &o.layers, "hidden layers (mlp)"},
        {"act", SO_TF_STR, &o.act, "activation (mlp): relu, tanh, gelu, silu"},
        {"epochs", SO_TF_INT, &o.epochs, "passes over the training split"},
        {"batch", SO_TF_INT, &o.batch, "rows per mini-batch"},
        {"lr", SO_TF_DBL, &o.lr, "learning rate"},
        {"wd", SO_TF_DBL, &o.wd, "weight decay"},
        {"optim", SO_TF_STR, &o.optim, "optimizer: sgd, adam, adamw, adagrad, lars, lamb"},
        {"momentum", SO_TF_DBL, &o.momentum, "momentum (sgd, lars)"},
        {"test-frac", SO_TF_DBL, &o.test_frac, "fraction of rows held out for testing"},
        {"seed", SO_TF_INT, &o.seed, "seed of the split, the shuffles and the initial weights"},
        {"quiet", SO_TF_BOOL, &o.quiet, "print only the result line"},
    };
    const char *heads[] = {
        "usage: scaleout train mlp [flags]\n\nTrains a multi-layer perceptron on a scikit-learn "
        "dataset (python3-sklearn's CSVs)\nand reports test accuracy, or R^2 and MSE for diabetes "
        "(regression).\nexample: scaleout train mlp --data digits --hidden 64 --epochs 30",
        "usage: scaleout train logreg [flags]\n\nTrains logistic regression (binary; multinomial "
        "for iris, wine, digits) and reports\ntest accuracy.\nexample: scaleout train logreg "
        "--data breast-cancer",
        "usage: scaleout train linreg [flags]\n\nTrains linear regression by mini-batch gradient "
        "descent and reports test R^2 and MSE.\nexample: scaleout train linreg --data diabetes",
    };
    int nflags = (int)(sizeof flags / sizeof flags[0]);
    if (kind != KIND_MLP) {
        /* hidden, layers and act are MLP-only: drop them from the table. */
        memmove(&flags[1], &flags[4], (size_t)(nflags - 4) * sizeof flags[0]);
        nflags -= 3;
    }
    int prc = so__train_parse(argc, argv, flags, nflags, heads[kind]);
    if (prc) {
        return prc == 1 ? 0 : 2;
    }
    if (o.epochs < 1 || o.batch < 1 || o.hidden < 1 || o.layers < 0 ||
        o.layers > SO_MLP_MAX_LAYERS - 1 || !(o.test_frac > 0 && o.test_frac < 1)) {
        fprintf(stderr,
                "scaleout train %s: --epochs, --batch and --hidden must be >= 1, --layers in "
                "[0, %d], --test-frac in (0, 1)\n",
                argv[0], SO_MLP_MAX_LAYERS - 1);
        return 2;
    }
    so_optim_kind okind;
    if (so_optim_kind_parse(o.optim, &okind) < 0) {
        return so__train_fail("--optim", SO_EINVAL,
                              "use one of sgd, adam, adamw, adagrad, lars, lamb");
    }
    int act = !strcmp(o.act, "relu")   ? SO_ACT_RELU
              : !strcmp(o.act, "tanh") ? SO_ACT_TANH
              : !strcmp(o.act, "gelu") ? SO_ACT_GELU
              : !strcmp(o.act, "silu") ? SO_ACT_SILU
                                       : -1;
    if (act < 0) {
        fprintf(stderr, "scaleout train %s: unknown --act '%s' (relu, tanh, gelu, silu)\n", argv[0],
                o.act);
        return 2;
    }

    so_dataset all, tr, te;
    int rc = so_dataset_load(o.data, &all);
    if (rc < 0) {
        return so__train_fail("loading the data", rc,
                              rc == SO_EINVAL
                                  ? "--data takes digits, breast-cancer, iris, wine or diabetes"
                                  : "install python3-sklearn (scripts/install-deps.sh) "
                                    "or set SO_SKLEARN_DATA_DIR");
    }
    const int regression = all.n_classes == 0;
    if (kind == KIND_LINREG && !regression) {
        fprintf(stderr,
                "scaleout train linreg: %s is a classification dataset\nhint: use "
                "'scaleout train logreg --data %s' or 'scaleout train linreg --data diabetes'\n",
                o.data, o.data);
        so_dataset_deinit(&all);
        return 2;
    }
    if (kind == KIND_LOGREG && regression) {
        fprintf(stderr,
                "scaleout train logreg: %s is a regression dataset\nhint: use 'scaleout "
                "train linreg --data %s' or 'scaleout train mlp --data %s'\n",
                o.data, o.data, o.data);
        so_dataset_deinit(&all);
        return 2;
    }
    SO_CHECK(so_dataset_split(&all, o.test_frac, (uint64_t)o.seed, &tr, &te));
    so_scaler sc;
    SO_CHECK(so_scaler_fit(&sc, &tr));
    so_scaler_apply(&sc, &tr);
    so_scaler_apply(&sc, &te);
    double ymean = 0, ystd = 1;
    if (regression) { /* standardize targets on the training split too */
        for (size_t i = 0; i < tr.n; i++) {
            ymean += tr.targets[i];
        }
        ymean /= (double)tr.n;
        double v = 0;
        for (size_t i = 0; i < tr.n; i++) {
            v += (tr.targets[i] - ymean) * (tr.targets[i] - ymean);
        }
        ystd = sqrt(v / (double)tr.n);
        for (size_t i = 0; i < tr.n; i++) {
            tr.targets[i] = (float)((tr.targets[i] - ymean) / ystd);
        }
    }

    tab_model m = {.kind = kind};
    const char *what = "";
    if (kind == KIND_LINREG) {
        rc = so_linreg_create((int)all.d, o.batch, &m.lin);
        what = "linear regression";
    } else if (kind == KIND_LOGREG && all.n_classes == 2) {
        rc = so_logreg_create((int)all.d, o.batch, &m.lr);
        what = "logistic regression";
    } else {
        so_mlp_config c = {.in_dim = (int)all.d,
                           .out_dim = regression ? 1 : all.n_classes,
                           .act = act,
                           .loss = regression ? SO_LOSS_MSE : SO_LOSS_CE,
                           .max_batch = o.batch};
        c.nhidden = kind == KIND_MLP ? o.layers : 0;
        for (int i = 0; i < c.nhidden; i++) {
            c.hidden[i] = o.hidden;
        }
        rc = so_mlp_create(&c, (uint64_t)o.seed, &m.mlp);
        what = kind == KIND_MLP ? "MLP" : "multinomial logistic regression";
    }
    if (rc < 0) {
        return so__train_fail("creating the model", rc, NULL);
    }
    const so_param_set *ps = tab_params(&m);
    so_optim_config oc;
    so_optim_config_default(okind, &oc);
    oc.lr = (float)o.lr;
    oc.weight_decay = (float)o.wd;
    if (okind == SO_OPTIM_SGD || okind == SO_OPTIM_LARS) {
        oc.momentum = (float)o.momentum;
    }
    so_optim_segment segs[64];
    int nseg = ps->nviews < 64 ? ps->nviews : 64;
    for (int i = 0; i < nseg; i++) {
        segs[i] = (so_optim_segment){.offset = ps->views[i].offset,
                                     .numel = ps->views[i].numel,
                                     .no_decay = ps->views[i].no_decay};
    }
    so_optim *opt;
    SO_CHECK(so_optim_create(&oc, ps->n, segs, (size_t)nseg, &opt));
    if (!o.quiet) {
        printf("train %s: %s, %zu train / %zu test rows, %zu features, %s; %s, %s lr %g wd %g, "
               "%d epochs, batch %d, seed %d\n",
               argv[0], all.name, tr.n, te.n, all.d,
               regression           ? "regression"
               : all.n_classes == 2 ? "2 classes"
                                    : "multi-class",
               what, o.optim, o.lr, o.wd, o.epochs, o.batch, o.seed);
    }

    float *xb = malloc((size_t)o.batch * all.d * sizeof *xb);
    int32_t *lb = malloc((size_t)o.batch * sizeof *lb);
    float *tb = malloc((size_t)o.batch * sizeof *tb);
    so_batcher bt;
    SO_CHECK(so_batcher_init(&bt, tr.n, (size_t)o.batch, (uint64_t)o.seed + 1, 0));
    const double t0 = so_now_s();
    double last_loss = 0;
    for (int ep = 0; ep < o.epochs; ep++) {
        double sum = 0;
        size_t rows = 0;
        while (so_batcher_epoch(&bt) == ep) {
            const size_t *idx;
            size_t k = so_batcher_next(&bt, &idx);
            so_dataset_gather(&tr, idx, k, xb, lb, tb);
            float loss;
            so_param_zero_grad(ps);
            rc = tab_forward(&m, xb, regression ? NULL : lb, regression ? tb : NULL, (int)k, &loss);
            if (rc == SO_OK) {
                rc = tab_backward(&m);
            }
            if (rc < 0) {
                return so__train_fail(
                    "a training step", rc,
                    rc == SO_ENOTSUP ? "this build's ml models are stubs; rebuild with src/ml/nn"
                                     : NULL);
            }
            SO_CHECK(so_optim_step(opt, ps->params, ps->grads));
            sum += (double)loss * (double)k;
            rows += k;
        }
        last_loss = sum / (double)rows;
        if (!o.quiet && (ep == 0 || (ep + 1) % (o.epochs >= 10 ? o.epochs / 10 : 1) == 0)) {
            printf("epoch %3d/%d  train loss %.4f%s\n", ep + 1, o.epochs, last_loss,
                   regression ? " (standardized targets)" : "");
        }
    }
    const double secs = so_now_s() - t0;
    if (regression) {
        float *pred = malloc(te.n * sizeof *pred);
        SO_CHECK(tab_predict(&m, &te, o.batch, pred));
        double tmean = 0, sst = 0, sse = 0;
        for (size_t i = 0; i < te.n; i++) {
            tmean += te.targets[i];
        }
        tmean /= (double)te.n;
        for (size_t i = 0; i < te.n; i++) {
            double p = pred[i] * ystd + ymean, e = te.targets[i] - p;
            sse += e * e;
            sst += (te.targets[i] - tmean) * (te.targets[i] - tmean);
        }
        const double mse = sse / (double)te.n, r2 = 1 - sse / sst;
        if (!o.quiet) {
            printf("test R^2 %.4f, MSE %.1f (RMSE %.1f in target units, target std %.1f)\n", r2,
                   mse, sqrt(mse), sqrt(sst / (double)te.n));
        }
        printf("result model=%s data=%s test_r2=%.4f test_mse=%.2f train_loss=%.4f seconds=%.2f\n",
               argv[0], all.name, r2, mse, last_loss, secs);
        free(pred);
    } else {
        double acc_te, acc_tr;
        SO_CHECK(tab_accuracy(&m, &te, &acc_te));
        SO_CHECK(tab_accuracy(&m, &tr, &acc_tr));
        if (!o.quiet) {
            printf("test accuracy %.4f (%ld/%zu), train accuracy %.4f\n", acc_te,
                   lround(acc_te * (double)te.n), te.n, acc_tr);
        }
        printf("result model=%s data=%s test_accuracy=%.4f train_accuracy=%.4f train_loss=%.4f "
               "seconds=%.2f\n",
               argv[0], all.name, acc_te, acc_tr, last_loss, secs);
    }
    so_batcher_deinit(&bt);
    free(xb);
    free(lb);
    free(tb);
    so_optim_destroy(opt);
    tab_destroy(&m);
    so_scaler_deinit(&sc);
    so_dataset_deinit(&all);
    so_dataset_deinit(&tr);
    so_dataset_deinit(&te);
    return 0;
}

/* ---- dispatch ---- */

static void train_usage(FILE *f) {
    fprintf(f, "usage: scaleout train <model> [flags]\n\n"
               "models:\n"
               "  gpt     a GPT language model on the fortunes corpus (byte or BPE tokens)\n"
               "  mlp     a multi-layer perceptron on a scikit-learn dataset\n"
               "  logreg  logistic regression (binary, or multinomial for several classes)\n"
               "  linreg  linear regression (diabetes)\n\n"
               "examples:\n"
               "  scaleout train gpt --data fortunes --layers 4 --dim 128 --heads 4 --ctx 128 "
               "--batch 16 --steps 200\n"
               "  scaleout train mlp --data digits --hidden 64\n"
               "  scaleout train logreg --data breast-cancer\n"
               "  scaleout train linreg --data diabetes\n\n"
               "'scaleout train <model> --help' lists that model's flags.\n");
}

static int cmd_train(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        train_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *m = argv[1];
    if (!strcmp(m, "gpt")) {
        return so__train_gpt(argc - 1, argv + 1);
    }
    if (!strcmp(m, "mlp")) {
        return train_tabular(KIND_MLP, argc - 1, argv + 1);
    }
    if (!strcmp(m, "logreg")) {
        return train_tabular(KIND_LOGREG, argc - 1, argv + 1);
    }
    if (!strcmp(m, "linreg")) {
        return train_tabular(KIND_LINREG, argc - 1, argv + 1);
    }
    fprintf(stderr, "scaleout train: unknown model '%s'\n", m);
    train_usage(stderr);
    return 2;
}

SO_CLI_COMMAND(train, "train gpt, mlp, logreg or linreg on bundled data (fortunes, sklearn CSVs)",
               cmd_train)
