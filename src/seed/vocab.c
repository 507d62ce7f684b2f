/* The seed module's vocabulary: the names the world picks from and the writers print (personas,
 * categories, cities ...). Constant data only, so world and writers share it without depending on
 * each other. */
#include "seed_world.h"

const char *const MDP__PERSONAS[4] = {"solo-sarah", "bewahrer-ben", "wachstums-walter",
                                      "ketten-katrin"};
const char *const MDP__TONES[3] = {"encouraging", "facts", "brief"};
const char *const MDP__ADDRESSES[3] = {"sie", "du", "neutral"};
const char *const MDP__HELP_LEVELS[3] = {"minimal", "standard", "detailed"};
const char *const MDP__CATEGORIES[10] = {"gcid:restaurant",
                                         "gcid:italian_restaurant",
                                         "gcid:cafe",
                                         "gcid:bakery",
                                         "gcid:bar",
                                         "gcid:german_restaurant",
                                         "gcid:pizza_restaurant",
                                         "gcid:sushi_restaurant",
                                         "gcid:turkish_restaurant",
                                         "gcid:vegan_restaurant"};
const char *const MDP__PRICES[4] = {"€", "€€", "€€€", "€€€€"};
const struct mdp__city MDP__CITIES[10] = {
    {"Berlin", "10", 52.5200, 13.4050},           {"Hamburg", "20", 53.5511, 9.9937},
    {"München", "80", 48.1351, 11.5820},          {"Köln", "50", 50.9375, 6.9603},
    {"Frankfurt am Main", "60", 50.1109, 8.6821}, {"Stuttgart", "70", 48.7758, 9.1829},
    {"Düsseldorf", "40", 51.2277, 6.7735},        {"Leipzig", "04", 51.3397, 12.3731},
    {"Dresden", "01", 51.0504, 13.7373},          {"Nürnberg", "90", 49.4521, 11.0767}};
