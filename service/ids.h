/* Randomness at the edge: new ids for callbacks (the core never draws random numbers). */
#ifndef CB_IDS_H
#define CB_IDS_H

/* Writes a random (version 4) UUID in canonical lower-case text form. */
void cb_new_uuid(char out[37]);

#endif
