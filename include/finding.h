/* finding.h - the registry of every finding smtpscope can report.
 *
 * One X-macro table says, per finding: its id, its stable name (JSON,
 * text log, --summary), its kind (what a user filters on), its severity
 * and one line of documentation. The enum, the name table, the README and
 * man page lists and the JSON Schema's enum are all made from it
 * (`make docs` rewrites the documents; a test fails when they differ).
 * Code refers to findings by id only: no strcmp on names anywhere.
 */
#ifndef SMTPSCOPE_FINDING_H
#define SMTPSCOPE_FINDING_H

#include <stdbool.h>
#include <stdint.h>

/* X(ID, "name", KIND, SEVERITY, "doc") */
#define FINDING_TABLE(X)                                                        \
    X(BANNER_MASKED, "banner-masked", INTERFERENCE, WARNING,                    \
      "greeting text replaced by asterisks (Cisco PIX/ASA SMTP fixup)")         \
    X(COMMAND_MASKED, "command-masked", INTERFERENCE, WARNING,                  \
      "a client command overwritten with X characters by a filtering device")   \
    X(STARTTLS_MASKED, "starttls-masked", INTERFERENCE, ALERT,                  \
      "STARTTLS in the EHLO reply overwritten as XXXXXXXA: TLS stripped")       \
    X(STARTTLS_STRIPPED, "starttls-stripped", INTERFERENCE, ALERT,              \
      "a server that offered STARTTLS in an earlier session does not now")      \
    X(BANNER_HOST_MISMATCH, "banner-host-mismatch", INTERFERENCE, WARNING,      \
      "greeting and EHLO reply name different hosts (a proxy in between?)")     \
    X(EHLO_REJECTED_HELO_FALLBACK, "ehlo-rejected-helo-fallback",               \
      INTERFERENCE, WARNING, "EHLO refused, the client fell back to HELO")      \
    X(RESET_SUSPICIOUS, "reset-suspicious", INTERFERENCE, ALERT,                \
      "a RST whose TTL or IP ID does not match the endpoint it claims")         \
    X(HTTP_CONNECT_TUNNEL, "http-connect-tunnel", INTERFERENCE, INFO,           \
      "the dialogue runs through an HTTP proxy (CONNECT)")                      \
    X(TLS_INTERCEPTED, "tls-intercepted", INTERFERENCE, ALERT,                  \
      "a server address showed two certificates, or one not naming its MX host")\
    X(TLS_OLD_VERSION, "tls-old-version", TLS, WARNING,                         \
      "TLS 1.1 or older negotiated (or the best the client offered)")           \
    X(TLS_CERT_EXPIRED, "tls-cert-expired", TLS, WARNING,                       \
      "the server's certificate was expired or not yet valid at capture time")  \
    X(TLS_CERT_SELF_SIGNED, "tls-cert-self-signed", TLS, INFO,                  \
      "the server's certificate is self-signed")                                \
    X(TLS_CERT_NAME_MISMATCH, "tls-cert-name-mismatch", TLS, WARNING,           \
      "the certificate names neither the SNI nor the greeting's host")          \
    X(TLS_MISMATCH, "tls-mismatch", TLS, WARNING,                               \
      "TLS where plaintext was expected (a ClientHello on port 25), or reverse")\
    X(ICMP_UNREACHABLE, "icmp-unreachable", NETWORK, WARNING,                   \
      "an ICMP destination unreachable about an established session")          \
    X(ICMP_FRAG_NEEDED, "icmp-frag-needed", NETWORK, INFO,                      \
      "path MTU discovery: fragmentation needed (large segments may stall)")    \
    X(LOSSY_PATH, "lossy-path", NETWORK, WARNING,                               \
      "more than 3 % of the data segments were retransmitted")                  \
    X(ZERO_WINDOW, "zero-window", NETWORK, WARNING,                             \
      "a receiver's window stayed 0 for 200 ms or more: it stopped reading")                 \
    X(STARTTLS_REFUSED, "starttls-refused", POLICY, WARNING,                    \
      "STARTTLS answered with a 4xx or 5xx")                                    \
    X(GREYLISTED, "greylisted", POLICY, INFO,                                   \
      "a 4xx naming greylisting or asking to try again later")                  \
    X(DNSBL_REJECTION, "dnsbl-rejection", POLICY, WARNING,                      \
      "refused naming a DNS block list")                                        \
    X(RELAY_DENIED, "relay-denied", POLICY, WARNING,                            \
      "refused because the server does not relay for this client")              \
    X(AUTH_REQUIRED, "auth-required", POLICY, WARNING,                          \
      "refused until the client authenticates (530, x.7.0)")                    \
    X(MESSAGE_TOO_LARGE, "message-too-large", POLICY, WARNING,                  \
      "refused for its size (552, x.3.4, x.2.3)")                               \
    X(MAILBOX_FULL, "mailbox-full", POLICY, WARNING,                            \
      "the recipient's mailbox is full (x.2.2, over quota)")                    \
    X(SERVER_CLOSED_IDLE, "server-closed-idle", POLICY, INFO,                   \
      "the server closed a session the client left idle after delivery")        \
    X(SLOW_GREETING, "slow-greeting", TIMING, WARNING,                          \
      "the greeting came later than --slow-ms (tarpit or overloaded server)")   \
    X(SLOW_REPLY, "slow-reply", TIMING, WARNING,                                \
      "a reply came later than --slow-ms")                                      \
    X(SLOW_END_OF_DATA, "slow-end-of-data", TIMING, WARNING,                    \
      "the reply to the final dot came later than --slow-ms (content filter)")  \
    X(SLOW_DNS_WAIT, "slow-dns-wait", TIMING, WARNING,                          \
      "a slow greeting or reply waited on the server's own DNS lookup")         \
    X(IDLE_GAP, "idle-gap", TIMING, INFO,                                       \
      "the client was silent longer than --idle-gap-ms")                        \
    X(SNAPLEN_CUT, "snaplen-cut", CAPTURE, WARNING,                             \
      "segments cut short by the capture's snap length")                        \
    X(CAPTURE_GAP, "capture-gap", CAPTURE, WARNING,                             \
      "bytes of a direction missing from the capture")                          \
    X(OVERLAP_MISMATCH, "overlap-mismatch", INTERFERENCE, ALERT,                \
      "overlapping retransmissions carry different bytes (evasion or injection)") \
    X(KERNEL_DROPS, "kernel-drops", CAPTURE, WARNING,                           \
      "the kernel dropped packets while the session was open")                  \
    X(MODEL_LIMIT, "model-limit", CAPTURE, INFO,                                \
      "more transactions or recipients than are modelled")                      \
    X(MIDSTREAM_SKIPPED, "midstream-skipped", CAPTURE, INFO,                    \
      "bytes before the first placeable line of a session picked up late")      \
    X(LINE_TOO_LONG, "line-too-long", PROTOCOL, WARNING,                        \
      "a line longer than the line bound (cut)")                                \
    X(BARE_LF, "bare-lf", PROTOCOL, WARNING,                                    \
      "a line ended by LF without CR")                                          \
    X(NUL_BYTE, "nul-byte", PROTOCOL, WARNING,                                  \
      "a NUL byte inside a command or reply line")                              \
    X(MALFORMED_REPLY, "malformed-reply", PROTOCOL, WARNING,                    \
      "a server line that is not \"ddd[ -]text\"")                              \
    X(REPLY_CODE_RANGE, "reply-code-out-of-range", PROTOCOL, WARNING,           \
      "a reply code outside 200..599")                                          \
    X(REPLY_CODE_CHANGED, "reply-code-changed", PROTOCOL, WARNING,              \
      "the code changes inside a multi-line reply")                             \
    X(UNSOLICITED_REPLY, "unsolicited-reply", PROTOCOL, WARNING,                \
      "a reply with no command waiting for it")                                 \
    X(PAIRING_RESYNC, "pairing-resync", CAPTURE, WARNING,                       \
      "a reply answered a later command than the queue said: replies were lost") \
    X(EARLY_TALKER, "early-talker", PROTOCOL, WARNING,                          \
      "the client spoke before the greeting")                                   \
    X(PENDING_OVERFLOW, "pending-overflow", PROTOCOL, WARNING,                  \
      "too many unanswered commands queued")                                    \
    X(HOLD_OVERFLOW, "hold-overflow", PROTOCOL, WARNING,                        \
      "the client sent too much before a mode-changing answer")                 \
    X(BDAT_MALFORMED, "bdat-malformed", PROTOCOL, WARNING,                      \
      "BDAT without a valid chunk size")                                        \
    X(OPEN_RELAY, "open-relay", AUDIT, ALERT,                                   \
      "mail for a foreign domain accepted from an outside client without AUTH") \
    X(AUTH_CLEARTEXT, "auth-cleartext", AUDIT, ALERT,                           \
      "AUTH on a connection without TLS")                                       \
    X(BANNER_DISCLOSURE, "banner-disclosure", AUDIT, INFO,                      \
      "the greeting or EHLO reply names the MTA software (and version)")       \
    X(MX_FALLBACK, "mx-fallback", DNS, INFO,                                    \
      "an outgoing delivery went to a lower-preference MX after failures")      \
    X(MX_ORDER, "mx-order", DNS, WARNING,                                       \
      "an outgoing delivery skipped a more preferred MX")                       \
    X(MX_MISMATCH, "mx-mismatch", DNS, ALERT,                                   \
      "an outgoing delivery went to an address DNS did not give for the MX")    \
    X(NXDOMAIN, "nxdomain", DNS, WARNING,                                       \
      "a mail-related lookup (MX, A, AAAA) answered NXDOMAIN")                  \
    X(SERVFAIL, "servfail", DNS, WARNING,                                       \
      "a mail-related lookup answered SERVFAIL")                                \
    X(DNS_TIMEOUT, "dns-timeout", DNS, WARNING,                                 \
      "a mail-related lookup never answered")                                   \
    X(SLOW_DNS, "slow-dns", DNS, INFO,                                          \
      "a lookup answered later than --slow-dns-ms")                           \
    X(BANNER_REWRITTEN, "banner-rewritten", MIDDLEBOX, WARNING,                 \
      "--compare: the greeting the client saw is not the one the server sent")  \
    X(STARTTLS_REMOVED, "starttls-removed", MIDDLEBOX, ALERT,                   \
      "--compare: the server offered STARTTLS, the client's side never saw it") \
    X(KEYWORD_REMOVED, "keyword-removed", MIDDLEBOX, WARNING,                   \
      "--compare: EHLO keywords the server offered did not reach the client")   \
    X(COMMAND_REWRITTEN, "command-rewritten", MIDDLEBOX, WARNING,               \
      "--compare: a command reached the server changed (masked, replaced)")     \
    X(REPLY_REWRITTEN, "reply-rewritten", MIDDLEBOX, WARNING,                   \
      "--compare: a reply reached the client changed")                          \
    X(REPLY_INJECTED, "reply-injected", MIDDLEBOX, ALERT,                       \
      "--compare: the client got a reply the server never sent")                \
    X(REPLY_DROPPED, "reply-dropped", MIDDLEBOX, WARNING,                       \
      "--compare: a reply the server sent never reached the client")            \
    X(COMMAND_DROPPED, "command-dropped", MIDDLEBOX, WARNING,                   \
      "--compare: a command the client sent never reached the server")          \
    X(COMMAND_INJECTED, "command-injected", MIDDLEBOX, WARNING,                 \
      "--compare: the server got a command the client never sent")              \
    X(MESSAGE_ALTERED, "message-altered", MIDDLEBOX, WARNING,                   \
      "--compare: the message changed size between the capture points")         \
    X(RESET_INJECTED, "reset-injected", MIDDLEBOX, ALERT,                       \
      "--compare: a reset seen at one capture point only")                      \
    X(CERTIFICATE_REPLACED, "certificate-replaced", MIDDLEBOX, ALERT,           \
      "--compare: the two sides saw different TLS certificates (interception)") \
    X(ONE_SIDE_ONLY, "one-side-only", MIDDLEBOX, WARNING,                       \
      "--compare: a session seen at one capture point only (blocked, redirected)") \
    X(REDIRECTED, "redirected", MIDDLEBOX, WARNING,                             \
      "--compare: the same client connection arrived at another server address") \
    X(REORIGINATED, "reoriginated", MIDDLEBOX, INFO,                            \
      "--compare: the server side's connection is another one (a proxy)")       \
    X(MIDDLEBOX_DELAY, "middlebox-delay", MIDDLEBOX, WARNING,                   \
      "--compare: the path added 0.5 s or more to the median reply")            \
    X(PAIRING_UNCERTAIN, "pairing-uncertain", CAPTURE, INFO,                    \
      "--compare: another session fitted as well: the pair is a best guess")

enum finding_id {
#define FINDING_ENUM(id, name, kind, sev, doc) FINDING_##id,
    FINDING_TABLE(FINDING_ENUM)
#undef FINDING_ENUM
    FINDING__COUNT
};

/* What a finding is about, in the order --summary groups them. */
#define FINDING_KINDS(X)                                                       \
    X(INTERFERENCE, "interference") X(NETWORK, "network")                      \
    X(POLICY, "policy") X(TLS, "tls") X(TIMING, "timing") X(CAPTURE, "capture")\
    X(PROTOCOL, "protocol") X(AUDIT, "audit") X(DNS, "dns")      \
    X(MIDDLEBOX, "middlebox")

enum finding_kind {
#define FINDING_KIND_ENUM(k, name) FKIND_##k,
    FINDING_KINDS(FINDING_KIND_ENUM)
#undef FINDING_KIND_ENUM
    FKIND__COUNT
};

enum finding_severity { FSEV_INFO = 0, FSEV_WARNING, FSEV_ALERT };

const char *finding_name(enum finding_id id);
enum finding_kind finding_kind(enum finding_id id);
enum finding_severity finding_severity(enum finding_id id);
const char *finding_doc(enum finding_id id);
const char *finding_kind_name(enum finding_kind k);
const char *finding_severity_name(enum finding_severity s);

/* A set of findings, one bit each. */
#define FINDING_SET_WORDS ((FINDING__COUNT + 63) / 64)
struct finding_set {
    uint64_t w[FINDING_SET_WORDS];
};

static inline bool finding_set_has(const struct finding_set *s, enum finding_id id)
{
    return (s->w[id / 64] >> (id % 64)) & 1;
}

static inline void finding_set_add(struct finding_set *s, enum finding_id id)
{
    s->w[id / 64] |= (uint64_t)1 << (id % 64);
}

static inline void finding_set_del(struct finding_set *s, enum finding_id id)
{
    s->w[id / 64] &= ~((uint64_t)1 << (id % 64));
}

#endif
