/* session.h - the model of one SMTP session, built from parser events.
 *
 * A session is one TCP connection to an SMTP port. It owns its parser, a
 * bounded transcript (wire lines and system events with timestamps), the
 * transactions (MAIL..end-of-data) with their recipients, and the verdict.
 * Outputs read it when it has ended; nothing here knows of packets or files.
 */
#ifndef SMTPSCOPE_SESSION_H
#define SMTPSCOPE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "bytebuf.h"
#include "endpoint.h"
#include "finding.h"
#include "netlist.h"
#include "observer.h"
#include "smtp_parser.h"
#include "tcp_path.h"
#include "timeval.h"

enum smtp_phase {
    PHASE_NONE = 0,
    PHASE_CONNECT,
    PHASE_GREETING,
    PHASE_HELO,
    PHASE_STARTTLS,
    PHASE_AUTH,
    PHASE_MAIL,
    PHASE_RCPT,
    PHASE_DATA,
    PHASE_END_OF_DATA,
    PHASE_QUIT,
    PHASE__COUNT
};

const char *phase_name(enum smtp_phase ph);

enum handshake {
    HS_COMPLETE = 0, /* SYN, SYN-ACK, ACK seen */
    HS_MISSING,      /* picked up mid-stream */
    HS_NONE,         /* never established (no answer, refused) */
};

const char *handshake_name(enum handshake hs);

/* end_cause as reported: QUIT answered wins over how TCP then closed. */
const char *end_cause_name(enum tcp_end e, bool quit);

/* Which way the mail goes, given our networks (--local-net). */
enum direction {
    DIR_UNKNOWN = 0, /* no --local-net: never guessed */
    DIR_INCOMING,    /* a remote client, our server */
    DIR_OUTGOING,    /* our host delivering to a remote server */
    DIR_INTERNAL,    /* both ends ours */
    DIR_TRANSIT,     /* neither end ours */
};
const char *direction_name(enum direction d);

enum failure_class { FAIL_NONE = 0, FAIL_TRANSIENT, FAIL_PERMANENT, FAIL_CONNECTION };

enum verdict {
    VERDICT_OK = 0,
    VERDICT_FAILED,
    VERDICT_INCOMPLETE, /* the capture, not the peers, cut it off */
    VERDICT_ENCRYPTED,  /* nothing failed before STARTTLS; the rest is opaque */
    VERDICT_NOT_SMTP,   /* the connection carried something else */
    VERDICT_PARTIAL,    /* delivered, but some recipients were refused */
    VERDICT__COUNT
};

struct failure {
    enum smtp_phase phase;
    enum failure_class cls;
    int code;            /* 0: no reply (connection-level) */
    char enhanced[12];
    char text[256];      /* reply text or the connection-level cause */
    char *hint;          /* meaning of the codes and likely cause: composed
                            when the session ends (heap), else NULL */
    smtp_time ts;
};

enum txn_result {
    TXN_OPEN = 0,   /* still in progress */
    TXN_ACCEPTED,   /* end-of-data (or BDAT LAST) answered 2xx */
    TXN_REJECTED,   /* MAIL, all RCPTs, DATA or end-of-data refused */
    TXN_RESET,      /* RSET or a new MAIL before completion */
    TXN_ABORTED,    /* the connection ended before completion */
    TXN_INCOMPLETE, /* the capture ended before completion */
};

const char *txn_result_name(enum txn_result r);

/* A string kept in the session's string arena. */
struct strref {
    uint32_t off, len;
};

struct rcpt {
    struct strref addr;
    int code; /* 0: no reply seen */
};

struct txn {
    struct strref mail_from;
    struct strref mail_params;  /* "SIZE=120 BODY=8BITMIME" */
    int mail_code;
    uint32_t first_rcpt, nrcpt; /* slice of session.rcpts */
    int data_code;              /* reply to DATA (354) or BDAT */
    int final_code;             /* reply to end-of-data / BDAT LAST */
    uint64_t bytes, lines;
    bool body_seen, bdat;
    bool has_mail;              /* opened by MAIL: mail_from is what it gave */
    bool nested;                /* MAIL sent inside an open transaction */
    bool resumable;             /* refused DATA: RCPT/DATA may continue it */
    bool bdat_last_sent;        /* BDAT ... LAST was sent */
    uint32_t bdat_cmds, bdat_replies;
    struct strref queue_id;
    struct strref saved_as;     /* --save-messages: the .eml written */
    /* with extract_headers: the message's header fields (unfolded) */
    struct strref hdr_message_id, hdr_subject, hdr_from, hdr_to, hdr_date;
    struct strref hdr_cc, hdr_reply_to, hdr_mailer; /* X-Mailer or User-Agent */
    /* Received fields: how many, and the relay address ([a.b.c.d]) of the
     * first one in the header (the newest hop) and of the last one that
     * names an address (the oldest relay) */
    uint32_t received;
    struct strref received_last, received_first;
    /* file names of MIME parts (never their content) */
#define TXN_ATTACH_MAX 8
    struct strref attach[TXN_ATTACH_MAX];
    uint32_t nattach;           /* all seen; TXN_ATTACH_MAX kept */
    enum txn_result result;
    enum smtp_phase failed_phase;
    smtp_time start;
};

/* Transcript record kinds. */
enum tline_kind {
    TL_CLIENT = 0, /* a line the client sent */
    TL_SERVER,     /* a line the server sent */
    TL_BODY,       /* message body summary (no content) */
    TL_TLS,        /* TLS started */
    TL_ANOMALY,    /* first occurrence of an anomaly */
    TL_NOTE,       /* other system note */
};

/* Record header; `len` bytes of text follow. Text is raw wire bytes
 * (escaped only on output), credentials already replaced by "***". */
struct tline {
    smtp_time ts;
    int64_t latency_ns; /* on the first line of a reply; -1 otherwise */
    uint64_t value;     /* TL_BODY: bytes */
    uint32_t len;
    uint8_t kind;
    uint8_t flags;      /* SMTP_LINE_* of the line */
    uint16_t aux;       /* TL_ANOMALY: index into anomalies; TL_BODY: bdat;
                           TL_SERVER first line: enum smtp_cmd answered */
};

/* A finding about the session (finding.h: protocol anomaly, interference
 * signature, capture problem, ...), as first seen. */
#define SESSION_MAX_ANOMALIES 24
struct anomaly {
    uint16_t id;       /* enum finding_id */
    uint32_t count;
    smtp_time ts;      /* first occurrence */
    char detail[120];  /* of the first occurrence */
};

struct session;
struct pktbuf;

struct session_config {
    bool show_secrets;
    bool extract_headers;  /* Message-ID, Subject, From, To, Date of bodies */
    size_t max_transcript; /* bytes of transcript kept per session */
    size_t max_strings;    /* bytes of addresses etc. kept per session */
    int slow_ms;           /* replies slower than this are findings (0: off) */
    int idle_gap_ms;       /* client silences longer than this (0: off) */
    /* Called for every transcript line as it is recorded (live following);
     * NULL: lines are only read when the session has ended. */
    void (*on_line)(void *ctx, const struct session *s, const struct tline *l,
                    const char *text);
    void *line_ctx;
    const struct netlist *local; /* --local-net; NULL: direction unknown */
    const struct domainlist *local_domains; /* --local-domains: the audit */
    /* --save-messages: each message's content into save_dirfd, at most
     * save_max bytes each (save_dirfd < 0: not saved) */
    int save_dirfd;
    const char *save_dir;
    uint64_t save_max;
    /* the analyses run over every session's events (observer.h); NULL:
     * none, the session is only modelled */
    const struct observer_set *observers;
};

/* An outgoing session's route from DNS (mailflow.h). */
struct mx_link {
    char domain[256], host[256];
    int pref;                /* -1: implicit MX (the domain's own address) */
};

struct tls_info;

/* SYN retransmissions a session keeps the times of (conntrack.h keeps as
 * many beside the first SYN) */
#define SESSION_SYN_RETRANS_MAX 8

struct session {
    uint32_t id;
    struct endpoint client, server;
    smtp_time start, end, last_activity;
    enum handshake handshake;
    uint32_t syn_count;      /* SYNs seen from the client (retransmissions) */
    /* when the client sent its SYN again: the first SESSION_SYN_RETRANS_MAX
     * retransmissions (session_syn_retrans_kept of them), allocated only by
     * sessions that had any (most have none; no count field: syn_count says) */
    smtp_time *syn_retrans;
    /* its first and last frame in the input, counted from 1 as Wireshark
     * numbers them (0: unknown) */
    uint64_t first_frame, last_frame;
    /* -w on a live capture or stdin: its packets, bounded (pktbuf.h) */
    struct pktbuf *packets;
    enum tcp_end tcp_end;
    char tcp_detail[120];    /* e.g. the ICMP message that ended it */
    int closed_by;           /* SMTP_FROM_* that sent the first FIN, or -1 */
    enum direction direction;
    struct mx_link *mx;      /* outgoing: the lookup that led here, or NULL */
    const struct session_config *cfg;

    struct smtp_parser parser;

    /* transcript */
    struct bytebuf log;
    uint32_t log_lines, log_dropped;
    bool followed;           /* its start was announced to live sinks */

    /* what the dialogue established */
    struct bytebuf strings;
    struct strref helo;      /* the accepted HELO/EHLO name, else the last tried */
    struct strref helo_accepted;
    int helo_code;
    bool tls;
    bool quit_sent, quit_ok;
    bool auth_ok;
    char auth_mech[24];
    char auth_user[128];     /* decoded from the exchange; never a password */
    int auth_code;           /* final reply to AUTH */
    unsigned auth_step;      /* client responses so far in this AUTH */
    uint32_t ehlo_keywords;  /* enum esmtp_kw bits of the last EHLO reply */
    struct strref auth_mechs;/* mechanisms the EHLO reply offered */
    uint64_t size_limit;     /* EHLO SIZE value, 0 if none */
    enum smtp_cmd reply_cmd; /* command answered by the reply in progress */
    enum smtp_cmd last_cmd;  /* the client's last command */
    char banner_host[72];    /* first word of the greeting, if a host name */
    bool ehlo_tried;
    enum smtp_phase phase;   /* the phase expected next */

    struct txn *txns;
    uint32_t ntxn, txn_cap;
    struct rcpt *rcpts;
    uint32_t nrcpt, rcpt_cap;
    bool txn_open;           /* the last txn is open */

    uint32_t ncommands, nreplies;
    struct finding_set found;  /* every finding in anomalies[] */
    struct anomaly *anomalies; /* grown on the first one: most sessions have none */
    uint32_t nanomalies, anomaly_cap;

    struct failure failure;  /* first failing reply (phase NONE: none) */
    enum verdict verdict;    /* set by session_end */
    const char *incomplete_why; /* static text when INCOMPLETE */
    enum smtp_phase end_phase; /* the phase the session ended in */
    /* only one direction's packets were captured (asymmetric routing, a
     * one-sided tap): the other side's silence says nothing */
    bool client_side_only, server_side_only;
    bool body_gap;           /* the open message body lost bytes to a gap */
    bool tls_picked_up;      /* the capture began inside TLS */
    struct tcp_path tcp;     /* path quality, from the connection table */
    bool tcp_known;          /* tcp was filled in (a connection was seen) */
    /* while the connection lives: its counts as they grow (engine), for
     * analyses that must tell the path's delays from the server's */
    const struct tcp_path *tcp_live;
    /* the reply in progress waited this long on the server's own DNS
     * lookups (dns_wait.c sets it before the findings read it) */
    int64_t dns_wait_ns;
    /* what the TLS handshake showed (tls_observer.c), NULL if none was read;
     * valid from the end of the session until it is freed */
    const struct tls_info *tls_hs;
};

void session_config_defaults(struct session_config *cfg);

struct session *session_new(const struct session_config *cfg,
                            const struct endpoint *client,
                            const struct endpoint *server, smtp_time start,
                            enum handshake hs);
void session_feed(struct session *s, enum smtp_dir dir, const char *data,
                  size_t len, smtp_time ts);
void session_note_fin(struct session *s, enum smtp_dir dir, smtp_time ts);
/* len bytes of direction dir are not in the capture, here in the stream
 * (snap length, a segment never captured): the dialogue resumes at the
 * next line that can be placed; the transcript says so. */
void session_gap(struct session *s, enum smtp_dir dir, size_t len, smtp_time ts);
/* The capture begins inside TLS: the session is encrypted from the start. */
void session_set_encrypted(struct session *s, smtp_time ts);
/* Records a finding; its first occurrence is also a transcript line. */
void session_find(struct session *s, enum finding_id id, smtp_time ts,
                  const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline bool session_found(const struct session *s, enum finding_id id)
{
    return finding_set_has(&s->found, id);
}
/* The finding's record, or NULL when it was not found. */
struct anomaly *session_finding(struct session *s, enum finding_id id);
/* A system line in the transcript (not from the wire). */
void session_note(struct session *s, smtp_time ts, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The parser starts mid-stream: no greeting expected, partial lines skipped. */
void session_set_midstream(struct session *s);
/* The server's start was not captured (SYN-ACK missing): no greeting is
 * expected before the client's first command. */
void session_set_no_greeting(struct session *s);
/* The times of the client's SYN retransmissions, after syn_count is set:
 * the first min(syn_count - 1, SESSION_SYN_RETRANS_MAX) of ts (out of
 * memory: none). */
void session_set_syn_retrans(struct session *s, const smtp_time *ts);
/* How many of the retransmissions syn_count counts a session keeps. */
static inline uint32_t session_syn_retrans_bound(uint32_t syn_count)
{
    return syn_count < 2 ? 0
           : syn_count - 1 < SESSION_SYN_RETRANS_MAX ? syn_count - 1
                                                     : SESSION_SYN_RETRANS_MAX;
}
static inline uint32_t session_syn_retrans_kept(const struct session *s)
{
    return s->syn_retrans ? session_syn_retrans_bound(s->syn_count) : 0;
}
/* Ends the session: flushes the parser and computes the verdict. */
void session_end(struct session *s, enum tcp_end how, smtp_time ts);
void session_free(struct session *s);

/* The first word of a reply text (a host name in banners and EHLO). */
size_t session_first_word(struct smtp_span t, const char **w);
/* Keeps a copy of p[0..n) in the session's string arena (NUL-terminated;
 * empty when the arena is full). */
struct strref session_keep_str(struct session *s, const char *p, size_t n);
/* The observers' states follow the session in its allocation. */
#define SESSION_STATE_BASE ((sizeof(struct session) + 15) & ~(size_t)15)
/* The state observer i of the session's set keeps for it. */
static inline void *session_observer_state(struct session *s, int i)
{
    return (char *)s + SESSION_STATE_BASE + s->cfg->observers->offset[i];
}

static inline const char *session_str(const struct session *s, struct strref r)
{
    return s->strings.p ? s->strings.p + r.off : "";
}

/* Iterate transcript records: start with *off = 0. */
const struct tline *session_next_line(const struct session *s, size_t *off,
                                      const char **text);

#endif
