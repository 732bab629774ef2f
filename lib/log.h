/* Logging: stderr in the foreground, syslog (journald) as a daemon. On a
 * stderr that is the journal (JOURNAL_STREAM), each line starts with its
 * syslog priority as "<N>", so that journalctl -p sees the severity. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* always_prefix: "<N>" on stderr even where it is not the journal (a
 * supervisor that reads the same convention). */
void log_open(bool to_syslog, bool always_prefix);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
