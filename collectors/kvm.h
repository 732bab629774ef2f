/* Whether hardware virtualization really runs guests here. */
#pragma once

#include <stdbool.h>

/* Checks the CPUID KVM offers guests and runs a one-instruction (hlt) guest
 * in a child process with a deadline: /dev/kvm can exist while guests hang,
 * so opening it proves nothing. */
bool kvm_usable(void);
