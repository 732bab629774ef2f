/* Whether hardware virtualization really runs guests here. */
#pragma once

#include <stdbool.h>

/* Runs a one-instruction (hlt) guest through /dev/kvm in a child process with
 * a deadline: /dev/kvm can exist while guests hang, so opening it proves nothing. */
bool kvm_usable(void);
