/* test_textfind.c - the case-insensitive search agrees with a byte-by-byte
 * model everywhere, including bytes that only look alike under OR 0x20. */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "textfind.h"

static long model(const char *h, size_t len, const char *n, size_t nlen)
{
    for (size_t i = 0; i + nlen <= len; i++) {
        size_t k = 0;
        while (k < nlen && tolower((unsigned char)h[i + k]) ==
                               tolower((unsigned char)n[k]))
            k++;
        if (k == nlen)
            return (long)i;
    }
    return -1;
}

int main(void)
{
    CHECK(text_find_ci("250 Ok: QUEUED AS 4XyZ", 22, "queued as ", 10) == 8,
          "finds a word in another case");
    CHECK(text_find_ci("greylis", 7, "greylist", 8) == -1,
          "a needle longer than the text is not found");
    CHECK(text_find_ci("abc", 3, "", 0) == 0, "an empty needle is at 0");
    CHECK(text_find_ci("xx@rbl", 6, "`rbl", 4) == -1,
          "'@' and '`' differ only in bit 0x20 and do not match");
    CHECK(text_find_ci("a\0relay", 7, "relay", 5) == 2,
          "a NUL byte in the text does not end the search");
    CHECK(text_find_ci("relaY", 5, "relay", 5) == 0, "a match that ends the text");
    CHECK(!text_has_ci("rela", 4, "relay"), "a match cut by the end is none");

    /* Random texts over an alphabet of letters and their 0x20 look-alikes. */
    static const char alpha[] = "aAbB@`[{ \x01!\xc1\xe1";
    uint64_t rng = 11;
    int bad = 0, runs = 0;
    for (int r = 0; r < 200000; r++) {
        char h[24], n[5];
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (rng >> 33) % sizeof h, nlen = (rng >> 40) % sizeof n;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            h[i] = alpha[(rng >> 35) % (sizeof alpha - 1)];
        }
        for (size_t i = 0; i < nlen; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            n[i] = alpha[(rng >> 35) % (sizeof alpha - 1)];
        }
        runs++;
        if (text_find_ci(h, len, n, nlen) != model(h, len, n, nlen))
            bad++;
    }
    CHECK(bad == 0, "%d random searches agree with the model (%d differ)", runs, bad);

    /* A set of needles found in one pass: each bit as text_has_ci says. */
    static const char *const words[] = {"ab", "Ab@", "`b", "bB{", "a a", "\xc1\xe1",
                                        "[{", "aAaA", "!\x01", "abab", "@`[{",
                                        "a\x01 b", "bBaA@", " aa  ", "{[`@b"};
    static struct text_set set = TEXT_SET(words);
    CHECK(text_set_find(&set, "xxABxx", 6) == 1, "a set finds a word in another case");
    CHECK(text_set_find(&set, "ABAB", 4) == (1ULL | 1ULL << 9),
          "a four-byte word that ends the text");
    bad = runs = 0;
    for (int r = 0; r < 100000; r++) {
        char h[32];
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t len = (rng >> 33) % sizeof h;
        for (size_t i = 0; i < len; i++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            h[i] = alpha[(rng >> 35) % (sizeof alpha - 1)];
        }
        uint64_t want = 0;
        for (size_t j = 0; j < sizeof words / sizeof *words; j++)
            if (model(h, len, words[j], strlen(words[j])) >= 0)
                want |= 1ULL << j;
        runs++;
        if (text_set_find(&set, h, len) != want)
            bad++;
    }
    CHECK(bad == 0, "%d random set searches agree with the model (%d differ)", runs, bad);
    return tap_done();
}
