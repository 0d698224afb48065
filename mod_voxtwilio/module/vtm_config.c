/* vtm_config — create/merge/defaults generated from VTM_SRV_CONF_FIELDS. */
#include "vtm_config.h"

vtm_srv_conf_t *vtm_srv_conf_create(apr_pool_t *p)
{
    vtm_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));

#define VTM_X_UNSET(type, name, unset, dflt) c->name = unset;
    VTM_SRV_CONF_FIELDS(VTM_X_UNSET)
#undef VTM_X_UNSET
    return c;
}

vtm_srv_conf_t *vtm_srv_conf_merge(apr_pool_t *p, const vtm_srv_conf_t *base,
                                   const vtm_srv_conf_t *add)
{
    vtm_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));

#define VTM_X_MERGE(type, name, unset, dflt) \
    c->name = (add->name != (type)(unset)) ? add->name : base->name;
    VTM_SRV_CONF_FIELDS(VTM_X_MERGE)
#undef VTM_X_MERGE
    return c;
}

void vtm_srv_conf_apply_defaults(vtm_srv_conf_t *c)
{
#define VTM_X_DEFAULT(type, name, unset, dflt) \
    if (c->name == (type)(unset)) {           \
        c->name = (dflt);                      \
    }
    VTM_SRV_CONF_FIELDS(VTM_X_DEFAULT)
#undef VTM_X_DEFAULT
}
