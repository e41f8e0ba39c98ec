// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include "json_writer.h"
#include "report.h"

static FILE *json_out, *err_out;
static bool journal;
static unsigned int n_errors, n_warnings;

void report__set_json(FILE *out)
{
	json_out = out;
}

void report__set_stream(FILE *err)
{
	err_out = err;
}

void report__set_journal(bool on)
{
	journal = on;
}

static void report(const char *type, const char *fmt, va_list ap)
{
	struct json_writer w = {};
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* journald reads "<N>" as the line's priority: 3 err, 4 warning */
	fprintf(err_out ? err_out : stderr, "%ssocktrace: %s%s\n",
		!journal ? "" : type[0] == 'w' ? "<4>" : "<3>", type[0] == 'w' ? "warning: " : "",
		msg);
	if (!json_out)
		return;
	json__begin(&w);
	json__key_str(&w, "type", type);
	json__key_str(&w, "message", msg);
	json__end(&w);
	/* best effort: a failed write shows up at the output's next check */
	fwrite(w.buf, 1, w.len, json_out);
	json__free(&w);
}

void report__error(const char *fmt, ...)
{
	va_list ap;

	n_errors++;
	va_start(ap, fmt);
	report("error", fmt, ap);
	va_end(ap);
}

void report__warning(const char *fmt, ...)
{
	va_list ap;

	n_warnings++;
	va_start(ap, fmt);
	report("warning", fmt, ap);
	va_end(ap);
}

unsigned int report__count(bool errors)
{
	return errors ? n_errors : n_warnings;
}
