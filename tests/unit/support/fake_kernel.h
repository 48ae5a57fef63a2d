/* A synthetic bzImage (an arm64 Image in the arm64 build) for tests that need a kernel avp accepts (its
 * pre-flight check parses the kernel before anything else) but never boot
 * it: a valid 64-bit boot header (protocol 2.15, relocatable, 64 KiB of
 * protected-mode code, init_size 3 MiB) and zeros. */
#ifndef AVP_TEST_FAKE_KERNEL_H
#define AVP_TEST_FAKE_KERNEL_H

/* Writes it to path; 0 or -errno. */
int fake_kernel_write(const char *path);

#endif
