// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* report.c: one way to report errors and warnings, as text and JSON. */
#include <string.h>
#include "report.h"
#include "util.h"

static void report_reset(void *p)
{
	(void)p;
	report__set_json(NULL);
	report__set_stream(NULL);
}

TEST(report_text_and_json)
{
	struct memfile *err = memfile_new(), *json = memfile_new();
	unsigned int e0 = report__count(true), w0 = report__count(false);
	struct jc_result r;
	size_t len;
	const char *out;

	ut_defer(report_reset, NULL);
	report__set_stream(err->f);
	report__error("failed to read '%s': %s", "x.st", "No such file");
	/* without -j: the line only */
	ASSERT_STREQ(memfile_str(err, NULL), "socktrace: failed to read 'x.st': No such file\n");
	report__set_json(json->f);
	report__warning("%d \"odd\" bytes\\\x01", 3);
	ASSERT_STREQ(memfile_str(err, NULL), "socktrace: failed to read 'x.st': No such file\n"
					     "socktrace: warning: 3 \"odd\" bytes\\\x01\n");
	out = memfile_str(json, &len);
	ASSERT_STREQ(out, "{\"type\":\"warning\",\"message\":\"3 \\\"odd\\\" bytes\\\\\\u0001\"}\n");
	ASSERT_JSON_LINE(out, len, &r);
	ASSERT_EQ(report__count(true), e0 + 1);
	ASSERT_EQ(report__count(false), w0 + 1);
}
