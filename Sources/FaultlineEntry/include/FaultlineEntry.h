// The `faultline` executable's entry into a user namespace (entry.c): a constructor, nothing to call.
// Its outcome is read through CLinux's fl_userns_* functions.
#ifndef FAULTLINE_ENTRY_H
#define FAULTLINE_ENTRY_H
void fl_entry_linked(void);
#endif
