/* smtp_parser.h - pure, streaming SMTP conversation parser.
 *
 * Bytes of either direction go in with a timestamp; events come out through
 * callbacks (llhttp style). The parser knows nothing of packets, libpcap or
 * libnids, so it can be unit-tested and fuzzed on plain byte strings with
 * any split of the input.
 *
 * It owns the reply queue: every client command (and the pseudo-commands
 * "connect" for the greeting and "end-of-data" for the final dot) is queued
 * and each complete server reply is matched to the oldest pending entry, in
 * order, unless the reply's code names another command: 354 answers DATA,
 * 334/235/535 AUTH, 221 QUIT, 220 STARTTLS, a 250 is no greeting. Then the
 * queue is realigned to that command (the skipped entries lost their
 * replies, reported once as pairing-resync), or, when no such command is
 * pending, the reply answers one the capture did not show and the queue is
 * left alone: one lost line never shifts every later pair. A multi-line
 * reply ends where its code changes.
 *
 * Modes that depend on the server's answer (message body after 354, TLS
 * after 220 to STARTTLS) are entered only when that answer is seen; client
 * bytes that arrive while such an answer is still pending are held
 * (bounded) and replayed after it.
 *
 * Credentials are told from the client's side alone, never from pairing:
 * after an AUTH command (or a 334 from the server) every client line is an
 * AUTH response, whole-line SMTP_LINE_SECRET, until a line that is clearly
 * a command (a known verb alone or followed by a space), or, once the
 * AUTH's final reply was seen, a line that does not look like SASL (base64
 * or "*"). Lost, merged or early 334s change nothing in that.
 *
 * Spans passed to callbacks point into the caller's buffer or the parser's
 * own line buffer and are valid only during the callback.
 */
#ifndef SMTPSCOPE_SMTP_PARSER_H
#define SMTPSCOPE_SMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "direction.h"
#include "timeval.h"

enum smtp_cmd {
    SMTP_CMD_NONE = 0, /* a reply that answers nothing (unsolicited) */
    SMTP_CMD_CONNECT,  /* pseudo-command answered by the greeting */
    SMTP_CMD_HELO,
    SMTP_CMD_EHLO,
    SMTP_CMD_MAIL,
    SMTP_CMD_RCPT,
    SMTP_CMD_DATA,
    SMTP_CMD_BDAT,
    SMTP_CMD_END_OF_DATA, /* pseudo-command: the final "." of a body */
    SMTP_CMD_RSET,
    SMTP_CMD_NOOP,
    SMTP_CMD_VRFY,
    SMTP_CMD_EXPN,
    SMTP_CMD_HELP,
    SMTP_CMD_QUIT,
    SMTP_CMD_STARTTLS,
    SMTP_CMD_AUTH,
    SMTP_CMD_AUTH_RESPONSE, /* a client line inside an AUTH exchange */
    SMTP_CMD_UNKNOWN,
    SMTP_CMD__COUNT
};

const char *smtp_cmd_name(enum smtp_cmd cmd);

enum smtp_anomaly {
    SMTP_ANOM_LINE_TOO_LONG = 0, /* line cut at the buffer bound */
    SMTP_ANOM_BARE_LF,           /* line ended by LF without CR */
    SMTP_ANOM_NUL_BYTE,          /* NUL inside a command or reply line */
    SMTP_ANOM_MALFORMED_REPLY,   /* server line that is not "ddd[ -]text" */
    SMTP_ANOM_REPLY_CODE_RANGE,  /* reply code outside 200..599 */
    SMTP_ANOM_REPLY_CODE_CHANGED,/* code differs inside a multi-line reply */
    SMTP_ANOM_UNSOLICITED_REPLY, /* reply with no command pending */
    SMTP_ANOM_EARLY_TALKER,      /* client spoke before the greeting */
    SMTP_ANOM_PENDING_OVERFLOW,  /* too many unanswered commands queued */
    SMTP_ANOM_HOLD_OVERFLOW,     /* client sent too much before an answer */
    SMTP_ANOM_BDAT_MALFORMED,    /* BDAT without a valid chunk size */
    SMTP_ANOM_MIDSTREAM_SKIP,    /* bytes before the first placeable line */
    SMTP_ANOM_PAIRING_RESYNC,    /* a reply's code realigned the queue (once) */
    SMTP_ANOM__COUNT
};

const char *smtp_anomaly_name(enum smtp_anomaly a);

struct smtp_span {
    const char *p;
    size_t len;
};

/* Flags on a client line. */
#define SMTP_LINE_TRUNCATED 0x01u /* only the first part of the line is kept */
#define SMTP_LINE_BARE_LF 0x02u
#define SMTP_LINE_SECRET 0x04u /* `secret` holds credentials */
#define SMTP_LINE_UNTERMINATED 0x08u /* the connection ended inside it */

struct smtp_command {
    enum smtp_cmd cmd;
    struct smtp_span line;   /* the line without its CR LF, maybe truncated */
    struct smtp_span arg;    /* text after the verb and one space */
    struct smtp_span secret; /* part of `line` that carries credentials */
    size_t wire_len;         /* bytes of the line on the wire, CR LF included */
    unsigned flags;
    smtp_time ts_first, ts_last; /* first and last byte of the line */
    uint64_t bdat_size;          /* BDAT: chunk size; */
    bool bdat_last;              /* BDAT: LAST given */
};

struct smtp_reply_line {
    int code;              /* 0 when the line is malformed */
    char sep;              /* '-' continuation, ' ' last line */
    bool first, last;      /* position inside the reply */
    struct smtp_span line; /* the whole line without CR LF */
    struct smtp_span text; /* the text after "ddd" and the separator */
    unsigned flags;        /* SMTP_LINE_* */
    smtp_time ts;          /* first byte of the line */
    /* on the first line: the command it answers and the last byte of the
     * client line it answers (the command, its last AUTH response, the
     * last byte of a BDAT chunk), so latency can be measured as the reply
     * starts; on a later line SMTP_CMD_NONE, unless the line's evidence
     * re-paired the reply (EHLO keywords): then the command it answers */
    enum smtp_cmd cmd;
    smtp_time cmd_ts_last;
};

/* A complete reply, matched to the command it answers. */
struct smtp_reply {
    int code;
    enum smtp_cmd cmd;     /* the command answered */
    uint32_t tag;          /* what on_command returned for that command */
    smtp_time cmd_ts_last; /* last byte of what it answers (see above) */
    smtp_time ts_first;    /* first byte of the reply */
    smtp_time ts_last;
    struct smtp_span enhanced; /* RFC 3463 "x.y.z" of the first line, or empty */
    struct smtp_span text;     /* first line's text after the enhanced code */
    unsigned nlines;
};

struct smtp_body_end {
    uint64_t bytes;        /* after dot-unstuffing, final "." excluded */
    uint64_t lines;
    smtp_time ts_first, ts_last;
    bool bdat;             /* transferred by BDAT chunks */
    bool incomplete;       /* the connection ended before the body did */
};

struct smtp_parser;
struct smtp_header_tap;

/* Every callback may be NULL. */
struct smtp_parser_settings {
    /* Returns a tag stored with the queued command and handed back in its
     * reply (e.g. an index into the caller's transaction table). */
    uint32_t (*on_command)(struct smtp_parser *, const struct smtp_command *);
    void (*on_reply_line)(struct smtp_parser *, const struct smtp_reply_line *);
    void (*on_reply)(struct smtp_parser *, const struct smtp_reply *);
    void (*on_body_end)(struct smtp_parser *, const struct smtp_body_end *);
    /* The message's content as it passes, dot-unstuffed (DATA) or as the
     * chunks carry it (BDAT); the final "." line is not part of it. */
    void (*on_body_data)(struct smtp_parser *, const char *p, size_t n);
    void (*on_tls)(struct smtp_parser *, smtp_time ts);
    /* Once TLS started, every byte of either direction, in stream order,
     * for a reader of the handshake in clear; buf NULL: n bytes of that
     * direction are missing from the capture (a gap). */
    void (*on_tls_data)(struct smtp_parser *, enum smtp_dir, const char *buf,
                        size_t n, smtp_time ts);
    /* `detail` is empty or says more (pairing-resync: what was skipped). */
    void (*on_anomaly)(struct smtp_parser *, enum smtp_anomaly, enum smtp_dir,
                       smtp_time ts, struct smtp_span detail);
    /* The connection does not carry SMTP: the server's first line is not
     * a reply (HTTP, binary, ...). `first` holds up to SMTP_FIRST_BYTES
     * of that line. Nothing is parsed afterwards. */
    void (*on_not_smtp)(struct smtp_parser *, enum smtp_dir,
                        struct smtp_span first, smtp_time ts);
    /* An HTTP CONNECT tunnel carries the dialogue: called with the
     * request's target ("host:25 HTTP/1.0") and then with the proxy's
     * status line ("HTTP/1.0 200 Connection established"). */
    void (*on_tunnel)(struct smtp_parser *, struct smtp_span what, smtp_time ts);
    /* Opt-in: a header field of a message in transfer (DATA or BDAT),
     * unfolded, for the names Message-ID, Subject, From, To, Cc, Date,
     * Reply-To, X-Mailer, User-Agent and Received (every one) only; and
     * with the name "filename", the file name a MIME part's
     * Content-Disposition (filename=) or Content-Type (name=) gives, one
     * per part, while SMTP_MIME_SCAN_MAX bytes of the message are read.
     * NULL: headers are not looked at at all. */
    void (*on_header)(struct smtp_parser *, struct smtp_span name,
                      struct smtp_span value, smtp_time ts);
};

/* Header extraction bounds: a field's value, and how much of a message's
 * header section is looked at before giving up. */
#define SMTP_HEADER_VALUE_MAX 998
#define SMTP_HEADER_SECTION_MAX (64 * 1024)
#define SMTP_MIME_SCAN_MAX (32 * 1024 * 1024)

#define SMTP_FIRST_BYTES 48

/* Bounds. A line longer than SMTP_LINE_MAX is cut (flagged) and the rest
 * skipped up to its LF; at most SMTP_PENDING_MAX commands wait for replies;
 * at most SMTP_HOLD_MAX client bytes are held while a mode-changing answer
 * (354, 220 to STARTTLS) is awaited, and as many mid-stream client lines
 * wait to be placed (SMTP_UNPLACED_MAX). */
#define SMTP_LINE_MAX 2048
#define SMTP_PENDING_MAX 4096
#define SMTP_HOLD_MAX (64 * 1024)
#define SMTP_UNPLACED_MAX (64 * 1024)

enum smtp_client_mode {
    SMTP_MODE_COMMAND = 0,
    SMTP_MODE_AUTH,  /* unused: AUTH responses are told by auth_open */
    SMTP_MODE_BODY,  /* DATA body until CRLF.CRLF */
    SMTP_MODE_CHUNK, /* BDAT chunk octets */
    SMTP_MODE_TLS    /* after STARTTLS: bytes are only counted */
};

struct smtp_pending {
    smtp_time ts_last;
    uint32_t tag;
    uint8_t cmd;
};

/* Per-direction line assembly. */
struct smtp_linebuf {
    struct bytebuf buf;  /* only used when a line spans input calls */
    size_t wire_len;     /* bytes of the current line seen so far */
    smtp_time ts_first;
    bool truncated;
    bool has_nul;
};

struct smtp_parser {
    const struct smtp_parser_settings *settings;
    void *data; /* the caller's */

    enum smtp_client_mode mode;
    struct smtp_linebuf line[2];

    /* reply queue: a ring of pending commands */
    struct smtp_pending *pending;
    uint32_t pend_head, pend_count, pend_cap;
    uint32_t pend_dropped; /* commands not queued because the ring was full */
    bool awaiting_mode_reply; /* the newest pending command changes mode */

    /* reply in progress */
    bool in_reply;
    int reply_code;
    unsigned reply_lines;
    smtp_time reply_ts_first;
    char reply_enh[16];
    size_t reply_enh_len;
    char reply_text[256];
    size_t reply_text_len;

    /* body (DATA) and chunk (BDAT) state */
    uint8_t body_state;
    uint64_t body_bytes, body_lines;
    smtp_time body_ts_first, body_ts_last;
    uint64_t chunk_left;
    bool chunk_last;
    bool bdat_active;       /* a BDAT transfer is in progress */

    /* held client bytes while a mode-changing reply is awaited */
    struct bytebuf hold;
    smtp_time hold_ts;

    bool greeted;        /* the greeting (or any server line) was seen */
    bool not_smtp;       /* decided from the first bytes: stop parsing */
    bool seen_reply;     /* a well-formed reply line was seen */
    bool implicit_tls;   /* TLS from the first byte (port 465 style) */
    bool started[2];     /* a byte of that direction was seen */
    char first[2][SMTP_FIRST_BYTES]; /* each side's first bytes, for reports */
    uint8_t nfirst[2];
    bool tunnel[2];      /* inside the HTTP headers of a CONNECT tunnel */
    bool commands_seen;  /* the client sent a line that is not HTTP */
    struct smtp_header_tap *hdr; /* while a message's header is read */
    bool resync[2];      /* mid-stream: waiting for a line that can be placed */
    bool midstream;
    /* mid-stream: complete client lines kept until a reply places them
     * (records of struct hold_rec-like headers and bytes, bounded) */
    struct bytebuf unplaced;
    bool unplaced_on;
    /* AUTH as the client's side shows it: redaction never depends on
     * pairing. open: lines are responses; answered: its final reply seen. */
    bool auth_open, auth_answered;
    /* pairing */
    bool resync_reported;   /* pairing-resync said once */
    bool reply_unpaired;    /* the reply in progress answers no pending entry */
    smtp_time reply_ts_last; /* last byte of the reply's latest line */
    /* the client spoke while the greeting line was unterminated: where the
     * server's line stood then (a new reply may begin there) */
    size_t greet_cut;
    bool greet_cut_set;
    bool tls;
    bool tls_unasked;    /* the client began TLS with no STARTTLS accepted */
    /* TLS began after a STARTTLS exchange the capture holds only half of
     * (one side's packets, or a lost segment): a 220 with no STARTTLS seen,
     * or a STARTTLS with no reply, then a TLS record */
    bool tls_inferred;
    int last_code;         /* of the latest complete reply (0: none yet) */
    bool last_to_connect;  /* ... and it answered the connection (greeting) */
    uint64_t tls_bytes[2];
    uint64_t wire_bytes[2];
};

void smtp_parser_init(struct smtp_parser *p,
                      const struct smtp_parser_settings *settings, void *data);
void smtp_parser_free(struct smtp_parser *p);

/* Feed bytes of one direction, all carrying timestamp ts. Never fails:
 * anything unexpected is reported through on_anomaly and parsing goes on. */
void smtp_parser_execute(struct smtp_parser *p, enum smtp_dir dir,
                         const char *buf, size_t len, smtp_time ts);

/* The connection was picked up mid-stream: there is no greeting to wait
 * for, and in each direction lines are skipped (reported once) until one
 * that can be placed: a known command verb from the client, a well-formed
 * reply line from the server. Replies that answer commands sent before the
 * capture began are shown but not flagged as unsolicited. Call right after
 * smtp_parser_init. */
void smtp_parser_set_midstream(struct smtp_parser *p);
/* Do not wait for a greeting (its packets were not captured). */
void smtp_parser_no_greeting(struct smtp_parser *p);

/* What the parser established about the connection, for the session's
 * readers (the diagnosis, the writers): they read this, never the parser's
 * internals. */
struct smtp_parser_info {
    bool not_smtp;        /* the first bytes were not SMTP: parsing stopped */
    bool implicit_tls;    /* TLS from the first byte (port 465 style) */
    bool tls;             /* TLS started (after STARTTLS, or implicit) */
    bool tls_unasked;     /* the client sent a TLS record where a command was
                             due, with no STARTTLS accepted */
    bool in_reply;        /* a reply was still being received at the end */
    bool body_open;       /* a DATA body was being transferred */
    uint64_t wire_bytes[2], tls_bytes[2];
};

struct smtp_parser_info smtp_parser_info(const struct smtp_parser *p);

/* The command the next reply will answer (SMTP_CMD_NONE if none). */
enum smtp_cmd smtp_parser_awaiting(const struct smtp_parser *p);

/* Finish: a line still being assembled is delivered as if terminated. */
void smtp_parser_finish(struct smtp_parser *p, smtp_time ts);

/* The address inside "FROM:<a@b> ..." or "TO:<a@b> ...". Returns false when
 * the argument does not start with `keyword` followed by ':'. */
bool smtp_parse_path(struct smtp_span arg, const char *keyword,
                     struct smtp_span *addr);

#endif
