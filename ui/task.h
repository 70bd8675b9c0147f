/* task.h - work that needs the network, run for the console in a thread of
 * its own: a health check, a directory discovery.  The task gets no curses
 * and no UI store connection (it opens its own store if it needs one); when
 * it is done, the UI thread joins it and calls its finish callback, which
 * may draw, use u->st and open dialogs.
 *
 * Memory: the console owns started tasks and frees them (free_fn first,
 * then the struct) after finish.  Thread: start and poll on the UI thread. */
#ifndef MF_TASK_H
#define MF_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct ui;

struct ui_task {
	void (*run)(struct ui_task *t);                     /* its own thread */
	void (*finish)(struct ui *u, struct ui_task *t);    /* UI thread, once */
	void (*free_fn)(struct ui_task *t);                 /* may be NULL */
	void *ctx;
	/* the console's */
	pthread_t thread;
	atomic_int done;
	struct ui_task *next;
};

/* Starts t (allocated by the caller with x_calloc); false with an error in
 * the status line when no thread could be made (t is then freed). */
bool ui_task_start(struct ui *u, struct ui_task *t);
/* Joins the tasks that ended and calls their finish (the loop calls it). */
void ui_tasks_poll(struct ui *u);
/* Waits for every task (quitting): their finish is not called. */
void ui_tasks_wait(struct ui *u);
/* How many run now. */
int ui_tasks_running(const struct ui *u);

#endif
