/* secret.h - where passwords come from, without ever storing them in clear.
 *
 * An endpoint keeps a reference, never the secret:
 *   file:PATH     first line of PATH; refused if group/other can read it
 *   env:VAR       the environment variable VAR
 *   cmd:COMMAND   first line printed by /bin/sh -c COMMAND (like mbsync's
 *                 PassCmd); the secret never appears in any argv
 *   secret:NAME   entry NAME of the secrets file (mode 0600), written when an
 *                 admin types a password in (secret_save)
 *
 * Returned secrets are malloc'd; release them with secret_free, which wipes
 * the bytes first.  Errors name the reference but never the secret. */
#ifndef MF_SECRET_H
#define MF_SECRET_H

#include "common.h"

/* True when ref has one of the forms above (checked before it is stored). */
bool secret_ref_valid(const char *ref, struct err *e);
enum st secret_resolve(const char *ref, const char *secrets_path, char **out, struct err *e);
/* Stores value under name in the secrets file (created 0600); returns the
 * reference ("secret:NAME") in *ref_out (caller frees). */
enum st secret_save(const char *secrets_path, const char *name, const char *value,
                    char **ref_out, struct err *e);
void secret_free(char *s);

#endif
