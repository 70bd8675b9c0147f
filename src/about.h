/* about.h - what this mailferry is made of: version, build options, the
 * libraries it runs with and the files it uses.  Shown by "mailferry
 * about" (and "mailferry --version --verbose") and by the console's About
 * view, and meant to be pasted into a support request.
 *
 * libmf does not link ncurses, so the curses library is not listed here:
 * the console (or main.c) adds that line itself.
 *
 * Thread-safe; no state. */
#ifndef MF_ABOUT_H
#define MF_ABOUT_H

/* One line: label ("SQLite") and value ("3.40.1").  Both strings are valid
 * only during the call. */
typedef void about_line_fn(void *ctx, const char *label, const char *value);

/* Calls fn once per line, in display order.  config_path and store_path are
 * the files in use (either may be NULL: that line is left out); a line says
 * when the file does not exist yet. */
void about_lines(const char *config_path, const char *store_path,
		 about_line_fn *fn, void *ctx);

#endif
