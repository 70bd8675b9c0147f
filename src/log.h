/* log.h - diagnostic log (file and/or stderr), separate from the store's
 * event table, which holds what an admin reads about jobs.
 *
 * Never pass credentials to these functions: the log is meant to be shared
 * with support.  Thread-safe (one mutex around the sink). */
#ifndef MF_LOG_H
#define MF_LOG_H

#include "common.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* path NULL: no file.  to_stderr: echo messages at or above level. */
int log_open(const char *path, enum log_level level, bool to_stderr);
void log_close(void);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_enabled(LOG_TRACE)) log_msg(LOG_TRACE, __VA_ARGS__); } while (0)

#endif
