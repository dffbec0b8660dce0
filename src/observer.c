/* observer.c - the list of a run's observers (see observer.h). */
#include "observer.h"

int observer_add(struct observer_set *set, const struct observer *o)
{
    if (set->n >= OBSERVERS_MAX)
        return -1;
    size_t at = set->state_bytes;
    set->list[set->n] = *o;
    set->offset[set->n] = at;
    set->n++;
    set->state_bytes = (at + o->state_size + 15) & ~(size_t)15;
    set->body_data |= o->body_data != NULL;
    set->tls_data |= o->tls_data != NULL;
    return 0;
}
