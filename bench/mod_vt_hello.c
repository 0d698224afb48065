/* mod_vt_hello — the benchmark's ceiling: a bare Apache handler that answers every POST
 * with a fixed small TwiML document (text/xml, Content-Length), and does nothing else.
 *
 * It runs in the same httpd, with the same MPM, logging and KeepAlive settings as
 * mod_voxtwilio during a benchmark, so "module req/s / hello req/s" is the share of the
 * machine's HTTP capacity that the webhook work (form parsing, tenant lookup, AES-GCM,
 * HMAC-SHA1, database round trips, TwiML) leaves.
 *
 *   LoadModule vt_hello_module mod_vt_hello.so
 *   <Location /hello> SetHandler vt-hello </Location>
 *
 * A second handler, vt-heapstats (GET), reports the serving child's glibc heap figures
 * (mallinfo2) so that the memory run can tell memory the program holds (a leak grows it)
 * from free memory the allocator keeps (only RSS grows). It reads allocator counters and
 * changes nothing.
 *
 * Built by bench/run.sh with apxs; not part of the product or of `make check`. */
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include <malloc.h>
#include <unistd.h>

static const char hello_twiml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<Response><Gather input=\"speech\" action=\"speech?t=1&amp;ni=0&amp;nm=0\" method=\"POST\">"
    "<Say voice=\"Polly.Joanna\" language=\"en-US\">Hello, how can I help you today?</Say>"
    "</Gather></Response>";

static int hello_handler(request_rec *r)
{
    apr_status_t rv;

    if (!r->handler || strcmp(r->handler, "vt-hello") != 0) {
        return DECLINED;
    }
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_POST, -1);
    if (r->method_number != M_POST) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    /* Read and drop the body, as any webhook handler has to. */
    rv = ap_discard_request_body(r);
    if (rv != OK) {
        return rv;
    }
    ap_set_content_type(r, "text/xml; charset=utf-8");
    ap_set_content_length(r, sizeof(hello_twiml) - 1);
    if (!r->header_only) {
        ap_rwrite(hello_twiml, (int)(sizeof(hello_twiml) - 1), r);
    }
    return OK;
}

/* One line: "pid in_use_bytes free_bytes system_bytes", where in_use is what malloc has
 * handed out and not had back (including chunks parked in glibc's per-thread caches),
 * free is what sits in the allocator's bins, and system is what the allocator has taken
 * from the kernel (the brk heap, its per-thread arenas and mmap'd large blocks). */
static int heapstats_handler(request_rec *r)
{
    struct mallinfo2 mi;

    if (!r->handler || strcmp(r->handler, "vt-heapstats") != 0) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    mi = mallinfo2();
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "%ld %" APR_SIZE_T_FMT " %" APR_SIZE_T_FMT " %" APR_SIZE_T_FMT "\n",
               (long)getpid(), mi.uordblks + mi.hblkhd,
               mi.fordblks, mi.arena + mi.hblkhd);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_handler(hello_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(heapstats_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(vt_hello) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};
