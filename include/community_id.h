/* community_id.h - the Community ID v1 flow hash (the key Zeek, Suricata,
 * Arkime and Wireshark write, https://github.com/corelight/community-id-spec):
 * "1:" and the base64 of SHA-1 over seed (2 bytes, big-endian), the two
 * addresses, the protocol, a zero byte and the two ports, the endpoint
 * with the smaller address (then port) first. Seed 0, as everyone's
 * default. */
#ifndef SMTPSCOPE_COMMUNITY_ID_H
#define SMTPSCOPE_COMMUNITY_ID_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"

#define COMMUNITY_ID_LEN 32 /* "1:" + 28 base64 characters + NUL, rounded */

/* Writes the id of the flow between a and b (either order) for protocol
 * proto (6 TCP, 17 UDP) into out; false (out empty) if hashing failed. */
bool community_id(const struct endpoint *a, const struct endpoint *b, uint8_t proto,
                  char out[COMMUNITY_ID_LEN]);

#endif
