/* finding_table.c - prints the finding registry (include/finding.h) as
 * tab-separated rows: name, kind, severity, doc. test/finding_docs.py
 * writes the README, man page and JSON Schema lists from it. */
#include <stdio.h>

#include "finding.h"

int main(void)
{
    for (int k = 0; k < FKIND__COUNT; k++)
        printf("kind\t%s\n", finding_kind_name((enum finding_kind)k));
    for (int i = 0; i < FINDING__COUNT; i++)
        printf("finding\t%s\t%s\t%s\t%s\n", finding_name((enum finding_id)i),
               finding_kind_name(finding_kind((enum finding_id)i)),
               finding_severity_name(finding_severity((enum finding_id)i)),
               finding_doc((enum finding_id)i));
    return 0;
}
