/* vth_work — worker threads for the media thread's blocking work; see vth_media.h. */
#include <string.h>

#include "vth_media.h"
#include "vt_log.h"

/* Each HTTP worker keeps its own client, so connections are reused call after call; its
 * pool is the thread's until the process ends. */
static __thread vt_llm_http_t *worker_http;

vt_llm_http_t *vth_worker_http(void)
{
    apr_pool_t *p;

    if (!worker_http && apr_pool_create_unmanaged(&p) == APR_SUCCESS
        && !(worker_http = vt_llm_http_create(p))) {
        apr_pool_destroy(p);
    }
    return worker_http;
}

vth_task_t *vth_task_progress(vth_task_t *parent, void (*done)(vth_task_t *), size_t size)
{
    vth_task_t *t = vth_task_new(NULL, done, parent->stream_id, NULL);

    t->media = parent->media;
    t->data = apr_pcalloc(t->pool, size ? size : 1);
    return t;
}

struct vth_queue {
    vth_media_t *media;
    const char *name;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vth_task_t *head, *tail;
    int stopping;
    vth_db_t *db;
};

static void *worker(void *arg)
{
    vth_queue_t *q = arg;

    for (;;) {
        vth_task_t *t;

        pthread_mutex_lock(&q->lock);
        while (!q->head && !q->stopping) {
            pthread_cond_wait(&q->cond, &q->lock);
        }
        t = q->head;
        if (t) {
            q->head = t->next;
            if (!q->head) {
                q->tail = NULL;
            }
        }
        pthread_mutex_unlock(&q->lock);
        if (!t) {
            break; /* stopping, and nothing left */
        }
        t->next = NULL;
        t->run(t, q->db);
        if (t->then) {
            vth_queue_t *then = t->then;
            t->then = NULL;
            vth_queue_push(then, t);
            continue;
        }
        vth_media_complete(q->media, t);
    }
    if (q->db) {
        vth_db_close(q->db);
    }
    return NULL;
}

static vth_queue_t *queue_start(apr_pool_t *p, vth_media_t *m, const char *name, int with_db,
                                int threads)
{
    vth_queue_t *q = apr_pcalloc(p, sizeof *q);

    q->media = m;
    q->name = name;
    q->threads = apr_pcalloc(p, sizeof(*q->threads) * (size_t)threads);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    if (with_db) {
        q->db = vth_db_create(p, m->cfg->conninfo, name);
    }
    for (; q->nthreads < threads; q->nthreads++) {
        if (pthread_create(&q->threads[q->nthreads], NULL, worker, q) != 0) {
            vt_log(VT_LOG_ERR, "cannot start the %s worker thread", name);
            vth_queue_stop(q);
            return NULL;
        }
    }
    return q;
}

vth_queue_t *vth_queue_start(apr_pool_t *p, vth_media_t *m, const char *name, int with_db)
{
    return queue_start(p, m, name, with_db, 1);
}

vth_queue_t *vth_queue_start_pool(apr_pool_t *p, vth_media_t *m, const char *name,
                                  int threads)
{
    return queue_start(p, m, name, 0, threads < 1 ? 1 : threads);
}

void vth_queue_push(vth_queue_t *q, vth_task_t *t)
{
    t->next = NULL;
    t->media = q->media;
    pthread_mutex_lock(&q->lock);
    if (q->tail) {
        q->tail->next = t;
    }
    else {
        q->head = t;
    }
    q->tail = t;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

vth_task_t *vth_task_new(void (*run)(vth_task_t *, vth_db_t *), void (*done)(vth_task_t *),
                         unsigned long stream_id, void *data)
{
    apr_pool_t *p;
    vth_task_t *t;

    /* Unmanaged: created on the media thread, used by one worker, destroyed back here. */
    apr_pool_create_unmanaged(&p);
    t = apr_pcalloc(p, sizeof *t);
    t->run = run;
    t->done = done;
    t->pool = p;
    t->stream_id = stream_id;
    t->data = data;
    return t;
}

void vth_queue_stop(vth_queue_t *q)
{
    if (!q) {
        return;
    }
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++) {
        pthread_join(q->threads[i], NULL);
    }
}

void vth_media_complete(vth_media_t *m, vth_task_t *t)
{
    pthread_mutex_lock(&m->lock);
    if (m->done_tail) {
        m->done_tail->next = t;
    }
    else {
        m->done_head = t;
    }
    m->done_tail = t;
    if (m->ctx) {
        lws_cancel_service(m->ctx); /* -> LWS_CALLBACK_EVENT_WAIT_CANCELLED */
    }
    pthread_mutex_unlock(&m->lock);
}

void vth_media_completions(vth_media_t *m)
{
    vth_task_t *t;

    pthread_mutex_lock(&m->lock);
    t = m->done_head;
    m->done_head = m->done_tail = NULL;
    pthread_mutex_unlock(&m->lock);
    while (t) {
        vth_task_t *next = t->next;
        if (t->done) {
            t->done(t);
        }
        if (t->pool) {
            apr_pool_destroy(t->pool);
        }
        t = next;
    }
}
