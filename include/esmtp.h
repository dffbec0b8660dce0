/* esmtp.h - ESMTP details read from lines: EHLO keywords, MAIL parameters,
 * and the user name inside AUTH exchanges (never the password).
 *
 * Pure functions over byte spans, no state: the session model calls them.
 */
#ifndef SMTPSCOPE_ESMTP_H
#define SMTPSCOPE_ESMTP_H

#include <stddef.h>
#include <stdint.h>

/* EHLO keywords (RFC 5321 and extensions), as bits. */
enum esmtp_kw {
    KW_SIZE = 1u << 0,
    KW_PIPELINING = 1u << 1,
    KW_STARTTLS = 1u << 2,
    KW_AUTH = 1u << 3,
    KW_8BITMIME = 1u << 4,
    KW_SMTPUTF8 = 1u << 5,
    KW_CHUNKING = 1u << 6,
    KW_DSN = 1u << 7,
    KW_ENHANCEDSTATUSCODES = 1u << 8,
    KW_BINARYMIME = 1u << 9,
    KW_ETRN = 1u << 10,
    KW_VRFY = 1u << 11,
    KW_REQUIRETLS = 1u << 12,
    KW_DELIVERBY = 1u << 13,
    KW__COUNT = 14
};

const char *esmtp_kw_name(unsigned bit_index);

/* The keyword bit of one EHLO reply line's text (after "250-"/"250 "),
 * 0 for unknown keywords. arg, arg_len: the parameters after the keyword
 * (SIZE limit, AUTH mechanisms). */
unsigned esmtp_keyword(const char *text, size_t len, const char **arg,
                       size_t *arg_len);

/* The MAIL FROM parameters after the path ("SIZE=120 BODY=8BITMIME"). */
void esmtp_mail_params(const char *arg, size_t len, const char **params,
                       size_t *params_len);

/* The user name an AUTH mechanism carries in a base64 client response:
 * PLAIN (authcid), LOGIN (its first response), CRAM-MD5 (before the
 * digest), XOAUTH2 ("user="), OAUTHBEARER ("a="). step is 1 for the
 * initial response or first continuation. Returns the length written to
 * out (0: none; never the password or token). */
size_t esmtp_auth_user(const char *mech, unsigned step, const char *b64,
                       size_t b64_len, char *out, size_t cap);

#endif
