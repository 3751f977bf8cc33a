/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tern._tern: the CPython extension behind the tern package. It calls
 * tern's application API (tern_engine.h, tern_segment.h, tern_peer.h) and
 * nothing else.
 *
 * Objects: Client (a tern_client: attached to a dataplane, or of an
 * in-process Engine), Buffer (memory the engine reaches, with the buffer
 * protocol), Batch (requests validated once, submitted many times), Future
 * (one submitted batch), Engine (an in-process engine and its segments).
 *
 * Every call runs with the GIL held except waits: Future.wait() and the
 * client's reaper thread only call tern_future_wait()/tern_future_test(),
 * which touch the future alone, so they run without the GIL while other
 * threads submit on the same client. A tern future is released (its slot
 * given back) as soon as it is seen resolved by a thread holding the GIL and
 * nobody waits on it, or when its Future object is collected.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <tern_cli.h>
#include <tern_engine.h>
#include <tern_peer.h>
#include <tern_segment.h>
#include <tern_store.h>
#include <tern_transport.h>

PyMODINIT_FUNC PyInit__tern(void);

#define REGIONS_MAX	   64
#define BUFFERS_MAX	   16
#define DEADLINE_MAX_S	   3600.0
#define RESOLVE_TIMEOUT_MS 10000
#define WAIT_CHUNK_NS	   (100ull * 1000 * 1000)
/* Longer than the engine's 200 us spin, so the reaper sleeps on the futex while a
 * future is pending instead of burning a core; a resolution wakes it at once. */
#define REAPER_WAIT_NS (2ull * 1000 * 1000)

/* Run one statement without the GIL. */
#define NOGIL(stmt)                                       \
	do {                                              \
		PyThreadState *ts_ = PyEval_SaveThread(); \
		stmt;                                     \
		PyEval_RestoreThread(ts_);                \
	} while (0)

enum eal_mode { EAL_NONE = 0, EAL_SECONDARY = 1, EAL_PRIMARY = 2 };

static int eal_mode = EAL_NONE;
static PyObject *tern_error;
static PyObject *await_hook;   /* tern._aio.await_future */
static PyObject *deliver_hook; /* tern._aio.deliver */

/* Memory the engine reaches, as this process sees it: an attached process's
 * buffers from Client.alloc(), or what an Engine registered/allocated. */
struct region {
	uintptr_t start;
	uintptr_t end;
	uint32_t handle;
};

struct regions {
	unsigned int n;
	struct region r[REGIONS_MAX];
};

/* Every buffer an attached client of this process allocated (any client's
 * buffer is a LOCAL segment of the dataplane's table). */
static struct regions attached_regions;

/* 0, or -ENOSPC when full (the caller checked, but threads race while the GIL is out). */
static int
regions_add(struct regions *rs, uintptr_t start, uint64_t len, uint32_t handle)
{
	if (rs->n >= REGIONS_MAX)
		return -ENOSPC;
	rs->r[rs->n].start = start;
	rs->r[rs->n].end = start + len;
	rs->r[rs->n].handle = handle;
	rs->n++;
	return 0;
}

static void
regions_del(struct regions *rs, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < rs->n; i++)
		if (rs->r[i].handle == handle) {
			rs->r[i] = rs->r[--rs->n];
			return;
		}
}

static bool
regions_contain(const struct regions *rs, uintptr_t p, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < rs->n; i++)
		if (p >= rs->r[i].start && len <= rs->r[i].end - p && p < rs->r[i].end)
			return true;
	return false;
}

/* tern.Error(errno, "what: strerror(errno)"). Returns NULL. */
static PyObject *
set_error(int err, const char *fmt, ...)
{
	char what[256];
	PyObject *args;
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	args = Py_BuildValue("(is)", err, what);
	if (args != NULL) {
		PyErr_SetObject(tern_error, args);
		Py_DECREF(args);
	}
	return NULL;
}

static int parse_u64(PyObject *obj, const char *what, uint64_t *out);

/* ---- objects ---- */

typedef struct EngineObject EngineObject;
typedef struct ClientObject ClientObject;
typedef struct FutureObject FutureObject;

struct EngineObject {
	PyObject_HEAD struct tern_engine *engine;
	bool closing; /* close() is under way (it drops the GIL): refuse new work */
	pid_t pid;    /* the process that created it (a fork's child may not use it) */
	struct tern_segment_table *tbl;
	char name[16];
	struct regions regions;
	PyObject *registered; /* dict: segment name -> (object, memoryview) */
	PyObject *clients;    /* list of weakrefs to its clients */
	Py_ssize_t exports;   /* live Buffer views of its segments */
	PyObject *weakreflist;
};

struct ClientObject {
	PyObject_HEAD struct tern_client *c;
	bool closing; /* close() is under way (it drops the GIL): refuse new work */
	pid_t pid;    /* the process that attached (a fork's child may not use it) */
	int busy;     /* threads inside alloc() without the GIL (close() waits) */
	struct tern_segment_table *tbl;
	EngineObject *engine; /* NULL: attached to a dataplane */
	struct regions *regions;
	char engine_name[16];
	PyObject *targets; /* dict: name -> handle */
	uint32_t max_inflight;
	uint64_t nb_alloc;
	/* Buffers (borrowed; each holds a reference to the client). */
	PyObject *buffers[BUFFERS_MAX];
	unsigned int nb_buffers;
	/* shm buffers whose free the dataplane refused (work in flight). */
	uint32_t deferred[BUFFERS_MAX];
	unsigned int nb_deferred;
	/* Futures holding a tern future, oldest first (borrowed). */
	FutureObject *live_head, *live_tail;
	/* The reaper: one thread per client, started by the first await. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t reaper;
	bool reaper_started;
	bool reaper_stop;
	FutureObject **watch; /* futures an event loop awaits (strong refs) */
	PyObject **watch_af;  /* their asyncio futures (strong refs) */
	PyObject **watch_loop;
	size_t nb_watch, cap_watch;
	PyObject *weakreflist;
};

struct FutureObject {
	PyObject_HEAD struct tern_future *f; /* NULL once released */
	ClientObject *client;		     /* strong */
	int status;			     /* -EINPROGRESS until seen resolved */
	int waiters;			     /* threads in wait() + the reaper */
	int in_wait;			     /* threads in wait() (not the reaper) */
	uint32_t nb;			     /* requests */
	uint64_t bytes;
	FutureObject *prev, *next;
};

typedef struct {
	PyObject_HEAD ClientObject *client; /* strong; NULL for an engine segment */
	EngineObject *engine;		    /* strong, for an engine segment */
	uint8_t *addr;
	uint64_t len;
	uint32_t handle;
	Py_ssize_t exports;
	Py_ssize_t batches; /* prepared requests into it (close() refuses) */
	bool closed;
	char name[TERN_SEGMENT_NAME_MAX];
} BufferObject;

/* What a prepared request holds: its tern.Buffer, or else a view of its memory. */
struct held {
	PyObject *owner; /* a BufferObject (strong, counted in its batches), or NULL */
	Py_buffer view;	 /* .obj != NULL when held */
};

typedef struct {
	PyObject_HEAD ClientObject *client; /* strong */
	uint32_t nb;
	uint64_t bytes;
	struct tern_request *reqs;
	struct held *held; /* one per request, until dealloc: its memory cannot be freed */
} BatchObject;

static PyTypeObject EngineType, ClientType, FutureType, BufferType, BatchType;

/* ---- futures ---- */

static void
live_unlink(FutureObject *fo)
{
	ClientObject *c = fo->client;

	if (fo->prev != NULL)
		fo->prev->next = fo->next;
	else
		c->live_head = fo->next;
	if (fo->next != NULL)
		fo->next->prev = fo->prev;
	else
		c->live_tail = fo->prev;
	fo->prev = fo->next = NULL;
}

/* GIL held. Read the status; give the tern future back once it is resolved
 * and nobody waits on it without the GIL. */
static int
future_settle(FutureObject *fo)
{
	if (fo->f == NULL)
		return fo->status;
	if (fo->status == -EINPROGRESS)
		fo->status = tern_future_test(fo->f);
	if (fo->status != -EINPROGRESS && fo->waiters == 0) {
		tern_future_release(fo->f);
		fo->f = NULL;
		live_unlink(fo);
	}
	return fo->status;
}

/* GIL held: resolved futures nobody looked at give their slots back. */
static void
client_settle_all(ClientObject *c)
{
	FutureObject *fo = c->live_head, *next;

	while (fo != NULL) {
		next = fo->next;
		future_settle(fo);
		fo = next;
	}
}

static PyObject *
future_new(ClientObject *c, struct tern_future *f, uint32_t nb, uint64_t bytes)
{
	FutureObject *fo = PyObject_New(FutureObject, &FutureType);

	if (fo == NULL) {
		tern_future_cancel(f);
		tern_future_release(f);
		return NULL;
	}
	fo->f = f;
	Py_INCREF(c);
	fo->client = c;
	fo->status = -EINPROGRESS;
	fo->waiters = 0;
	fo->in_wait = 0;
	fo->nb = nb;
	fo->bytes = bytes;
	fo->next = NULL;
	fo->prev = c->live_tail;
	if (c->live_tail != NULL)
		c->live_tail->next = fo;
	else
		c->live_head = fo;
	c->live_tail = fo;
	return (PyObject *)fo;
}

static void
future_dealloc(FutureObject *fo)
{
	/* Collected while pending: detach it; the engine finishes it and the
	 * client reuses its slot (nothing to reap: clients have no CQ). */
	if (fo->f != NULL) {
		tern_future_release(fo->f);
		fo->f = NULL;
		live_unlink(fo);
	}
	Py_XDECREF(fo->client);
	PyObject_Free(fo);
}

static bool
future_pending(FutureObject *fo)
{
	return future_settle(fo) == -EINPROGRESS;
}

/* Wait without the GIL, in chunks so that signals (Ctrl-C) are seen. */
static int
future_wait_nogil(FutureObject *fo, double timeout_s)
{
	uint64_t left = timeout_s < 0 ? UINT64_MAX : (uint64_t)(timeout_s * 1e9);
	int ret;

	if (!future_pending(fo))
		return 0;
	if (fo->client != NULL && fo->client->pid != getpid()) {
		PyErr_SetString(PyExc_RuntimeError,
				"this future's tern client belongs to the parent process (fork)");
		return -1;
	}
	if (fo->client != NULL && fo->client->closing) {
		PyErr_SetString(PyExc_ValueError, "the tern client is closed (closing)");
		return -1;
	}
	fo->waiters++;
	fo->in_wait++;
	for (;;) {
		uint64_t chunk = left < WAIT_CHUNK_NS ? left : WAIT_CHUNK_NS;
		struct timespec t0 = { 0 }, t1;
		uint64_t spent;

		if (left != UINT64_MAX)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		NOGIL(ret = tern_future_wait(fo->f, chunk));
		if (ret != -EINPROGRESS)
			break;
		if (left != UINT64_MAX) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			spent = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
				(uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
			left = spent >= left ? 0 : left - spent;
		}
		if (left == 0)
			break;
		if (PyErr_CheckSignals() != 0) {
			fo->in_wait--;
			fo->waiters--;
			future_settle(fo);
			return -1;
		}
	}
	fo->in_wait--;
	fo->waiters--;
	future_settle(fo);
	return 0;
}

static bool
parse_timeout(PyObject *obj, double *timeout_s)
{
	if (obj == NULL || obj == Py_None) {
		*timeout_s = -1;
		return true;
	}
	*timeout_s = PyFloat_AsDouble(obj);
	if (*timeout_s == -1.0 && PyErr_Occurred()) {
		PyErr_Format(PyExc_TypeError,
			     "timeout must be a number of seconds or None, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return false;
	}
	if (!(*timeout_s >= 0) || *timeout_s > 1e9) {
		PyErr_Format(PyExc_ValueError, "timeout must be >= 0 seconds (or None), not %R",
			     obj);
		return false;
	}
	return true;
}

static PyObject *
future_wait(FutureObject *fo, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *tobj = Py_None;
	double timeout_s = -1;

	/* No arguments (the common case) skips the parser. */
	if ((PyTuple_GET_SIZE(args) != 0 || kw != NULL) &&
	    (!PyArg_ParseTupleAndKeywords(args, kw, "|O:wait", kwlist, &tobj) ||
	     !parse_timeout(tobj, &timeout_s)))
		return NULL;
	if (future_wait_nogil(fo, timeout_s) != 0)
		return NULL;
	return PyBool_FromLong(fo->status != -EINPROGRESS);
}

static PyObject *
future_done(FutureObject *fo, PyObject *unused)
{
	(void)unused;
	return PyBool_FromLong(!future_pending(fo));
}

static PyObject *
future_raise(FutureObject *fo)
{
	const char *what = fo->status == -ETIMEDOUT   ? "the batch's deadline passed"
			   : fo->status == -ECANCELED ? "the batch was cancelled"
						      : "the batch failed";

	return set_error(fo->status, "%s (%u request(s), %llu bytes): %s", what, fo->nb,
			 (unsigned long long)fo->bytes, strerror(-fo->status));
}

static PyObject *
future_result(FutureObject *fo, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *tobj = Py_None;
	double timeout_s = -1;

	/* No arguments (the common case) skips the parser. */
	if ((PyTuple_GET_SIZE(args) != 0 || kw != NULL) &&
	    (!PyArg_ParseTupleAndKeywords(args, kw, "|O:result", kwlist, &tobj) ||
	     !parse_timeout(tobj, &timeout_s)))
		return NULL;
	if (future_wait_nogil(fo, timeout_s) != 0)
		return NULL;
	if (fo->status == -EINPROGRESS) {
		PyErr_SetString(
			PyExc_TimeoutError,
			"the future has not resolved within the timeout (it is still pending)");
		return NULL;
	}
	if (fo->status != 0)
		return future_raise(fo);
	return PyLong_FromUnsignedLongLong(fo->bytes);
}

static PyObject *
future_cancel(FutureObject *fo, PyObject *unused)
{
	int ret;

	(void)unused;
	if (fo->f == NULL)
		return PyBool_FromLong(0);
	ret = tern_future_cancel(fo->f);
	future_settle(fo);
	return PyBool_FromLong(ret == 0);
}

static PyObject *
future_get_status(FutureObject *fo, void *closure)
{
	(void)closure;
	if (future_pending(fo))
		Py_RETURN_NONE;
	return PyLong_FromLong(-fo->status);
}

static PyObject *
future_get_nbytes(FutureObject *fo, void *closure)
{
	(void)closure;
	return PyLong_FromUnsignedLongLong(fo->bytes);
}

static PyObject *
future_repr(FutureObject *fo)
{
	if (future_pending(fo))
		return PyUnicode_FromFormat("<tern.Future pending, %u request(s), %llu bytes>",
					    fo->nb, (unsigned long long)fo->bytes);
	return PyUnicode_FromFormat("<tern.Future %s, %u request(s), %llu bytes>",
				    fo->status == 0 ? "done" : strerror(-fo->status), fo->nb,
				    (unsigned long long)fo->bytes);
}

static PyObject *
future_await(FutureObject *fo)
{
	if (await_hook == NULL) {
		PyErr_SetString(PyExc_RuntimeError, "tern._aio is not loaded");
		return NULL;
	}
	return PyObject_CallOneArg(await_hook, (PyObject *)fo);
}

/* ---- the reaper: resolves awaited futures in their event loops ---- */

static void *
reaper_main(void *arg)
{
	ClientObject *c = arg;
	FutureObject *first;
	size_t i, n;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		bool any = false;

		while (c->nb_watch == 0 && !c->reaper_stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->reaper_stop)
			break;
		n = c->nb_watch;
		for (i = 0; i < n && !any; i++)
			any = tern_future_test(c->watch[i]->f) != -EINPROGRESS;
		if (!any) {
			first = c->watch[0];
			pthread_mutex_unlock(&c->mu);
			tern_future_wait(first->f, REAPER_WAIT_NS);
			pthread_mutex_lock(&c->mu);
			continue;
		}
		pthread_mutex_unlock(&c->mu);
		{
			PyGILState_STATE g = PyGILState_Ensure();

			pthread_mutex_lock(&c->mu);
			for (i = 0; i < c->nb_watch;) {
				FutureObject *fo = c->watch[i];
				PyObject *af = c->watch_af[i], *loop = c->watch_loop[i], *r;

				if (tern_future_test(fo->f) == -EINPROGRESS) {
					i++;
					continue;
				}
				c->nb_watch--;
				c->watch[i] = c->watch[c->nb_watch];
				c->watch_af[i] = c->watch_af[c->nb_watch];
				c->watch_loop[i] = c->watch_loop[c->nb_watch];
				pthread_mutex_unlock(&c->mu);
				fo->waiters--;
				future_settle(fo);
				/* The loop drops the Future: a last reference
				 * dropped here could free the client, and this
				 * thread with it. */
				r = PyObject_CallMethod(loop, "call_soon_threadsafe", "OOO",
							deliver_hook, af, fo);
				if (r == NULL)
					PyErr_Clear(); /* the loop is closed: nobody waits */
				if (Py_REFCNT(fo) > 1 || Py_REFCNT(fo->client) > 1)
					Py_DECREF(fo);
				Py_XDECREF(r);
				Py_DECREF(af);
				Py_DECREF(loop);
				pthread_mutex_lock(&c->mu);
			}
			pthread_mutex_unlock(&c->mu);
			PyGILState_Release(g);
			pthread_mutex_lock(&c->mu);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Future._watch(loop, asyncio_future): the reaper sets it when this resolves. */
static PyObject *
future_watch(FutureObject *fo, PyObject *args)
{
	ClientObject *c = fo->client;
	PyObject *loop, *af;

	if (!PyArg_ParseTuple(args, "OO:_watch", &loop, &af))
		return NULL;
	if (!future_pending(fo))
		Py_RETURN_FALSE;
	if (c->closing || c->c == NULL) {
		PyErr_SetString(PyExc_ValueError, "the tern client is closed (closing)");
		return NULL;
	}
	pthread_mutex_lock(&c->mu);
	if (c->nb_watch == c->cap_watch) {
		size_t cap = c->cap_watch ? c->cap_watch * 2 : 64;
		FutureObject **w = PyMem_RawRealloc(c->watch, cap * sizeof(*w));
		PyObject **a = w == NULL ? NULL : PyMem_RawRealloc(c->watch_af, cap * sizeof(*a));
		PyObject **l = a == NULL ? NULL : PyMem_RawRealloc(c->watch_loop, cap * sizeof(*l));

		if (w != NULL)
			c->watch = w;
		if (a != NULL)
			c->watch_af = a;
		if (l == NULL) {
			pthread_mutex_unlock(&c->mu);
			return PyErr_NoMemory();
		}
		c->watch_loop = l;
		c->cap_watch = cap;
	}
	if (!c->reaper_started) {
		if (pthread_create(&c->reaper, NULL, reaper_main, c) != 0) {
			pthread_mutex_unlock(&c->mu);
			return set_error(EAGAIN, "cannot start the client's reaper thread");
		}
		c->reaper_started = true;
	}
	Py_INCREF(fo);
	Py_INCREF(af);
	Py_INCREF(loop);
	fo->waiters++;
	c->watch[c->nb_watch] = fo;
	c->watch_af[c->nb_watch] = af;
	c->watch_loop[c->nb_watch] = loop;
	c->nb_watch++;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	Py_RETURN_TRUE;
}

static PyMethodDef future_methods[] = {
	{ "wait", (PyCFunction)(void (*)(void))future_wait, METH_VARARGS | METH_KEYWORDS,
	  "wait(timeout=None) -> bool: wait (without the GIL) until the batch resolves or "
	  "timeout seconds pass; True if it resolved." },
	{ "done", (PyCFunction)future_done, METH_NOARGS, "done() -> bool: has it resolved?" },
	{ "result", (PyCFunction)(void (*)(void))future_result, METH_VARARGS | METH_KEYWORDS,
	  "result(timeout=None) -> int: wait, then the bytes moved; raises tern.Error "
	  "(errno ETIMEDOUT, ECANCELED, ECONNRESET, ...) if the batch failed, TimeoutError "
	  "if timeout passed first." },
	{ "cancel", (PyCFunction)future_cancel, METH_NOARGS,
	  "cancel() -> bool: resolve it now with ECANCELED; False if it had resolved." },
	{ "_watch", (PyCFunction)future_watch, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef future_getset[] = {
	{ "errno", (getter)future_get_status, NULL,
	  "None while pending, 0 on success, else the errno it failed with", NULL },
	{ "nbytes", (getter)future_get_nbytes, NULL, "bytes the batch moves", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyAsyncMethods future_async = {
	.am_await = (unaryfunc)future_await,
};

static PyTypeObject FutureType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern.Future",
	.tp_basicsize = sizeof(FutureObject),
	.tp_dealloc = (destructor)future_dealloc,
	.tp_repr = (reprfunc)future_repr,
	.tp_as_async = &future_async,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "One submitted batch: wait(), done(), result(), cancel(), await.",
	.tp_methods = future_methods,
	.tp_getset = future_getset,
};

/* ---- buffers ---- */

static bool
buffer_check(BufferObject *b)
{
	if (b->closed || (b->client != NULL && b->client->c == NULL) ||
	    (b->engine != NULL && b->engine->engine == NULL)) {
		PyErr_Format(PyExc_ValueError, "tern buffer %s is closed", b->name);
		return false;
	}
	return true;
}

static int
buffer_getbuffer(BufferObject *b, Py_buffer *view, int flags)
{
	if (!buffer_check(b)) {
		view->obj = NULL;
		return -1;
	}
	if (b->len > PY_SSIZE_T_MAX) {
		PyErr_SetString(PyExc_OverflowError, "buffer too large for this Python");
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)b, b->addr, (Py_ssize_t)b->len, 0, flags) != 0)
		return -1;
	b->exports++;
	if (b->engine != NULL)
		b->engine->exports++;
	return 0;
}

static void
buffer_releasebuffer(BufferObject *b, Py_buffer *view)
{
	(void)view;
	b->exports--;
	if (b->engine != NULL)
		b->engine->exports--;
}

static PyBufferProcs buffer_as_buffer = {
	.bf_getbuffer = (getbufferproc)buffer_getbuffer,
	.bf_releasebuffer = (releasebufferproc)buffer_releasebuffer,
};

static void
client_retry_deferred(ClientObject *c)
{
	unsigned int i = 0;

	while (i < c->nb_deferred)
		if (tern_client_shm_free(c->c, c->deferred[i]) != -EBUSY)
			c->deferred[i] = c->deferred[--c->nb_deferred];
		else
			i++;
}

/* Give an attached client's buffer back to the dataplane (later if work in
 * flight still uses it). */
static void
buffer_release_shm(BufferObject *b)
{
	ClientObject *c = b->client;
	unsigned int i;

	b->closed = true;
	regions_del(c->regions, b->handle);
	for (i = 0; i < c->nb_buffers; i++)
		if (c->buffers[i] == (PyObject *)b) {
			c->buffers[i] = c->buffers[--c->nb_buffers];
			break;
		}
	if (c->c == NULL)
		return;
	if (tern_client_shm_free(c->c, b->handle) == -EBUSY && c->nb_deferred < BUFFERS_MAX)
		c->deferred[c->nb_deferred++] = b->handle;
}

static PyObject *
buffer_close(BufferObject *b, PyObject *unused)
{
	(void)unused;
	if (b->closed || b->client == NULL)
		Py_RETURN_NONE;
	if (b->batches > 0) {
		PyErr_Format(PyExc_BufferError,
			     "tern buffer %s is used by %zd request(s) of prepared tern.Batch "
			     "objects: delete them first",
			     b->name, b->batches);
		return NULL;
	}
	if (b->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "tern buffer %s has %zd live view(s) (memoryview, numpy array): "
			     "release them first",
			     b->name, b->exports);
		return NULL;
	}
	buffer_release_shm(b);
	Py_RETURN_NONE;
}

static void
buffer_dealloc(BufferObject *b)
{
	if (!b->closed && b->client != NULL)
		buffer_release_shm(b);
	Py_XDECREF(b->client);
	Py_XDECREF(b->engine);
	PyObject_Free(b);
}

static Py_ssize_t
buffer_len(BufferObject *b)
{
	return (Py_ssize_t)b->len;
}

static PyObject *
buffer_get_name(BufferObject *b, void *closure)
{
	(void)closure;
	return PyUnicode_FromString(b->name);
}

static PyObject *
buffer_get_address(BufferObject *b, void *closure)
{
	(void)closure;
	return PyLong_FromVoidPtr(b->addr);
}

static PyObject *
buffer_repr(BufferObject *b)
{
	return PyUnicode_FromFormat("<tern.Buffer %s, %llu bytes%s>", b->name,
				    (unsigned long long)b->len, b->closed ? ", closed" : "");
}

static PyObject *
enter_self(PyObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return self;
}

static PyObject *
buffer_exit(BufferObject *b, PyObject *args)
{
	(void)args;
	return buffer_close(b, NULL);
}

static PyMethodDef buffer_methods[] = {
	{ "close", (PyCFunction)buffer_close, METH_NOARGS,
	  "close(): give the memory back (refused while views of it are alive)." },
	{ "__enter__", enter_self, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)buffer_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef buffer_getset[] = {
	{ "name", (getter)buffer_get_name, NULL, "its segment name", NULL },
	{ "address", (getter)buffer_get_address, NULL, "address of its first byte", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PySequenceMethods buffer_as_sequence = {
	.sq_length = (lenfunc)buffer_len,
};

static PyTypeObject BufferType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern.Buffer",
	.tp_basicsize = sizeof(BufferObject),
	.tp_dealloc = (destructor)buffer_dealloc,
	.tp_repr = (reprfunc)buffer_repr,
	.tp_as_sequence = &buffer_as_sequence,
	.tp_as_buffer = &buffer_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc =
		"Memory the engine reaches (buffer protocol: memoryview(b), numpy.frombuffer(b)).",
	.tp_methods = buffer_methods,
	.tp_getset = buffer_getset,
};

/* ---- clients ---- */

static bool
client_check(ClientObject *c)
{
	if (c->pid != getpid()) {
		PyErr_Format(PyExc_RuntimeError,
			     "this tern client belongs to process %d, not this forked child: "
			     "attach again in the child",
			     (int)c->pid);
		return false;
	}
	if (c->c == NULL || c->closing) {
		PyErr_SetString(PyExc_ValueError, "the tern client is closed");
		return false;
	}
	if (c->engine != NULL && (c->engine->engine == NULL || c->engine->closing)) {
		PyErr_SetString(PyExc_ValueError, "the tern engine is closed");
		return false;
	}
	return true;
}

static PyObject *
client_alloc(ClientObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "nbytes", "name", NULL };
	PyObject *nobj;
	const char *name = NULL;
	char auto_name[TERN_SEGMENT_NAME_MAX];
	unsigned long long n;
	uint64_t n64;
	BufferObject *b;
	uint32_t handle;
	void *addr;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|z:alloc", kwlist, &nobj, &name))
		return NULL;
	if (!client_check(c))
		return NULL;
	if (c->engine != NULL) {
		PyErr_SetString(PyExc_ValueError,
				"alloc() is for clients attached to a dataplane; an in-process "
				"engine registers any buffer: Engine.register(obj)");
		return NULL;
	}
	if (parse_u64(nobj, "nbytes", &n64) != 0) {
		if (PyErr_ExceptionMatches(PyExc_ValueError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "nbytes must be 1 .. 1 TiB, not %R", nobj);
		}
		return NULL;
	}
	n = n64;
	if (n == 0 || n > (1ull << 40)) {
		PyErr_Format(PyExc_ValueError, "nbytes must be 1 .. 1 TiB, not %R", nobj);
		return NULL;
	}
	/* A deferred free still holds its slot at the dataplane (and in c->deferred). */
	client_retry_deferred(c);
	if (c->nb_buffers + c->nb_deferred >= BUFFERS_MAX || attached_regions.n >= REGIONS_MAX)
		return set_error(ENOSPC, "a client has at most %d buffers: close one", BUFFERS_MAX);
	if (name == NULL) {
		snprintf(auto_name, sizeof(auto_name), "py%d_%p_%llu", (int)getpid(), (void *)c,
			 (unsigned long long)c->nb_alloc++);
		name = auto_name;
	} else if (tern_cli_check_name_chars(name, TERN_SEGMENT_NAME_MAX, TERN_CLI_NAME_SEGMENT) !=
		   0) {
		PyErr_Format(PyExc_ValueError, "bad buffer name '%s': 1..%d of [A-Za-z0-9_.:-]",
			     name, TERN_SEGMENT_NAME_MAX - 1);
		return NULL;
	}
	client_retry_deferred(c);
	c->busy++;
	NOGIL(addr = tern_client_shm_alloc(c->c, name, n, &handle));
	c->busy--;
	if (addr == NULL)
		return set_error(
			rte_errno,
			"cannot allocate %llu bytes of shared memory from the dataplane: %s", n,
			rte_strerror(rte_errno));
	if (c->c == NULL)
		return set_error(ECANCELED, "the client was closed during alloc()");
	/* Other threads allocated while the GIL was out: check the limits again. */
	if (c->nb_buffers + c->nb_deferred >= BUFFERS_MAX || c->regions->n >= REGIONS_MAX) {
		tern_client_shm_free(c->c, handle);
		return set_error(ENOSPC, "a client has at most %d buffers: close one", BUFFERS_MAX);
	}
	b = PyObject_New(BufferObject, &BufferType);
	if (b == NULL) {
		tern_client_shm_free(c->c, handle);
		return NULL;
	}
	Py_INCREF(c);
	b->client = c;
	b->engine = NULL;
	b->addr = addr;
	b->len = n;
	b->handle = handle;
	b->exports = 0;
	b->batches = 0;
	b->closed = false;
	snprintf(b->name, sizeof(b->name), "%s", name);
	c->buffers[c->nb_buffers++] = (PyObject *)b;
	(void)regions_add(c->regions, (uintptr_t)addr, n, handle); /* room checked above */
	return (PyObject *)b;
}

/* Target name -> segment handle: the engine's own segment ("kv"), or a
 * peer's ("node/kv", resolved by the dataplane). Cached per client. */
static int
client_target(ClientObject *c, PyObject *name, uint32_t *handle)
{
	char node[TERN_PEER_NAME_MAX], seg[TERN_SEGMENT_NAME_MAX];
	PyObject *h = PyDict_GetItemWithError(c->targets, name);
	const char *s;
	int ret;

	if (h != NULL) {
		*handle = (uint32_t)PyLong_AsUnsignedLong(h);
		return 0;
	}
	if (PyErr_Occurred())
		return -1;
	if (!PyUnicode_Check(name)) {
		PyErr_Format(PyExc_TypeError,
			     "target must be a str (\"segment\" or \"node/segment\"), not %.100s",
			     Py_TYPE(name)->tp_name);
		return -1;
	}
	s = PyUnicode_AsUTF8(name);
	if (s == NULL)
		return -1;
	if (strchr(s, '/') != NULL) {
		if (tern_peers_split_name(s, node, seg) != 0) {
			PyErr_Format(PyExc_ValueError,
				     "bad target %R: \"node/segment\" with one '/' and valid names",
				     name);
			return -1;
		}
		if (c->engine != NULL) {
			PyErr_Format(PyExc_ValueError,
				     "target %R names a peer: an in-process engine has no peers "
				     "(attach to a dataplane for node/segment targets)",
				     name);
			return -1;
		}
		NOGIL(ret = tern_peers_ipc_resolve(node, seg, RESOLVE_TIMEOUT_MS, handle));
		if (ret != 0) {
			set_error(ret, "the dataplane cannot reach %s: %s", s, strerror(-ret));
			return -1;
		}
	} else {
		if (strlen(s) == 0 || strlen(s) >= TERN_SEGMENT_NAME_MAX) {
			PyErr_Format(PyExc_ValueError,
				     "bad target %R: a segment name of 1..%d chars", name,
				     TERN_SEGMENT_NAME_MAX - 1);
			return -1;
		}
		ret = tern_segment_find(c->tbl, s, handle);
		if (ret != 0) {
			set_error(ret, "engine %s has no segment %s", c->engine_name, s);
			return -1;
		}
	}
	h = PyLong_FromUnsignedLong(*handle);
	if (h == NULL || PyDict_SetItem(c->targets, name, h) != 0) {
		Py_XDECREF(h);
		return -1;
	}
	Py_DECREF(h);
	return 0;
}

static int
parse_u64(PyObject *obj, const char *what, uint64_t *out)
{
	unsigned long long v;
	PyObject *n;

	/* An int, or what says it is one (numpy.int64: __index__); not a float or a bool. */
	if (PyBool_Check(obj) || (!PyLong_Check(obj) && !PyIndex_Check(obj))) {
		PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	n = PyNumber_Index(obj);
	if (n == NULL)
		return -1;
	v = PyLong_AsUnsignedLongLong(n);
	Py_DECREF(n);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError, "%s must be 0 .. 2**64-1, not %R", what, obj);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_op(PyObject *obj, uint8_t *op)
{
	if (PyLong_Check(obj)) {
		long v = PyLong_AsLong(obj);

		if (v == TERN_OP_READ || v == TERN_OP_WRITE) {
			*op = (uint8_t)v;
			return 0;
		}
	} else if (PyUnicode_Check(obj)) {
		if (PyUnicode_CompareWithASCIIString(obj, "read") == 0) {
			*op = TERN_OP_READ;
			return 0;
		}
		if (PyUnicode_CompareWithASCIIString(obj, "write") == 0) {
			*op = TERN_OP_WRITE;
			return 0;
		}
	}
	PyErr_Clear();
	PyErr_Format(PyExc_ValueError,
		     "op must be tern.READ, tern.WRITE, \"read\" or \"write\", not %R", obj);
	return -1;
}

/*
 * Fill one request from (op, target, offset, buf[, length]). With keep != NULL the view
 * of buf stays held in *keep (the caller releases it), so the memory outlives the request.
 */
static int
fill_request(ClientObject *c, uint8_t op, PyObject *target, PyObject *offobj, PyObject *buf,
	     PyObject *lenobj, struct tern_request *r, struct held *keep)
{
	uint64_t offset, length;
	Py_buffer view;
	int flags = op == TERN_OP_READ ? PyBUF_WRITABLE : PyBUF_SIMPLE;

	if (client_target(c, target, &r->segment) != 0 || parse_u64(offobj, "offset", &offset) != 0)
		return -1;
	if (PyObject_GetBuffer(buf, &view, flags) != 0) {
		bool ro;

		if (PyObject_TypeCheck(buf, &BufferType))
			return -1; /* a closed tern.Buffer: its own message */
		if (!PyObject_CheckBuffer(buf)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
				     "buf must support the buffer protocol (tern.Buffer, "
				     "memoryview, numpy array, bytearray), not %.100s",
				     Py_TYPE(buf)->tp_name);
			return -1;
		}
		PyErr_Clear();
		ro = op == TERN_OP_READ && PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE) == 0;
		if (ro)
			PyBuffer_Release(&view);
		PyErr_Clear();
		PyErr_Format(
			PyExc_ValueError,
			ro ? "a READ needs a writable buffer; this %.100s is read-only"
			   : "buf must be one C-contiguous block of memory; this %.100s is not",
			Py_TYPE(buf)->tp_name);
		return -1;
	}
	length = (uint64_t)view.len;
	if (lenobj != NULL && lenobj != Py_None) {
		if (parse_u64(lenobj, "length", &length) != 0) {
			PyBuffer_Release(&view);
			return -1;
		}
		if (length > (uint64_t)view.len) {
			PyErr_Format(PyExc_ValueError,
				     "length %llu is larger than the buffer (%zd bytes)",
				     (unsigned long long)length, view.len);
			PyBuffer_Release(&view);
			return -1;
		}
	}
	if (length == 0) {
		PyErr_SetString(PyExc_ValueError, "a request moves at least one byte (length 0)");
		PyBuffer_Release(&view);
		return -1;
	}
	if (!regions_contain(c->regions, (uintptr_t)view.buf, length)) {
		PyErr_SetString(
			PyExc_ValueError,
			c->engine == NULL
				? "buf is not in memory the dataplane can reach: use a buffer from "
				  "Client.alloc() (or a view into one)"
				: "buf is not in memory the engine can reach: register it first "
				  "(Engine.register(obj)) or use Engine.buffer(segment)");
		PyBuffer_Release(&view);
		return -1;
	}
	r->op = op;
	memset(r->reserved, 0, sizeof(r->reserved));
	r->offset = offset;
	r->local = view.buf;
	r->length = length;
	if (keep != NULL) {
		unsigned int i;

		keep->owner = NULL;
		keep->view = view;
		for (i = 0; i < c->nb_buffers; i++) {
			BufferObject *o = (BufferObject *)c->buffers[i];

			if ((uint8_t *)view.buf >= o->addr &&
			    (uint8_t *)view.buf + length <= o->addr + o->len) {
				PyBuffer_Release(&keep->view);
				keep->view.obj = NULL;
				Py_INCREF(o);
				o->batches++;
				keep->owner = (PyObject *)o;
				break;
			}
		}
	} else {
		PyBuffer_Release(&view);
	}
	return 0;
}

static void
held_release(struct held *h)
{
	if (h->owner != NULL) {
		((BufferObject *)h->owner)->batches--;
		Py_CLEAR(h->owner);
	}
	if (h->view.obj != NULL)
		PyBuffer_Release(&h->view);
}

/* A sequence of (op, target, offset, buf[, length]) -> requests. */
static struct tern_request *
parse_requests(ClientObject *c, PyObject *seq, uint32_t *nb, uint64_t *bytes, struct held **views)
{
	struct held *held = NULL;
	struct tern_request *reqs;
	PyObject *fast;
	Py_ssize_t n, i;

	fast = PySequence_Fast(seq,
			       "requests must be a list of (op, target, offset, buf[, length])");
	if (fast == NULL)
		return NULL;
	n = PySequence_Fast_GET_SIZE(fast);
	if (n == 0 || n > TERN_BATCH_MAX) {
		PyErr_Format(PyExc_ValueError, "a batch has 1 .. %d requests, not %zd",
			     TERN_BATCH_MAX, n);
		Py_DECREF(fast);
		return NULL;
	}
	reqs = PyMem_Malloc((size_t)n * sizeof(*reqs));
	if (reqs == NULL) {
		Py_DECREF(fast);
		return (struct tern_request *)PyErr_NoMemory();
	}
	if (views != NULL) {
		held = PyMem_Malloc((size_t)n * sizeof(*held));
		if (held == NULL) {
			PyMem_Free(reqs);
			Py_DECREF(fast);
			return (struct tern_request *)PyErr_NoMemory();
		}
	}
	*bytes = 0;
	for (i = 0; i < n; i++) {
		PyObject *t = PySequence_Fast_GET_ITEM(fast, i);
		Py_ssize_t k;
		uint8_t op;

		if (!PyTuple_Check(t) || (k = PyTuple_GET_SIZE(t)) < 4 || k > 5) {
			PyErr_Format(PyExc_TypeError,
				     "request %zd must be a tuple (op, target, offset, buf[, "
				     "length]), not %R",
				     i, t);
			goto fail;
		}
		if (parse_op(PyTuple_GET_ITEM(t, 0), &op) != 0 ||
		    fill_request(c, op, PyTuple_GET_ITEM(t, 1), PyTuple_GET_ITEM(t, 2),
				 PyTuple_GET_ITEM(t, 3), k == 5 ? PyTuple_GET_ITEM(t, 4) : NULL,
				 &reqs[i], held != NULL ? &held[i] : NULL) != 0) {
			PyObject *type, *value, *tb;

			PyErr_Fetch(&type, &value, &tb);
			PyErr_NormalizeException(&type, &value, &tb);
			if (value != NULL && n > 1) {
				PyObject *msg = PyObject_Str(value);

				if (msg != NULL &&
				    !PyErr_GivenExceptionMatches(value, tern_error)) {
					PyErr_Format(type, "request %zd: %U", i, msg);
					Py_DECREF(msg);
					Py_XDECREF(type);
					Py_XDECREF(value);
					Py_XDECREF(tb);
					goto fail;
				}
				Py_XDECREF(msg);
			}
			PyErr_Restore(type, value, tb);
			goto fail;
		}
		*bytes += reqs[i].length;
	}
	Py_DECREF(fast);
	*nb = (uint32_t)n;
	if (views != NULL)
		*views = held;
	return reqs;
fail:
	if (held != NULL) {
		while (i-- > 0)
			held_release(&held[i]);
		PyMem_Free(held);
	}
	PyMem_Free(reqs);
	Py_DECREF(fast);
	return NULL;
}

/* Why did the engine refuse a batch with EINVAL? Say which request. */
static PyObject *
explain_einval(ClientObject *c, const struct tern_request *reqs, uint32_t nb)
{
	struct tern_engine_conf conf;
	struct tern_segment_info info;
	uint32_t i;

	if (c->engine != NULL && tern_engine_get_conf(c->engine->engine, &conf) == 0 &&
	    nb > conf.max_batch)
		return set_error(EINVAL, "the engine takes at most %u requests per batch, not %u",
				 conf.max_batch, nb);
	for (i = 0; i < nb; i++) {
		if (tern_segment_info(c->tbl, reqs[i].segment, &info) != 0)
			return set_error(EINVAL, "request %u: its target segment is gone", i);
		if (reqs[i].offset > info.length || reqs[i].length > info.length - reqs[i].offset)
			return set_error(EINVAL,
					 "request %u: offset %llu + length %llu is past the end of "
					 "segment %s (%llu bytes)",
					 i, (unsigned long long)reqs[i].offset,
					 (unsigned long long)reqs[i].length, info.name,
					 (unsigned long long)info.length);
	}
	return set_error(EINVAL,
			 "the engine refused the batch of %u request(s): more than its max_batch "
			 "(/tern/info), or a segment changed",
			 nb);
}

static bool
parse_deadline(PyObject *obj, struct tern_submit_opts *opts)
{
	double d;

	*opts = (struct tern_submit_opts){ 0 }; /* every field: no notification either */
	if (obj == NULL || obj == Py_None)
		return true;
	d = PyFloat_AsDouble(obj);
	if (d == -1.0 && PyErr_Occurred()) {
		PyErr_Format(PyExc_TypeError,
			     "deadline must be seconds (a number) or None, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return false;
	}
	if (!(d > 0) || d > DEADLINE_MAX_S) {
		PyErr_Format(PyExc_ValueError, "deadline must be > 0 and <= %.0f seconds, not %R",
			     DEADLINE_MAX_S, obj);
		return false;
	}
	opts->deadline_ns = (uint64_t)(d * 1e9);
	if (opts->deadline_ns == 0)
		opts->deadline_ns = 1;
	return true;
}

/* notify=(tag, message) or None: a notification on the batch
 * (doc/notify.md); the message is copied into @p store (the engine copies it
 * again at submit). */
static bool
parse_notify(PyObject *obj, struct tern_submit_opts *opts, struct tern_notify *n, uint8_t *store)
{
	PyObject *tag, *msg = NULL;
	Py_buffer view;

	if (obj == NULL || obj == Py_None)
		return true;
	if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) < 1 || PyTuple_GET_SIZE(obj) > 2) {
		PyErr_Format(PyExc_TypeError,
			     "notify must be a tuple (tag, message) or (tag,), not %.100s",
			     Py_TYPE(obj)->tp_name);
		return false;
	}
	tag = PyTuple_GET_ITEM(obj, 0);
	if (PyTuple_GET_SIZE(obj) == 2)
		msg = PyTuple_GET_ITEM(obj, 1);
	*n = (struct tern_notify){ 0 };
	if (parse_u64(tag, "notify tag", &n->tag) != 0)
		return false;
	if (msg != NULL && msg != Py_None) {
		if (PyObject_GetBuffer(msg, &view, PyBUF_SIMPLE) != 0) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
				     "the notification's message must be bytes-like, not %.100s",
				     Py_TYPE(msg)->tp_name);
			return false;
		}
		if (view.len > TERN_NOTIFY_MSG_MAX) {
			PyErr_Format(PyExc_ValueError,
				     "the notification's message is %zd bytes; at most %d",
				     view.len, TERN_NOTIFY_MSG_MAX);
			PyBuffer_Release(&view);
			return false;
		}
		memcpy(store, view.buf, (size_t)view.len);
		n->msg_len = (uint32_t)view.len;
		n->msg = n->msg_len != 0 ? store : NULL;
		PyBuffer_Release(&view);
	}
	opts->notify = n;
	return true;
}

static PyObject *
client_submit_reqs(ClientObject *c, const struct tern_request *reqs, uint32_t nb, uint64_t bytes,
		   const struct tern_submit_opts *opts)
{
	struct tern_future *f;
	int attempt, err = 0;

	for (attempt = 0; attempt < 2; attempt++) {
		f = tern_submit(c->c, reqs, nb, opts);
		if (f != NULL)
			return future_new(c, f, nb, bytes);
		err = rte_errno;
		if (err == EAGAIN)
			client_settle_all(c); /* resolved futures nobody looked at yet */
		else
			break;
	}
	switch (err) {
	case EINVAL:
		return explain_einval(c, reqs, nb);
	case EAGAIN:
		return set_error(err,
				 "the client has %u futures in flight (max_inflight): wait for "
				 "some, or drop resolved ones",
				 c->max_inflight);
	case ESTALE:
		/* Names resolve again on the next call (write/read/submit retry once). */
		PyDict_Clear(c->targets);
		return set_error(err, "a target segment was retired (its peer went stale or was "
				      "pinned to another transport): prepare the batch again");
	case ESHUTDOWN:
		return set_error(err, "the engine has shut down");
	default:
		return set_error(err, "submit: %s", strerror(err));
	}
}

/* The pending exception is tern.Error ESTALE: cleared, true. */
static bool
stale_error(void)
{
	PyObject *type, *value, *tb, *e;
	bool stale = false;

	if (!PyErr_ExceptionMatches(tern_error))
		return false;
	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	e = value == NULL ? NULL : PyObject_GetAttrString(value, "errno");
	stale = e != NULL && PyLong_Check(e) && PyLong_AsLong(e) == ESTALE;
	Py_XDECREF(e);
	PyErr_Clear();
	if (stale) {
		Py_XDECREF(type);
		Py_XDECREF(value);
		Py_XDECREF(tb);
	} else {
		PyErr_Restore(type, value, tb);
	}
	return stale;
}

static PyObject *
client_transfer(ClientObject *c, uint8_t op, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "target", "offset", "buf", "length", "deadline", "notify", NULL };
	PyObject *target, *off, *buf, *len = NULL, *deadline = NULL, *notify = NULL, *f;
	uint8_t store[TERN_NOTIFY_MSG_MAX];
	struct tern_submit_opts opts;
	struct tern_request r;
	struct tern_notify n;
	int attempt;

	if (!PyArg_ParseTupleAndKeywords(args, kw,
					 op == TERN_OP_READ ? "OOO|O$OO:read" : "OOO|O$OO:write",
					 kwlist, &target, &off, &buf, &len, &deadline, &notify))
		return NULL;
	if (!client_check(c) || !parse_deadline(deadline, &opts) ||
	    !parse_notify(notify, &opts, &n, store))
		return NULL;
	for (attempt = 0;; attempt++) {
		if (fill_request(c, op, target, off, buf, len, &r, NULL) != 0)
			return NULL;
		f = client_submit_reqs(c, &r, 1, r.length, &opts);
		if (f != NULL || attempt > 0 || !stale_error())
			return f;
	}
}

static PyObject *
client_write(ClientObject *c, PyObject *args, PyObject *kw)
{
	return client_transfer(c, TERN_OP_WRITE, args, kw);
}

static PyObject *
client_read(ClientObject *c, PyObject *args, PyObject *kw)
{
	return client_transfer(c, TERN_OP_READ, args, kw);
}

static PyObject *
client_submit(ClientObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "requests", "deadline", "notify", NULL };
	PyObject *seq, *deadline = NULL, *notify = NULL, *ret;
	uint8_t store[TERN_NOTIFY_MSG_MAX];
	struct tern_submit_opts opts;
	struct tern_request *reqs;
	struct tern_notify n;
	uint64_t bytes;
	uint32_t nb;
	int attempt;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OO:submit", kwlist, &seq, &deadline,
					 &notify))
		return NULL;
	if (!client_check(c) || !parse_deadline(deadline, &opts) ||
	    !parse_notify(notify, &opts, &n, store))
		return NULL;
	if (PyObject_TypeCheck(seq, &BatchType)) {
		BatchObject *b = (BatchObject *)seq;

		if (b->client != c) {
			PyErr_SetString(PyExc_ValueError,
					"this Batch was prepared by another client");
			return NULL;
		}
		return client_submit_reqs(c, b->reqs, b->nb, b->bytes, &opts);
	}
	for (attempt = 0;; attempt++) {
		reqs = parse_requests(c, seq, &nb, &bytes, NULL);
		if (reqs == NULL)
			return NULL;
		ret = client_submit_reqs(c, reqs, nb, bytes, &opts);
		PyMem_Free(reqs);
		if (ret != NULL || attempt > 0 || !stale_error())
			return ret;
	}
}

static PyObject *
client_prepare(ClientObject *c, PyObject *seq)
{
	BatchObject *b;
	struct tern_request *reqs;
	struct held *views;
	uint64_t bytes;
	uint32_t nb, i;

	if (!client_check(c))
		return NULL;
	reqs = parse_requests(c, seq, &nb, &bytes, &views);
	if (reqs == NULL)
		return NULL;
	b = PyObject_New(BatchObject, &BatchType);
	if (b == NULL) {
		for (i = 0; i < nb; i++)
			held_release(&views[i]);
		PyMem_Free(views);
		PyMem_Free(reqs);
		return NULL;
	}
	b->held = views;
	Py_INCREF(c);
	b->client = c;
	b->reqs = reqs;
	b->nb = nb;
	b->bytes = bytes;
	return (PyObject *)b;
}

/* Stop the reaper (GIL held; released while joining). */
static void
client_stop_reaper(ClientObject *c)
{
	if (!c->reaper_started)
		return;
	pthread_mutex_lock(&c->mu);
	c->reaper_stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	NOGIL(pthread_join(c->reaper, NULL));
	c->reaper_started = false;
	c->reaper_stop = false;
}

/* Cancel and release every future, give the buffers back, destroy the client. */
static int
client_close_impl(ClientObject *c)
{
	struct tern_client *tc;
	FutureObject *fo;
	unsigned int i, spins;
	int ret;

	if (c->c == NULL)
		return 0;
	if (c->closing) {
		PyErr_SetString(PyExc_ValueError, "another thread is closing this tern client");
		return -1;
	}
	for (i = 0; i < c->nb_buffers; i++)
		if (((BufferObject *)c->buffers[i])->exports > 0) {
			PyErr_Format(PyExc_BufferError,
				     "tern buffer %s has live views (memoryview, numpy array): "
				     "release them before closing the client",
				     ((BufferObject *)c->buffers[i])->name);
			return -1;
		}
	c->closing = true; /* from here on, other threads' calls raise */
	for (fo = c->live_head; fo != NULL; fo = fo->next)
		tern_future_cancel(fo->f);
	/* Threads waiting (and the reaper) see the cancel and let go; they
	 * need the GIL to do so. */
	for (spins = 0; spins < 10000; spins++) {
		bool waited = c->busy > 0;

		for (fo = c->live_head; fo != NULL; fo = fo->next)
			waited |= fo->waiters > 0;
		if (!waited)
			break;
		NOGIL(usleep(1000));
	}
	/* Never free a future a thread still waits in: refuse, the client stays usable. */
	if (c->busy > 0) {
		c->closing = false;
		set_error(EBUSY, "close: a thread is still in alloc() after 10 s; try again");
		return -1;
	}
	for (fo = c->live_head; fo != NULL; fo = fo->next)
		if (fo->in_wait > 0) {
			c->closing = false;
			set_error(EBUSY, "close: a thread still waits on a future after 10 s; "
					 "try again");
			return -1;
		}
	client_stop_reaper(c);
	while (c->live_head != NULL) {
		fo = c->live_head;
		fo->status = tern_future_test(fo->f);
		if (fo->status == -EINPROGRESS)
			fo->status = -ECANCELED;
		fo->waiters = 0;
		tern_future_release(fo->f);
		fo->f = NULL;
		live_unlink(fo);
	}
	while (c->nb_buffers > 0)
		buffer_release_shm((BufferObject *)c->buffers[0]);
	client_retry_deferred(c);
	tc = c->c;
	c->c = NULL; /* before the GIL goes: nobody else reaches a client being destroyed */
	NOGIL(ret = tern_client_destroy(tc));
	c->closing = false;
	if (ret != 0 && ret != -ESHUTDOWN) {
		set_error(ret, "closing the client: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static PyObject *
client_close(ClientObject *c, PyObject *unused)
{
	(void)unused;
	if (client_close_impl(c) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
client_exit(ClientObject *c, PyObject *args)
{
	(void)args;
	return client_close(c, NULL);
}

static PyObject *
client_get_closed(ClientObject *c, void *closure)
{
	(void)closure;
	return PyBool_FromLong(c->c == NULL);
}

static PyObject *
client_get_inflight(ClientObject *c, void *closure)
{
	FutureObject *fo;
	long n = 0;

	(void)closure;
	for (fo = c->live_head; fo != NULL; fo = fo->next)
		n++;
	return PyLong_FromLong(n);
}

static PyObject *
client_segment_length(ClientObject *c, PyObject *target)
{
	struct tern_segment_info info;
	uint32_t handle;

	if (!client_check(c) || client_target(c, target, &handle) != 0)
		return NULL;
	if (tern_segment_info(c->tbl, handle, &info) != 0)
		return set_error(ENOENT, "the target segment is gone");
	return PyLong_FromUnsignedLongLong(info.length);
}

static void
client_dealloc(ClientObject *c)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	PyObject_GC_UnTrack(c);
	if (c->weakreflist != NULL)
		PyObject_ClearWeakRefs((PyObject *)c);
	/* A forked child's copy: the parent's client is not this process's to destroy. */
	if (c->pid == getpid() && client_close_impl(c) != 0)
		PyErr_WriteUnraisable((PyObject *)c);
	PyErr_Restore(type, value, tb);
	Py_XDECREF(c->targets);
	Py_XDECREF(c->engine);
	PyMem_RawFree(c->watch);
	PyMem_RawFree(c->watch_af);
	PyMem_RawFree(c->watch_loop);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	PyObject_GC_Del(c);
}

static int
client_traverse(ClientObject *c, visitproc visit, void *arg)
{
	Py_VISIT(c->engine);
	return 0;
}

static PyObject *
client_notify_send(ClientObject *c, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "target", "tag", "message", "deadline", NULL };
	PyObject *target, *tag, *msg = Py_None, *deadline = NULL, *pair;
	uint8_t store[TERN_NOTIFY_MSG_MAX];
	struct tern_submit_opts opts;
	struct tern_future *f;
	struct tern_notify n;
	uint32_t seg;
	bool ok;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O$O:notify_send", kwlist, &target, &tag,
					 &msg, &deadline))
		return NULL;
	if (!client_check(c) || !parse_deadline(deadline, &opts))
		return NULL;
	pair = PyTuple_Pack(2, tag, msg);
	if (pair == NULL)
		return NULL;
	ok = parse_notify(pair, &opts, &n, store);
	Py_DECREF(pair);
	if (!ok || client_target(c, target, &seg) != 0)
		return NULL;
	opts.notify = NULL;
	f = tern_notify_send(c->c, seg, &n, &opts);
	if (f == NULL) {
		if (rte_errno == ESTALE)
			PyDict_Clear(c->targets);
		return set_error(rte_errno, "notify_send: %s", strerror(rte_errno));
	}
	return future_new(c, f, 0, 0);
}

/* A list of (sender, tag, message) tuples. */
static PyObject *
notifications_list(const struct tern_notification *got, int k)
{
	PyObject *list = PyList_New(k), *t;
	int i;

	if (list == NULL)
		return NULL;
	for (i = 0; i < k; i++) {
		t = Py_BuildValue("(sKy#)", got[i].sender, (unsigned long long)got[i].tag,
				  (const char *)got[i].msg, (Py_ssize_t)got[i].msg_len);
		if (t == NULL) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, i, t);
	}
	return list;
}

#define NOTIFY_BURST_MAX 64

static PyObject *
client_notify_take(ClientObject *c, PyObject *args, PyObject *kw, bool wait)
{
	static char *kwlist_poll[] = { "max", NULL };
	static char *kwlist_wait[] = { "timeout", "max", NULL };
	struct tern_notification got[NOTIFY_BURST_MAX];
	PyObject *timeout = Py_None;
	uint64_t timeout_ns = UINT64_MAX;
	int max = 16, k;
	double d;

	if (wait ? !PyArg_ParseTupleAndKeywords(args, kw, "|Oi:notify_wait", kwlist_wait, &timeout,
						&max)
		 : !PyArg_ParseTupleAndKeywords(args, kw, "|i:notify_poll", kwlist_poll, &max))
		return NULL;
	if (!client_check(c))
		return NULL;
	if (max < 1 || max > NOTIFY_BURST_MAX) {
		PyErr_Format(PyExc_ValueError, "max must be 1..%d, not %d", NOTIFY_BURST_MAX, max);
		return NULL;
	}
	if (timeout != Py_None) {
		d = PyFloat_AsDouble(timeout);
		if (d == -1.0 && PyErr_Occurred())
			return NULL;
		if (!(d >= 0) || d > DEADLINE_MAX_S) {
			PyErr_Format(PyExc_ValueError,
				     "timeout must be >= 0 and <= %.0f seconds, or None, not %R",
				     DEADLINE_MAX_S, timeout);
			return NULL;
		}
		timeout_ns = (uint64_t)(d * 1e9);
	}
	if (wait) {
		NOGIL(k = tern_notify_wait(c->c, got, (unsigned int)max, timeout_ns));
	} else {
		k = tern_notify_poll(c->c, got, (unsigned int)max);
	}
	if (k < 0)
		return set_error(-k, "%s: %s", wait ? "notify_wait" : "notify_poll", strerror(-k));
	return notifications_list(got, k);
}

static PyObject *
client_notify_poll(ClientObject *c, PyObject *args, PyObject *kw)
{
	return client_notify_take(c, args, kw, false);
}

static PyObject *
client_notify_wait(ClientObject *c, PyObject *args, PyObject *kw)
{
	return client_notify_take(c, args, kw, true);
}

static PyMethodDef client_methods[] = {
	{ "notify_send", (PyCFunction)(void (*)(void))client_notify_send,
	  METH_VARARGS | METH_KEYWORDS,
	  "notify_send(target, tag, message=None, *, deadline=None) -> Future: a notification "
	  "without data to the node that owns segment target (doc/notify.md)" },
	{ "notify_poll", (PyCFunction)(void (*)(void))client_notify_poll,
	  METH_VARARGS | METH_KEYWORDS,
	  "notify_poll(max=16) -> [(sender, tag, message)]: this node's notifications, never "
	  "blocks" },
	{ "notify_wait", (PyCFunction)(void (*)(void))client_notify_wait,
	  METH_VARARGS | METH_KEYWORDS,
	  "notify_wait(timeout=None, max=16) -> [(sender, tag, message)]: waits (GIL released) "
	  "for the first; [] on timeout" },
	{ "alloc", (PyCFunction)(void (*)(void))client_alloc, METH_VARARGS | METH_KEYWORDS,
	  "alloc(nbytes, name=None) -> Buffer: shared hugepage memory the dataplane reaches." },
	{ "write", (PyCFunction)(void (*)(void))client_write, METH_VARARGS | METH_KEYWORDS,
	  "write(target, offset, buf, length=None, *, deadline=None, notify=None) -> Future; "
	  "notify=(tag, message) notifies the target's node once the data is there" },
	{ "read", (PyCFunction)(void (*)(void))client_read, METH_VARARGS | METH_KEYWORDS,
	  "read(target, offset, buf, length=None, *, deadline=None) -> Future" },
	{ "submit", (PyCFunction)(void (*)(void))client_submit, METH_VARARGS | METH_KEYWORDS,
	  "submit(requests, *, deadline=None, notify=None) -> Future: requests is a list of (op, "
	  "target, "
	  "offset, buf[, length]) or a Batch from prepare()." },
	{ "prepare", (PyCFunction)client_prepare, METH_O,
	  "prepare(requests) -> Batch: validate once, submit many times." },
	{ "segment_length", (PyCFunction)client_segment_length, METH_O,
	  "segment_length(target) -> int: the target segment's size in bytes." },
	{ "close", (PyCFunction)client_close, METH_NOARGS,
	  "close(): cancel what is pending, give buffers back, detach." },
	{ "__enter__", enter_self, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)client_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef client_getset[] = {
	{ "closed", (getter)client_get_closed, NULL, "has close() run?", NULL },
	{ "inflight", (getter)client_get_inflight, NULL,
	  "futures holding a slot of the engine (pending, or resolved and not yet looked at)",
	  NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject ClientType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern.Client",
	.tp_basicsize = sizeof(ClientObject),
	.tp_dealloc = (destructor)client_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)client_traverse,
	.tp_doc = "A tern client: alloc(), write(), read(), submit(), prepare(), close().",
	.tp_methods = client_methods,
	.tp_getset = client_getset,
	.tp_weaklistoffset = offsetof(ClientObject, weakreflist),
};

static ClientObject *
client_new(struct tern_client *tc, struct tern_segment_table *tbl, EngineObject *engine,
	   const char *engine_name, uint32_t max_inflight)
{
	ClientObject *c = PyObject_GC_New(ClientObject, &ClientType);

	if (c == NULL) {
		tern_client_destroy(tc);
		return NULL;
	}
	memset((char *)c + sizeof(PyObject), 0, sizeof(*c) - sizeof(PyObject));
	c->c = tc;
	c->pid = getpid();
	c->tbl = tbl;
	c->engine = engine;
	Py_XINCREF(engine);
	c->regions = engine != NULL ? &engine->regions : &attached_regions;
	snprintf(c->engine_name, sizeof(c->engine_name), "%s", engine_name);
	c->max_inflight = max_inflight;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->targets = PyDict_New();
	if (c->targets == NULL) {
		Py_DECREF(c);
		return NULL;
	}
	PyObject_GC_Track(c);
	return c;
}

/* ---- batches ---- */

static void
batch_dealloc(BatchObject *b)
{
	uint32_t i;

	for (i = 0; i < b->nb; i++)
		held_release(&b->held[i]);
	PyMem_Free(b->held);
	PyMem_Free(b->reqs);
	Py_XDECREF(b->client);
	PyObject_Free(b);
}

static PyObject *
batch_submit(BatchObject *b, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "deadline", "notify", NULL };
	PyObject *deadline = NULL, *notify = NULL;
	uint8_t store[TERN_NOTIFY_MSG_MAX];
	struct tern_submit_opts opts;
	struct tern_notify n;
	uint32_t i;

	if ((PyTuple_GET_SIZE(args) != 0 || kw != NULL) &&
	    !PyArg_ParseTupleAndKeywords(args, kw, "|$OO:submit", kwlist, &deadline, &notify))
		return NULL;
	if (!client_check(b->client) || !parse_deadline(deadline, &opts) ||
	    !parse_notify(notify, &opts, &n, store))
		return NULL;
	/* The views keep the memory alive; an engine region may have been unregistered. */
	for (i = 0; i < b->nb; i++)
		if (!regions_contain(b->client->regions, (uintptr_t)b->reqs[i].local,
				     b->reqs[i].length)) {
			PyErr_Format(PyExc_ValueError,
				     "request %u: its buffer is no longer registered with the "
				     "dataplane; prepare the batch again",
				     (unsigned int)i);
			return NULL;
		}
	return client_submit_reqs(b->client, b->reqs, b->nb, b->bytes, &opts);
}

static Py_ssize_t
batch_len(BatchObject *b)
{
	return (Py_ssize_t)b->nb;
}

static PyMethodDef batch_methods[] = {
	{ "submit", (PyCFunction)(void (*)(void))batch_submit, METH_VARARGS | METH_KEYWORDS,
	  "submit(*, deadline=None, notify=None) -> Future" },
	{ NULL, NULL, 0, NULL },
};

static PySequenceMethods batch_as_sequence = {
	.sq_length = (lenfunc)batch_len,
};

static PyTypeObject BatchType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern.Batch",
	.tp_basicsize = sizeof(BatchObject),
	.tp_dealloc = (destructor)batch_dealloc,
	.tp_as_sequence = &batch_as_sequence,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Requests validated once (Client.prepare()); submit() them many times.",
	.tp_methods = batch_methods,
};

/* ---- the object store (tern_store.h, doc/store.md) ---- */

/* Keys in one Python batch call (cut into store batches of at most
 * TERN_STORE_BATCH_MAX keys and the engine's max_batch requests). */
#define STORE_CALL_KEYS_MAX 65536
/* Store batches of one call in flight at once. */
#define STORE_PIPE 16

typedef struct {
	PyObject_HEAD struct tern_store *s; /* NULL once closed */
	pid_t pid;			    /* the process that created it */
	PyObject *owner;		    /* the Client or Engine it was made from (strong) */
	struct tern_client *tc;		    /* attached: its own client, destroyed at close */
	struct regions *regions;	    /* memory its buffers must lie in */
	pthread_mutex_t mu;		    /* one store call at a time; taken without the GIL */
	uint32_t replicas;		    /* default replicas of a put */
	uint32_t max_batch;		    /* the engine's requests per batch */
	uint32_t depth;			    /* store batches in flight in one call */
	char name[16];
	char metadata[512];
	PyObject *weakreflist;
} StoreObject;

static PyTypeObject StoreType;
static PyObject *key_exists_error, *key_not_found_error, *buffer_too_small_error, *batch_error;

/* One call's keys, buffers and results (C arrays: used without the GIL). */
struct store_args {
	uint32_t n;
	char (*key)[TERN_STORE_KEY_MAX];
	const char **kp;
	void **buf;
	uint64_t *size; /* put: object sizes; get: room in each buffer */
	Py_buffer *view;
	int *res;
	uint64_t *out;
};

static void
store_args_free(struct store_args *a)
{
	uint32_t i;

	if (a->view != NULL)
		for (i = 0; i < a->n; i++)
			if (a->view[i].obj != NULL)
				PyBuffer_Release(&a->view[i]);
	PyMem_Free(a->key);
	PyMem_Free(a->kp);
	PyMem_Free(a->buf);
	PyMem_Free(a->size);
	PyMem_Free(a->view);
	PyMem_Free(a->res);
	PyMem_Free(a->out);
	memset(a, 0, sizeof(*a));
}

static int
store_args_alloc(struct store_args *a, Py_ssize_t n)
{
	memset(a, 0, sizeof(*a));
	a->key = PyMem_Calloc((size_t)n, sizeof(*a->key));
	a->kp = PyMem_Calloc((size_t)n, sizeof(*a->kp));
	a->buf = PyMem_Calloc((size_t)n, sizeof(*a->buf));
	a->size = PyMem_Calloc((size_t)n, sizeof(*a->size));
	a->view = PyMem_Calloc((size_t)n, sizeof(*a->view));
	a->res = PyMem_Calloc((size_t)n, sizeof(*a->res));
	a->out = PyMem_Calloc((size_t)n, sizeof(*a->out));
	a->n = (uint32_t)n;
	if (a->key == NULL || a->kp == NULL || a->buf == NULL || a->size == NULL ||
	    a->view == NULL || a->res == NULL || a->out == NULL) {
		store_args_free(a);
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

/* A key: a str or bytes of 1..255 printable ASCII characters (0x21..0x7e). */
static int
store_key(PyObject *obj, char out[TERN_STORE_KEY_MAX])
{
	const char *s;
	Py_ssize_t len, i;

	if (PyUnicode_Check(obj)) {
		s = PyUnicode_AsUTF8AndSize(obj, &len);
		if (s == NULL) {
			PyErr_Clear();
			len = -1;
		}
	} else if (PyBytes_Check(obj)) {
		s = PyBytes_AS_STRING(obj);
		len = PyBytes_GET_SIZE(obj);
	} else {
		PyErr_Format(PyExc_TypeError, "a key must be a str (or bytes), not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	if (len < 1 || len >= TERN_STORE_KEY_MAX)
		goto bad;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			goto bad;
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
bad:
	PyErr_Format(PyExc_ValueError,
		     "bad key %.300R: 1..%d printable ASCII characters 0x21..0x7e (no space, "
		     "control or non-ASCII byte)",
		     obj, TERN_STORE_KEY_MAX - 1);
	return -1;
}

/* A sequence of keys into @a (allocated here): 1..STORE_CALL_KEYS_MAX, no duplicate. */
static int
store_keys(PyObject *seq, struct store_args *a, bool unique)
{
	PyObject *fast, *seen = NULL;
	Py_ssize_t n, i;

	if (PyUnicode_Check(seq) || PyBytes_Check(seq)) {
		PyErr_SetString(PyExc_TypeError, "keys must be a list of keys, not one key");
		return -1;
	}
	fast = PySequence_Fast(seq, "keys must be a list (or tuple) of str");
	if (fast == NULL)
		return -1;
	n = PySequence_Fast_GET_SIZE(fast);
	if (n == 0 || n > STORE_CALL_KEYS_MAX) {
		PyErr_Format(PyExc_ValueError, "a batch has 1 .. %d keys, not %zd",
			     STORE_CALL_KEYS_MAX, n);
		Py_DECREF(fast);
		return -1;
	}
	if (store_args_alloc(a, n) != 0 || (unique && (seen = PySet_New(NULL)) == NULL)) {
		Py_DECREF(fast);
		return -1;
	}
	for (i = 0; i < n; i++) {
		PyObject *k = PySequence_Fast_GET_ITEM(fast, i);
		PyObject *b;
		int dup;

		if (store_key(k, a->key[i]) != 0)
			goto fail;
		a->kp[i] = a->key[i];
		if (seen == NULL)
			continue;
		b = PyBytes_FromString(a->key[i]);
		dup = b == NULL ? -1 : PySet_Contains(seen, b);
		if (dup == 0)
			dup = PySet_Add(seen, b);
		Py_XDECREF(b);
		if (dup < 0)
			goto fail;
		if (dup == 1) {
			PyErr_Format(PyExc_ValueError, "key %R appears twice in the batch", k);
			goto fail;
		}
	}
	Py_XDECREF(seen);
	Py_DECREF(fast);
	return 0;
fail:
	Py_XDECREF(seen);
	Py_DECREF(fast);
	store_args_free(a);
	return -1;
}

/* Buffer @i of a call: contiguous, writable for a get, in memory the engine reaches. */
static int
store_buf(StoreObject *so, PyObject *obj, bool writable, struct store_args *a, uint32_t i)
{
	Py_buffer *view = &a->view[i];

	if (PyObject_GetBuffer(obj, view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) != 0) {
		bool ro;

		view->obj = NULL;
		if (PyObject_TypeCheck(obj, &BufferType))
			return -1; /* a closed tern.Buffer: its own message */
		if (!PyObject_CheckBuffer(obj)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
				     "a buffer must support the buffer protocol (tern.Buffer, "
				     "memoryview, numpy array), not %.100s",
				     Py_TYPE(obj)->tp_name);
			return -1;
		}
		PyErr_Clear();
		ro = writable && PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) == 0;
		if (ro)
			PyBuffer_Release(view);
		view->obj = NULL;
		PyErr_Clear();
		PyErr_Format(PyExc_ValueError,
			     ro ? "get needs a writable buffer; this %.100s is read-only"
				: "a buffer must be one C-contiguous block of memory; this %.100s "
				  "is not",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	a->size[i] = (uint64_t)view->len;
	a->buf[i] = view->len > 0 ? view->buf : NULL;
	if (view->len > 0 && !regions_contain(so->regions, (uintptr_t)view->buf, a->size[i])) {
		PyErr_SetString(
			PyExc_ValueError,
			so->tc != NULL
				? "the buffer is not in memory the dataplane can reach: use a "
				  "buffer from Client.alloc() (or a view into one)"
				: "the buffer is not in memory the engine can reach: register "
				  "it first (Engine.register(obj)) or use Engine.buffer()");
		PyBuffer_Release(view);
		view->obj = NULL;
		return -1;
	}
	return 0;
}

static int
store_bufs(StoreObject *so, PyObject *seq, bool writable, struct store_args *a)
{
	PyObject *fast = PySequence_Fast(seq, "bufs must be a list of buffers");
	uint32_t i;

	if (fast == NULL)
		return -1;
	if (PySequence_Fast_GET_SIZE(fast) != (Py_ssize_t)a->n) {
		PyErr_Format(PyExc_ValueError, "%u keys but %zd buffers", a->n,
			     PySequence_Fast_GET_SIZE(fast));
		Py_DECREF(fast);
		return -1;
	}
	for (i = 0; i < a->n; i++)
		if (store_buf(so, PySequence_Fast_GET_ITEM(fast, i), writable, a, i) != 0) {
			if (a->n > 1) {
				PyObject *type, *value, *tb, *msg;

				PyErr_Fetch(&type, &value, &tb);
				PyErr_NormalizeException(&type, &value, &tb);
				msg = value == NULL ? NULL : PyObject_Str(value);
				if (msg != NULL &&
				    !PyErr_GivenExceptionMatches(value, tern_error)) {
					PyErr_Format(type, "buffer %u: %U", i, msg);
					Py_XDECREF(type);
					Py_XDECREF(value);
					Py_XDECREF(tb);
				} else {
					PyErr_Restore(type, value, tb);
				}
				Py_XDECREF(msg);
			}
			Py_DECREF(fast);
			return -1;
		}
	Py_DECREF(fast);
	return 0;
}

/* The exception one key's failure raises (a new reference), or NULL. */
static PyObject *
store_exc(int err, bool get, const char *key, uint64_t size)
{
	PyObject *type = tern_error, *exc, *v;
	char msg[512];

	err = err < 0 ? -err : err;
	switch (err) {
	case EEXIST:
		type = key_exists_error;
		snprintf(msg, sizeof(msg), "key %s exists (put with replace=True replaces it)",
			 key);
		break;
	case ENOENT:
		type = key_not_found_error;
		snprintf(msg, sizeof(msg), "no object with key %s", key);
		break;
	case ENOSPC:
		if (get) {
			type = buffer_too_small_error;
			snprintf(msg, sizeof(msg),
				 "key %s: the object is %llu bytes, larger than the buffer", key,
				 (unsigned long long)size);
		} else {
			snprintf(msg, sizeof(msg),
				 "key %s: no room for %llu bytes in the store's capacity, even "
				 "after eviction",
				 key, (unsigned long long)size);
		}
		break;
	case EINVAL:
		snprintf(msg, sizeof(msg), "key %s: refused by the store (%s)", key,
			 get ? "bad key" : "bad key, or more replicas than nodes");
		exc = PyObject_CallFunction(PyExc_ValueError, "s", msg);
		goto attrs;
	case EREMOTE:
		snprintf(msg, sizeof(msg),
			 "key %s was placed by another store sharing the metadata (reads of "
			 "another store's objects are not built: doc/store.md)",
			 key);
		break;
	default:
		snprintf(msg, sizeof(msg), "key %s: %s", key, strerror(err));
		break;
	}
	exc = PyObject_CallFunction(type, "is", err, msg);
attrs:
	if (exc == NULL)
		return NULL;
	v = PyUnicode_FromString(key);
	if (v == NULL || PyObject_SetAttrString(exc, "key", v) != 0)
		goto fail;
	Py_DECREF(v);
	if (get && err == ENOSPC) {
		v = PyLong_FromUnsignedLongLong(size);
		if (v == NULL || PyObject_SetAttrString(exc, "size", v) != 0)
			goto fail;
		Py_DECREF(v);
	}
	return exc;
fail:
	Py_XDECREF(v);
	Py_DECREF(exc);
	return NULL;
}

/* Lock the store for one call (the GIL is let go while waiting for the lock). */
static bool
store_enter(StoreObject *so)
{
	if (so->pid != getpid()) {
		PyErr_Format(PyExc_RuntimeError,
			     "this tern store belongs to process %d, not this forked child",
			     (int)so->pid);
		return false;
	}
	if (so->s == NULL) {
		PyErr_SetString(PyExc_ValueError, "the tern store is closed");
		return false;
	}
	NOGIL(pthread_mutex_lock(&so->mu));
	if (so->s == NULL) {
		pthread_mutex_unlock(&so->mu);
		PyErr_SetString(PyExc_ValueError, "the tern store is closed");
		return false;
	}
	return true;
}

static void
store_leave(StoreObject *so)
{
	pthread_mutex_unlock(&so->mu);
}

/*
 * Put or get every key of @a: store batches of at most @per keys, up to
 * so->depth in flight, each waited for until it resolves (every store future
 * resolves within its deadline). Without the GIL, the store locked.
 * 0, or the negative errno of a refused submit (its keys get it too).
 */
static int
store_run(StoreObject *so, bool put, struct store_args *a, const struct tern_store_put_opts *opts,
	  uint32_t per)
{
	struct tern_store_future *f[STORE_PIPE];
	uint32_t first[STORE_PIPE], cnt[STORE_PIPE];
	uint32_t next = 0, head = 0, tail = 0, i, j;
	int err = 0;

	while (next < a->n || head != tail) {
		while (next < a->n && tail - head < so->depth && err == 0) {
			uint32_t k = RTE_MIN(per, a->n - next);
			struct tern_store_future *sf;

			sf = put ? tern_store_put(so->s, a->kp + next, a->buf + next,
						  a->size + next, k, opts)
				 : tern_store_get(so->s, a->kp + next, a->buf + next,
						  a->size + next, k);
			if (sf == NULL) {
				if (rte_errno == EAGAIN && head != tail)
					break; /* wait for one first */
				err = -rte_errno;
				break;
			}
			f[tail % STORE_PIPE] = sf;
			first[tail % STORE_PIPE] = next;
			cnt[tail % STORE_PIPE] = k;
			tail++;
			next += k;
		}
		if (err != 0 && head == tail)
			break;
		if (head == tail)
			continue;
		i = head % STORE_PIPE;
		tern_store_future_wait(f[i], UINT64_MAX);
		for (j = 0; j < cnt[i]; j++)
			a->res[first[i] + j] =
				tern_store_future_result(f[i], j, &a->out[first[i] + j]);
		tern_store_future_release(f[i]);
		head++;
	}
	for (; next < a->n; next++)
		a->res[next] = err;
	return err;
}

/* Keys per store batch: the engine takes max_batch requests, a key moves one per replica. */
static uint32_t
store_per_batch(const StoreObject *so, uint32_t replicas)
{
	uint32_t per = so->max_batch / (replicas == 0 ? 1 : replicas);

	if (per > TERN_STORE_BATCH_MAX)
		per = TERN_STORE_BATCH_MAX;
	return per == 0 ? 1 : per;
}

static int
store_parse_put_opts(StoreObject *so, PyObject *replace, PyObject *replicas,
		     struct tern_store_put_opts *opts)
{
	int r = PyObject_IsTrue(replace);

	if (r < 0)
		return -1;
	opts->flags = r ? TERN_STORE_F_REPLACE : 0;
	opts->replicas = so->replicas;
	if (replicas != NULL && replicas != Py_None) {
		long v;

		if (!PyLong_Check(replicas) || PyBool_Check(replicas)) {
			PyErr_Format(PyExc_TypeError, "replicas must be an int, not %.100s",
				     Py_TYPE(replicas)->tp_name);
			return -1;
		}
		v = PyLong_AsLong(replicas);
		if (v < 1 || v > TERN_STORE_REPLICAS_MAX) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError, "replicas must be 1 .. %d, not %R",
				     TERN_STORE_REPLICAS_MAX, replicas);
			return -1;
		}
		opts->replicas = (uint32_t)v;
	}
	return 0;
}

/* The whole call refused (not one key): an exception. */
static PyObject *
store_call_error(int err, const char *what)
{
	if (err == -EINVAL) {
		PyErr_Format(PyExc_ValueError,
			     "%s: refused by the store (more replicas than its nodes?)", what);
		return NULL;
	}
	return set_error(err, "%s: %s", what, strerror(-err));
}

/* put/get of a batch: None / a list of sizes, or BatchError. */
static PyObject *
store_batch(StoreObject *so, bool put, PyObject *keys, PyObject *bufs, PyObject *replace,
	    PyObject *replicas, bool single)
{
	struct tern_store_put_opts opts = { 0 };
	struct store_args a;
	PyObject *ret = NULL, *results = NULL;
	uint32_t i, failed = 0, first_bad = 0;
	int err;

	if (put && store_parse_put_opts(so, replace, replicas, &opts) != 0)
		return NULL;
	if (single) {
		if (store_args_alloc(&a, 1) != 0)
			return NULL;
		if (store_key(keys, a.key[0]) != 0) {
			store_args_free(&a);
			return NULL;
		}
		a.kp[0] = a.key[0];
		if (store_buf(so, bufs, !put, &a, 0) != 0) {
			store_args_free(&a);
			return NULL;
		}
	} else if (store_keys(keys, &a, put) != 0) {
		return NULL;
	} else if (store_bufs(so, bufs, !put, &a) != 0) {
		store_args_free(&a);
		return NULL;
	}
	if (!store_enter(so)) {
		store_args_free(&a);
		return NULL;
	}
	NOGIL(err = store_run(so, put, &a, &opts, store_per_batch(so, put ? opts.replicas : 1)));
	store_leave(so);
	(void)err;
	for (i = 0; i < a.n; i++)
		if (a.res[i] != 0 && failed++ == 0)
			first_bad = i;
	if (failed > 0 && single) {
		PyObject *exc = store_exc(a.res[0], !put, a.key[0], put ? a.size[0] : a.out[0]);

		if (exc != NULL) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		goto out;
	}
	if (failed > 0) {
		PyObject *exc, *first;

		results = PyList_New(a.n);
		if (results == NULL)
			goto out;
		for (i = 0; i < a.n; i++) {
			PyObject *v = a.res[i] == 0 ? PyLong_FromUnsignedLongLong(a.out[i])
						    : store_exc(a.res[i], !put, a.key[i],
								put ? a.size[i] : a.out[i]);

			if (v == NULL)
				goto out;
			PyList_SET_ITEM(results, i, v);
		}
		first = PyList_GET_ITEM(results, first_bad);
		exc = PyObject_CallFunction(
			batch_error, "is", -a.res[first_bad] > 0 ? -a.res[first_bad] : EIO,
			put ? "put of a batch: some keys failed (see .results)"
			    : "get of a batch: some keys failed (see .results)");
		if (exc == NULL)
			goto out;
		(void)first;
		if (PyObject_SetAttrString(exc, "results", results) == 0)
			PyErr_SetObject(batch_error, exc);
		else {
			char buf[128];

			snprintf(buf, sizeof(buf), "%u of %u keys failed", failed, a.n);
			PyErr_SetString(PyExc_RuntimeError, buf);
		}
		Py_DECREF(exc);
		goto out;
	}
	if (single) {
		ret = put ? Py_NewRef(Py_None) : PyLong_FromUnsignedLongLong(a.out[0]);
		goto out;
	}
	if (put) {
		ret = Py_NewRef(Py_None);
		goto out;
	}
	ret = PyList_New(a.n);
	for (i = 0; ret != NULL && i < a.n; i++) {
		PyObject *v = PyLong_FromUnsignedLongLong(a.out[i]);

		if (v == NULL) {
			Py_CLEAR(ret);
			break;
		}
		PyList_SET_ITEM(ret, i, v);
	}
out:
	Py_XDECREF(results);
	store_args_free(&a);
	return ret;
}

static PyObject *
store_put(StoreObject *so, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "key", "buf", "replace", "replicas", NULL };
	PyObject *key, *buf, *replace = Py_False, *replicas = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O$O:put", kwlist, &key, &buf, &replace,
					 &replicas))
		return NULL;
	return store_batch(so, true, key, buf, replace, replicas, true);
}

static PyObject *
store_get_into(StoreObject *so, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "key", "buf", NULL };
	PyObject *key, *buf;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:get_into", kwlist, &key, &buf))
		return NULL;
	return store_batch(so, false, key, buf, NULL, NULL, true);
}

static PyObject *
store_batch_put_from(StoreObject *so, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "keys", "bufs", "replace", "replicas", NULL };
	PyObject *keys, *bufs, *replace = Py_False, *replicas = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O$O:batch_put_from", kwlist, &keys, &bufs,
					 &replace, &replicas))
		return NULL;
	return store_batch(so, true, keys, bufs, replace, replicas, false);
}

static PyObject *
store_batch_get_into(StoreObject *so, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "keys", "bufs", NULL };
	PyObject *keys, *bufs;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:batch_get_into", kwlist, &keys, &bufs))
		return NULL;
	return store_batch(so, false, keys, bufs, NULL, NULL, false);
}

/* exists or remove of every key of @a, TERN_STORE_BATCH_MAX at a time. */
static int
store_meta_call(StoreObject *so, bool remove, struct store_args *a)
{
	uint32_t i, k;
	int ret = 0;

	for (i = 0; i < a->n && ret >= 0; i += k) {
		k = RTE_MIN(a->n - i, (uint32_t)TERN_STORE_BATCH_MAX);
		ret = remove ? tern_store_remove(so->s, a->kp + i, k, a->res + i)
			     : tern_store_exists(so->s, a->kp + i, k, a->res + i);
	}
	return ret < 0 ? ret : 0;
}

static PyObject *
store_meta_op(StoreObject *so, bool remove, PyObject *keys, bool single)
{
	struct store_args a;
	PyObject *ret = NULL;
	uint32_t i;
	int err;

	if (single) {
		if (store_args_alloc(&a, 1) != 0)
			return NULL;
		if (store_key(keys, a.key[0]) != 0) {
			store_args_free(&a);
			return NULL;
		}
		a.kp[0] = a.key[0];
	} else if (store_keys(keys, &a, false) != 0) {
		return NULL;
	}
	if (!store_enter(so)) {
		store_args_free(&a);
		return NULL;
	}
	NOGIL(err = store_meta_call(so, remove, &a));
	store_leave(so);
	if (err != 0) {
		store_call_error(err, remove ? "remove" : "exists");
		goto out;
	}
	for (i = 0; i < a.n; i++)
		if (a.res[i] < 0 && !(remove && a.res[i] == -ENOENT && !single)) {
			PyObject *exc = store_exc(a.res[i], false, a.key[i], 0);

			if (exc != NULL) {
				PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
				Py_DECREF(exc);
			}
			goto out;
		}
	if (single) {
		ret = remove ? Py_NewRef(Py_None) : PyBool_FromLong(a.res[0] == 1);
		goto out;
	}
	ret = PyList_New(a.n);
	for (i = 0; ret != NULL && i < a.n; i++)
		PyList_SET_ITEM(ret, i, PyBool_FromLong(remove ? a.res[i] == 0 : a.res[i] == 1));
out:
	store_args_free(&a);
	return ret;
}

static PyObject *
store_exists(StoreObject *so, PyObject *key)
{
	return store_meta_op(so, false, key, true);
}

static PyObject *
store_batch_exists(StoreObject *so, PyObject *keys)
{
	return store_meta_op(so, false, keys, false);
}

static PyObject *
store_remove(StoreObject *so, PyObject *key)
{
	return store_meta_op(so, true, key, true);
}

static PyObject *
store_batch_remove(StoreObject *so, PyObject *keys)
{
	return store_meta_op(so, true, keys, false);
}

/* tern_store_list() into a C array (no GIL in the callback). */
struct store_listing {
	size_t n, cap;
	struct store_listed {
		char key[TERN_STORE_KEY_MAX];
		uint64_t size;
		unsigned int replicas;
	} * e;
};

static int
store_list_cb(void *arg, const char *key, uint64_t size, unsigned int nb_replicas)
{
	struct store_listing *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct store_listed *e = PyMem_RawRealloc(l->e, cap * sizeof(*e));

		if (e == NULL)
			return -ENOMEM;
		l->e = e;
		l->cap = cap;
	}
	snprintf(l->e[l->n].key, TERN_STORE_KEY_MAX, "%s", key);
	l->e[l->n].size = size;
	l->e[l->n].replicas = nb_replicas;
	l->n++;
	return 0;
}

static PyObject *
store_list(StoreObject *so, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "prefix", NULL };
	PyObject *pobj = NULL, *ret;
	char prefix[TERN_STORE_KEY_MAX] = "";
	struct store_listing l = { 0 };
	size_t i;
	int err;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:list", kwlist, &pobj))
		return NULL;
	if (pobj != NULL && !(PyUnicode_Check(pobj) && PyUnicode_GetLength(pobj) == 0) &&
	    !(PyBytes_Check(pobj) && PyBytes_GET_SIZE(pobj) == 0) && store_key(pobj, prefix) != 0)
		return NULL;
	if (!store_enter(so))
		return NULL;
	NOGIL(err = tern_store_list(so->s, prefix, store_list_cb, &l));
	store_leave(so);
	if (err < 0) {
		PyMem_RawFree(l.e);
		return store_call_error(err, "list");
	}
	ret = PyList_New((Py_ssize_t)l.n);
	for (i = 0; ret != NULL && i < l.n; i++) {
		PyObject *t = Py_BuildValue("(sKI)", l.e[i].key, (unsigned long long)l.e[i].size,
					    l.e[i].replicas);

		if (t == NULL) {
			Py_CLEAR(ret);
			break;
		}
		PyList_SET_ITEM(ret, (Py_ssize_t)i, t);
	}
	PyMem_RawFree(l.e);
	if (ret != NULL && PyList_Sort(ret) != 0)
		Py_CLEAR(ret);
	return ret;
}

static PyObject *
store_stats(StoreObject *so, PyObject *unused)
{
	struct tern_store_stats st;

	(void)unused;
	if (so->s == NULL) {
		PyErr_SetString(PyExc_ValueError, "the tern store is closed");
		return NULL;
	}
	if (tern_store_stats(so->s, &st) != 0)
		return set_error(EINVAL, "store stats");
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K}", "objects",
			     st.objects, "bytes", st.bytes, "capacity", st.capacity, "used",
			     st.used, "reserved", st.reserved, "evictions", st.evictions, "puts",
			     st.puts, "gets", st.gets, "removes", st.removes, "put_errors",
			     st.put_errors, "get_errors", st.get_errors, "lease_expired",
			     st.lease_expired, "fallbacks", st.fallbacks);
}

/* Destroy the store (waits for a call in progress: it holds the lock). */
static int
store_close_impl(StoreObject *so)
{
	struct tern_store *s;
	int ret;

	if (so->s == NULL || so->pid != getpid())
		return 0;
	NOGIL(pthread_mutex_lock(&so->mu));
	s = so->s;
	so->s = NULL;
	ret = s == NULL ? 0 : tern_store_destroy(s);
	if (so->tc != NULL) {
		tern_client_destroy(so->tc);
		so->tc = NULL;
	}
	pthread_mutex_unlock(&so->mu);
	if (ret != 0) {
		set_error(ret, "closing the store: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static PyObject *
store_close(StoreObject *so, PyObject *unused)
{
	(void)unused;
	if (store_close_impl(so) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
store_exit(StoreObject *so, PyObject *args)
{
	(void)args;
	return store_close(so, NULL);
}

static void
store_dealloc(StoreObject *so)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	PyObject_GC_UnTrack(so);
	if (so->weakreflist != NULL)
		PyObject_ClearWeakRefs((PyObject *)so);
	if (store_close_impl(so) != 0)
		PyErr_WriteUnraisable((PyObject *)so);
	PyErr_Restore(type, value, tb);
	Py_XDECREF(so->owner);
	pthread_mutex_destroy(&so->mu);
	Py_TYPE(so)->tp_free((PyObject *)so);
}

static int
store_traverse(StoreObject *so, visitproc visit, void *arg)
{
	Py_VISIT(so->owner);
	return 0;
}

/* One node: "segment" (all of it) or ("segment", offset, length). */
static int
store_node(StoreObject *so, PyObject *item, struct tern_segment_table *tbl, bool owned,
	   struct tern_store_node_conf *n)
{
	PyObject *name = item, *off = NULL, *len = NULL;
	struct tern_segment_info info;

	memset(n, 0, sizeof(*n)); /* fields this binding does not set stay 0 (owner: none) */
	if (PyTuple_Check(item)) {
		if (PyTuple_GET_SIZE(item) != 3) {
			PyErr_Format(
				PyExc_TypeError,
				"a node is \"segment\" or (\"segment\", offset, length), not %R",
				item);
			return -1;
		}
		name = PyTuple_GET_ITEM(item, 0);
		off = PyTuple_GET_ITEM(item, 1);
		len = PyTuple_GET_ITEM(item, 2);
	}
	if (PyObject_TypeCheck(so->owner, &ClientType)) {
		if (client_target((ClientObject *)so->owner, name, &n->segment) != 0)
			return -1;
	} else {
		const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
		int ret;

		if (s == NULL) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "a node's segment must be a str, not %.100s",
				     Py_TYPE(name)->tp_name);
			return -1;
		}
		ret = tern_segment_find(tbl, s, &n->segment);
		if (ret != 0) {
			set_error(ret, "the engine has no segment %s", s);
			return -1;
		}
	}
	if (tern_segment_info(tbl, n->segment, &info) != 0) {
		set_error(ENOENT, "a node's segment is gone");
		return -1;
	}
	n->offset = 0;
	n->length = info.length;
	if (off != NULL && (parse_u64(off, "node offset", &n->offset) != 0 ||
			    parse_u64(len, "node length", &n->length) != 0))
		return -1;
	if (n->length < 4096 || n->offset > info.length || n->length > info.length - n->offset) {
		PyErr_Format(PyExc_ValueError,
			     "node %R: offset %llu + length %llu must lie in segment %s (%llu "
			     "bytes), length >= 4096",
			     item, (unsigned long long)n->offset, (unsigned long long)n->length,
			     info.name, (unsigned long long)info.length);
		return -1;
	}
	n->flags = owned ? TERN_STORE_NODE_F_OWNED : 0;
	return 0;
}

static uint64_t store_seq;

static PyObject *
store_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "source",	 "nodes",	 "metadata",
				  "name",	 "replicas",	 "owned",
				  "max_objects", "max_inflight", "high_watermark",
				  "deadline",	 "lease",	 "metadata_timeout",
				  NULL };
	PyObject *source, *nodes, *fast = NULL;
	const char *metadata = NULL, *name = NULL;
	unsigned int replicas = 1, max_objects = 0, max_inflight = 16, high = 0;
	int owned = 0;
	double deadline = 0, lease = 0, meta_timeout = 0;
	struct tern_store_node_conf nc[TERN_STORE_NODES_MAX];
	struct tern_store_conf conf = { 0 };
	struct tern_segment_table *tbl;
	struct tern_engine_conf ec;
	StoreObject *so;
	Py_ssize_t i, nb;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|z$zIpIIIddd:Store", kwlist, &source, &nodes,
					 &metadata, &name, &replicas, &owned, &max_objects,
					 &max_inflight, &high, &deadline, &lease, &meta_timeout))
		return NULL;
	if (!PyObject_TypeCheck(source, &ClientType) && !PyObject_TypeCheck(source, &EngineType)) {
		PyErr_Format(PyExc_TypeError,
			     "a store is made from a tern.Client or a tern.Engine, not %.100s",
			     Py_TYPE(source)->tp_name);
		return NULL;
	}
	if (PyObject_TypeCheck(source, &ClientType)) {
		ClientObject *c = (ClientObject *)source;

		if (!client_check(c))
			return NULL;
		if (c->engine != NULL)
			source = (PyObject *)c->engine; /* an in-process engine's client */
	}
	if (PyObject_TypeCheck(source, &EngineType)) {
		EngineObject *e = (EngineObject *)source;

		if (e->pid != getpid() || e->engine == NULL || e->closing) {
			PyErr_SetString(PyExc_ValueError, "the tern engine is closed");
			return NULL;
		}
	}
	if (replicas < 1 || replicas > TERN_STORE_REPLICAS_MAX) {
		PyErr_Format(PyExc_ValueError, "replicas must be 1 .. %d, not %u",
			     TERN_STORE_REPLICAS_MAX, replicas);
		return NULL;
	}
	if (max_inflight < 1 || max_inflight > 1024) {
		PyErr_Format(PyExc_ValueError, "max_inflight must be 1 .. 1024, not %u",
			     max_inflight);
		return NULL;
	}
	if (!(deadline >= 0 && deadline <= DEADLINE_MAX_S) || !(lease >= 0 && lease <= 86400) ||
	    !(meta_timeout >= 0 && meta_timeout <= 3600)) {
		PyErr_SetString(PyExc_ValueError,
				"deadline (<= 3600 s), lease (<= 86400 s) and metadata_timeout "
				"(<= 3600 s) must be >= 0 seconds");
		return NULL;
	}
	if (PyUnicode_Check(nodes) || PyTuple_Check(nodes))
		nodes = Py_BuildValue("[O]", nodes);
	else
		Py_INCREF(nodes);
	if (nodes == NULL)
		return NULL;
	fast = PySequence_Fast(nodes, "nodes must be a list of segment names");
	Py_DECREF(nodes);
	if (fast == NULL)
		return NULL;
	nb = PySequence_Fast_GET_SIZE(fast);
	if (nb < 1 || nb > TERN_STORE_NODES_MAX) {
		PyErr_Format(PyExc_ValueError, "a store has 1 .. %d nodes, not %zd",
			     TERN_STORE_NODES_MAX, nb);
		Py_DECREF(fast);
		return NULL;
	}
	so = (StoreObject *)type->tp_alloc(type, 0);
	if (so == NULL) {
		Py_DECREF(fast);
		return NULL;
	}
	pthread_mutex_init(&so->mu, NULL);
	so->pid = getpid();
	Py_INCREF(source);
	so->owner = source;
	if (PyObject_TypeCheck(source, &EngineType)) {
		EngineObject *e = (EngineObject *)source;

		tbl = e->tbl;
		so->regions = &e->regions;
		conf.engine = e->engine;
		so->max_batch = tern_engine_get_conf(e->engine, &ec) == 0 ? ec.max_batch : 64;
	} else {
		ClientObject *c = (ClientObject *)source;

		tbl = c->tbl;
		so->regions = c->regions;
		so->max_batch = 64; /* a dataplane's (tern_store.h assumes it too) */
	}
	for (i = 0; i < nb; i++)
		if (store_node(so, PySequence_Fast_GET_ITEM(fast, i), tbl, owned, &nc[i]) != 0)
			goto fail;
	Py_CLEAR(fast);
	if (name == NULL)
		snprintf(so->name, sizeof(so->name), "py%d_%llu", (int)getpid() % 10000000,
			 (unsigned long long)store_seq++ % 10000);
	else if (tern_cli_check_name(name, sizeof(so->name)) != 0) {
		PyErr_Format(PyExc_ValueError, "bad store name '%s': 1..15 of [A-Za-z0-9_]", name);
		goto fail;
	} else
		snprintf(so->name, sizeof(so->name), "%s", name);
	snprintf(so->metadata, sizeof(so->metadata), "%s", metadata ? metadata : "embedded");
	so->replicas = replicas;
	so->depth = RTE_MIN(max_inflight, (unsigned int)STORE_PIPE);
	if (conf.engine == NULL) {
		struct tern_client_conf cc = { .max_inflight = max_inflight + 2,
					       .flags = TERN_CLIENT_F_NO_CQ };

		NOGIL(so->tc = tern_client_attach(((ClientObject *)source)->engine_name, &cc));
		if (so->tc == NULL) {
			set_error(rte_errno, "the store's client cannot attach: %s",
				  rte_strerror(rte_errno));
			goto fail;
		}
		conf.client = so->tc;
	}
	conf.name = so->name;
	conf.segments = tbl;
	conf.nodes = nc;
	conf.nb_nodes = (unsigned int)nb;
	conf.metadata = metadata;
	conf.metadata_timeout_ms = (uint32_t)(meta_timeout * 1000);
	conf.max_objects = max_objects;
	conf.max_inflight = max_inflight;
	conf.replicas = replicas;
	conf.high_watermark_pct = high;
	conf.deadline_ns = (uint64_t)(deadline * 1e9);
	conf.lease_ns = (uint64_t)(lease * 1e9);
	NOGIL(so->s = tern_store_create(&conf));
	if (so->s == NULL) {
		int err = rte_errno;

		if (err == EINVAL)
			PyErr_Format(PyExc_ValueError,
				     "the store refused its configuration (name %s, metadata %s): "
				     "a bad metadata URI, overlapping nodes, more replicas than "
				     "nodes, a lease under twice the deadline, owned nodes in a "
				     "process not attached to a dataplane, or a limit out of range",
				     so->name, so->metadata);
		else
			set_error(err, "cannot create the store (metadata %s): %s", so->metadata,
				  rte_strerror(err));
		goto fail;
	}
	if (PyObject_TypeCheck(source, &EngineType)) {
		PyObject *ref = PyWeakref_NewRef((PyObject *)so, NULL);

		if (ref == NULL || PyList_Append(((EngineObject *)source)->clients, ref) != 0) {
			Py_XDECREF(ref);
			goto fail;
		}
		Py_DECREF(ref);
	}
	return (PyObject *)so;
fail:
	Py_XDECREF(fast);
	Py_DECREF(so);
	return NULL;
}

static PyObject *
store_serve_telemetry(StoreObject *so, PyObject *unused)
{
	int ret;

	(void)unused;
	if (so->s == NULL) {
		PyErr_SetString(PyExc_ValueError, "the tern store is closed");
		return NULL;
	}
	/* The telemetry thread walks the records under the lock every call holds. */
	ret = tern_store_telemetry_keys_register(so->s, &so->mu);
	if (ret != 0)
		return set_error(ret,
				 ret == -EEXIST ? "another store of this process serves /tern/store"
						: "serving /tern/store_keys: %s",
				 strerror(-ret));
	Py_RETURN_NONE;
}

static PyObject *
store_get_name(StoreObject *so, void *closure)
{
	(void)closure;
	return PyUnicode_FromString(so->name);
}

static PyObject *
store_get_metadata(StoreObject *so, void *closure)
{
	(void)closure;
	return PyUnicode_FromString(so->metadata);
}

static PyObject *
store_get_closed(StoreObject *so, void *closure)
{
	(void)closure;
	return PyBool_FromLong(so->s == NULL);
}

static PyObject *
store_repr(StoreObject *so)
{
	return PyUnicode_FromFormat("<tern.Store %s, metadata %s%s>", so->name, so->metadata,
				    so->s == NULL ? ", closed" : "");
}

static PyMethodDef store_methods[] = {
	{ "put", (PyCFunction)(void (*)(void))store_put, METH_VARARGS | METH_KEYWORDS,
	  "put(key, buf, replace=False, *, replicas=None): store buf's bytes under key." },
	{ "get_into", (PyCFunction)(void (*)(void))store_get_into, METH_VARARGS | METH_KEYWORDS,
	  "get_into(key, buf) -> int: read the object into buf; its size." },
	{ "batch_put_from", (PyCFunction)(void (*)(void))store_batch_put_from,
	  METH_VARARGS | METH_KEYWORDS,
	  "batch_put_from(keys, bufs, replace=False, *, replicas=None): put each buffer; "
	  "BatchError (.results) if some keys failed." },
	{ "batch_get_into", (PyCFunction)(void (*)(void))store_batch_get_into,
	  METH_VARARGS | METH_KEYWORDS,
	  "batch_get_into(keys, bufs) -> list of sizes; BatchError (.results) if some keys "
	  "failed." },
	{ "exists", (PyCFunction)store_exists, METH_O, "exists(key) -> bool" },
	{ "batch_exists", (PyCFunction)store_batch_exists, METH_O,
	  "batch_exists(keys) -> list of bool" },
	{ "remove", (PyCFunction)store_remove, METH_O, "remove(key): KeyNotFoundError if absent." },
	{ "batch_remove", (PyCFunction)store_batch_remove, METH_O,
	  "batch_remove(keys) -> list of bool (False: it was absent)" },
	{ "list", (PyCFunction)(void (*)(void))store_list, METH_VARARGS | METH_KEYWORDS,
	  "list(prefix='') -> sorted list of (key, size, replicas)" },
	{ "stats", (PyCFunction)store_stats, METH_NOARGS, "stats() -> dict (tern_store_stats)" },
	{ "serve_telemetry", (PyCFunction)store_serve_telemetry, METH_NOARGS,
	  "serve_telemetry(): answer /tern/store and /tern/store_keys for this store on the "
	  "process's telemetry socket (one store per process)." },
	{ "close", (PyCFunction)store_close, METH_NOARGS,
	  "close(): destroy the store (its objects with embedded metadata)." },
	{ "__enter__", enter_self, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)store_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef store_getset[] = {
	{ "name", (getter)store_get_name, NULL, "the store's name (the owner in records)", NULL },
	{ "metadata", (getter)store_get_metadata, NULL, "embedded, or the etcd/Redis URI", NULL },
	{ "closed", (getter)store_get_closed, NULL, "has close() run?", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject StoreType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern.Store",
	.tp_basicsize = sizeof(StoreObject),
	.tp_dealloc = (destructor)store_dealloc,
	.tp_repr = (reprfunc)store_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
	.tp_traverse = (traverseproc)store_traverse,
	.tp_doc = "Objects by key over a tern engine: Store(client_or_engine, nodes, ...) "
		  "(doc/python.md).",
	.tp_methods = store_methods,
	.tp_getset = store_getset,
	.tp_new = store_new,
	.tp_weaklistoffset = offsetof(StoreObject, weakreflist),
};

/* ---- the EAL ---- */

static PyObject *
mod_eal_init(PyObject *self, PyObject *args)
{
	PyObject *list;
	int primary, argc, ret;
	char **argv;
	cpu_set_t saved;
	Py_ssize_t i, n;

	(void)self;
	if (!PyArg_ParseTuple(args, "O!p:eal_init", &PyList_Type, &list, &primary))
		return NULL;
	if (eal_mode != EAL_NONE) {
		PyErr_SetString(PyExc_RuntimeError,
				"the EAL is already initialised in this process");
		return NULL;
	}
	n = PyList_GET_SIZE(list);
	argv = PyMem_Calloc((size_t)n + 1, sizeof(*argv));
	if (argv == NULL)
		return PyErr_NoMemory();
	for (i = 0; i < n; i++) {
		const char *s = PyUnicode_AsUTF8(PyList_GET_ITEM(list, i));

		if (s == NULL || (argv[i] = strdup(s)) == NULL)
			goto fail;
	}
	argc = (int)n;
	/* rte_eal_init() pins the calling thread to the main lcore's CPU: give
	 * the Python thread its CPUs back (the benchmark pins itself). */
	sched_getaffinity(0, sizeof(saved), &saved);
	NOGIL(ret = rte_eal_init(argc, argv));
	if (ret < 0) {
		int err = rte_errno;

		/* DPDK refuses a second rte_eal_init() in this process. */
		eal_mode = -1;
		set_error(err, "rte_eal_init: %s", rte_strerror(err));
		goto fail;
	}
	pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	eal_mode = primary ? EAL_PRIMARY : EAL_SECONDARY;
	/* argv stays: DPDK may keep pointers into it. */
	Py_RETURN_NONE;
fail:
	for (i = 0; i < n; i++)
		free(argv[i]);
	PyMem_Free(argv);
	if (!PyErr_Occurred())
		PyErr_SetString(PyExc_TypeError, "EAL arguments must be str");
	return NULL;
}

static PyObject *
mod_eal_mode(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyLong_FromLong(eal_mode);
}

static PyObject *
mod_attach(PyObject *self, PyObject *args)
{
	const char *engine;
	unsigned int max_inflight;
	struct tern_client_conf conf = { 0 };
	struct tern_segment_table *tbl;
	struct tern_client *tc;

	(void)self;
	if (!PyArg_ParseTuple(args, "sI:attach", &engine, &max_inflight))
		return NULL;
	if (eal_mode != EAL_SECONDARY) {
		PyErr_SetString(PyExc_RuntimeError,
				eal_mode == EAL_PRIMARY
					? "this process runs an in-process engine: it cannot also "
					  "attach to a dataplane"
					: "the EAL is not initialised as a secondary process");
		return NULL;
	}
	if (tern_cli_check_name(engine, 16) != 0) {
		PyErr_Format(PyExc_ValueError, "bad engine name '%s': 1..15 of [A-Za-z0-9_]",
			     engine);
		return NULL;
	}
	if (max_inflight == 0 || max_inflight > 65536) {
		PyErr_Format(PyExc_ValueError, "max_inflight must be 1 .. 65536, not %u",
			     max_inflight);
		return NULL;
	}
	conf.max_inflight = max_inflight;
	conf.flags = TERN_CLIENT_F_NO_CQ;
	NOGIL(tc = tern_client_attach(engine, &conf));
	if (tc == NULL)
		return set_error(rte_errno, "cannot attach to engine %s: %s", engine,
				 rte_strerror(rte_errno));
	tbl = tern_segment_table_lookup(engine);
	if (tbl == NULL) {
		int err = rte_errno;

		tern_client_destroy(tc);
		return set_error(err, "engine %s has no segment table", engine);
	}
	return (PyObject *)client_new(tc, tbl, NULL, engine, max_inflight);
}

/* ---- the in-process engine ---- */

static PyObject *
engine_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "segments", "idle_yield", "slice_bytes", NULL };
	const char *name = "tern";
	PyObject *segments = NULL, *key, *value;
	int idle_yield = 0;
	unsigned long long slice_bytes = 0;
	struct tern_engine_conf conf = { 0 };
	EngineObject *e;
	Py_ssize_t pos = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "sO!|pK:Engine", kwlist, &name, &PyDict_Type,
					 &segments, &idle_yield, &slice_bytes))
		return NULL;
	if (eal_mode != EAL_PRIMARY) {
		PyErr_SetString(PyExc_RuntimeError,
				"the EAL is not initialised as a primary process (tern.Engine() "
				"does it)");
		return NULL;
	}
	if (tern_cli_check_name(name, 16) != 0) {
		PyErr_Format(PyExc_ValueError, "bad engine name '%s': 1..15 of [A-Za-z0-9_]", name);
		return NULL;
	}
	e = (EngineObject *)type->tp_alloc(type, 0);
	if (e == NULL)
		return NULL;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->registered = PyDict_New();
	e->clients = PyList_New(0);
	if (e->registered == NULL || e->clients == NULL)
		goto fail;
	e->tbl = tern_segment_table_create(name, 256, SOCKET_ID_ANY);
	if (e->tbl == NULL) {
		set_error(rte_errno, "segment table %s: %s", name, rte_strerror(rte_errno));
		goto fail;
	}
	while (PyDict_Next(segments, &pos, &key, &value)) {
		const char *sname = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
		uint64_t size = 0;
		uint32_t handle;
		struct tern_segment_info info;
		int ret;

		if (sname == NULL || tern_cli_check_name_chars(sname, TERN_SEGMENT_NAME_MAX,
							       TERN_CLI_NAME_SEGMENT) != 0) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError,
				     "bad segment name %R: 1..%d of [A-Za-z0-9_.:-]", key,
				     TERN_SEGMENT_NAME_MAX - 1);
			goto fail;
		}
		if (PyLong_Check(value)) {
			if (parse_u64(value, "segment size", &size) != 0)
				goto fail;
		} else if (PyUnicode_Check(value)) {
			const char *s = PyUnicode_AsUTF8(value);

			if (s == NULL || tern_cli_parse_size(s, 1ull << 40, &size) != 0) {
				PyErr_Clear();
				PyErr_Format(PyExc_ValueError,
					     "segment %s: bad size %R (e.g. 4096, \"64M\", \"1G\")",
					     sname, value);
				goto fail;
			}
		} else {
			PyErr_Format(PyExc_TypeError,
				     "segment %s: size must be an int or a str like \"1G\", not "
				     "%.100s",
				     sname, Py_TYPE(value)->tp_name);
			goto fail;
		}
		if (size == 0) {
			PyErr_Format(PyExc_ValueError, "segment %s: size 0", sname);
			goto fail;
		}
		if (e->regions.n == REGIONS_MAX) {
			PyErr_Format(PyExc_ValueError, "at most %d segments", REGIONS_MAX);
			goto fail;
		}
		NOGIL(ret = tern_segment_alloc(e->tbl, sname, size, SOCKET_ID_ANY, &handle));
		if (ret != 0) {
			set_error(ret, "segment %s (%llu bytes): %s", sname,
				  (unsigned long long)size, strerror(-ret));
			goto fail;
		}
		tern_segment_info(e->tbl, handle, &info);
		regions_add(&e->regions, (uintptr_t)info.addr, info.length, handle);
	}
	conf.name = e->name;
	conf.segments = e->tbl;
	conf.slice_bytes = slice_bytes;
	conf.flags = idle_yield ? TERN_ENGINE_F_IDLE_YIELD : 0;
	e->pid = getpid();
	e->engine = tern_engine_create(&conf);
	if (e->engine == NULL) {
		set_error(rte_errno, "tern_engine_create: %s", rte_strerror(rte_errno));
		goto fail;
	}
	return (PyObject *)e;
fail:
	Py_DECREF(e);
	return NULL;
}

static bool
engine_check(EngineObject *e)
{
	if (e->pid != getpid()) {
		PyErr_Format(PyExc_RuntimeError,
			     "this tern engine belongs to process %d, not this forked child",
			     (int)e->pid);
		return false;
	}
	if (e->engine == NULL || e->closing) {
		PyErr_SetString(PyExc_ValueError, "the tern engine is closed");
		return false;
	}
	return true;
}

static PyObject *
engine_client(EngineObject *e, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "max_inflight", NULL };
	unsigned int max_inflight = 256;
	struct tern_client_conf conf = { 0 };
	struct tern_client *tc;
	ClientObject *c;
	PyObject *ref;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|I:client", kwlist, &max_inflight))
		return NULL;
	if (!engine_check(e))
		return NULL;
	if (max_inflight == 0 || max_inflight > 65536) {
		PyErr_Format(PyExc_ValueError, "max_inflight must be 1 .. 65536, not %u",
			     max_inflight);
		return NULL;
	}
	conf.max_inflight = max_inflight;
	conf.flags = TERN_CLIENT_F_NO_CQ;
	tc = tern_client_create(e->engine, &conf);
	if (tc == NULL)
		return set_error(rte_errno, "tern_client_create: %s", rte_strerror(rte_errno));
	c = client_new(tc, e->tbl, e, e->name, max_inflight);
	if (c == NULL)
		return NULL;
	ref = PyWeakref_NewRef((PyObject *)c, NULL);
	if (ref == NULL || PyList_Append(e->clients, ref) != 0) {
		Py_XDECREF(ref);
		Py_DECREF(c);
		return NULL;
	}
	Py_DECREF(ref);
	return (PyObject *)c;
}

static PyObject *
engine_register(EngineObject *e, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "obj", "name", NULL };
	PyObject *obj, *mv = NULL, *key = NULL, *val;
	const char *name = NULL;
	char auto_name[TERN_SEGMENT_NAME_MAX];
	const Py_buffer *view;
	uint32_t handle;
	int ret;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|z:register", kwlist, &obj, &name))
		return NULL;
	if (!engine_check(e))
		return NULL;
	if (e->regions.n == REGIONS_MAX)
		return set_error(ENOSPC, "at most %d registered buffers and segments", REGIONS_MAX);
	if (!PyObject_CheckBuffer(obj)) {
		PyErr_Format(PyExc_TypeError,
			     "register() needs a buffer-protocol object (numpy array, bytearray, "
			     "mmap), not %.100s",
			     Py_TYPE(obj)->tp_name);
		return NULL;
	}
	/* The memoryview holds the export: a bytearray cannot be resized, an
	 * mmap cannot be closed while registered. */
	mv = PyMemoryView_FromObject(obj);
	if (mv == NULL)
		return NULL;
	view = PyMemoryView_GET_BUFFER(mv);
	if (view->readonly || !PyBuffer_IsContiguous(view, 'A') || view->len == 0) {
		PyErr_Format(PyExc_ValueError,
			     "register() needs a writable, contiguous, non-empty buffer; this "
			     "%.100s is %s",
			     Py_TYPE(obj)->tp_name,
			     view->readonly   ? "read-only"
			     : view->len == 0 ? "empty"
					      : "not contiguous");
		Py_DECREF(mv);
		return NULL;
	}
	if (name == NULL) {
		snprintf(auto_name, sizeof(auto_name), "py_reg_%p", view->buf);
		name = auto_name;
	} else if (tern_cli_check_name_chars(name, TERN_SEGMENT_NAME_MAX, TERN_CLI_NAME_SEGMENT) !=
		   0) {
		PyErr_Format(PyExc_ValueError, "bad segment name '%s': 1..%d of [A-Za-z0-9_.:-]",
			     name, TERN_SEGMENT_NAME_MAX - 1);
		Py_DECREF(mv);
		return NULL;
	}
	ret = tern_segment_register(e->tbl,
				    &(struct tern_segment_conf){ .name = name,
								 .addr = view->buf,
								 .length = (uint64_t)view->len,
								 .socket_id = SOCKET_ID_ANY },
				    &handle);
	if (ret != 0) {
		Py_DECREF(mv);
		return set_error(ret,
				 ret == -EEXIST ? "register %s: the name is taken or the memory "
						  "overlaps a registered buffer"
						: "register %s: %s",
				 name, strerror(-ret));
	}
	key = PyUnicode_FromString(name);
	if (key == NULL)
		Py_DECREF(mv); /* "N" below would have taken it */
	val = key == NULL ? NULL : Py_BuildValue("(NI)", mv, handle);
	if (val == NULL || PyDict_SetItem(e->registered, key, val) != 0) {
		tern_segment_unregister(e->tbl, handle);
		Py_XDECREF(val);
		Py_XDECREF(key);
		return NULL;
	}
	Py_DECREF(val);
	regions_add(&e->regions, (uintptr_t)view->buf, (uint64_t)view->len, handle);
	return key;
}

static PyObject *
engine_unregister(EngineObject *e, PyObject *name)
{
	PyObject *val;
	uint32_t handle;
	int ret;

	if (!engine_check(e))
		return NULL;
	val = PyDict_GetItemWithError(e->registered, name);
	if (val == NULL) {
		if (!PyErr_Occurred())
			PyErr_Format(PyExc_KeyError, "no buffer registered as %R", name);
		return NULL;
	}
	handle = (uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(val, 1));
	ret = tern_segment_unregister(e->tbl, handle);
	if (ret != 0)
		return set_error(ret,
				 ret == -EBUSY ? "unregister: work in flight still uses it"
					       : "unregister: %s",
				 strerror(-ret));
	regions_del(&e->regions, handle);
	if (PyDict_DelItem(e->registered, name) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
engine_buffer(EngineObject *e, PyObject *name)
{
	struct tern_segment_info info;
	BufferObject *b;
	uint32_t handle;
	const char *s;
	int ret;

	if (!engine_check(e))
		return NULL;
	if (!PyUnicode_Check(name)) {
		PyErr_Format(PyExc_TypeError, "segment name must be a str, not %.100s",
			     Py_TYPE(name)->tp_name);
		return NULL;
	}
	s = PyUnicode_AsUTF8(name);
	if (s == NULL)
		return NULL;
	ret = tern_segment_find(e->tbl, s, &handle);
	if (ret == 0)
		ret = tern_segment_info(e->tbl, handle, &info);
	if (ret != 0)
		return set_error(ret, "engine %s has no segment %s", e->name, s);
	b = PyObject_New(BufferObject, &BufferType);
	if (b == NULL)
		return NULL;
	b->client = NULL;
	Py_INCREF(e);
	b->engine = e;
	b->addr = info.addr;
	b->len = info.length;
	b->handle = handle;
	b->exports = 0;
	b->batches = 0;
	b->closed = false;
	snprintf(b->name, sizeof(b->name), "%s", s);
	return (PyObject *)b;
}

static PyObject *
engine_stats(EngineObject *e, PyObject *unused)
{
	struct tern_pool_stats ps;
	struct tern_engine_info info;

	(void)unused;
	if (!engine_check(e))
		return NULL;
	if (tern_engine_pool_stats(e->engine, &ps) != 0 || tern_engine_info(e->engine, &info) != 0)
		return set_error(EINVAL, "engine stats");
	return Py_BuildValue("{s:I,s:I,s:I,s:I,s:I,s:I}", "pool_total", ps.total, "pool_available",
			     ps.available, "pool_engine_held", ps.engine_held, "nb_lcores",
			     info.nb_lcores, "nb_clients", info.nb_clients, "max_batch",
			     info.max_batch);
}

static int
engine_close_impl(EngineObject *e)
{
	Py_ssize_t i;
	PyObject *key, *val;
	struct tern_engine *te;
	Py_ssize_t pos = 0;
	int ret;

	if (e->engine == NULL)
		return 0;
	if (e->closing) {
		PyErr_SetString(PyExc_ValueError, "another thread is closing this tern engine");
		return -1;
	}
	if (e->exports > 0) {
		PyErr_SetString(PyExc_BufferError,
				"views of the engine's segments (Engine.buffer()) are alive: "
				"release them first");
		return -1;
	}
	for (i = 0; i < PyList_GET_SIZE(e->clients); i++) {
		PyObject *c = PyWeakref_GetObject(PyList_GET_ITEM(e->clients, i));
		int err;

		if (c == Py_None)
			continue;
		Py_INCREF(c);	   /* closing may let other threads run */
		e->closing = true; /* no new clients meanwhile */
		err = PyObject_TypeCheck(c, &StoreType) ? store_close_impl((StoreObject *)c)
							: client_close_impl((ClientObject *)c);
		e->closing = false;
		Py_DECREF(c);
		if (err != 0)
			return -1;
	}
	te = e->engine;
	e->engine = NULL; /* before the GIL goes: nobody else reaches it */
	NOGIL(ret = tern_engine_destroy(te));
	while (PyDict_Next(e->registered, &pos, &key, &val))
		tern_segment_unregister(e->tbl,
					(uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(val, 1)));
	PyDict_Clear(e->registered);
	for (i = 0; i < (Py_ssize_t)e->regions.n; i++)
		tern_segment_unregister(e->tbl, e->regions.r[i].handle);
	e->regions.n = 0;
	tern_segment_table_free(e->tbl);
	e->tbl = NULL;
	if (ret != 0) {
		set_error(ret, "tern_engine_destroy: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static PyObject *
engine_close(EngineObject *e, PyObject *unused)
{
	(void)unused;
	if (engine_close_impl(e) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
engine_exit(EngineObject *e, PyObject *args)
{
	(void)args;
	return engine_close(e, NULL);
}

static void
engine_dealloc(EngineObject *e)
{
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	PyObject_GC_UnTrack(e);
	if (e->weakreflist != NULL)
		PyObject_ClearWeakRefs((PyObject *)e);
	if (e->pid != 0 && e->pid != getpid())
		; /* a forked child's copy: the parent's engine is not this process's */
	else if (e->registered != NULL && e->clients != NULL && engine_close_impl(e) != 0)
		PyErr_WriteUnraisable((PyObject *)e);
	else if (e->tbl != NULL) {
		unsigned int i;

		for (i = 0; i < e->regions.n; i++)
			tern_segment_unregister(e->tbl, e->regions.r[i].handle);
		tern_segment_table_free(e->tbl);
	}
	PyErr_Restore(type, value, tb);
	Py_XDECREF(e->registered);
	Py_XDECREF(e->clients);
	Py_TYPE(e)->tp_free((PyObject *)e);
}

static int
engine_traverse(EngineObject *e, visitproc visit, void *arg)
{
	Py_VISIT(e->registered);
	return 0;
}

static PyObject *
engine_get_name(EngineObject *e, void *closure)
{
	(void)closure;
	return PyUnicode_FromString(e->name);
}

static PyObject *
engine_get_closed(EngineObject *e, void *closure)
{
	(void)closure;
	return PyBool_FromLong(e->engine == NULL);
}

static PyMethodDef engine_methods[] = {
	{ "client", (PyCFunction)(void (*)(void))engine_client, METH_VARARGS | METH_KEYWORDS,
	  "client(max_inflight=256) -> Client: one per thread." },
	{ "register", (PyCFunction)(void (*)(void))engine_register, METH_VARARGS | METH_KEYWORDS,
	  "register(obj, name=None) -> str: register a writable contiguous buffer as a "
	  "segment (a target, and local memory for requests)." },
	{ "unregister", (PyCFunction)engine_unregister, METH_O, "unregister(name)" },
	{ "buffer", (PyCFunction)engine_buffer, METH_O,
	  "buffer(segment) -> Buffer: the memory of one of the engine's segments." },
	{ "stats", (PyCFunction)engine_stats, METH_NOARGS, "stats() -> dict" },
	{ "close", (PyCFunction)engine_close, METH_NOARGS,
	  "close(): close its clients, drain and stop the engine, free its segments." },
	{ "__enter__", enter_self, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)engine_exit, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

static PyGetSetDef engine_getset[] = {
	{ "name", (getter)engine_get_name, NULL, "the engine's name", NULL },
	{ "closed", (getter)engine_get_closed, NULL, "has close() run?", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static PyTypeObject EngineType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tern._Engine",
	.tp_basicsize = sizeof(EngineObject),
	.tp_dealloc = (destructor)engine_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
	.tp_traverse = (traverseproc)engine_traverse,
	.tp_doc = "An in-process engine (use tern.Engine).",
	.tp_methods = engine_methods,
	.tp_getset = engine_getset,
	.tp_new = engine_new,
	.tp_weaklistoffset = offsetof(EngineObject, weakreflist),
};

static PyObject *
mod_set_hooks(PyObject *self, PyObject *args)
{
	PyObject *a, *d;

	(void)self;
	if (!PyArg_ParseTuple(args, "OO:_set_hooks", &a, &d))
		return NULL;
	Py_XDECREF(await_hook);
	Py_XDECREF(deliver_hook);
	Py_INCREF(a);
	Py_INCREF(d);
	await_hook = a;
	deliver_hook = d;
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{ "eal_init", mod_eal_init, METH_VARARGS,
	  "eal_init(args: list[str], primary: bool): rte_eal_init() once per process." },
	{ "eal_mode", mod_eal_mode, METH_NOARGS, "0 none, 1 secondary, 2 primary, -1 failed" },
	{ "attach", mod_attach, METH_VARARGS, "attach(engine, max_inflight) -> Client" },
	{ "_set_hooks", mod_set_hooks, METH_VARARGS, NULL },
	{ NULL, NULL, 0, NULL },
};

/* The store's exceptions: tern.Error subclasses that are also the built-in
 * exception a Python user expects (KeyError for a missing key, ...). */
static int
store_add_errors(PyObject *m)
{
	struct {
		PyObject **var;
		const char *name, *doc;
		PyObject *base2;
	} errs[] = {
		{ &key_exists_error, "KeyExistsError",
		  "put of a key that exists (EEXIST): also a FileExistsError.",
		  PyExc_FileExistsError },
		{ &key_not_found_error, "KeyNotFoundError",
		  "no object with that key (ENOENT): also a KeyError.", PyExc_KeyError },
		{ &buffer_too_small_error, "BufferTooSmallError",
		  "get_into with a buffer smaller than the object (ENOSPC); .size is the size "
		  "needed. Also a ValueError.",
		  PyExc_ValueError },
		{ &batch_error, "BatchError",
		  "some keys of a batch failed: .results holds, per key, its size or the "
		  "exception the single call would raise; errno is the first failure's.",
		  NULL },
	};
	char full[64];
	size_t i;

	for (i = 0; i < RTE_DIM(errs); i++) {
		PyObject *bases = errs[i].base2 != NULL ? PyTuple_Pack(2, tern_error, errs[i].base2)
							: Py_NewRef(tern_error);

		if (bases == NULL)
			return -1;
		snprintf(full, sizeof(full), "tern.%s", errs[i].name);
		*errs[i].var = PyErr_NewExceptionWithDoc(full, errs[i].doc, bases, NULL);
		Py_DECREF(bases);
		if (*errs[i].var == NULL ||
		    PyModule_AddObjectRef(m, errs[i].name, *errs[i].var) < 0)
			return -1;
	}
	return 0;
}

static struct PyModuleDef tern_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "tern._tern",
	.m_doc = "tern's C API for Python (use the tern package).",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__tern(void)
{
	PyTypeObject *types[] = { &EngineType, &ClientType, &FutureType,
				  &BufferType, &BatchType,  &StoreType };
	const char *names[] = { "_Engine", "Client", "Future", "Buffer", "Batch", "Store" };
	PyObject *m;
	size_t i;

	for (i = 0; i < RTE_DIM(types); i++)
		if (PyType_Ready(types[i]) < 0)
			return NULL;
	m = PyModule_Create(&tern_module);
	if (m == NULL)
		return NULL;
	tern_error = PyErr_NewExceptionWithDoc(
		"tern.Error",
		"A tern call or transfer failed: an OSError whose errno says why (ETIMEDOUT, "
		"ECANCELED, ECONNRESET, ENOENT, ...).",
		PyExc_OSError, NULL);
	if (tern_error == NULL || PyModule_AddObjectRef(m, "Error", tern_error) < 0)
		goto fail;
	for (i = 0; i < RTE_DIM(types); i++)
		if (PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0)
			goto fail;
	if (store_add_errors(m) != 0)
		goto fail;
	if (PyModule_AddIntConstant(m, "READ", TERN_OP_READ) < 0 ||
	    PyModule_AddIntConstant(m, "WRITE", TERN_OP_WRITE) < 0 ||
	    PyModule_AddIntConstant(m, "BATCH_MAX", TERN_BATCH_MAX) < 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
