/* finding.c - the finding registry's tables (see finding.h). */
#include "finding.h"

struct finding_row {
    const char *name;
    enum finding_kind kind;
    enum finding_severity severity;
    const char *doc;
};

static const struct finding_row rows[FINDING__COUNT] = {
#define FINDING_ROW(id, name, kind, sev, doc) \
    [FINDING_##id] = {name, FKIND_##kind, FSEV_##sev, doc},
    FINDING_TABLE(FINDING_ROW)
#undef FINDING_ROW
};

static const char *const kind_names[FKIND__COUNT] = {
#define FINDING_KIND_NAME(k, name) [FKIND_##k] = name,
    FINDING_KINDS(FINDING_KIND_NAME)
#undef FINDING_KIND_NAME
};

static const char *const severity_names[] = {"info", "warning", "alert"};

const char *finding_name(enum finding_id id)
{
    return (unsigned)id < FINDING__COUNT ? rows[id].name : "unknown";
}

enum finding_kind finding_kind(enum finding_id id)
{
    return (unsigned)id < FINDING__COUNT ? rows[id].kind : FKIND_PROTOCOL;
}

enum finding_severity finding_severity(enum finding_id id)
{
    return (unsigned)id < FINDING__COUNT ? rows[id].severity : FSEV_INFO;
}

const char *finding_doc(enum finding_id id)
{
    return (unsigned)id < FINDING__COUNT ? rows[id].doc : "";
}

const char *finding_kind_name(enum finding_kind k)
{
    return (unsigned)k < FKIND__COUNT ? kind_names[k] : "unknown";
}

const char *finding_severity_name(enum finding_severity s)
{
    return (unsigned)s <= FSEV_ALERT ? severity_names[s] : "info";
}
