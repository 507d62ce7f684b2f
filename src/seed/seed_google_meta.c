/* Seed generator, part 3: Google and Meta API responses as their APIs return them. GA4 Data API
 * runReport (metric values as strings, positional headers, `date` as YYYYMMDD in the property's
 * zone, zero values and empty rows omitted), Business Information accounts.locations.list
 * (readMask'd Location objects, TimeOfDay hours with zero members omitted, metadata flags only when
 * true), and the Graph API's /me/accounts, Page and IG user nodes (ids as strings). */
#include "seed_internal.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const MDP__CATEGORIES[];
struct city {
    const char *name, *plz;
    double lat, lng;
};
extern const struct city MDP__CITIES[];

static const char *const GA4_NAMES[GA4_NEVENTS] = {
    "page_view", "session_start", "user_engagement", "first_visit", "sign_up", "scroll"};

static json_object *jv(const char *name, const char *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, name, mdp__jstr(v));
    return o;
}

static json_object *header(const char *name, const char *type)
{
    json_object *o = jv("name", name);
    if (type) json_object_object_add(o, "type", mdp__jstr(type));
    return o;
}

static json_object *quota(int64_t consumed, int64_t remaining)
{
    json_object *o = json_object_new_object();
    if (consumed) json_object_object_add(o, "consumed", json_object_new_int64(consumed));
    json_object_object_add(o, "remaining", json_object_new_int64(remaining));
    return o;
}

struct ga4_row {
    int ev;
    int64_t count, users, sessions;
};

static int cmp_row(const void *a, const void *b)
{
    const struct ga4_row *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1; /* eventCount desc */
    return x->ev - y->ev;
}

int mdp__seed_write_ga4(struct mdp__seed *s)
{
    int rc = 0;
    int64_t used_today = 0;
    for (int64_t day = 0; day < s->ndays && !rc; day++) {
        struct ga4_row rows[GA4_NEVENTS];
        int n = 0;
        int64_t active = s->active_users[day];
        int64_t sessions = s->ga4[day][GA4_SESSION_START][0];
        for (int e = 0; e < GA4_NEVENTS; e++) {
            int64_t c = s->ga4[day][e][0];
            if (e == GA4_USER_ENGAGEMENT) c = c * 7 / 10;
            if (c <= 0) continue; /* GA4 returns no row for events that did not happen */
            int64_t users =
                e == GA4_FIRST_VISIT || e == GA4_SIGN_UP ? c : (c < active ? c : active);
            int64_t sess = e == GA4_SESSION_START ? c : (c < sessions ? c : sessions);
            rows[n++] = (struct ga4_row){e, c, users, sess};
        }
        qsort(rows, (size_t)n, sizeof *rows, cmp_row);
        char date[9], iso[11];
        int32_t dk = mdp_date_key_from_days(s->o->start_day + day);
        snprintf(date, sizeof date, "%08d", (int)dk);
        mdp_date_format(s->o->start_day + day, iso, sizeof iso);
        json_object *r = json_object_new_object();
        json_object *dh = json_object_new_array(), *mh = json_object_new_array();
        json_object_array_add(dh, header("date", NULL));
        json_object_array_add(dh, header("eventName", NULL));
        json_object_array_add(mh, header("eventCount", "TYPE_INTEGER"));
        json_object_array_add(mh, header("activeUsers", "TYPE_INTEGER"));
        json_object_array_add(mh, header("sessions", "TYPE_INTEGER"));
        json_object_object_add(r, "dimensionHeaders", dh);
        json_object_object_add(r, "metricHeaders", mh);
        if (n > 0) {
            json_object *arr = json_object_new_array();
            for (int i = 0; i < n; i++) {
                json_object *row = json_object_new_object();
                json_object *dv = json_object_new_array(), *mv = json_object_new_array();
                json_object_array_add(dv, jv("value", date));
                json_object_array_add(dv, jv("value", GA4_NAMES[rows[i].ev]));
                char b[3][24];
                snprintf(b[0], 24, "%lld", (long long)rows[i].count);
                snprintf(b[1], 24, "%lld", (long long)rows[i].users);
                snprintf(b[2], 24, "%lld", (long long)rows[i].sessions);
                for (int k = 0; k < 3; k++)
                    json_object_array_add(mv, jv("value", b[k]));
                json_object_object_add(row, "dimensionValues", dv);
                json_object_object_add(row, "metricValues", mv);
                json_object_array_add(arr, row);
            }
            json_object_object_add(r, "rows", arr);
            json_object_object_add(r, "rowCount", json_object_new_int(n));
        }
        json_object *md = json_object_new_object();
        json_object_object_add(md, "currencyCode", mdp__jstr("EUR"));
        json_object_object_add(md, "timeZone", mdp__jstr(s->o->ga4_time_zone));
        json_object_object_add(r, "metadata", md);
        used_today = 10 + (int64_t)mdp__rng_below(&s->r, 8);
        json_object *pq = json_object_new_object();
        json_object_object_add(pq, "tokensPerDay", quota(used_today, 200000 - used_today));
        json_object_object_add(pq, "tokensPerHour", quota(used_today, 40000 - used_today));
        json_object_object_add(pq, "concurrentRequests", quota(0, 10));
        json_object_object_add(pq, "serverErrorsPerProjectPerHour", quota(0, 10));
        json_object_object_add(pq, "potentiallyThresholdedRequestsPerHour", quota(0, 120));
        json_object_object_add(pq, "tokensPerProjectPerHour",
                               quota(used_today, 14000 - used_today));
        json_object_object_add(r, "propertyQuota", pq);
        json_object_object_add(r, "kind", mdp__jstr("analyticsData#runReport"));
        char *text = mdp__json_text(r, 1);
        if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
        char key[128];
        snprintf(key, sizeof key, "ga4/runreport/dt=%s/property=%s.json", iso,
                 s->o->ga4_property_id);
        rc = mdp__seed_put(s, key, text, strlen(text));
        s->st->ga4_rows += n;
        free(text);
    }
    return rc;
}

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
    const struct city *c = &MDP__CITIES[l->city];
    char name[48];
    snprintf(name, sizeof name, "locations/%s", l->gbp_id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", mdp__jstr(name));
    json_object_object_add(o, "languageCode", mdp__jstr("de"));
    char store[32];
    snprintf(store, sizeof store, "MB-%.3s-%02d", l->gbp_id, (int)(l - s->loc) % 100);
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

int mdp__seed_write_gbp(struct mdp__seed *s)
{
    int rc = 0;
    char date[11];
    mdp_date_format(s->o->start_day + s->ndays - 1, date, sizeof date);
    for (size_t i = 0; i < s->nacc && !rc; i++) {
        const struct mdp__account *a = &s->acc[i];
        if (!a->gbp) continue;
        json_object *r = json_object_new_object(), *arr = json_object_new_array();
        for (int k = 0; k < a->nloc; k++) {
            json_object_array_add(arr, gbp_location(s, &s->loc[a->first_loc + k], a));
            s->st->gbp_locations++;
        }
        json_object_object_add(r, "locations", arr);
        char *text = mdp__json_text(r, 1);
        if (!text) return mdp_diag_set(s->d, MDP_ERR_NOMEM, "seed: out of memory");
        char key[128];
        snprintf(key, sizeof key, "gbp/locations/dt=%s/accounts-%s.json", date, a->gbp_account);
        rc = mdp__seed_put(s, key, text, strlen(text));
        free(text);
    }
    return rc;
}

static json_object *category_list(const char *name, int idx)
{
    json_object *l = json_object_new_array(), *c = json_object_new_object();
    char id[16];
    snprintf(id, sizeof id, "22110000%02d", idx);
    json_object_object_add(c, "id", mdp__jstr(id));
    json_object_object_add(c, "name", mdp__jstr(name));
    json_object_array_add(l, c);
    return l;
}

int mdp__seed_write_meta(struct mdp__seed *s)
{
    static const char *tasks[] = {"ADVERTISE", "ANALYZE",  "CREATE_CONTENT",
                                  "MESSAGING", "MODERATE", "MANAGE"};
    int rc = 0;
    char date[11];
    mdp_date_format(s->o->start_day + s->ndays - 1, date, sizeof date);
    for (size_t i = 0; i < s->nusers && !rc; i++) {
        const struct mdp__user *u = &s->users[i];
        if (!u->fb) continue;
        const struct mdp__account *a = &s->acc[u->account];
        const char *category =
            strstr(MDP__CATEGORIES[a->category], "cafe") ? "Coffee Shop" : "Restaurant";
        /* /me/accounts?fields=id,name,access_token,category,category_list,tasks,instagram_business_account
         */
        json_object *r = json_object_new_object(), *data = json_object_new_array();
        json_object *p = json_object_new_object();
        char tok[80];
        snprintf(tok, sizeof tok, "EAAEXAMPLEPAGETOKEN%s", u->fb_page_id);
        json_object_object_add(p, "access_token", mdp__jstr(tok));
        json_object_object_add(p, "category", mdp__jstr(category));
        json_object_object_add(p, "category_list", category_list(category, a->category));
        json_object_object_add(p, "name", mdp__jstr(u->fb_page_name));
        json_object_object_add(p, "id", mdp__jstr(u->fb_page_id));
        json_object *t = json_object_new_array();
        for (int k = 0; k < 6; k++)
            json_object_array_add(t, mdp__jstr(tasks[k]));
        json_object_object_add(p, "tasks", t);
        if (u->ig) {
            json_object *ig = json_object_new_object();
            json_object_object_add(ig, "id", mdp__jstr(u->ig_id));
            json_object_object_add(p, "instagram_business_account", ig);
        }
        json_object_array_add(data, p);
        json_object_object_add(r, "data", data);
        json_object *paging = json_object_new_object(), *cur = json_object_new_object();
        json_object_object_add(cur, "before", mdp__jstr("QVFIUkV4YW1wbGVCZWZvcmVDdXJzb3I"));
        json_object_object_add(cur, "after", mdp__jstr("QVFIUkV4YW1wbGVBZnRlckN1cnNvcg"));
        json_object_object_add(paging, "cursors", cur);
        json_object_object_add(r, "paging", paging);
        char uid[37], key[160];
        mdp_uuid_format(&u->id, uid);
        char *text = mdp__json_text(r, 1);
        snprintf(key, sizeof key, "meta/me_accounts/dt=%s/user=%s.json", date, uid);
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : MDP_ERR_NOMEM;
        free(text);
        s->st->meta_objects++;
        if (rc) break;

        /* the Page node */
        json_object *pg = json_object_new_object();
        json_object_object_add(pg, "id", mdp__jstr(u->fb_page_id));
        json_object_object_add(pg, "name", mdp__jstr(u->fb_page_name));
        json_object_object_add(pg, "category", mdp__jstr(category));
        json_object_object_add(pg, "category_list", category_list(category, a->category));
        char link[96];
        snprintf(link, sizeof link, "https://www.facebook.com/%s", u->fb_page_id);
        json_object_object_add(pg, "link", mdp__jstr(link));
        int64_t fans = (int64_t)mdp__rng_lognormal(&s->r, 800, 1.0);
        json_object_object_add(pg, "fan_count", json_object_new_int64(fans));
        json_object_object_add(pg, "followers_count", json_object_new_int64(fans + fans / 20));
        if (mdp__rng_chance(&s->r, 0.7))
            json_object_object_add(pg, "website", mdp__jstr("https://www.example.com/"));
        if (u->ig) {
            json_object *ig = json_object_new_object();
            json_object_object_add(ig, "id", mdp__jstr(u->ig_id));
            json_object_object_add(pg, "instagram_business_account", ig);
        }
        text = mdp__json_text(pg, 1);
        snprintf(key, sizeof key, "meta/pages/dt=%s/page=%s.json", date, u->fb_page_id);
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : MDP_ERR_NOMEM;
        free(text);
        s->st->meta_objects++;
        if (rc || !u->ig) continue;

        /* the IG business user */
        json_object *ig = json_object_new_object();
        char handle[64];
        snprintf(handle, sizeof handle, "matbakh_guest_%s", u->ig_id + 11);
        json_object_object_add(ig, "id", mdp__jstr(u->ig_id));
        json_object_object_add(ig, "username", mdp__jstr(handle));
        json_object_object_add(ig, "name", mdp__jstr(u->fb_page_name));
        json_object_object_add(ig, "biography", mdp__jstr("Frisch gekocht, jeden Tag."));
        if (mdp__rng_chance(&s->r, 0.6))
            json_object_object_add(ig, "website", mdp__jstr("https://www.example.com/"));
        int64_t followers = (int64_t)mdp__rng_lognormal(&s->r, 1500, 1.0);
        json_object_object_add(ig, "followers_count", json_object_new_int64(followers));
        json_object_object_add(ig, "follows_count",
                               json_object_new_int64(50 + (int64_t)mdp__rng_below(&s->r, 400)));
        json_object_object_add(ig, "media_count",
                               json_object_new_int64(10 + (int64_t)mdp__rng_below(&s->r, 600)));
        char pic[200];
        snprintf(pic, sizeof pic,
                 "https://scontent.xx.fbcdn.net/v/t51.2885-15/%s_n.jpg?_nc_cat=1&ccb=1-7",
                 u->ig_id);
        json_object_object_add(ig, "profile_picture_url", mdp__jstr(pic));
        text = mdp__json_text(ig, 1);
        snprintf(key, sizeof key, "meta/ig_users/dt=%s/ig_user=%s.json", date, u->ig_id);
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : MDP_ERR_NOMEM;
        free(text);
        s->st->meta_objects++;
    }
    return rc;
}
