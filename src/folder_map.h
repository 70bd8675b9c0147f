/* folder_map.h - how a source folder name becomes a target folder name.
 *
 * Pure functions (no I/O).  Names are UTF-8.  A name is split into
 * components at the source's hierarchy separator; rules are written by the
 * admin as paths with '/' between components, whatever the servers use:
 *   include/exclude  POSIX extended regexes matched against the '/' path;
 *   renames          "Old/Path=New/Path" prefix rules (children follow);
 *   special-use      the source's \Sent folder (and its children) goes to
 *                    the target's \Sent folder, and so on (fm_add_prefix).
 * A component that contains the target's separator cannot keep it (it would
 * create a level): each such character becomes sep_char, and fm_map
 * reports the change so the engine can log it.  Nothing is dropped. */
#ifndef MF_FOLDER_MAP_H
#define MF_FOLDER_MAP_H

#include <regex.h>

#include "common.h"

enum fm_special { SU_NONE, SU_SENT, SU_DRAFTS, SU_TRASH, SU_JUNK, SU_ARCHIVE, SU_ALL,
                  SU_FLAGGED, SU__COUNT };

struct fm_prefix {
	char **from;            /* components */
	size_t nfrom;
	char **to;
	size_t nto;
};

struct fm_rules {
	char src_delim, dst_delim;   /* '\0' when the server has a flat namespace */
	char sep_char;
	regex_t *include, *exclude;
	size_t ninclude, nexclude;
	struct fm_prefix *prefixes;  /* renames first, then special-use */
	size_t nprefixes;
};

/* include/exclude/renames: newline-separated lists, may be NULL.  Errors
 * name the bad rule. */
enum st fm_rules_init(struct fm_rules *r, char src_delim, char dst_delim, char sep_char,
                      const char *include, const char *exclude, const char *renames,
                      struct err *e);
void fm_rules_free(struct fm_rules *r);
/* Adds a prefix rule between two server names (each split at its own
 * server's separator), e.g. the special-use pairing. */
void fm_add_prefix(struct fm_rules *r, const char *src_name, const char *dst_name);

/* Special-use attribute in a LIST attribute (e.g. "\\Sent"), SU_NONE if none. */
enum fm_special fm_special_of(const char *attr);

/* Maps src_name.  Returns false when the folder is excluded by the rules.
 * *dst (always set when true) and *note (set when a separator character was
 * replaced, else NULL) are malloc'd; caller frees. */
bool fm_map(const struct fm_rules *r, const char *src_name, char **dst, char **note);

/* The '/' path of a source name, as the include/exclude rules see it. */
char *fm_path(const struct fm_rules *r, const char *src_name);

#endif
