/* vtm_spool — the outage spool's writer (module side); see vtm_spool.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <http_core.h>
#include <unixd.h>

#include "vt_spool_record.h"
#include "vt_util.h"
#include "vtm_module.h"
#include "vtm_spool.h"

APLOG_USE_MODULE(voxtwilio);

static apr_status_t write_all(int fd, const char *buf, apr_size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        buf += w;
        len -= (apr_size_t)w;
    }
    return APR_SUCCESS;
}

apr_status_t vtm_spool_write(request_rec *r, const char *route, const char *slug,
                             const char *signed_url, const char *body, apr_size_t len)
{
    const vtm_srv_conf_t *c = vtm_srv_conf(r->server);
    apr_time_t now = apr_time_now();
    unsigned char rnd[8];
    vt_spool_record_t rec = { 0 };
    const char *doc, *name, *tmp, *dst, *step = "write";
    apr_status_t rv;
    int fd, dfd;

    if (!c->spool_dir) {
        return APR_ENOENT;
    }
    rv = apr_generate_random_bytes(rnd, sizeof(rnd));
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, VTLOGNO(10420) "spool: no random bytes");
        return rv;
    }
    rec.route = route;
    rec.url = signed_url;
    rec.signature = apr_table_get(r->headers_in, "X-Twilio-Signature");
    rec.idempotency_token = apr_table_get(r->headers_in, "I-Twilio-Idempotency-Token");
    rec.content_type = apr_table_get(r->headers_in, "Content-Type");
    rec.tenant = slug;
    rec.body = body;
    rec.body_len = body ? len : 0;
    doc = vt_spool_record_encode(r->pool, &rec, now);
    name = apr_psprintf(r->pool, "%016" APR_TIME_T_FMT "-%s.json", now,
                        vt_hex_encode(r->pool, rnd, sizeof(rnd)));
    /* The helper skips dot-files: it never reads a file still being written. */
    tmp = apr_pstrcat(r->pool, c->spool_dir, "/.tmp-", name, NULL);
    dst = apr_pstrcat(r->pool, c->spool_dir, "/", name, NULL);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rv = errno;
        step = "create";
    }
    else {
        rv = write_all(fd, doc, strlen(doc));
        if (rv == APR_SUCCESS && fsync(fd) != 0) {
            rv = errno;
            step = "fsync";
        }
        if (close(fd) != 0 && rv == APR_SUCCESS) {
            rv = errno;
            step = "close";
        }
        if (rv == APR_SUCCESS && rename(tmp, dst) != 0) {
            rv = errno;
            step = "rename";
        }
        if (rv != APR_SUCCESS) {
            unlink(tmp);
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      VTLOGNO(10421) "spool: cannot %s %s: this %s request is lost", step,
                      tmp, route);
        return rv;
    }
    /* The rename is durable only once the directory is. */
    dfd = open(c->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  VTLOGNO(10422) "spool: %s request stored as %s for the helper", route, name);
    return APR_SUCCESS;
}

int vtm_spool_post_config(apr_pool_t *pconf, server_rec *s)
{
    const vtm_srv_conf_t *mc = vtm_srv_conf(s);
    const char *dir = mc->spool_dir;
    server_rec *v;
    struct stat st;
    apr_status_t rv;

    for (v = s; v && !vtm_srv_conf(v)->enabled; v = v->next) {
    }
    if (!v || !dir) {
        return OK; /* nothing serves webhooks: nothing to spool */
    }
    rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE,
                                pconf);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     VTLOGNO(10423) "VoxTwilioSpoolDir %s cannot be created", dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     VTLOGNO(10424) "VoxTwilioSpoolDir %s is not a directory (a symbolic "
                     "link is not accepted)", dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The children (httpd's User) write into it, the helper (same User) reads and deletes;
     * nobody else may read: the files hold callers' phone numbers. */
    if ((geteuid() == 0
         && chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0)
        || chmod(dir, 0700) != 0) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, errno, s,
                     VTLOGNO(10425) "VoxTwilioSpoolDir %s: cannot give it to User %s with "
                     "mode 0700", dir, ap_unixd_config.user_name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}
