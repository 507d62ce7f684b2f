/* The Meta writer of `mdp seed`: for each user who connected Facebook, the Graph API's
 * /me/accounts response, the Page node and, with Instagram, the IG business user, as of the
 * window's last day (ids as strings), written when the world is done with the user. */
#include "seed_world.h"
#include "mdp/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int meta_on(struct mdp__seed *s, void *state, const struct mdp__happening *h)
{
    (void)state;
    const struct mdp__user *u = h->u;
    if (h->kind != MDP__H_USER_END || !u->fb) return 0;
    static const char *tasks[] = {"ADVERTISE", "ANALYZE",  "CREATE_CONTENT",
                                  "MESSAGING", "MODERATE", "MANAGE"};
    int rc = 0;
    char date[11];
    mdp_date_format(s->o->start_day + s->ndays - 1, date, sizeof date);
    {
        const struct mdp__account *a = u->acc;
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
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : mdp__nomem(s);
        free(text);
        s->st->meta_objects++;
        if (rc) return rc;

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
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : mdp__nomem(s);
        free(text);
        s->st->meta_objects++;
        if (rc || !u->ig) return rc;

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
        rc = text ? mdp__seed_put(s, key, text, strlen(text)) : mdp__nomem(s);
        free(text);
        s->st->meta_objects++;
    }
    return rc;
}

const struct mdp__writer mdp__writer_meta = {"meta", NULL, meta_on, NULL, NULL, NULL};
