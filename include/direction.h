/* direction.h - which side of a TCP connection bytes came from.
 *
 * Shared by the layers that see a connection's two directions (reassembly,
 * the SMTP parser, DNS over TCP) so that none of them has to include
 * another's header for it. The names are SMTP's because SMTP is what the
 * connections carry; for DNS the client is the resolver.
 */
#ifndef SMTPSCOPE_DIRECTION_H
#define SMTPSCOPE_DIRECTION_H

enum smtp_dir { SMTP_FROM_CLIENT = 0, SMTP_FROM_SERVER = 1 };

#endif
