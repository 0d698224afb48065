/* vt_analysis — post-call analysis: a short summary, the caller's sentiment and follow-up
 * to-dos, from a call's turns. Two ways to get one:
 *
 *   - offline (always available, deterministic): a lexicon-based sentiment over the
 *     caller's words (with simple negation: "not happy" counts negative), an extractive
 *     summary (the caller's first substantive request plus what was done: escalated,
 *     ended), and to-dos from the caller's sentences that ask for something ("call me
 *     back", "please send", "I need", "can you", "appointment", ...);
 *   - the tenant's model: vt_analysis_messages() builds the conversation for a
 *     Chat Completions request in JSON mode (see vt_llm.h), and vt_analysis_parse() reads
 *     the model's answer {"summary": "...", "sentiment": "...", "todos": ["..."]}.
 *
 * The transcript is untrusted (callers say anything): it travels to the model as data in a
 * "user" message, and the model's answer is validated (fuzzed) before it is stored.
 */
#ifndef VT_ANALYSIS_H
#define VT_ANALYSIS_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "vt_llm.h"

#define VT_ANALYSIS_SUMMARY_MAX 1000  /* characters (code points) of a stored summary */
#define VT_ANALYSIS_TODO_MAX 300      /* characters of one to-do */
#define VT_ANALYSIS_TODOS_MAX 10
#define VT_ANALYSIS_TRANSCRIPT_MAX 32000 /* bytes of transcript sent to the model */

typedef struct vt_analysis {
    const char *summary;         /* never NULL once filled; one line of valid UTF-8 */
    const char *sentiment;       /* "positive", "neutral" or "negative" */
    apr_array_header_t *todos;   /* const char *, at most VT_ANALYSIS_TODOS_MAX */
    const char *source;          /* "llm" or "offline" */
} vt_analysis_t;

/* Offline analysis of the turns (role "caller"/"assistant", in order). escalated: the call
 * was handed to a human (mentioned in the summary). Deterministic: the summary is
 * "Caller asked|said: <first caller utterance with content>. <n> caller turns." (or "The
 * caller said nothing.") plus " Transferred to a human." when escalated. */
void vt_analysis_offline(apr_pool_t *p, const vt_llm_turn_t *turns, int nturns, int escalated,
                         vt_analysis_t *out);

/* The messages for the model: a system message with the task and the exact JSON shape to
 * answer with, and one "user" message holding the transcript ("Caller: ...\nAssistant:
 * ..."; one line per turn, at most VT_ANALYSIS_TRANSCRIPT_MAX bytes, then a note of the
 * turns left out). *n is set to the count. */
const vt_llm_msg_t *vt_analysis_messages(apr_pool_t *p, const char *company_name,
                                         const vt_llm_turn_t *turns, int nturns, int *n);

/* Parses the model's answer text (the reply's content; a ```json fence around it is
 * tolerated). APR_SUCCESS with *out (source "llm"; texts trimmed to the limits, at most
 * VT_ANALYSIS_TODOS_MAX to-dos, sentiment one of the three, case-insensitively), or
 * APR_EINVAL with *err naming what is wrong. */
apr_status_t vt_analysis_parse(apr_pool_t *p, const char *content, vt_analysis_t *out,
                               const char **err);

/* The to-dos as a JSON array text (for calls.todos jsonb). */
const char *vt_analysis_todos_json(apr_pool_t *p, const vt_analysis_t *a);

#endif
