/* tls_x509.c - the server's leaf certificate, read by GnuTLS.
 *
 * X.509 is DER inside ASN.1 inside DER; GnuTLS parses it (and formats the
 * distinguished names as RFC 4514 strings), never this project.
 */
#include "tls_reader.h"

#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Copies a GnuTLS datum into a NUL-terminated field, cut to fit. */
static void copy_datum(char *out, size_t cap, const gnutls_datum_t *d)
{
    size_t n = d->size < cap - 1 ? d->size : cap - 1;
    memcpy(out, d->data, n);
    out[n] = '\0';
}

static void read_dn(gnutls_x509_crt_t crt, bool issuer, char *out, size_t cap)
{
    gnutls_datum_t d = {NULL, 0};
    int rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, 0)
                    : gnutls_x509_crt_get_dn3(crt, &d, 0);
    if (rc >= 0)
        copy_datum(out, cap, &d);
    gnutls_free(d.data);
}

static void add_name(struct tls_cert *ct, const char *name, size_t len)
{
    if (len >= TLS_CERT_NAME_MAX)
        len = TLS_CERT_NAME_MAX - 1;
    for (unsigned i = 0; i < ct->nnames; i++)
        if (strlen(ct->names[i]) == len && memcmp(ct->names[i], name, len) == 0)
            return;
    ct->nnames_total++;
    if (ct->nnames == TLS_CERT_NAMES_MAX)
        return;
    memcpy(ct->names[ct->nnames], name, len);
    ct->names[ct->nnames++][len] = '\0';
}

/* subjectAltName DNS names in order, then the subject's CN. */
static void read_names(gnutls_x509_crt_t crt, struct tls_cert *ct)
{
    char buf[TLS_CERT_NAME_MAX];
    for (unsigned seq = 0; seq < TLS_CERT_SANS_SCAN; seq++) {
        size_t size = sizeof buf;
        int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
        if (type == GNUTLS_E_SHORT_MEMORY_BUFFER)
            continue; /* longer than any DNS name may be */
        if (type < 0)
            break;
        if (type == GNUTLS_SAN_DNSNAME)
            add_name(ct, buf, strnlen(buf, size));
    }
    size_t size = sizeof buf;
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf,
                                      &size) >= 0)
        add_name(ct, buf, strnlen(buf, size));
}

/* Self-signed: the issuer is the subject and the certificate's own key
 * verifies its signature. DO_NOT_ALLOW_SAME makes GnuTLS check the
 * signature instead of trusting a certificate because it is in the list;
 * the CA, time and algorithm checks are not what is asked here. */
static bool self_signed(gnutls_x509_crt_t crt)
{
    if (!gnutls_x509_crt_check_issuer(crt, crt))
        return false;
    unsigned flags = GNUTLS_VERIFY_DO_NOT_ALLOW_SAME | GNUTLS_VERIFY_DISABLE_CA_SIGN |
                     GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                     GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
                     GNUTLS_VERIFY_ALLOW_ANY_X509_V1_CA_CRT | GNUTLS_VERIFY_ALLOW_BROKEN |
                     GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1 |
                     GNUTLS_VERIFY_IGNORE_UNKNOWN_CRIT_EXTENSIONS;
    unsigned status = 0;
    if (gnutls_x509_crt_verify(crt, &crt, 1, flags, &status) < 0)
        return false;
    return status == 0;
}

static smtp_time cert_time(time_t t)
{
    return t == (time_t)-1 ? 0 : time_from_parts((int64_t)t, 0);
}

void tls_x509_read_leaf(struct tls_cert *ct, const uint8_t *der, size_t len)
{
    gnutls_x509_crt_t crt;
    if (len > UINT32_MAX / 2 || gnutls_x509_crt_init(&crt) < 0) {
        ct->error = "certificate not read";
        return;
    }
    gnutls_datum_t d = {(unsigned char *)der, (unsigned)len};
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0) {
        ct->error = "the leaf certificate is not valid DER X.509";
        gnutls_x509_crt_deinit(crt);
        return;
    }
    read_dn(crt, false, ct->subject, sizeof ct->subject);
    read_dn(crt, true, ct->issuer, sizeof ct->issuer);
    read_names(crt, ct);
    ct->not_before = cert_time(gnutls_x509_crt_get_activation_time(crt));
    ct->not_after = cert_time(gnutls_x509_crt_get_expiration_time(crt));
    ct->self_signed = self_signed(crt);
    size_t fp = sizeof ct->sha256;
    if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, ct->sha256, &fp) < 0)
        memset(ct->sha256, 0, sizeof ct->sha256);
    ct->parsed = true;
    gnutls_x509_crt_deinit(crt);
}
