#include "layout.h"

static struct cgroup_layout layout;
static bool found;

int actuator_layout_init(const char *cgroup_root)
{
	int r;

	cgroup_layout_free(&layout);
	r = cgroup_layout_detect(cgroup_root, &layout);
	found = r == 0;
	return r;
}

const struct cgroup_layout *actuator_layout(void)
{
	return found ? &layout : NULL;
}

void actuator_layout_fini(void)
{
	cgroup_layout_free(&layout);
	found = false;
}
