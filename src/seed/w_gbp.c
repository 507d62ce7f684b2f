/* The Google Business Profile writer of `mdp seed`: for each account linked to GBP, the Business
 * Information API's accounts.locations.list response as of the window's last day (readMask'd
 * Location objects, TimeOfDay hours with zero members omitted, metadata flags only when true),
 * written when the world creates the account. */
#include "seed_world.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_object *time_of_day(int h, int m)
{
    json_object *t = json_object_new_object();
    if (h) json_object_object_add(t, "hours", json_object_new_int(h));
    if (m) json_object_object_add(t, "minutes", json_object_new_int(m));
    return t;
}

static json_object *gbp_location(struct mdp__seed *s, const struct mdp__location *l,
                                 const struct mdp__account *a)
{
    static const char *days[] = {"MONDAY", "TUESDAY",  "WEDNESDAY", "THURSDAY",
                                 "FRIDAY", "SATURDAY", "SUNDAY"};
    const struct mdp__city *c = &MDP__CITIES[l->city];
    char name[48];
    snprintf(name, sizeof name, "locations/%s", l->gbp_id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", mdp__jstr(name));
    json_object_object_add(o, "languageCode", mdp__jstr("de"));
    char store[32];
    snprintf(store, sizeof store, "MB-%.3s-%02d", l->gbp_id, (int)(l->number % 100));
    json_object_object_add(o, "storeCode", mdp__jstr(store));
    json_object_object_add(o, "title", mdp__jstr(l->title));
    json_object *ph = json_object_new_object();
    char phone[32];
    snprintf(phone, sizeof phone, "+49 30 %07d", (int)mdp__rng_below(&s->r, 9999999));
    json_object_object_add(ph, "primaryPhone", mdp__jstr(phone));
    json_object_object_add(o, "phoneNumbers", ph);
    json_object *cat = json_object_new_object(), *pc = json_object_new_object();
    char cname[64];
    snprintf(cname, sizeof cname, "categories/%s", MDP__CATEGORIES[a->category]);
    json_object_object_add(pc, "name", mdp__jstr(cname));
    json_object_object_add(pc, "displayName", mdp__jstr(MDP__CATEGORIES[a->category] + 5));
    json_object_object_add(cat, "primaryCategory", pc);
    json_object_object_add(o, "categories", cat);
    json_object *addr = json_object_new_object(), *lines = json_object_new_array();
    json_object_object_add(addr, "regionCode", mdp__jstr("DE"));
    json_object_object_add(addr, "languageCode", mdp__jstr("de"));
    json_object_object_add(addr, "postalCode", mdp__jstr(l->postal));
    json_object_object_add(addr, "locality", mdp__jstr(c->name));
    json_object_array_add(lines, mdp__jstr(l->street));
    json_object_object_add(addr, "addressLines", lines);
    json_object_object_add(o, "storefrontAddress", addr);
    if (mdp__rng_chance(&s->r, 0.7))
        json_object_object_add(o, "websiteUri", mdp__jstr("https://www.example.com/"));
    json_object *hours = json_object_new_object(), *periods = json_object_new_array();
    int late = mdp__rng_chance(&s->r, 0.3);
    for (int d = 0; d < 7; d++) {
        if (d == 0 && mdp__rng_chance(&s->r, 0.5)) continue; /* Ruhetag on Monday */
        json_object *p = json_object_new_object();
        json_object_object_add(p, "openDay", mdp__jstr(days[d]));
        json_object_object_add(p, "openTime", time_of_day(11, d == 6 ? 0 : 30));
        /* bars close after midnight: the period ends on the next day */
        json_object_object_add(p, "closeDay", mdp__jstr(days[late && d >= 4 ? (d + 1) % 7 : d]));
        json_object_object_add(
            p, "closeTime", late && d >= 4 ? time_of_day(1, 0) : time_of_day(d == 5 ? 24 : 22, 0));
        json_object_array_add(periods, p);
    }
    json_object_object_add(hours, "periods", periods);
    json_object_object_add(o, "regularHours", hours);
    if (l->on_maps && mdp__rng_chance(&s->r, 0.8)) {
        json_object *ll = json_object_new_object();
        json_object_object_add(ll, "latitude", mdp__jdouble(l->lat, 7));
        json_object_object_add(ll, "longitude", mdp__jdouble(l->lng, 7));
        json_object_object_add(o, "latlng", ll);
    }
    json_object *oi = json_object_new_object();
    json_object_object_add(oi, "status", mdp__jstr("OPEN"));
    json_object_object_add(oi, "canReopen", json_object_new_boolean(1));
    json_object_object_add(o, "openInfo", oi);
    json_object *md = json_object_new_object();
    json_object_object_add(md, "canDelete", json_object_new_boolean(1));
    if (mdp__rng_chance(&s->r, 0.5))
        json_object_object_add(md, "canHaveFoodMenus", json_object_new_boolean(1));
    if (l->on_maps) {
        char uri[96];
        json_object_object_add(md, "placeId", mdp__jstr(l->place_id));
        snprintf(uri, sizeof uri, "https://maps.google.com/maps?cid=%s", l->gbp_id);
        json_object_object_add(md, "mapsUri", mdp__jstr(uri));
        snprintf(uri, sizeof uri, "https://search.google.com/local/writereview?placeid=%s",
                 l->place_id);
        json_object_object_add(md, "newReviewUri", mdp__jstr(uri));
        json_object_object_add(md, "hasVoiceOfMerchant", json_object_new_boolean(1));
    }
    json_object_object_add(o, "metadata", md);
    return o;
}

static int gbp_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    (void)state;
    const struct mdp__account *a = h->a;
    if (h->kind != MDP__H_ACCOUNT || !a->gbp) return 0;
    char date[11];
    mdp_date_format(s->o->start_day + s->ndays - 1, date, sizeof date);
    json_object *r = json_object_new_object(), *arr = json_object_new_array();
    for (int k = 0; k < a->nloc; k++) {
        json_object_array_add(arr, gbp_location(s, &a->loc[k], a));
        s->st->gbp_locations++;
    }
    json_object_object_add(r, "locations", arr);
    char *text = mdp__json_text(r, 1);
    if (!text) return mdp__nomem(s);
    char key[128];
    snprintf(key, sizeof key, "gbp/locations/dt=%s/accounts-%s.json", date, a->gbp_account);
    int rc = mdp__seed_put(s, key, text, strlen(text));
    free(text);
    return rc;
}

const struct mdp__writer mdp__writer_gbp = {"gbp", NULL, gbp_on, NULL, NULL, NULL};
