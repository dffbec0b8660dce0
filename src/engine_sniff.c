/* engine_sniff.c - SMTP where nobody said to look: TCP on ports that are
 * not SMTP ports, checked by content (a server's "220 " or "220-" line,
 * then the client's EHLO or HELO, as Zeek's protocol detection does), so
 * that a run that found no sessions can say which port to try; and with
 * -p any, which sessions on any port were SMTP at all.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The TCP payload bytes that were captured. */
static size_t payload(const struct packet *p, const uint8_t **at)
{
    size_t hl = p->l4_len - p->payload_len;
    if (p->l4_caplen <= hl)
        return 0;
    *at = p->l4 + hl;
    return p->l4_caplen - hl;
}

static bool is_greeting(const uint8_t *d, size_t n)
{
    return n >= 4 && memcmp(d, "220", 3) == 0 && (d[3] == ' ' || d[3] == '-');
}

static bool is_helo(const uint8_t *d, size_t n)
{
    return n >= 5 && (strncasecmp((const char *)d, "EHLO", 4) == 0 ||
                      strncasecmp((const char *)d, "HELO", 4) == 0) &&
           (d[4] == ' ' || d[4] == '\r' || d[4] == '\n');
}

static struct sniffed_port *port_entry(struct engine *e, uint16_t port, bool add)
{
    for (int i = 0; i < e->nsniffed; i++)
        if (e->sniffed[i].port == port)
            return &e->sniffed[i];
    if (!add || e->nsniffed == ENGINE_SNIFF_PORTS)
        return NULL; /* a bounded table: the first ports seen are enough */
    e->sniffed[e->nsniffed] = (struct sniffed_port){port, 0, 0};
    return &e->sniffed[e->nsniffed++];
}

void engine_sniff_tcp(struct engine *e, const struct packet *p)
{
    const uint8_t *d;
    size_t n = p->payload_len ? payload(p, &d) : 0;
    if (n < 4)
        return;
    if (is_greeting(d, n)) {
        struct sniffed_port *sp = port_entry(e, p->src.port, true);
        if (sp)
            sp->greetings++;
    } else if (is_helo(d, n)) {
        struct sniffed_port *sp = port_entry(e, p->dst.port, false);
        if (sp && sp->greetings)
            sp->dialogues++;
    }
}

size_t engine_smtp_hint(const struct engine *e, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < e->nsniffed && o < cap; i++)
        if (e->sniffed[i].dialogues)
            o += (size_t)snprintf(out + o, cap - o, "%s%u", o ? "," : "",
                                  e->sniffed[i].port);
    return o < cap ? o : 0;
}

/* -p any: a session is SMTP when the server's first line was a 220
 * greeting and the client went on to EHLO or HELO. */
bool engine_session_is_smtp(const struct session *s)
{
    size_t off = 0;
    const char *text;
    const struct tline *l;
    bool greeted = false;
    while ((l = session_next_line(s, &off, &text))) {
        if (l->kind == TL_SERVER && !greeted) {
            if (!is_greeting((const uint8_t *)text, l->len))
                return false;
            greeted = true;
        } else if (l->kind == TL_CLIENT) {
            /* a transcript line has no CRLF: "EHLO" alone, or a name after */
            return greeted && l->len >= 4 &&
                   (strncasecmp(text, "EHLO", 4) == 0 || strncasecmp(text, "HELO", 4) == 0) &&
                   (l->len == 4 || text[4] == ' ');
        }
    }
    return false;
}
