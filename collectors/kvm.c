#include "kvm.h"
#include "util.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#define PROBE_DEADLINE_MSEC 2000

/* A guest kernel needs at least SSE2 and SSE3 in CPUID leaf 1. Nested
 * setups can offer KVM with a CPUID so bare that a hlt guest runs while
 * every real guest hangs early in boot (seen on these test machines). */
static bool cpuid_usable(int kvm)
{
	enum { MAX_ENTRIES = 128 };
	union {
		struct kvm_cpuid2 head;
		char bytes[sizeof(struct kvm_cpuid2) + MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2)];
	} c = { .head.nent = MAX_ENTRIES };

	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &c) < 0)
		return false;
	for (unsigned i = 0; i < c.head.nent; i++)
		if (c.head.entries[i].function == 1)
			return (c.head.entries[i].edx & (1U << 26)) && (c.head.entries[i].ecx & 1U);
	return false;
}

/* In the child: real-mode guest at 0x1000 executing hlt. Exit 0 on KVM_EXIT_HLT. */
static int probe_child(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu;
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	struct kvm_run *run;
	uint8_t *mem;
	int run_size;

	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != 12 || !cpuid_usable(kvm))
		return 1;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return 1;
	mem = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	mem[0x1000] = 0xf4;	/* hlt */
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = 0x2000, .userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return 1;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0)
		return 1;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return 1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return 1;
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return 1;
	return run->exit_reason == KVM_EXIT_HLT ? 0 : 1;
}

bool kvm_usable(void)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	int status;
	pid_t pid;

	if (access("/dev/kvm", R_OK | W_OK) < 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(probe_child());
	for (int waited = 0; waited < PROBE_DEADLINE_MSEC; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		nanosleep(&step, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return false;
}
