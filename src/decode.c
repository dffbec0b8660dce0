/* decode.c - checked decoding of link, network and TCP headers.
 *
 * All reads go through `need()`: a cursor never reads past caplen. Fields
 * are assembled byte by byte, so alignment never matters.
 */
#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define MAX_VLAN_TAGS 4

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool decode_linktype_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
    case DLT_NULL: case DLT_LOOP: case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
    case DLT_PPP:
        return true;
    default:
        return false;
    }
}

/* Returns the L3 offset and sets *ethertype (0 = look at the IP version). */
static enum decode_status link_layer(int dlt, const uint8_t *d, size_t len,
                                     size_t *off, uint16_t *ethertype)
{
    *ethertype = 0;
    switch (dlt) {
    case DLT_EN10MB: {
        if (len < 14)
            return DECODE_TRUNCATED;
        size_t o = 12;
        uint16_t et = rd16(d + o);
        for (int tags = 0; et == ETH_VLAN || et == ETH_QINQ || et == ETH_QINQ_OLD; tags++) {
            if (tags == MAX_VLAN_TAGS)
                return DECODE_BAD_HEADER;
            o += 4;
            if (len < o + 2)
                return DECODE_TRUNCATED;
            et = rd16(d + o);
        }
        *off = o + 2;
        *ethertype = et;
        return DECODE_OK;
    }
    case DLT_LINUX_SLL:
        if (len < 16)
            return DECODE_TRUNCATED;
        *off = 16;
        *ethertype = rd16(d + 14);
        return DECODE_OK;
    case DLT_LINUX_SLL2:
        if (len < 20)
            return DECODE_TRUNCATED;
        *off = 20;
        *ethertype = rd16(d);
        return DECODE_OK;
    case DLT_NULL:
    case DLT_LOOP:
        if (len < 4)
            return DECODE_TRUNCATED;
        *off = 4; /* address family in host or network order: use the IP version */
        return DECODE_OK;
    case DLT_PPP:
        if (len < 4)
            return DECODE_TRUNCATED;
        *off = (d[0] == 0xff && d[1] == 0x03) ? 2 : 0;
        {
            uint16_t proto = rd16(d + *off);
            *off += 2;
            if (proto == 0x0021)
                *ethertype = ETH_IPV4;
            else if (proto == 0x0057)
                *ethertype = ETH_IPV6;
            else
                return DECODE_NOT_IP;
        }
        return DECODE_OK;
    default: /* DLT_RAW, DLT_IPV4, DLT_IPV6 */
        *off = 0;
        return DECODE_OK;
    }
}

static enum decode_status tcp_header(const uint8_t *t, size_t avail,
                                     size_t seg_len, struct packet *pkt)
{
    if (avail < 20 || seg_len < 20)
        return avail < 20 ? DECODE_TRUNCATED : DECODE_BAD_HEADER;
    size_t hl = (size_t)(t[12] >> 4) * 4;
    if (hl < 20 || hl > seg_len)
        return DECODE_BAD_HEADER;
    pkt->src.port = rd16(t);
    pkt->dst.port = rd16(t + 2);
    pkt->seq = rd32(t + 4);
    pkt->ack = rd32(t + 8);
    pkt->tcp_flags = t[13];
    pkt->l4 = t;
    pkt->l4_caplen = avail < seg_len ? avail : seg_len;
    pkt->l4_len = seg_len;
    pkt->payload_len = seg_len - hl;
    pkt->payload_cut = avail < seg_len;
    return DECODE_OK;
}

static enum decode_status ipv4(const uint8_t *ip, size_t caplen, struct packet *pkt)
{
    if (caplen < 20)
        return DECODE_TRUNCATED;
    size_t hl = (size_t)(ip[0] & 0x0f) * 4;
    size_t tot = rd16(ip + 2);
    if (hl < 20 || caplen < hl)
        return hl < 20 ? DECODE_BAD_HEADER : DECODE_TRUNCATED;
    /* TSO/GRO on the capturing host: total length 0 means "as captured". */
    if (tot == 0)
        tot = caplen;
    if (tot < hl)
        return DECODE_BAD_HEADER;
    pkt->ipver = 4;
    pkt->ip_len = tot;
    pkt->ttl = ip[8];
    pkt->ipid = rd16(ip + 4);
    pkt->proto = ip[9];
    pkt->src.family = pkt->dst.family = 4;
    memcpy(pkt->src.addr, ip + 12, 4);
    memcpy(pkt->dst.addr, ip + 16, 4);
    uint16_t frag = rd16(ip + 6);
    if (frag & 0x3fff) /* MF set or offset non-zero */
        return DECODE_FRAGMENT;
    if (pkt->proto != 6) {
        pkt->l4 = ip + hl;
        pkt->l4_caplen = caplen - hl < tot - hl ? caplen - hl : tot - hl;
        pkt->l4_len = tot - hl;
        return DECODE_OK;
    }
    return tcp_header(ip + hl, caplen - hl, tot - hl, pkt);
}

static enum decode_status ipv6(const uint8_t *ip, size_t caplen, struct packet *pkt)
{
    if (caplen < 40)
        return DECODE_TRUNCATED;
    size_t plen = rd16(ip + 4);
    uint8_t next = ip[6];
    pkt->ipver = 6;
    pkt->ttl = ip[7];
    pkt->src.family = pkt->dst.family = 6;
    memcpy(pkt->src.addr, ip + 8, 16);
    memcpy(pkt->dst.addr, ip + 24, 16);
    if (plen == 0) /* jumbogram or GRO: take what was captured */
        plen = caplen - 40;
    pkt->ip_len = 40 + plen;
    size_t off = 40;
    /* Walk extension headers (bounded: at most 8). */
    for (int i = 0; i < 8; i++) {
        switch (next) {
        case 0: case 43: case 60: /* hop-by-hop, routing, destination */
            if (caplen < off + 2)
                return DECODE_TRUNCATED;
            next = ip[off];
            off += ((size_t)ip[off + 1] + 1) * 8;
            continue;
        case 44: /* fragment */
            if (caplen < off + 8)
                return DECODE_TRUNCATED;
            if (rd16(ip + off + 2) & 0xfff9)
                return DECODE_FRAGMENT;
            next = ip[off];
            off += 8;
            continue;
        default:
            break;
        }
        break;
    }
    pkt->proto = next;
    if (off > pkt->ip_len)
        return DECODE_BAD_HEADER;
    if (caplen < off)
        return DECODE_TRUNCATED;
    if (next != 6) {
        pkt->l4 = ip + off;
        pkt->l4_caplen = caplen - off < pkt->ip_len - off ? caplen - off
                                                          : pkt->ip_len - off;
        pkt->l4_len = pkt->ip_len - off;
        return DECODE_OK;
    }
    return tcp_header(ip + off, caplen - off, pkt->ip_len - off, pkt);
}

enum decode_status decode_packet(int dlt, const uint8_t *data, size_t caplen,
                                 struct packet *pkt)
{
    size_t off;
    uint16_t et;
    enum decode_status st = link_layer(dlt, data, caplen, &off, &et);
    if (st != DECODE_OK)
        return st;
    if (caplen < off + 1)
        return DECODE_TRUNCATED;
    const uint8_t *ip = data + off;
    size_t len = caplen - off;
    pkt->l3 = ip;
    pkt->l3_caplen = len;
    int ver = ip[0] >> 4;
    if (et && et != ETH_IPV4 && et != ETH_IPV6)
        return DECODE_NOT_IP;
    if (ver == 4 && (!et || et == ETH_IPV4))
        return ipv4(ip, len, pkt);
    if (ver == 6 && (!et || et == ETH_IPV6))
        return ipv6(ip, len, pkt);
    return DECODE_NOT_IP;
}

/* The TCP connection an ICMP destination-unreachable message is about:
 * the quoted IP header and the first 8 bytes of its TCP header. */
bool decode_icmp_unreach(const struct packet *pkt, struct icmp_unreach *out)
{
    const uint8_t *d = pkt->l4;
    size_t n = pkt->l4_caplen;
    if (!d || n < 8)
        return false;
    bool v4 = pkt->ipver == 4 && pkt->proto == 1 && d[0] == 3;
    bool v6 = pkt->ipver == 6 && pkt->proto == 58 && d[0] == 1;
    if (!v4 && !v6)
        return false;
    out->type = d[0];
    out->code = d[1];
    out->mtu = rd16(d + 6); /* next-hop MTU of "fragmentation needed" */
    out->router = pkt->src;
    const uint8_t *q = d + 8;
    size_t qn = n - 8;
    size_t hl;
    memset(&out->src, 0, sizeof out->src);
    memset(&out->dst, 0, sizeof out->dst);
    if (v4) {
        if (qn < 20 || (q[0] >> 4) != 4 || q[9] != 6)
            return false;
        hl = (size_t)(q[0] & 0x0f) * 4;
        out->src.family = out->dst.family = 4;
        memcpy(out->src.addr, q + 12, 4);
        memcpy(out->dst.addr, q + 16, 4);
    } else {
        if (qn < 40 || (q[0] >> 4) != 6 || q[6] != 6)
            return false;
        hl = 40;
        out->src.family = out->dst.family = 6;
        memcpy(out->src.addr, q + 8, 16);
        memcpy(out->dst.addr, q + 24, 16);
    }
    if (hl < 20 || qn < hl + 8)
        return false;
    out->src.port = rd16(q + hl);
    out->dst.port = rd16(q + hl + 2);
    out->seq = rd32(q + hl + 4);
    return true;
}

bool decode_udp(const struct packet *pkt, struct udp_datagram *out)
{
    uint16_t ulen;
    if (!pkt->l4 || pkt->proto != 17 ||
        !decode_be16(pkt->l4, pkt->l4_caplen, 4, &ulen) || pkt->l4_caplen < 8)
        return false;
    decode_be16(pkt->l4, pkt->l4_caplen, 0, &out->sport);
    decode_be16(pkt->l4, pkt->l4_caplen, 2, &out->dport);
    size_t n = ulen;
    if (n < 8 || n > pkt->l4_caplen)
        n = pkt->l4_caplen; /* a cut or lying length: what was captured */
    out->payload = pkt->l4 + 8;
    out->len = n - 8;
    return true;
}
