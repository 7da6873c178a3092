/*
 * Raft (book 2.6; Ongaro and Ousterhout 2014) over a process group: leader election and log
 * replication of a counter, one Raft node per rank, messages point-to-point.
 *
 * Each node is a follower, candidate or leader. A follower that hears no leader for a randomised
 * election timeout becomes a candidate: it increments its term, votes for itself and asks the
 * others; a node grants at most one vote per term, and only to a candidate whose log is at least
 * as up to date (last term, then last index). A majority of votes makes a leader, which sends
 * AppendEntries (one entry at a time, or none as a heartbeat) with the previous entry's index and
 * term; a follower accepts only if its log matches there, and truncates conflicting entries. An
 * entry of the current term stored by a majority is committed and applied (the counter adds its
 * value). Any message with a higher term turns its receiver into a follower of that term.
 * Messages are 10 int64 words; one receive is posted per peer and polled (1 ms naps), so a node
 * hears whoever speaks first. Cost: O(K) messages per heartbeat or election round. Limits: no
 * persistence, no membership changes, SO_RAFT_MAX_LOG entries; silence stands in for a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "scaleout/core.h"
#include "scaleout/dist.h"

enum { RAFT_TAG = 0x4AF7 };
enum { MSG_RV = 1, MSG_RVR, MSG_AE, MSG_AER, MSG_BYE };
enum { FOLLOWER = 0, CANDIDATE, LEADER };
enum { W_TYPE, W_TERM, W_FROM, W_A, W_B, W_C, W_D, W_E, W_F, W_G, RAFT_WORDS };

typedef struct raft_entry {
    int64_t term, value;
} raft_entry;

struct so_raft {
    so_comm *c;
    so_raft_cfg cfg;
    int me, k, role, leader, voted_for, votes, silent, stopping, sent_bye;
    int64_t term;
    raft_entry log[SO_RAFT_MAX_LOG + 1]; /* 1-based; log[0] is the empty sentinel (term 0) */
    int last, commit, applied;
    int64_t state;
    double election_deadline, next_heartbeat;
    int next_index[SO_VCLOCK_MAX], match_index[SO_VCLOCK_MAX];
    int known_commit[SO_VCLOCK_MAX]; /* leader: the commit index each peer has acknowledged */
    int64_t in[SO_VCLOCK_MAX][RAFT_WORDS];
    so_request *rx[SO_VCLOCK_MAX];
    int bye_from[SO_VCLOCK_MAX];
    int64_t led[64];
    int nled;
    so_rng rng;
};

static void raft_reset_timer(so_raft *r) {
    int span = r->cfg.election_max_ms - r->cfg.election_min_ms;
    double ms =
        r->cfg.election_min_ms + (span > 0 ? (double)so_rng_below(&r->rng, (uint64_t)span) : 0);
    r->election_deadline = so_now_s() + ms / 1e3;
}

static int raft_send(so_raft *r, int to, int type, int64_t a, int64_t b, int64_t c, int64_t d,
                     int64_t e, int64_t f, int64_t g) {
    int64_t m[RAFT_WORDS] = {type, r->term, r->me, a, b, c, d, e, f, g};
    return so_send(r->c, m, sizeof m, to, RAFT_TAG);
}

static int raft_post(so_raft *r, int p) {
    return so_irecv(r->c, r->in[p], sizeof r->in[p], p, RAFT_TAG, &r->rx[p]);
}

int so_raft_create(so_comm *c, const so_raft_cfg *cfg, so_raft **out) {
    *out = NULL;
    int k = so_comm_size(c);
    if (k > SO_VCLOCK_MAX || !cfg || cfg->election_min_ms < 1 ||
        cfg->election_max_ms < cfg->election_min_ms || cfg->heartbeat_ms < 1) {
        return so__fail(SO_EINVAL,
                        "raft needs at most %d ranks and 1 <= election_min_ms <= "
                        "election_max_ms, heartbeat_ms >= 1",
                        SO_VCLOCK_MAX);
    }
    so_raft *r = calloc(1, sizeof *r);
    if (!r) {
        return so__fail(SO_ENOMEM, "out of memory for a raft node");
    }
    r->c = c, r->cfg = *cfg, r->me = so_comm_rank(c), r->k = k;
    r->leader = -1, r->voted_for = -1;
    so_rng_seed_stream(&r->rng, cfg->seed, (uint64_t)r->me);
    raft_reset_timer(r);
    for (int p = 0; p < k; p++) {
        if (p != r->me) {
            int rc = raft_post(r, p);
            if (rc != SO_OK) {
                so_raft_destroy(r);
                return rc;
            }
        }
    }
    *out = r;
    return SO_OK;
}

static void raft_become_follower(so_raft *r, int64_t term) {
    if (term > r->term) {
        r->term = term;
        r->voted_for = -1;
    }
    r->role = FOLLOWER;
}

static int raft_majority(const so_raft *r) {
    return r->k / 2 + 1;
}

static void raft_apply(so_raft *r) {
    while (r->applied < r->commit) {
        r->applied++;
        r->state += r->log[r->applied].value;
    }
}

/* Leader: one AppendEntries to p, carrying the entry at next_index[p] if there is one. */
static int raft_append_to(so_raft *r, int p) {
    int prev = r->next_index[p] - 1, has = r->next_index[p] <= r->last;
    raft_entry e = has ? r->log[prev + 1] : (raft_entry){0, 0};
    return raft_send(r, p, MSG_AE, r->me, prev, r->log[prev].term, has, e.term, e.value, r->commit);
}

static int raft_heartbeat(so_raft *r) {
    for (int p = 0; p < r->k; p++) {
        if (p != r->me) {
            SO_TRY(raft_append_to(r, p));
        }
    }
    r->next_heartbeat = so_now_s() + r->cfg.heartbeat_ms / 1e3;
    return SO_OK;
}

static int raft_handle(so_raft *r, const int64_t *m) {
    int64_t type = m[W_TYPE], term = m[W_TERM];
    int from = (int)m[W_FROM];
    if (type == MSG_BYE) {
        r->bye_from[from] = 1;
        r->stopping = 1;
        return SO_OK;
    }
    if (term > r->term) {
        raft_become_follower(r, term);
    }
    switch (type) {
    case MSG_RV: {
        int64_t last_idx = m[W_B], last_term = m[W_C];
        int up_to_date = last_term > r->log[r->last].term ||
                         (last_term == r->log[r->last].term && last_idx >= r->last);
        int grant = term == r->term && (r->voted_for == -1 || r->voted_for == from) && up_to_date;
        if (grant) {
            r->voted_for = from;
            raft_reset_timer(r);
        }
        return raft_send(r, from, MSG_RVR, grant, 0, 0, 0, 0, 0, 0);
    }
    case MSG_RVR:
        if (r->role == CANDIDATE && term == r->term && m[W_A]) {
            if (++r->votes >= raft_majority(r)) {
                r->role = LEADER;
                r->leader = r->me;
                if (r->nled < 64) {
                    r->led[r->nled++] = r->term;
                }
                for (int p = 0; p < r->k; p++) {
                    r->next_index[p] = r->last + 1;
                    r->match_index[p] = 0;
                    r->known_commit[p] = 0;
                }
                return raft_heartbeat(r);
            }
        }
        return SO_OK;
    case MSG_AE: {
        if (term < r->term) {
            return raft_send(r, from, MSG_AER, 0, 0, 0, 0, 0, 0, 0);
        }
        r->role = FOLLOWER;
        r->leader = from;
        raft_reset_timer(r);
        int prev = (int)m[W_B], has = (int)m[W_D];
        int64_t prev_term = m[W_C], leader_commit = m[W_G];
        if (prev > r->last || r->log[prev].term != prev_term || prev + has > SO_RAFT_MAX_LOG) {
            return raft_send(r, from, MSG_AER, 0, 0, 0, 0, 0, 0, 0);
        }
        int match = prev;
        if (has) {
            match = prev + 1;
            if (r->last >= match && r->log[match].term != m[W_E]) {
                r->last = match - 1; /* a conflicting suffix: drop it */
            }
            if (r->last < match) {
                r->log[match] = (raft_entry){m[W_E], m[W_F]};
                r->last = match;
            }
        }
        if (leader_commit > r->commit) {
            r->commit = (int)(leader_commit < match ? leader_commit : match);
            raft_apply(r);
        }
        return raft_send(r, from, MSG_AER, 1, match, r->commit, 0, 0, 0, 0);
    }
    case MSG_AER:
        if (r->role != LEADER || term != r->term) {
            return SO_OK;
        }
        if (m[W_A]) {
            int match = (int)m[W_B];
            if (match > r->match_index[from]) {
                r->match_index[from] = match;
            }
            if (m[W_C] > r->known_commit[from]) {
                r->known_commit[from] = (int)m[W_C];
            }
            r->next_index[from] = r->match_index[from] + 1;
            for (int n = r->last; n > r->commit; n--) { /* commit entries of this term only */
                int count = 1;
                for (int p = 0; p < r->k; p++) {
                    count += p != r->me && r->match_index[p] >= n;
                }
                if (r->log[n].term == r->term && count >= raft_majority(r)) {
                    r->commit = n;
                    raft_apply(r);
                    break;
                }
            }
            if (r->next_index[from] <= r->last) { /* more to send: do not wait for a beat */
                return raft_append_to(r, from);
            }
        } else if (r->next_index[from] > 1) {
            r->next_index[from]--;
            return raft_append_to(r, from);
        }
        return SO_OK;
    default:
        return so__fail(SO_EPROTO, "raft: unknown message type %lld from rank %d", (long long)type,
                        from);
    }
}

/* Handles every message that has arrived; *got counts them. */
static int raft_poll(so_raft *r, int *got) {
    *got = 0;
    for (int p = 0; p < r->k; p++) {
        if (p == r->me || !r->rx[p]) {
            continue;
        }
        int done = 0;
        int rc = so_test(r->rx[p], &done);
        if (rc != SO_OK) {
            r->rx[p] = NULL;
            return rc;
        }
        if (done) {
            r->rx[p] = NULL;
            int64_t m[RAFT_WORDS];
            memcpy(m, r->in[p], sizeof m);
            if (m[W_TYPE] != MSG_BYE) {
                SO_TRY(raft_post(r, p));
            }
            (*got)++;
            SO_TRY(raft_handle(r, m));
        }
    }
    return SO_OK;
}

int so_raft_step(so_raft *r, int ms) {
    double end = so_now_s() + ms / 1e3;
    do {
        if (r->silent) {
            so_sleep_ns(1000000);
            continue;
        }
        int got;
        SO_TRY(raft_poll(r, &got));
        double now = so_now_s();
        if (r->stopping) {
            return SO_OK;
        }
        if (r->role == LEADER) {
            if (now >= r->next_heartbeat) {
                SO_TRY(raft_heartbeat(r));
            }
        } else if (now >= r->election_deadline) {
            r->role = CANDIDATE;
            r->term++;
            r->voted_for = r->me;
            r->votes = 1;
            r->leader = -1;
            raft_reset_timer(r);
            for (int p = 0; p < r->k; p++) {
                if (p != r->me) {
                    SO_TRY(
                        raft_send(r, p, MSG_RV, r->me, r->last, r->log[r->last].term, 0, 0, 0, 0));
                }
            }
            if (r->k == 1) {
                r->role = LEADER, r->leader = r->me;
            }
        }
        if (!got) {
            so_sleep_ns(1000000);
        }
    } while (so_now_s() < end);
    return SO_OK;
}

int so_raft_propose(so_raft *r, int64_t value, int *index) {
    if (r->role != LEADER) {
        return so__fail(SO_ESTATE, "raft: rank %d is not the leader (term %lld)", r->me,
                        (long long)r->term);
    }
    if (r->last >= SO_RAFT_MAX_LOG) {
        return so__fail(SO_ERANGE, "raft: the log is full (%d entries)", SO_RAFT_MAX_LOG);
    }
    r->log[++r->last] = (raft_entry){r->term, value};
    if (index) {
        *index = r->last;
    }
    if (r->k == 1) {
        r->commit = r->last;
        raft_apply(r);
    }
    return raft_heartbeat(r);
}

int so_raft_is_leader(const so_raft *r) {
    return r->role == LEADER && !r->silent;
}

int so_raft_leader(const so_raft *r) {
    return r->leader;
}

int64_t so_raft_term(const so_raft *r) {
    return r->term;
}

int so_raft_commit_index(const so_raft *r) {
    return r->commit;
}

int so_raft_log_length(const so_raft *r) {
    return r->last;
}

int so_raft_entry(const so_raft *r, int index, int64_t *term, int64_t *value) {
    if (index < 1 || index > r->last) {
        return so__fail(SO_ERANGE, "raft: no entry %d in a log of %d", index, r->last);
    }
    *term = r->log[index].term;
    *value = r->log[index].value;
    return SO_OK;
}

int64_t so_raft_state(const so_raft *r) {
    return r->state;
}

int so_raft_all_replicated(const so_raft *r) {
    if (r->role != LEADER) {
        return 0;
    }
    for (int p = 0; p < r->k; p++) {
        if (p != r->me && (r->match_index[p] < r->last || r->known_commit[p] < r->last)) {
            return 0;
        }
    }
    return r->commit == r->last;
}

void so_raft_set_silent(so_raft *r, int silent) {
    r->silent = silent;
    if (!silent) {
        raft_reset_timer(r); /* read the backlog before suspecting the leader */
    }
}

int so_raft_led_terms(const so_raft *r, int64_t *terms, int cap) {
    int n = r->nled < cap ? r->nled : cap;
    memcpy(terms, r->led, (size_t)n * sizeof *terms);
    return n;
}

int so_raft_stopping(const so_raft *r) {
    return r->stopping;
}

int so_raft_shutdown(so_raft *r, int timeout_ms) {
    r->silent = 0;
    r->stopping = 1;
    if (!r->sent_bye) {
        for (int p = 0; p < r->k; p++) {
            if (p != r->me) {
                SO_TRY(raft_send(r, p, MSG_BYE, 0, 0, 0, 0, 0, 0, 0));
            }
        }
        r->sent_bye = 1;
    }
    double end = so_now_s() + timeout_ms / 1e3;
    for (;;) {
        int missing = 0, got = 0;
        for (int p = 0; p < r->k; p++) {
            missing += p != r->me && !r->bye_from[p];
        }
        if (!missing) {
            return SO_OK;
        }
        if (so_now_s() > end) {
            return so__fail(SO_ETIMEDOUT, "raft: %d peers did not finish within %d ms", missing,
                            timeout_ms);
        }
        /* Drain: answer nothing now, just read until each peer's goodbye. */
        for (int p = 0; p < r->k; p++) {
            if (p == r->me || !r->rx[p]) {
                continue;
            }
            int done = 0;
            SO_TRY(so_test(r->rx[p], &done));
            if (done) {
                r->rx[p] = NULL;
                got++;
                if (r->in[p][W_TYPE] == MSG_BYE) {
                    r->bye_from[p] = 1;
                } else {
                    SO_TRY(raft_post(r, p));
                }
            }
        }
        if (!got) {
            so_sleep_ns(500000);
        }
    }
}

void so_raft_destroy(so_raft *r) {
    if (!r) {
        return;
    }
    for (int p = 0; p < r->k; p++) {
        if (r->rx[p]) {
            so_wait(r->rx[p]); /* only after a failure: the group is poisoned, this frees */
        }
    }
    free(r);
}
