/* The record of processing activities (GDPR Art. 30) rendered from the data inventory
 * (include/mdp/inventory.h): one entry per dataset with the controller, purpose, legal basis,
 * categories of data subjects and of personal data, recipients, transfers, retention, deletion
 * path and the technical and organisational measures. Markdown for people, JSON for tools. The
 * loader refuses empty fields, so every field here is filled. */
#include "mdp/buf.h"
#include "mdp/inventory.h"

#include <stdint.h>
#include <string.h>

/* The categories of personal data: the columns by PII class, "none" when there are none. */
static void pii_columns(struct mdp_buf *b, const struct mdp_inv_dataset *ds, enum mdp_pii p)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->ncolumns; i++)
        if (ds->columns[i].pii == p)
            mdp_buf_printf(b, "%s%s", n++ ? ", " : "", ds->columns[i].name);
    if (!n) mdp_buf_puts(b, "none");
}

static void subject_keys(struct mdp_buf *b, const struct mdp_inv_dataset *ds)
{
    for (size_t i = 0; i < ds->nsubject_keys; i++)
        mdp_buf_printf(b, "%s%s (%s)", i ? ", " : "", ds->subject_keys[i].column,
                       mdp_subject_kind_name(ds->subject_keys[i].kind));
    if (!ds->nsubject_keys) mdp_buf_puts(b, "none (holds nothing about one person)");
}

static void retention(struct mdp_buf *b, const struct mdp_inv_dataset *ds)
{
    const struct mdp_inv_retention *r = &ds->retention;
    mdp_buf_printf(b, "%s %s", r->period_text,
                   r->clock == MDP_CLOCK_SINCE_EVENT           ? "after the event"
                   : r->clock == MDP_CLOCK_SINCE_LAST_ACTIVITY ? "after the subject's last activity"
                                                               : "time to live");
    if (r->column) mdp_buf_printf(b, " (%s)", r->column);
}

static void md_escape(struct mdp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            mdp_buf_puts(b, "\\|");
        else if (*s == '\n')
            mdp_buf_putc(b, ' ');
        else
            mdp_buf_putc(b, *s);
    }
}

static void render_md(struct mdp_buf *b, const struct mdp_inventory *inv)
{
    mdp_buf_puts(b, "# Record of processing activities (GDPR Art. 30)\n\n");
    mdp_buf_puts(b, "- **Controller**: ");
    md_escape(b, inv->controller);
    mdp_buf_puts(b, "\n- **Data protection officer**: ");
    md_escape(b, inv->dpo);
    mdp_buf_puts(b, "\n- **Technical and organisational measures** (Art. 32): ");
    md_escape(b, inv->security);
    mdp_buf_printf(b, "\n- **Generated from**: %s (%zu datasets)\n\n", inv->file, inv->ndatasets);
    for (size_t i = 0; i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        mdp_buf_printf(b, "## %s\n\n| field | value |\n|---|---|\n", ds->name);
        mdp_buf_printf(b, "| store | %s: `%s` |\n", mdp_inv_store_name(ds->store), ds->location);
        mdp_buf_puts(b, "| purpose | ");
        md_escape(b, ds->purpose);
        mdp_buf_printf(b, " |\n| legal basis | %s |\n| owner | ",
                       mdp_legal_basis_text(ds->legal_basis));
        md_escape(b, ds->owner);
        mdp_buf_puts(b, " |\n| data subjects | ");
        md_escape(b, ds->subjects);
        mdp_buf_puts(b, " |\n| personal data (direct) | ");
        pii_columns(b, ds, MDP_PII_DIRECT);
        mdp_buf_puts(b, " |\n| personal data (pseudonymous) | ");
        pii_columns(b, ds, MDP_PII_PSEUDONYMOUS);
        mdp_buf_puts(b, " |\n| other data | ");
        pii_columns(b, ds, MDP_PII_NONE);
        mdp_buf_puts(b, " |\n| subject keys | ");
        subject_keys(b, ds);
        mdp_buf_puts(b, " |\n| source | ");
        md_escape(b, ds->source);
        mdp_buf_puts(b, " |\n| recipients | ");
        md_escape(b, ds->recipients);
        mdp_buf_puts(b, " |\n| transfers to third countries | ");
        md_escape(b, ds->transfers);
        mdp_buf_puts(b, " |\n| retention | ");
        retention(b, ds);
        mdp_buf_printf(b, " |\n| deletion | %s: %s |\n\n", mdp_del_path_name(ds->deletion),
                       mdp_del_path_text(ds->deletion));
    }
}

static void jfield(struct mdp_buf *b, const char *name, const char *val, int comma)
{
    mdp_buf_printf(b, "%s\"%s\":", comma ? "," : "", name);
    mdp_buf_json_str(b, val);
}

static void jfield_buf(struct mdp_buf *b, const char *name,
                       void (*fill)(struct mdp_buf *, const struct mdp_inv_dataset *),
                       const struct mdp_inv_dataset *ds)
{
    struct mdp_buf t;
    mdp_buf_init(&t);
    fill(&t, ds);
    jfield(b, name, t.data ? t.data : "", 1);
    if (mdp_buf_error(&t)) mdp_buf_reserve(b, SIZE_MAX); /* makes b's error stick: no half text */
    mdp_buf_cleanup(&t);
}

static void json_pii(struct mdp_buf *b, const struct mdp_inv_dataset *ds, enum mdp_pii p)
{
    mdp_buf_putc(b, '[');
    size_t n = 0;
    for (size_t i = 0; i < ds->ncolumns; i++)
        if (ds->columns[i].pii == p) {
            if (n++) mdp_buf_putc(b, ',');
            mdp_buf_json_str(b, ds->columns[i].name);
        }
    mdp_buf_putc(b, ']');
}

static void render_json(struct mdp_buf *b, const struct mdp_inventory *inv)
{
    mdp_buf_puts(b, "{\"record_of_processing_activities\":{");
    jfield(b, "controller", inv->controller, 0);
    jfield(b, "dpo", inv->dpo, 1);
    jfield(b, "security_measures", inv->security, 1);
    jfield(b, "generated_from", inv->file, 1);
    mdp_buf_puts(b, ",\"activities\":[");
    for (size_t i = 0; i < inv->ndatasets; i++) {
        const struct mdp_inv_dataset *ds = &inv->datasets[i];
        mdp_buf_puts(b, i ? ",{" : "{");
        jfield(b, "dataset", ds->name, 0);
        jfield(b, "store", mdp_inv_store_name(ds->store), 1);
        jfield(b, "location", ds->location, 1);
        jfield(b, "purpose", ds->purpose, 1);
        jfield(b, "legal_basis", ds->legal_basis, 1);
        jfield(b, "legal_basis_text", mdp_legal_basis_text(ds->legal_basis), 1);
        jfield(b, "owner", ds->owner, 1);
        jfield(b, "data_subjects", ds->subjects, 1);
        mdp_buf_puts(b, ",\"personal_data_direct\":");
        json_pii(b, ds, MDP_PII_DIRECT);
        mdp_buf_puts(b, ",\"personal_data_pseudonymous\":");
        json_pii(b, ds, MDP_PII_PSEUDONYMOUS);
        mdp_buf_puts(b, ",\"other_data\":");
        json_pii(b, ds, MDP_PII_NONE);
        jfield_buf(b, "subject_keys", subject_keys, ds);
        jfield(b, "source", ds->source, 1);
        jfield(b, "recipients", ds->recipients, 1);
        jfield(b, "transfers", ds->transfers, 1);
        jfield(b, "retention_period", ds->retention.period_text, 1);
        jfield(b, "retention_clock", mdp_ret_clock_name(ds->retention.clock), 1);
        jfield_buf(b, "retention", retention, ds);
        jfield(b, "deletion_path", mdp_del_path_name(ds->deletion), 1);
        jfield(b, "deletion", mdp_del_path_text(ds->deletion), 1);
        mdp_buf_putc(b, '}');
    }
    mdp_buf_puts(b, "]}}\n");
}

int mdp_inventory_ropa(const struct mdp_inventory *inv, FILE *f, int json, struct mdp_diag *d)
{
    struct mdp_buf b;
    mdp_buf_init(&b);
    if (json)
        render_json(&b, inv);
    else
        render_md(&b, inv);
    int rc = 0;
    if (mdp_buf_error(&b))
        rc = mdp_diag_set(d, MDP_ERR_NOMEM, "out of memory rendering the record");
    else if (fwrite(b.data, 1, b.len, f) != b.len || fflush(f))
        rc = mdp_diag_set(d, MDP_ERR_IO, "cannot write the record");
    mdp_buf_cleanup(&b);
    return rc;
}
