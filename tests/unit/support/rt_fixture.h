/* A runtime root in a fresh temporary directory, and VMs whose "VM
 * process" is a shell script the detached monitor runs instead of avp run
 * (rt_vmm_program): the fixtures of test_runtime_start.c and
 * test_runtime_attach.c. */
#ifndef AVP_TEST_RT_FIXTURE_H
#define AVP_TEST_RT_FIXTURE_H

#include <sys/types.h>

/* What vCPU 0 of a real avp run --timing prints before the guest runs. */
#define RTFX_MARK "echo 'avp: timing: first vCPU entry at 12.5 ms'\n"

/* The temporary directory, and the runtime root below it. */
extern char rtfx_tmpdir[256];
extern char rtfx_root[300];

/* cmocka group setup and teardown: make them, remove them. */
int rtfx_setup(void **state);
int rtfx_teardown(void **state);

/* Writes text to path with mode (fails the test when it cannot). */
void rtfx_write_text(const char *path, const char *text, mode_t mode);

/* Creates VM id from a bundle in the temporary directory whose
 * config.json is config (its kernel "bz" is made) and whose VM process is
 * the shell script body, run in the bundle directory; console.log capped
 * at cap bytes (0: the default). */
void rtfx_create_vm(const char *id, const char *config, const char *body, unsigned long long cap);

#endif
