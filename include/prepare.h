/* prepare.h - after parsing, before the run: what the options name outside.
 *
 * Everything the options need from the file system and the terminal, in
 * one place, before a live capture confines the process: -F's file, the
 * capture files among the words after the options (-r day-*.pcap as the
 * shell expands it), --log-dir and --save-messages checked, -o opened,
 * colour decided.
 */
#ifndef SMTPSCOPE_PREPARE_H
#define SMTPSCOPE_PREPARE_H

#include <stdio.h>

#include "cli.h"

/* 0 with *out the output, or the exit status (the message said). */
int prepare(struct options *o, FILE **out);

#endif
