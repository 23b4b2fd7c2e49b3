/* CB-33: the Callback / Call Me Back softkey. */
#include "service/core/internal.h"

bool cb_core_softkey(const struct cb_station *s, char target_out[CB_NUMBER_MAX])
{
    target_out[0] = '\0';
    /* CB-03 (COS), CB-04 (failover), CB-01 (a failed attempt is current). */
    if (!s->callbacks_allowed || s->state.failed_over || s->attempt == CB_ATTEMPT_NONE)
        return false;
    cb_copy(target_out, CB_NUMBER_MAX, s->attempt_to);
    return true;
}
