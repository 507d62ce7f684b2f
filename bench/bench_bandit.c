/* Benchmark: the bandit policy in simulation. 20 contexts x 4 copy variants with fixed Bernoulli
 * success rates (drawn once, 2% to 30%); 100,000 decisions, each in a random context, each
 * rewarded by its arm's Bernoulli draw. Cumulative regret (the best arm's rate minus the chosen
 * arm's, summed) of our policy (mdp_bandit_choose: uniform below 30 events per context, then
 * Thompson sampling with Beta(s+1, f+1)) against uniform random and epsilon-greedy (epsilon 0.1).
 * Ours must be the lowest (exit 1 otherwise). Run by `make bench`. */
#include "benchlib.h"
#include "mdp/bandit.h"

#include <stdio.h>
#include <stdlib.h>

#define CONTEXTS  20
#define VARIANTS  4
#define DECISIONS 100000

static double rate[CONTEXTS][VARIANTS], best[CONTEXTS];

static int eps_greedy(struct mdp_rng *r, int c, long n[][VARIANTS], long s[][VARIANTS])
{
    if (mdp_rng_unit(r) < 0.1) return (int)(mdp_rng_unit(r) * VARIANTS) % VARIANTS;
    int pick = 0;
    double top = -1;
    for (int v = 0; v < VARIANTS; v++) {
        double m = n[c][v] ? (double)s[c][v] / n[c][v] : 1.0; /* untried first */
        if (m > top) top = m, pick = v;
    }
    return pick;
}

int main(void)
{
    struct mdp_rng r;
    mdp_rng_seed(&r, 7);
    for (int c = 0; c < CONTEXTS; c++) {
        best[c] = 0;
        for (int v = 0; v < VARIANTS; v++) {
            rate[c][v] = 0.02 + 0.28 * mdp_rng_unit(&r);
            if (rate[c][v] > best[c]) best[c] = rate[c][v];
        }
    }
    const char *names[VARIANTS] = {"a", "b", "c", "d"};
    char ctx[CONTEXTS][16];
    for (int c = 0; c < CONTEXTS; c++)
        snprintf(ctx[c], sizeof ctx[c], "ctx%d", c);
    struct mdp_bandit *b;
    struct mdp_diag d = {0};
    if (mdp_bandit_open(NULL, &b, &d)) return 1;
    static long en[CONTEXTS][VARIANTS], es[CONTEXTS][VARIANTS];
    double regret_ours = 0, regret_uniform = 0, regret_eps = 0;
    struct mdp_rng env, pol;
    mdp_rng_seed(&env, 11);
    mdp_rng_seed(&pol, 13);
    for (long i = 0; i < DECISIONS; i++) {
        int c = (int)(mdp_rng_unit(&env) * CONTEXTS) % CONTEXTS;
        double u =
            mdp_rng_unit(&env); /* one draw decides the reward for any arm (common numbers) */
        double prop;
        enum mdp_bandit_policy p;
        int o = mdp_bandit_choose(b, ctx[c], names, VARIANTS, 30, &pol, &prop, &p);
        mdp_bandit_feedback(b, NULL, ctx[c], names[o], u < rate[c][o], &d);
        regret_ours += best[c] - rate[c][o];
        int un = (int)(mdp_rng_unit(&pol) * VARIANTS) % VARIANTS;
        regret_uniform += best[c] - rate[c][un];
        int e = eps_greedy(&pol, c, en, es);
        en[c][e]++;
        es[c][e] += u < rate[c][e];
        regret_eps += best[c] - rate[c][e];
    }
    mdp_bandit_close(b);
    printf("bandit simulation: %d contexts x %d variants, %d decisions\n", CONTEXTS, VARIANTS,
           DECISIONS);
    printf("cumulative regret: ours (Thompson, explore < 30) %.0f, epsilon-greedy (0.1) %.0f, "
           "uniform random %.0f\n",
           regret_ours, regret_eps, regret_uniform);
    printf("ratio ours / epsilon-greedy: %.2f, ours / uniform: %.2f (target: ours lowest)\n",
           regret_ours / regret_eps, regret_ours / regret_uniform);
    bench_summary("bandit regret (vs epsilon-greedy)", "", regret_ours, regret_eps,
                  regret_ours / regret_eps, "< 1", regret_ours < regret_eps);
    bench_summary("bandit regret (vs uniform)", "", regret_ours, regret_uniform,
                  regret_ours / regret_uniform, "< 1", regret_ours < regret_uniform);
    return regret_ours < regret_eps && regret_ours < regret_uniform ? 0 : 1;
}
