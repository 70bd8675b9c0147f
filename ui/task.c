/* task.c - background work for the console; see task.h. */
#include "config.h"

#include "task.h"

#include <stdlib.h>

#include "ui.h"

static void *task_main(void *arg)
{
	struct ui_task *t = arg;
	t->run(t);
	atomic_store(&t->done, 1);
	return NULL;
}

static void task_free(struct ui_task *t)
{
	if (t->free_fn)
		t->free_fn(t);
	free(t);
}

bool ui_task_start(struct ui *u, struct ui_task *t)
{
	atomic_store(&t->done, 0);
	if (pthread_create(&t->thread, NULL, task_main, t) != 0) {
		ui_error(u, "cannot start a background task (out of threads?)");
		task_free(t);
		return false;
	}
	t->next = u->tasks;
	u->tasks = t;
	return true;
}

void ui_tasks_poll(struct ui *u)
{
	for (struct ui_task **pp = &u->tasks; *pp;) {
		struct ui_task *t = *pp;
		if (!atomic_load(&t->done)) {
			pp = &t->next;
			continue;
		}
		pthread_join(t->thread, NULL);
		*pp = t->next;
		if (t->finish)
			t->finish(u, t);
		task_free(t);
	}
}

void ui_tasks_wait(struct ui *u)
{
	while (u->tasks) {
		struct ui_task *t = u->tasks;
		pthread_join(t->thread, NULL);
		u->tasks = t->next;
		task_free(t);
	}
}

int ui_tasks_running(const struct ui *u)
{
	int n = 0;
	for (const struct ui_task *t = u->tasks; t; t = t->next)
		n++;
	return n;
}
