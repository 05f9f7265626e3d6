/* maildrop - checks of maildrop envelope values; see maildrop.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "maildrop.h"

int maildrop_field_ok(const char *data, size_t len)
{
	if (len > MAILDROP_FIELD_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\r' || data[i] == '\n' || data[i] == 0)
			return 0;
	return 1;
}

static const char *const notify_words[] = {"SUCCESS", "FAILURE", "DELAY"};

/* notify_word - bit of one word of [s, s+len), 8 for NEVER, -1 unknown */
static int notify_word(const char *s, size_t len)
{
	for (int i = 0; i < 3; i++)
		if (strlen(notify_words[i]) == len && strncasecmp(s, notify_words[i], len) == 0)
			return 1 << i;
	if (len == 5 && strncasecmp(s, "NEVER", 5) == 0)
		return 8;
	return -1;
}

int maildrop_notify_canon(const char *in, size_t len, char *out, size_t size)
{
	size_t i = 0, start;
	int mask = 0, bit, n;

	while (i < len) {
		while (i < len && (in[i] == ',' || in[i] == ' ' || in[i] == '\t'))
			i++;
		for (start = i; i < len && in[i] != ',' && in[i] != ' ' && in[i] != '\t'; i++)
			;
		if (i == start)
			break;
		if ((bit = notify_word(in + start, i - start)) < 0)
			return -1;
		mask |= bit;
	}
	if (mask == 0 || ((mask & 8) && mask != 8))
		return -1;
	if (mask == 8)
		return snprintf(out, size, "NEVER") < (int)size ? 0 : -1;
	n = 0;
	out[0] = 0;
	for (int w = 0; w < 3; w++) {
		if (!(mask & (1 << w)))
			continue;
		n += snprintf(out + n, size - (size_t)n, "%s%s", n ? "," : "", notify_words[w]);
		if ((size_t)n >= size)
			return -1;
	}
	return 0;
}

int maildrop_envid_ok(const char *data, size_t len)
{
	if (len == 0 || len > MAILDROP_ENVID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] < 0x21 || (unsigned char)data[i] > 0x7e)
			return 0;
	return 1;
}

/* value_is - value equals one of the NULL-terminated words */
static int value_is(const char *v, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(v, *words, len) == 0)
			return 1;
	return 0;
}

int maildrop_attr_ok(const char *data, size_t len, int *name_index)
{
	static const char *const names[] = {"notify", "ret", "envid", "body_type"};
	static const char *const rets[] = {"FULL", "HDRS", NULL};
	static const char *const bodies[] = {"7BIT", "8BITMIME", NULL};
	const char *eq = memchr(data, '=', len);
	const char *v;
	size_t nlen, vlen;
	char canon[64];

	if (eq == NULL || !maildrop_field_ok(data, len))
		return 0;
	nlen = (size_t)(eq - data);
	v = eq + 1;
	vlen = len - nlen - 1;
	for (int i = 0; i < 4; i++) {
		if (strlen(names[i]) != nlen || memcmp(data, names[i], nlen) != 0)
			continue;
		*name_index = i;
		switch (i) {
		case 0:
			return maildrop_notify_canon(v, vlen, canon, sizeof(canon)) == 0
			    && strlen(canon) == vlen && memcmp(canon, v, vlen) == 0;
		case 1:
			return value_is(v, vlen, rets);
		case 2:
			return maildrop_envid_ok(v, vlen);
		default:
			return value_is(v, vlen, bodies);
		}
	}
	return 0;
}
