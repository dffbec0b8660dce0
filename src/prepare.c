/* prepare.c - see prepare.h. */
#include "prepare.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* -F FILE: the BPF expression in a file, '#' to the end of a line a
 * comment (as tcpdump reads it); 0 or the exit status. */
static int read_filter_file(struct options *o)
{
    FILE *f = fopen(o->filter_file, "r");
    if (!f) {
        fprintf(stderr, "smtpscope: -F %s: %s\n", o->filter_file, strerror(errno));
        return 2;
    }
    char *text = malloc(65537);
    size_t len = text ? fread(text, 1, 65536, f) : 0;
    bool whole = feof(f);
    fclose(f);
    if (!text || !whole) {
        fprintf(stderr, "smtpscope: -F %s: %s\n", o->filter_file,
                text ? "longer than 64 KiB" : "out of memory");
        free(text);
        return text ? 2 : 3;
    }
    bool comment = false;
    for (size_t i = 0; i < len; i++) {
        comment = text[i] == '#' || (comment && text[i] != '\n');
        if (comment || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')
            text[i] = ' ';
    }
    text[len] = '\0';
    free(o->filter);
    o->filter = text;
    return 0;
}

/* A name after the options that is a capture file (by its first bytes:
 * pcap, pcapng, or packed): `-r day-*.pcap` as the shell expands it. */
static bool is_capture_file(const char *name)
{
    static const uint8_t magics[][4] = {
        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1},
        {0xa1, 0xb2, 0x3c, 0x4d}, {0x0a, 0x0d, 0x0d, 0x0a}, {0x1f, 0x8b, 0, 0},
        {0xfd, '7', 'z', 'X'}, {'B', 'Z', 'h', 0}, {0x28, 0xb5, 0x2f, 0xfd},
    };
    static const size_t lens[] = {4, 4, 4, 4, 4, 2, 4, 3, 4};
    struct stat st;
    if (stat(name, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    uint8_t head[4] = {0};
    FILE *f = fopen(name, "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        if (got >= lens[i] && memcmp(head, magics[i], lens[i]) == 0)
            return true;
    return false;
}

/* -r a.pcap b.pcap c.pcap: the words after the options that are capture
 * files are more files; the rest is the BPF expression. 0, or the exit
 * status (a word named like a capture that does not exist). */
static int take_trailing_files(struct options *o)
{
    if (!o->nfiles || o->iface || o->compare || !o->ntrailing || o->filter_file)
        return 0;
    int k = 0;
    while (k < o->ntrailing && is_capture_file(o->trailing[k]))
        o->files[o->nfiles++] = o->trailing[k++]; /* room: argc entries */
    const char *w = k < o->ntrailing ? o->trailing[k] : NULL;
    size_t len = w ? strlen(w) : 0;
    static const char *const exts[] = {".pcap", ".pcapng", ".cap", ".gz"};
    for (size_t i = 0; w && i < sizeof exts / sizeof exts[0]; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strcmp(w + len - el, exts[i]) == 0 && access(w, F_OK) != 0) {
            fprintf(stderr, "smtpscope: %s: %s\n", w, strerror(errno));
            return 2;
        }
    }
    if (!k)
        return 0;
    free(o->filter); /* what is left is the expression */
    o->filter = NULL;
    size_t total = 0;
    for (int i = k; i < o->ntrailing; i++)
        total += strlen(o->trailing[i]) + 1;
    if (total && !(o->filter = calloc(1, total)))
        return 3;
    for (int i = k; i < o->ntrailing; i++) {
        strcat(o->filter, o->trailing[i]);
        if (i + 1 < o->ntrailing)
            strcat(o->filter, " ");
    }
    return 0;
}

int prepare(struct options *o, FILE **out)
{
    struct stat st;
    int trc = take_trailing_files(o);
    if (trc)
        return trc;
    if (o->filter_file) {
        int rc = read_filter_file(o);
        if (rc)
            return rc;
    }
    if (o->log_dir && stat(o->log_dir, &st) != 0) {
        fprintf(stderr, "smtpscope: --log-dir %s: %s\n", o->log_dir, strerror(errno));
        return 2;
    }
    if (o->log_dir && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "smtpscope: --log-dir %s: not a directory\n", o->log_dir);
        return 2;
    }
    struct session_config *sc = &o->engine.session;
    if (sc->save_dir) {
        int fd = open(sc->save_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "smtpscope: --save-messages %s: %s\n", sc->save_dir,
                    strerror(errno));
            return 2;
        }
        sc->save_dirfd = fd;
        fprintf(stderr, "smtpscope: warning: --save-messages: message contents are "
                        "being written to %s (up to %llu bytes each)\n",
                sc->save_dir, (unsigned long long)sc->save_max);
    }
    *out = stdout;
    if (o->outfile && !(*out = fopen(o->outfile, "w"))) {
        fprintf(stderr, "smtpscope: %s: %s\n", o->outfile, strerror(errno));
        return 2;
    }
    /* Colour only where a person reads it; never into files or pipes. */
    const char *when = o->color ? o->color : "auto";
    o->out.color = !o->json && (strcmp(when, "always") == 0 ||
                                (strcmp(when, "auto") == 0 && !getenv("NO_COLOR") &&
                                 isatty(fileno(*out))));
    return 0;
}

