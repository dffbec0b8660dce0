/* decode.h - link layer, IPv4/IPv6 and TCP headers of one captured frame.
 *
 * Every header field is read through bounds-checked accessors against the
 * captured length, so a truncated or hostile frame yields a status, never a
 * read past the buffer. smtpscope decodes the link layer itself (instead of
 * libnids' fixed offsets) so that stacked VLAN tags, Linux SLL/SLL2, NULL
 * and raw-IP captures all reach the same reassembly path.
 */
#ifndef SMTPSCOPE_DECODE_H
#define SMTPSCOPE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "timeval.h"

enum decode_status {
    DECODE_OK = 0,
    DECODE_NOT_IP,       /* ARP, LLDP, ... */
    DECODE_TRUNCATED,    /* captured length too short for a header */
    DECODE_BAD_HEADER,   /* impossible header field */
    DECODE_FRAGMENT,     /* IPv4 fragment: ports unknown until reassembly */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10

struct packet {
    smtp_time ts;
    const uint8_t *l3; /* the IP header */
    size_t l3_caplen;  /* captured bytes from l3 on */
    size_t ip_len;     /* IP total length (header + payload) claimed */
    uint8_t ipver;     /* 4 or 6 */
    uint8_t proto;     /* IPPROTO_* of the transport header */
    uint8_t ttl;
    uint16_t ipid;
    struct endpoint src, dst;
    /* TCP */
    uint8_t tcp_flags;
    uint32_t seq, ack;
    const uint8_t *l4;   /* the TCP (or ICMP, ...) header */
    size_t l4_caplen;    /* captured bytes from l4 on */
    size_t l4_len;       /* TCP header + payload per the IP header */
    size_t payload_len;  /* TCP payload length per the IP header */
    bool payload_cut;    /* fewer payload bytes captured than that */
};

/* An ICMP (type 3) or ICMPv6 (type 1) destination unreachable message and
 * the TCP segment it quotes. */
struct icmp_unreach {
    uint8_t type, code;
    uint16_t mtu;             /* next-hop MTU (IPv4 code 4) */
    struct endpoint router;   /* who sent the ICMP message */
    struct endpoint src, dst; /* of the quoted segment */
    uint32_t seq;
};

bool decode_icmp_unreach(const struct packet *pkt, struct icmp_unreach *out);

/* The checked accessor every reader of wire fields outside decode.c uses:
 * the big-endian 16-bit field at off of a buffer of len bytes; false (and
 * *v = 0) when it does not lie wholly inside. */
static inline bool decode_be16(const uint8_t *p, size_t len, size_t off, uint16_t *v)
{
    if (len < 2 || off > len - 2) {
        *v = 0;
        return false;
    }
    *v = (uint16_t)(p[off] << 8 | p[off + 1]);
    return true;
}

/* A UDP datagram of a decoded packet (proto 17): its ports and the payload
 * that was captured (a length field that lies or a cut datagram gives what
 * is there). False when not even the header was captured. */
struct udp_datagram {
    uint16_t sport, dport;
    const uint8_t *payload;
    size_t len;
};

bool decode_udp(const struct packet *pkt, struct udp_datagram *out);

/* True when the data link type is one smtpscope decodes. */
bool decode_linktype_supported(int dlt);

enum decode_status decode_packet(int dlt, const uint8_t *data, size_t caplen,
                                 struct packet *pkt);

#endif
